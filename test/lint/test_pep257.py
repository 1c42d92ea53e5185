"""Run ament's pep257 (docstring) configuration over the package and its tests."""

from ament_pep257.main import main
from helpers.paths import REPO
import pytest

PATHS = ['deepsort_ros', 'test', 'launch', 'bench', 'setup.py', 'demo', 'hog_detector']


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257(monkeypatch):
    monkeypatch.chdir(REPO)
    rc = main(argv=[p for p in PATHS if (REPO / p).exists()])
    assert rc == 0, 'Found code style errors / warnings'
