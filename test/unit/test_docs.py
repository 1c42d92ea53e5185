"""
The README and docs/ as a newcomer meets them: short, linked, and in step with the benchmarks.

- the README stays a five-minute read (at most 150 lines);
- every relative link of the README and of docs/*.md names a file that exists;
- every figure of the README's accuracy table is one ``bench/results/tracker.md`` holds, so a
  re-run benchmark cannot leave the README behind;
- the ROS workspace recipe the README shows is the one ``test_workspace_recipe`` builds.
"""

from pathlib import Path
import re
from typing import List

from helpers.paths import REPO
import pytest

README = REPO / 'README.md'
DOCS = sorted((REPO / 'docs').glob('*.md'))
LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')
FIGURE = re.compile(r'\b\d+\.\d+\b')


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find('\n## ', start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def test_readme_is_a_five_minute_read():
    lines = README.read_text().splitlines()
    assert len(lines) <= 150, f'README.md has {len(lines)} lines: move detail to docs/'


@pytest.mark.parametrize('page', [README] + DOCS, ids=lambda p: p.name)
def test_relative_links_name_files_that_exist(page: Path):
    missing: List[str] = []
    for target in LINK.findall(page.read_text()):
        if '://' in target or target.startswith('mailto:'):
            continue
        if not (page.parent / target).exists():
            missing.append(target)
    assert not missing, f'{page.name} links to missing files: {missing}'


def test_readme_accuracy_figures_are_the_benchmarks():
    table = _section(README.read_text(), '## Accuracy and speed')
    results = (REPO / 'bench' / 'results' / 'tracker.md').read_text()
    rows = [line for line in table.splitlines() if line.startswith('|')][2:]
    assert rows, 'the README has no accuracy table'
    for row in rows:
        for figure in FIGURE.findall(row):
            assert re.search(rf'\|\s*{re.escape(figure)}\s*\|', results), \
                f'README figure {figure} ({row.split("|")[1].strip()}) is not in ' \
                'bench/results/tracker.md: quote the latest run'


def test_readme_shows_the_workspace_recipe_that_is_tested():
    assert 'colcon build --base-paths src/deepsort_ros src/deepsort_ros/msg' in \
        README.read_text()
