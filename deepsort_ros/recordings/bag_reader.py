"""
Read a rosbag2 bag as rclpy messages, in time order, tolerating damage.

Message types are taken from the bag's own connections and imported as rclpy classes; bytes
are decoded by rclpy (``deserialize_message``), so a message reads back exactly as it was
published. Messages of a type with no importable class, and messages that do not decode, are
skipped and counted. A bag cut short (a recorder killed, a copy interrupted: no mcap summary,
maybe no ``metadata.yaml``) is read record by record as far as its bytes go.
"""

from dataclasses import dataclass, field
import io
from pathlib import Path
import struct
from typing import Any, BinaryIO, Collection, Dict, Iterator, List, Optional, Tuple, Union

from deepsort_ros.recordings.typestore import message_class, UnknownMessageType
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader

MCAP_MAGIC = b'\x89MCAP0\r\n'
# MCAP record opcodes (https://mcap.dev/spec) that the tolerant scan reads.
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK, _OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F

# (topic, type name, stamp ns, CDR bytes)
RawMessage = Tuple[str, str, int, bytes]


@dataclass
class BagReadSummary:
    """
    What reading a bag met.

    Attributes
    ----------
    counts : dict of str to int
        Messages yielded per topic.
    skipped : dict of str to int
        Messages not yielded per topic: type unknown here, or undecodable.
    unknown_types : dict of str to str
        Topic -> type name with no importable rclpy class.
    errors : list of str
        One sentence per problem (decode failures, the point where a damaged bag ends).
    truncated : bool
        The bag was damaged or cut short and was read by the tolerant scan.

    """

    counts: Dict[str, int] = field(default_factory=dict)
    skipped: Dict[str, int] = field(default_factory=dict)
    unknown_types: Dict[str, str] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def total(self) -> int:
        """Return the number of messages yielded."""
        return sum(self.counts.values())

    def describe(self) -> str:
        """Return a multi-line human-readable summary."""
        lines = [f'{self.total} messages read'
                 + (' (bag damaged or truncated; read as far as it goes)' if self.truncated
                    else '')]
        for topic in sorted(set(self.counts) | set(self.skipped)):
            lines.append(f'  {topic}: {self.counts.get(topic, 0)} read, '
                         f'{self.skipped.get(topic, 0)} skipped')
        for topic, type_name in sorted(self.unknown_types.items()):
            lines.append(f'  {topic}: type {type_name} unknown here, skipped')
        lines.extend(f'  error: {error}' for error in self.errors)
        return '\n'.join(lines)


def _storage_files(path: Path) -> List[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix == '.mcap')


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f'record needs {size} bytes, {len(data)} left')
    return data


def _string(buf: io.BytesIO) -> str:
    (length,) = struct.unpack('<I', _read_exact(buf, 4))
    return _read_exact(buf, length).decode()


def _decompress(data: bytes, compression: str, size: int) -> bytes:
    if compression == '':
        return data
    if compression == 'zstd':
        from backports import zstd  # rosbags' own dependency

        return zstd.decompress(data)
    if compression == 'lz4':
        import lz4.frame

        return lz4.frame.decompress(data)
    raise ValueError(f'unsupported mcap chunk compression {compression!r}')


def scan_mcap(path: Path, errors: List[str]) -> Iterator[RawMessage]:
    """
    Yield the messages of an mcap file record by record, stopping where its bytes end.

    No index or summary is needed. An uncompressed chunk cut in the middle still yields the
    messages it holds entirely. Messages come in file order (a recorder's order).

    Parameters
    ----------
    path : Path
        The ``.mcap`` file.
    errors : list of str
        Receives one sentence saying where and why the scan stopped early.

    Yields
    ------
    (topic, type name, stamp ns, CDR bytes)

    """
    schemas: Dict[int, str] = {}
    channels: Dict[int, Tuple[str, str]] = {}

    def records(stream: BinaryIO, where: str) -> Iterator[RawMessage]:
        while True:
            head = stream.read(9)
            if len(head) == 0:
                return
            if len(head) < 9:
                raise EOFError(f'{where}: record header cut short')
            opcode, length = struct.unpack('<BQ', head)
            if opcode == _OP_CHUNK:
                # Read the chunk header, then decode what exists of its records.
                start, _, size, _ = struct.unpack('<QQQI', _read_exact(stream, 28))
                (clen,) = struct.unpack('<I', _read_exact(stream, 4))
                compression = _read_exact(stream, clen).decode()
                (rlen,) = struct.unpack('<Q', _read_exact(stream, 8))
                body = stream.read(rlen)
                if len(body) < rlen and compression:
                    raise EOFError(f'{where}: compressed chunk cut short')
                yield from records(io.BytesIO(_decompress(body, compression, size)),
                                   f'{where} chunk at t={start}')
                if len(body) < rlen:
                    raise EOFError(f'{where}: chunk cut short')
                continue
            if opcode == _OP_DATA_END:
                return
            body = stream.read(length)
            if len(body) < length:
                raise EOFError(f'{where}: record (opcode 0x{opcode:02x}) cut short')
            buf = io.BytesIO(body)
            if opcode == _OP_SCHEMA:
                (schema_id,) = struct.unpack('<H', buf.read(2))
                schemas[schema_id] = _string(buf)
            elif opcode == _OP_CHANNEL:
                channel_id, schema_id = struct.unpack('<HH', buf.read(4))
                topic = _string(buf)
                channels[channel_id] = (topic, schemas.get(schema_id, ''))
            elif opcode == _OP_MESSAGE:
                channel_id, _, log_time, _ = struct.unpack('<HIQQ', buf.read(22))
                if channel_id in channels:
                    topic, type_name = channels[channel_id]
                    yield topic, type_name, log_time, body[22:]

    with open(path, 'rb') as stream:
        if stream.read(8) != MCAP_MAGIC:
            errors.append(f'{path}: not an mcap file (bad magic)')
            return
        try:
            yield from records(stream, str(path))
        except (EOFError, ValueError, struct.error, UnicodeDecodeError) as error:
            errors.append(f'bag ends early: {error}')


def header_stamp_ns(cdr: bytes) -> Optional[int]:
    """
    Read the header stamp of a CDR-serialised message whose first field is a std_msgs/Header.

    Parameters
    ----------
    cdr : bytes
        The message as stored in a bag (4-byte encapsulation, then the fields).

    Returns
    -------
    int or None
        ``sec * 1e9 + nanosec``; None when the bytes are too short or not plain CDR.

    """
    if len(cdr) < 12 or cdr[0] != 0 or cdr[1] not in (0, 1):
        return None
    sec, nanosec = struct.unpack_from('<iI' if cdr[1] == 1 else '>iI', cdr, 4)
    return sec * 1_000_000_000 + nanosec


def bag_topics(path: Union[Path, str]) -> Tuple[Dict[str, str], Dict[str, int]]:
    """
    List a bag's topics without reading its messages (scanning a damaged bag instead).

    Parameters
    ----------
    path : Path or str
        Bag folder (or a single ``.mcap`` / ``.db3`` file).

    Returns
    -------
    types : dict of str to str
        Topic -> ROS type name.
    counts : dict of str to int
        Topic -> number of messages (as the bag's index says, or as counted by the scan).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.

    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'bag {path} does not exist')
    types: Dict[str, str] = {}
    counts: Dict[str, int] = {}
    try:
        with Reader(path) as reader:
            for connection in reader.connections:
                types.setdefault(connection.topic, connection.msgtype)
                counts[connection.topic] = counts.get(connection.topic, 0) + \
                    connection.msgcount
        return types, counts
    except Exception:  # noqa: B902 - damaged bag: learn the topics by scanning it
        pass
    for topic, type_name, _, _ in iter_raw(path, None, BagReadSummary()):
        types.setdefault(topic, type_name)
        counts[topic] = counts.get(topic, 0) + 1
    return types, counts


def iter_raw(path: Union[Path, str], topics: Optional[Collection[str]] = None,
             summary: Optional[BagReadSummary] = None) -> Iterator[RawMessage]:
    """
    Yield a bag's messages as CDR bytes, in time order.

    Parameters
    ----------
    path : Path or str
        Bag folder (or a single ``.mcap`` / ``.db3`` file).
    topics : collection of str, optional
        Topics to read; all when omitted.
    summary : BagReadSummary, optional
        Filled with ``truncated`` and ``errors`` (counts are left to the caller).

    Yields
    ------
    (topic, type name, stamp ns, CDR bytes)

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.

    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'bag {path} does not exist')
    summary = summary if summary is not None else BagReadSummary()
    wanted = None if topics is None else set(topics)
    try:
        reader = Reader(path)
        reader.open()
    except Exception as error:  # noqa: B902 - any failure to open means: scan what is there
        files = _storage_files(path)
        if not files:
            raise
        summary.truncated = True
        summary.errors.append(f'bag index unreadable ({error}); scanning records')
        for storage_file in files:
            for message in scan_mcap(storage_file, summary.errors):
                if wanted is None or message[0] in wanted:
                    yield message
        return
    try:
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if connections:
            for connection, stamp_ns, data in reader.messages(connections=connections):
                yield connection.topic, connection.msgtype, stamp_ns, bytes(data)
    except Exception as error:  # noqa: B902 - keep what was read; report where it stopped
        summary.truncated = True
        summary.errors.append(f'bag ends early: {error}')
    finally:
        reader.close()


def read_messages(path: Union[Path, str], topics: Optional[Collection[str]] = None,
                  summary: Optional[BagReadSummary] = None
                  ) -> Iterator[Tuple[str, str, int, Any]]:
    """
    Yield a bag's messages as rclpy messages, in time order.

    Parameters
    ----------
    path : Path or str
        Bag folder (or a single ``.mcap`` / ``.db3`` file).
    topics : collection of str, optional
        Topics to read; all when omitted.
    summary : BagReadSummary, optional
        Filled as the iteration goes: per-topic counts, skipped messages, unknown types,
        errors; pass one in to read it afterwards.

    Yields
    ------
    (topic, type name, stamp ns, message)
        ``type name`` as in the bag, e.g. ``'sensor_msgs/msg/Image'``; ``stamp ns`` the time
        the message was recorded at (nanoseconds since the epoch).

    """
    summary = summary if summary is not None else BagReadSummary()
    classes: Dict[str, Optional[type]] = {}
    for topic, type_name, stamp_ns, data in iter_raw(path, topics, summary):
        if type_name not in classes:
            try:
                classes[type_name] = message_class(type_name)
            except UnknownMessageType:
                classes[type_name] = None
        cls = classes[type_name]
        if cls is None:
            summary.unknown_types[topic] = type_name
            summary.skipped[topic] = summary.skipped.get(topic, 0) + 1
            continue
        try:
            msg = deserialize_message(data, cls)
        except Exception as error:  # noqa: B902 - rclpy raises its own RMWError types
            summary.skipped[topic] = summary.skipped.get(topic, 0) + 1
            if len(summary.errors) < 20:
                summary.errors.append(f'{topic} at {stamp_ns}: cannot decode {type_name}: '
                                      f'{error}')
            continue
        summary.counts[topic] = summary.counts.get(topic, 0) + 1
        yield topic, type_name, stamp_ns, msg
