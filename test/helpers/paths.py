"""Where the tests find the repository, its parameters file and the shared data."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / 'shared'
PARAMS = REPO / 'config' / 'deepsort.yaml'
