"""A colcon build of the package installs its launch file, config and executables."""

import os
from pathlib import Path
import shutil
import subprocess

from helpers.paths import REPO
import pytest


def test_colcon_build_installs_launch_config_and_executables(tmp_path: Path):
    colcon = shutil.which('colcon')
    if colcon is None:
        pytest.fail('colcon is not on PATH: run the tests through ./dev.sh test')
    # Build the Python packages into a fresh install space: this is what `colcon build`
    # produces for users, independent of the developer's own install/.
    result = subprocess.run(
        [colcon, '--log-base', str(tmp_path / 'log'), 'build', '--base-paths', str(REPO),
         str(REPO / 'hog_detector'), '--packages-select', 'deepsort_ros', 'hog_detector',
         '--build-base', str(tmp_path / 'build'),
         '--install-base', str(tmp_path / 'install'), '--event-handlers', 'console_direct-'],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    prefix = tmp_path / 'install' / 'deepsort_ros'
    share = prefix / 'share' / 'deepsort_ros'
    assert (share / 'launch' / 'deepsort.launch.py').is_file()
    assert (share / 'config' / 'deepsort.yaml').is_file()
    assert (share / 'config' / 'fastdds_large_data.xml').is_file()
    assert (share / 'package.xml').is_file()
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'deepsort_ros').is_file()
    for package, exe in (('deepsort_ros', 'tracker_node'), ('deepsort_ros', 'deepsort-ros'),
                         ('hog_detector', 'hog_detector')):
        path = tmp_path / 'install' / package / 'lib' / package / exe
        assert path.is_file(), f'{exe} is not installed under {path.parent}'
        assert os.access(path, os.X_OK), f'{path} is not executable'
    # The detector's model is installed as data beside its code.
    assert list((tmp_path / 'install' / 'hog_detector').rglob('hog_detector/person_model.npz'))
    # The installed config is the repository's, byte for byte.
    assert (share / 'config' / 'deepsort.yaml').read_bytes() == \
        (REPO / 'config' / 'deepsort.yaml').read_bytes()


def test_executables_started_without_the_environment_say_what_to_source(tmp_path: Path):
    executable = REPO / 'install' / 'deepsort_ros' / 'lib' / 'deepsort_ros' / 'tracker_node'
    if not executable.is_file():
        pytest.fail('install/ is not built: run the tests through ./dev.sh test')
    bare = {'HOME': str(tmp_path), 'PATH': '/usr/bin:/bin'}
    for name in ('tracker_node', 'deepsort-ros'):
        result = subprocess.run([str(executable.with_name(name))], env=bare, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert 'Source the environment first: `source scripts/env.sh`' in result.stderr, result
        assert 'Traceback' not in result.stderr, result.stderr
