"""Run ament's flake8 configuration over the package, its tests, launch files and benchmarks."""

from ament_flake8.main import main_with_errors
from helpers.paths import REPO
import pytest

PATHS = ['deepsort_ros', 'test', 'launch', 'bench', 'setup.py', 'demo', 'hog_detector']


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8(monkeypatch):
    monkeypatch.chdir(REPO)
    rc, errors = main_with_errors(argv=[p for p in PATHS if (REPO / p).exists()])
    assert rc == 0, 'Found %d code style errors / warnings:\n' % len(errors) + '\n'.join(errors)
