"""
Publish a bag's topics with rclpy at the recorded speed (``deepsort-ros play``).

A stand-in for ``ros2 bag play`` where ros2cli is not installed. Messages are published as
the CDR bytes stored in the bag (``Publisher.publish(bytes)``), so subscribers receive exactly
what was recorded. Timing follows the recorded time offsets scaled by ``rate``; ``--clock``
publishes ``rosgraph_msgs/Clock`` on ``/clock`` before each message, for nodes run with
``use_sim_time``. ``--lockstep TOPIC`` plays as fast as a slow pipeline can follow instead:
once a frame is complete, it waits until TOPIC carries a message stamped like it (what a
controller calling rosbag2's ``play_next`` would do), so no frame is dropped for load. A
frame is the messages the reply needs, whatever their order in the bag: its image and, when
the bag has detections, its detection array (``bag-from-sequence`` stores the image first).
"""

from dataclasses import dataclass, field
from pathlib import Path
import threading
import time
from typing import Any, Callable, Collection, Dict, List, Optional, Set, Tuple, Union

from deepsort_ros.recordings.bag_reader import (bag_topics, BagReadSummary, header_stamp_ns,
                                                iter_raw)
from deepsort_ros.recordings.typestore import message_class, UnknownMessageType

# Reliable, keep last 10 for every topic (images included: a slow subscriber gets the newest).
QOS_DEPTH = 10
CLOCK_TOPIC = '/clock'
FRAME_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
# What a tracker's reply needs besides the image, when the bag has it.
DETECTION_TYPES = ('vision_msgs/msg/Detection2DArray',)


@dataclass
class PlaySummary:
    """
    What a playback published.

    Attributes
    ----------
    published : dict of str to int
        Messages published per topic (over all loops).
    loops : int
        Complete passes over the bag.
    interrupted : bool
        Stopped by a signal or the stop event before the end.
    read : BagReadSummary
        Reading problems of the last pass (unknown types, a truncated bag).
    frame_times : list of (int, int)
        ``(image header stamp ns, wall clock ns when published)`` for every image.
    lockstep_timeouts : int
        Frames after which the lockstep topic did not answer in time.
    lockstep_incomplete : int
        Frames the bag lacks a part of (an image without its detections): not waited for,
        since no reply would come.

    """

    published: Dict[str, int] = field(default_factory=dict)
    loops: int = 0
    interrupted: bool = False
    read: BagReadSummary = field(default_factory=BagReadSummary)
    frame_times: List[Tuple[int, int]] = field(default_factory=list)
    lockstep_timeouts: int = 0
    lockstep_incomplete: int = 0

    def describe(self) -> str:
        """Return a multi-line human-readable summary."""
        total = sum(self.published.values())
        lines = [f'published {total} messages in {self.loops} complete pass(es)'
                 + (' (interrupted)' if self.interrupted else '')]
        lines += [f'  {topic}: {n}' for topic, n in sorted(self.published.items())]
        lines += [f'  {topic}: type {type_name} unknown here, not published'
                  for topic, type_name in sorted(self.read.unknown_types.items())]
        lines += [f'  error: {error}' for error in self.read.errors]
        if self.lockstep_timeouts:
            lines.append(f'  lockstep: {self.lockstep_timeouts} frames got no answer in time')
        if self.lockstep_incomplete:
            lines.append(f'  lockstep: {self.lockstep_incomplete} frames incomplete in the bag '
                         '(not waited for)')
        return '\n'.join(lines)


def _qos() -> Any:
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(depth=QOS_DEPTH, history=HistoryPolicy.KEEP_LAST,
                      reliability=ReliabilityPolicy.RELIABLE)


def play_bag(path: Union[Path, str], node: Any, rate: float = 1.0, loop: bool = False,
             topics: Optional[Collection[str]] = None, clock: bool = False,
             stop_event: Optional[threading.Event] = None,
             start_event: Optional[threading.Event] = None,
             wait_for_subscribers: float = 0.0,
             on_message: Optional[Callable[[str, int], None]] = None,
             lockstep_topic: Optional[str] = None,
             lockstep_timeout: float = 10.0, frame_subscribers: int = 1) -> PlaySummary:
    """
    Publish a bag's messages from ``node`` at the recorded speed.

    Parameters
    ----------
    path : Path or str
        Bag folder or ``.mcap`` file.
    node : rclpy.node.Node
        Node that owns the publishers (created on the first message of each topic).
    rate : float
        Speed factor, > 0 (2.0 plays twice as fast).
    loop : bool
        Start again at the end until stopped.
    topics : collection of str, optional
        Topics to publish; all when omitted.
    clock : bool
        Publish the bag time on ``/clock`` before each message.
    stop_event : threading.Event, optional
        Set it (from a signal handler or another thread) to stop between two messages.
    start_event : threading.Event, optional
        When given, playback waits until it is set (``--start-paused``).
    wait_for_subscribers : float
        Seconds to wait, before the first message, for every publisher to be matched by at
        least one subscriber (0: do not wait).
    on_message : callable, optional
        Called with ``(topic, stamp_ns)`` after each publication.
    lockstep_topic : str, optional
        Ignore the recorded pace: once a frame's image and (when the bag has them) its
        detections are published, wait (spinning ``node``) until this topic carries a message
        whose header stamp equals theirs.
    lockstep_timeout : float
        Longest wait for that answer, seconds; the image is then counted and play goes on.
    frame_subscribers : int
        With ``wait_for_subscribers``, how many subscribers each image topic must have (a
        detector and a tracker both reading the camera: 2); other topics need one.

    Returns
    -------
    PlaySummary

    Raises
    ------
    ValueError
        When ``rate`` is not positive.

    """
    if not rate > 0:
        raise ValueError(f'rate must be > 0, got {rate}')
    stop = stop_event if stop_event is not None else threading.Event()
    summary = PlaySummary()
    publishers: Dict[str, Any] = {}
    clock_pub = None
    if clock:
        from rosgraph_msgs.msg import Clock

        clock_pub = node.create_publisher(Clock, CLOCK_TOPIC, _qos())
    types = _create_publishers(path, node, topics, publishers, summary.read)
    answered = _Answers(node, lockstep_topic) if lockstep_topic else None
    frame_topics = {t for t, kind in types.items() if kind in FRAME_TYPES}
    frame_parts = _FrameParts(set(publishers) & (
        frame_topics | {t for t, kind in types.items() if kind in DETECTION_TYPES}))
    if start_event is not None:
        while not start_event.wait(0.1):
            if stop.is_set():
                summary.interrupted = True
                return summary
    _wait_matched({pub: frame_subscribers if topic in frame_topics else 1
                   for topic, pub in publishers.items()}, wait_for_subscribers, stop)
    while not stop.is_set():
        summary.read = BagReadSummary()
        frame_parts.restart()
        wall_start = None
        bag_start = 0
        for topic, type_name, stamp_ns, data in iter_raw(path, topics, summary.read):
            if stop.is_set():
                break  # Ctrl-C stops publishing; it never flushes the rest
            publisher = publishers.get(topic)
            if publisher is None:
                continue
            if answered is None:
                if wall_start is None:
                    wall_start, bag_start = time.monotonic(), stamp_ns
                due = wall_start + (stamp_ns - bag_start) / 1e9 / rate
                if stop.wait(max(0.0, due - time.monotonic())):
                    break
            if clock_pub is not None:
                clock_pub.publish(_clock_msg(stamp_ns))
            publisher.publish(data)
            summary.published[topic] = summary.published.get(topic, 0) + 1
            if topic in frame_topics:
                frame_stamp = header_stamp_ns(data)
                summary.frame_times.append((frame_stamp or stamp_ns, time.time_ns()))
            if answered is not None and topic in frame_parts.topics:
                part_stamp = header_stamp_ns(data)
                if frame_parts.complete(topic, part_stamp) and \
                        not answered.wait(part_stamp, lockstep_timeout, stop):
                    summary.lockstep_timeouts += 1
                summary.lockstep_incomplete = frame_parts.incomplete
            if on_message is not None:
                on_message(topic, stamp_ns)
        else:
            summary.loops += 1
            if loop and summary.published:
                continue
            break
    summary.interrupted = stop.is_set()
    return summary


def _create_publishers(path: Union[Path, str], node: Any, topics: Optional[Collection[str]],
                       publishers: Dict[str, Any], read: BagReadSummary) -> Dict[str, str]:
    """Create a publisher per known topic; return the bag's topic -> type."""
    types, _ = bag_topics(path)
    for topic, type_name in types.items():
        if (topics is not None and topic not in topics) or topic in publishers:
            continue
        try:
            cls = message_class(type_name)
        except UnknownMessageType:
            read.unknown_types[topic] = type_name
            continue
        publishers[topic] = node.create_publisher(cls, topic, _qos())
    return types


class _FrameParts:
    """Which parts of each frame (the topics a reply needs) were published, for lockstep."""

    def __init__(self, topics: Set[str]) -> None:
        self.topics = frozenset(topics)
        self.incomplete = 0
        self._published: Dict[int, Set[str]] = {}

    def restart(self) -> None:
        """Forget the frames begun: the bag starts again (its stamps go back)."""
        self._published.clear()

    def complete(self, topic: str, stamp: Optional[int]) -> bool:
        """Note that ``topic`` was published at ``stamp``; return whether its frame is whole."""
        if stamp is None:
            return False
        # A later frame has begun: an earlier one still missing a part never gets it.
        for older in [s for s in self._published if s < stamp]:
            del self._published[older]
            self.incomplete += 1
        parts = self._published.setdefault(stamp, set())
        parts.add(topic)
        if parts < self.topics:
            return False
        del self._published[stamp]
        return True


class _Answers:
    """The header stamps a topic (any type starting with a Header) carried, for lockstep."""

    def __init__(self, node: Any, topic: str) -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.stamps: Set[int] = set()
        node.create_subscription(_type_of(node, topic), topic, self._keep, _qos(), raw=True)
        self._executor = SingleThreadedExecutor(context=node.context)
        self._executor.add_node(node)

    def _keep(self, data: bytes) -> None:
        stamp = header_stamp_ns(data)
        if stamp is not None:
            self.stamps.add(stamp)

    def wait(self, stamp: Optional[int], timeout: float, stop: threading.Event) -> bool:
        """Spin until ``stamp`` was answered; False after ``timeout`` s without it."""
        deadline = time.monotonic() + timeout
        while stamp is not None and stamp not in self.stamps:
            if stop.is_set():
                return True
            if time.monotonic() > deadline:
                return False
            self._executor.spin_once(timeout_sec=0.01)
        self.stamps.discard(stamp)
        return True


def _type_of(node: Any, topic: str, timeout: float = 30.0) -> type:
    # The answer's type is whatever its publisher says; look it up in the ROS graph.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, types in node.get_topic_names_and_types():
            if name == topic and types:
                return message_class(types[0])
        time.sleep(0.1)
    raise ValueError(f'lockstep topic {topic} did not appear within {timeout:.0f} s')


def _wait_matched(wanted: Dict[Any, int], timeout: float, stop: threading.Event) -> None:
    # wanted: publisher -> subscribers it must have matched
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        if all(p.get_subscription_count() >= n for p, n in wanted.items()):
            return
        time.sleep(0.05)


def _clock_msg(stamp_ns: int) -> Any:
    from rosgraph_msgs.msg import Clock

    msg = Clock()
    msg.clock.sec, msg.clock.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg
