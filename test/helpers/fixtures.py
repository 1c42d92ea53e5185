"""Shared fixtures (a pytest plugin, see pytest.ini): a private ROS domain, the shared data."""

import os
from pathlib import Path
import random

from helpers.paths import SHARED
import pytest


def _pick_domain_id() -> int:
    # Fast DDS maps domain ids to UDP ports; 0-101 is the portable range. A random id keeps
    # concurrent test runs on one machine apart; LOCALHOST keeps them off the network.
    return random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), 'little')).randint(10, 100)


@pytest.fixture(scope='session')
def ros_domain_id() -> int:
    """Give this test session its own ROS domain on loopback; child processes inherit it."""
    domain_id = int(os.environ.get('DEEPSORT_TEST_DOMAIN_ID', _pick_domain_id()))
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.pop('ROS_LOCALHOST_ONLY', None)
    return domain_id


@pytest.fixture
def shared_dir() -> Path:
    """Return ``../shared`` or skip the test when it is absent (a user's fresh clone)."""
    if not SHARED.is_dir():
        pytest.skip(f'shared data folder {SHARED} is absent (it sits beside the repository '
                    "on the developers' machines only)")
    return SHARED
