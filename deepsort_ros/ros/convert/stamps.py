"""
Stamps and headers: ``builtin_interfaces/Time`` as integer nanoseconds, ``std_msgs/Header``.

Every other conversion reads and writes time through these two functions, so a stamp is an
``int`` of nanoseconds everywhere past the message.
"""

from typing import Any

from std_msgs.msg import Header


def stamp_to_ns(stamp: Any) -> int:
    """Return a ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def make_header(stamp_ns: int, frame_id: str) -> Header:
    """Return a ``std_msgs/Header`` of a stamp (integer nanoseconds) and a frame."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return header
