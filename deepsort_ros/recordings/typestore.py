"""
The rosbags typestore with this project's message types, and ROS type name <-> rclpy class.

rosbags needs a message's definition to write a bag's schema (and its RIHS01 hash, which must
equal what rclpy publishes so that ``ros2 bag play`` accepts the bag). The standard types come
with rosbags' Kilted store; ``vision_msgs`` and ``deepsort_ros_msgs`` are registered from their
``.msg`` files, found in the ament index (an installed workspace) or, failing that, in this
repository's sources.
"""

import functools
import importlib
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

REPO_ROOT = Path(__file__).resolve().parents[2]

# package -> .msg folders inside this repository, used when the package is not installed.
SOURCE_MSG_DIRS = {
    'deepsort_ros_msgs': REPO_ROOT / 'msg',
    'vision_msgs': REPO_ROOT / 'third_party' / 'vision_msgs' / 'msg',
}

CUSTOM_PACKAGES = ('vision_msgs', 'deepsort_ros_msgs')


class UnknownMessageType(LookupError):
    """A ROS type name has no importable rclpy class (its package is not installed)."""


def find_msg_dir(package: str) -> Optional[Path]:
    """
    Find the folder of a package's ``.msg`` files.

    Parameters
    ----------
    package : str
        ROS package name, e.g. ``'vision_msgs'``.

    Returns
    -------
    Path or None
        ``<prefix>/share/<package>/msg`` of the first ament prefix that has it, else this
        repository's source folder for the package, else None.

    """
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidate = Path(prefix) / 'share' / package / 'msg'
            if any(candidate.glob('*.msg')):
                return candidate
    source = SOURCE_MSG_DIRS.get(package)
    if source is not None and any(source.glob('*.msg')):
        return source
    return None


def register_msg_dir(typestore: Typestore, package: str, msg_dir: Path) -> List[str]:
    """
    Register every ``.msg`` file of a folder with a typestore.

    Parameters
    ----------
    typestore : Typestore
        Modified in place.
    package : str
        Package the messages belong to.
    msg_dir : Path
        Folder of ``<Name>.msg`` files.

    Returns
    -------
    list of str
        Type names registered, e.g. ``['vision_msgs/msg/BoundingBox2D', ...]``.

    """
    types: Dict[str, Any] = {}
    for path in sorted(Path(msg_dir).glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{package}/msg/{path.stem}'))
    typestore.register(types)
    return sorted(types)


def build_typestore(packages: Iterable[str] = CUSTOM_PACKAGES) -> Typestore:
    """
    Build a typestore with ROS 2 Kilted's standard types and the given packages' messages.

    Parameters
    ----------
    packages : iterable of str
        Packages to register from their ``.msg`` files; one that cannot be found is left out
        (writing its types then fails with rosbags' own message).

    Returns
    -------
    Typestore
        A fresh store (callers may register more types into it).

    """
    typestore = get_typestore(Stores.ROS2_KILTED)
    for package in packages:
        msg_dir = find_msg_dir(package)
        if msg_dir is not None:
            register_msg_dir(typestore, package, msg_dir)
    return typestore


@functools.lru_cache(maxsize=1)
def default_typestore() -> Typestore:
    """
    Return the shared typestore with this project's types (built once per process).

    Returns
    -------
    Typestore
        Do not register more types into it; call :func:`build_typestore` for a private one.

    """
    return build_typestore()


def message_class(type_name: str) -> type:
    """
    Import the rclpy class of a ROS type name.

    Parameters
    ----------
    type_name : str
        ``'pkg/msg/Name'`` (``'pkg/Name'`` is accepted too).

    Returns
    -------
    type
        E.g. ``sensor_msgs.msg.Image`` for ``'sensor_msgs/msg/Image'``.

    Raises
    ------
    UnknownMessageType
        When the name is malformed or its package or class cannot be imported.

    """
    parts = type_name.split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(parts):
        raise UnknownMessageType(f'{type_name!r} is not a ROS type name like pkg/msg/Name')
    package, kind, name = parts
    try:
        module = importlib.import_module(f'{package}.{kind}')
    except ImportError as error:
        raise UnknownMessageType(
            f'no Python package for {type_name!r} ({error}); build and source it first') from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise UnknownMessageType(f'{package}.{kind} has no message {name!r}')
    return cls


def type_name_of(msg_or_class: Any) -> str:
    """
    Return the ROS type name of an rclpy message or message class.

    Parameters
    ----------
    msg_or_class : rclpy message or its class
        E.g. ``sensor_msgs.msg.Image()``.

    Returns
    -------
    str
        ``'pkg/msg/Name'``, e.g. ``'sensor_msgs/msg/Image'``.

    """
    cls = msg_or_class if isinstance(msg_or_class, type) else type(msg_or_class)
    package, kind = cls.__module__.split('.')[:2]
    return f'{package}/{kind}/{cls.__name__}'
