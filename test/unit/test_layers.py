"""
The house's layers: which room may import which, in one table.

Two checks per room. ``imports``: no module of the room names a forbidden package in any
import statement (read with ``ast``, so also the late imports inside functions). ``loads``:
importing every module of the room in a fresh interpreter loads none of the forbidden
packages, directly or through another room (the ROS-free core, fusion and world promise it).
A new room must be added to ROOMS; a rule changes here and nowhere else.
"""

import ast
import os
from pathlib import Path
import subprocess
import sys
from typing import Dict, Iterator, List, NamedTuple, Sequence, Tuple

from helpers.paths import REPO
import pytest

RCLPY = 'rclpy'
# Any ROS message package (sensor_msgs, deepsort_ros_msgs, ...) and the ROS interface ones.
MESSAGES = '<messages>'
ROS = 'deepsort_ros.ros'
PIPELINE = 'deepsort_ros.pipeline'
SETTINGS = 'deepsort_ros.settings'
# The rclpy rooms: only the nodes and their toolkit, never imported from outside ros/.
NODES = ('deepsort_ros.ros.common', 'deepsort_ros.ros.tracker', 'deepsort_ros.ros.track_fusion')
HEAVY = ('torch', 'torchvision', 'cv2')
# The ROS-free rooms know nothing of ROS, nor of the nodes' pipelines and settings.
ROS_FREE_FORBIDS = (RCLPY, MESSAGES, ROS, PIPELINE, SETTINGS) + NODES


class Room(NamedTuple):
    """What a room's modules must not import, and must not load when imported."""

    imports: Tuple[str, ...]
    loads: Tuple[str, ...] = ()


ROOMS: Dict[str, Room] = {
    # The ROS-free rooms: arrays in, arrays out.
    'deepsort_ros.core': Room(ROS_FREE_FORBIDS + HEAVY, (RCLPY, MESSAGES) + HEAVY),
    'deepsort_ros.fusion': Room(ROS_FREE_FORBIDS + HEAVY, (RCLPY, MESSAGES) + HEAVY),
    'deepsort_ros.world': Room(ROS_FREE_FORBIDS, (RCLPY, MESSAGES, 'torch', 'torchvision')),
    'deepsort_ros.geometry': Room(ROS_FREE_FORBIDS),
    'deepsort_ros.ego_motion': Room(ROS_FREE_FORBIDS),
    'deepsort_ros.sim': Room(ROS_FREE_FORBIDS),
    'deepsort_ros.evaluation': Room(ROS_FREE_FORBIDS),
    'deepsort_ros.reid': Room(ROS_FREE_FORBIDS),
    # The nodes' parameters and pipelines, runnable offline.
    'deepsort_ros.settings': Room((RCLPY, MESSAGES, ROS, PIPELINE) + NODES, (RCLPY, MESSAGES)),
    'deepsort_ros.pipeline': Room((RCLPY, MESSAGES) + NODES, (RCLPY,)),
    # Offline runners and tools: message objects only through the conversions.
    'deepsort_ros.replay': Room((RCLPY, MESSAGES) + NODES),
    'deepsort_ros.recordings': Room((RCLPY, MESSAGES) + NODES),
    'deepsort_ros.cli': Room((RCLPY, MESSAGES) + NODES),
    'deepsort_ros': Room(ROS_FREE_FORBIDS),  # the package's own __init__
    # The ROS room: its conversions and drawing (everything under ros/ but the node rooms)
    # take and build message objects but never need rclpy; the nodes keep to themselves.
    'deepsort_ros.ros': Room((RCLPY,) + NODES),
    'deepsort_ros.ros.common': Room(('deepsort_ros.ros.tracker', 'deepsort_ros.ros.track_fusion')),
    'deepsort_ros.ros.tracker': Room(('deepsort_ros.ros.track_fusion',)),
    'deepsort_ros.ros.track_fusion': Room(('deepsort_ros.ros.tracker',)),
}

# Modules that break their room's rule on purpose, with what they may import and why.
EXCEPTIONS: Dict[str, Tuple[Tuple[str, ...], str]] = {
    'deepsort_ros.recordings.bag_reader': (('rclpy.serialization',), 'decodes bag records'),
    'deepsort_ros.recordings.bag_writer': (('rclpy.serialization',), 'encodes bag records'),
    'deepsort_ros.replay.fusion': (('rclpy.serialization',), 'encodes bag records'),
    'deepsort_ros.recordings.bag_player': ((RCLPY, MESSAGES), 'publishes a bag, /clock too'),
    'deepsort_ros.cli.play': ((RCLPY,), 'runs the bag player'),
}


def module_name(path: Path, package_root: Path) -> str:
    """Return the dotted name of a module file below the package's parent folder."""
    parts = list(path.relative_to(package_root.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def room_of(module: str, rooms: Sequence[str]) -> str:
    """Return the most specific room holding ``module`` ('' when none does)."""
    holding = [r for r in rooms if module == r or module.startswith(r + '.')]
    return max(holding, key=len, default='')


def imported_names(path: Path) -> Iterator[str]:
    """Yield every absolute module name a file imports, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def matches(name: str, rule: str) -> bool:
    """Tell whether a module name falls under a rule (a package, or MESSAGES)."""
    if rule == MESSAGES:
        top = name.split('.')[0]
        return top.endswith('_msgs') or top in ('rcl_interfaces', 'builtin_interfaces')
    return name == rule or name.startswith(rule + '.')


def violations(package_root: Path, rooms: Dict[str, Room],
               exceptions: Dict[str, Tuple[Tuple[str, ...], str]]) -> Dict[str, List[str]]:
    """Return ``room -> ['module imports name', ...]`` for every forbidden import."""
    found: Dict[str, List[str]] = {room: [] for room in rooms}
    for path in sorted(package_root.rglob('*.py')):
        module = module_name(path, package_root)
        room = room_of(module, list(rooms))
        allowed = exceptions.get(module, ((), ''))[0]
        for name in imported_names(path):
            if any(matches(name, rule) for rule in rooms[room].imports) and \
                    not any(matches(name, rule) for rule in allowed):
                found[room].append(f'{module} imports {name}')
    return found


def modules_of(room: str, package_root: Path) -> List[str]:
    """Return the importable modules of a room, itself first."""
    names = [module_name(p, package_root) for p in sorted(package_root.rglob('*.py'))]
    return [n for n in names if room_of(n, list(ROOMS)) == room]


PACKAGE = REPO / 'deepsort_ros'
FOUND = violations(PACKAGE, ROOMS, EXCEPTIONS)

LOADED = """
import sys
for name in sys.argv[2:]:
    __import__(name)
rules = sys.argv[1].split(',')
loaded = sorted(m for m in sys.modules if any(
    m.split('.')[0].endswith('_msgs') if r == '<messages>' else m == r or m.startswith(r + '.')
    for r in rules))
print(','.join(loaded))
"""


def test_every_module_is_in_a_room():
    names = [module_name(p, PACKAGE) for p in PACKAGE.rglob('*.py')]
    assert [n for n in names if not room_of(n, list(ROOMS))] == []


@pytest.mark.parametrize('room', sorted(ROOMS))
def test_no_room_imports_what_its_layer_forbids(room):
    assert FOUND[room] == []


@pytest.mark.parametrize('room', sorted(r for r in ROOMS if ROOMS[r].loads))
def test_importing_a_ros_free_room_loads_no_forbidden_package(room):
    # core: no rclpy, messages, torch or cv2; fusion: the same; world: no rclpy, messages or
    # torch; settings: no rclpy or messages; pipeline: no rclpy.
    if room == PIPELINE:
        pytest.importorskip('deepsort_ros_msgs', reason='the pipeline converts messages')
    # This environment's, so that what is installed here would be loaded if it were imported.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    result = subprocess.run(
        [sys.executable, '-c', LOADED, ','.join(ROOMS[room].loads)] + modules_of(room, PACKAGE),
        cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ''


def test_the_check_sees_a_late_import_of_rclpy_in_a_pipeline(tmp_path):
    package = tmp_path / 'deepsort_ros'
    (package / 'pipeline').mkdir(parents=True)
    (package / '__init__.py').write_text('')
    (package / 'pipeline' / '__init__.py').write_text('')
    (package / 'pipeline' / 'late.py').write_text(
        'def spin():\n    from rclpy.executors import SingleThreadedExecutor\n')
    found = violations(package, ROOMS, EXCEPTIONS)
    assert found['deepsort_ros.pipeline'] == [
        'deepsort_ros.pipeline.late imports rclpy.executors']
