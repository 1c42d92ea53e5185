"""
Write rclpy messages into a rosbag2 bag (mcap by default) with rosbags.

Messages are serialised by rclpy itself (``serialize_message``), so the bag holds exactly the
bytes a publisher would send; rosbags only frames them and writes each type's definition.
``TrackBagWriter`` is what ``deepsort-ros track --bag`` uses to record its results.
"""

from pathlib import Path
import shutil
from types import TracebackType
from typing import Any, Dict, Optional, Tuple, Type, Union

from deepsort_ros.recordings.typestore import default_typestore, type_name_of
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

STORAGE_PLUGINS = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
BAG_VERSION = 9  # rosbag2 metadata version written (Jazzy and later read it; Humble reads 8)
BAG_FILE_SUFFIXES = ('.mcap', '.db3')


class BagExistsError(FileExistsError):
    """The output bag exists and overwriting was not asked for (or is unsafe)."""


def _looks_like_bag(path: Path) -> bool:
    if path.is_file():
        return path.suffix in BAG_FILE_SUFFIXES
    return (path / 'metadata.yaml').is_file() or any(
        p.suffix in BAG_FILE_SUFFIXES for p in path.iterdir())


def prepare_output(path: Path, overwrite: bool) -> None:
    """
    Make sure a bag can be created at ``path``, removing an old bag when allowed.

    Parameters
    ----------
    path : Path
        Bag folder to be created.
    overwrite : bool
        Remove an existing bag at ``path``.

    Raises
    ------
    BagExistsError
        When ``path`` exists and ``overwrite`` is false, or when it exists but does not look
        like a bag (it is never removed then: a typo must not delete a source folder).

    """
    path = Path(path)
    if not path.exists():
        return
    if not overwrite:
        raise BagExistsError(f'{path} exists already; pass --overwrite to replace it')
    if not _looks_like_bag(path):
        raise BagExistsError(f'{path} exists and is not a rosbag2 bag; not removing it')
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


class BagWriter:
    """
    Write rclpy messages to a new rosbag2 bag; topics are added on their first message.

    Parameters
    ----------
    path : Path or str
        Bag folder to create (rosbag2 layout: ``metadata.yaml`` and ``<name>.mcap``).
    storage : str
        ``'mcap'`` (default) or ``'sqlite3'``.
    overwrite : bool
        Replace an existing bag at ``path`` instead of refusing.
    typestore : Typestore, optional
        Types for the bag's schemas; :func:`default_typestore` when omitted.

    """

    def __init__(self, path: Union[Path, str], storage: str = 'mcap', overwrite: bool = False,
                 typestore: Optional[Typestore] = None) -> None:
        if storage not in STORAGE_PLUGINS:
            raise ValueError(f'storage must be one of {sorted(STORAGE_PLUGINS)}, got {storage!r}')
        self.path = Path(path)
        prepare_output(self.path, overwrite)
        self._typestore = typestore if typestore is not None else default_typestore()
        self._writer = Writer(self.path, version=BAG_VERSION,
                              storage_plugin=STORAGE_PLUGINS[storage])
        self._writer.open()
        self._connections: Dict[Tuple[str, str], Any] = {}
        self.counts: Dict[str, int] = {}

    def add_topic(self, topic: str, type_name: str) -> None:
        """
        Declare a topic before its first message (optional; ``write`` adds it too).

        Parameters
        ----------
        topic : str
            Topic name, e.g. ``'/tracks'``.
        type_name : str
            ROS type name, e.g. ``'deepsort_ros_msgs/msg/TrackArray'``.

        """
        key = (topic, type_name)
        if key not in self._connections:
            self._connections[key] = self._writer.add_connection(
                topic, type_name, typestore=self._typestore, serialization_format='cdr')
            self.counts.setdefault(topic, 0)

    def write_serialized(self, topic: str, type_name: str, data: bytes, stamp_ns: int) -> None:
        """
        Write one already CDR-serialised message.

        Parameters
        ----------
        topic : str
            Topic name.
        type_name : str
            ROS type name of ``data``.
        data : bytes
            CDR bytes as rclpy's ``serialize_message`` makes them.
        stamp_ns : int
            Receive time of the message in the bag, nanoseconds since the epoch.

        """
        self.add_topic(topic, type_name)
        self._writer.write(self._connections[(topic, type_name)], int(stamp_ns), data)
        self.counts[topic] += 1

    def write(self, topic: str, msg: Any, stamp_ns: int) -> None:
        """
        Write one rclpy message.

        Parameters
        ----------
        topic : str
            Topic name.
        msg : rclpy message
            Any message whose type the typestore knows.
        stamp_ns : int
            Time of the message in the bag, nanoseconds since the epoch (usually its header
            stamp, so that playback keeps the recorded timing).

        """
        self.write_serialized(topic, type_name_of(msg), serialize_message(msg), stamp_ns)

    def close(self) -> None:
        """Finish the bag (writes the mcap summary and ``metadata.yaml``); safe to call twice."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        # Close even on error: what was written so far stays a readable bag.
        self.close()


class TrackBagWriter(BagWriter):
    """
    Record tracker results (``TrackArray`` and any other message) into a bag.

    Parameters
    ----------
    path : Path or str
        Bag folder to create.
    overwrite : bool
        Replace an existing bag instead of refusing.
    tracks_topic : str
        Topic of :meth:`write_tracks`.

    """

    def __init__(self, path: Union[Path, str], overwrite: bool = False,
                 tracks_topic: str = '/tracks') -> None:
        super().__init__(path, overwrite=overwrite)
        self.tracks_topic = tracks_topic

    def write_tracks(self, msg: Any) -> None:
        """
        Write a ``TrackArray`` at the time of its header stamp.

        Parameters
        ----------
        msg : deepsort_ros_msgs.msg.TrackArray
            The tracks of one frame.

        """
        stamp = msg.header.stamp
        self.write(self.tracks_topic, msg, int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec))
