"""
Odometry that can be believed: one frame, no teleporting; the last good pose is kept.

ROS-free: stamps are integer nanoseconds, positions metres. REP 105 makes the odometry frame
continuous, so a pose that moves the base faster than it can go is a bad message, unless the
poses after it agree with it: then the odometry was reset (a driver restarted, a relocalised
origin) and its history starts again. A message in another frame than the first one named
is refused outright: its poses cannot be compared with the others.
"""

from dataclasses import dataclass
import enum
from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt


class OdometryVerdict(enum.Enum):
    """What :meth:`OdometryGuard.check` decided about one pose."""

    ACCEPT = 'accept'
    RESET = 'reset'  # the odometry jumped and the poses after agree: start its history again
    JUMP = 'jump'  # refused: too far from the last good pose


@dataclass
class OdometryCounters:
    """What the guard refused or believed, for diagnostics."""

    jumps: int = 0
    resets: int = 0
    other_frame: int = 0


class OdometryGuard:
    """
    Judge odometry poses against the last accepted one.

    Parameters
    ----------
    max_jump_m : float
        Distance always allowed between two poses (noise, a slow stream), m.
    max_speed_mps : float
        Plus this much per second between their stamps, m/s.
    confirmations : int
        Jumped poses in a row, agreeing with each other, that make a reset (1: the first).

    """

    def __init__(self, max_jump_m: float, max_speed_mps: float, confirmations: int) -> None:
        if max_jump_m < 0.0 or max_speed_mps < 0.0 or confirmations < 1:
            raise ValueError(f'max_jump_m and max_speed_mps must be >= 0 and confirmations '
                             f'>= 1, got {max_jump_m}, {max_speed_mps}, {confirmations}')
        self.max_jump_m = float(max_jump_m)
        self.max_speed_mps = float(max_speed_mps)
        self.confirmations = int(confirmations)
        self.counters = OdometryCounters()
        self.frame_id = ''
        self.child_frame_id = ''
        self._last: Optional[Tuple[int, npt.NDArray[np.float64]]] = None
        self._suspects: List[Tuple[int, npt.NDArray[np.float64]]] = []

    def reset(self) -> None:
        """Forget the last pose (the clock restarted); the frames stay what they were."""
        self._last = None
        self._suspects = []

    def check_frame(self, frame_id: str, child_frame_id: str) -> Optional[str]:
        """
        Return why a message's frames are refused, or None; the first named frames stay.

        Parameters
        ----------
        frame_id : str
            The odometry (world) frame of the message; empty says nothing.
        child_frame_id : str
            Its base frame; empty says nothing.

        """
        for name, given in (('frame_id', frame_id), ('child_frame_id', child_frame_id)):
            expected = getattr(self, name)
            if given and expected and given != expected:
                self.counters.other_frame += 1
                return (f'odometry {name} {given!r} is not {expected!r}, the frame of the '
                        'first odometry message')
        self.frame_id = self.frame_id or frame_id
        self.child_frame_id = self.child_frame_id or child_frame_id
        return None

    def _agrees(self, earlier: Tuple[int, npt.NDArray[np.float64]], stamp_ns: int,
                position_xyz: npt.NDArray[np.float64]) -> bool:
        dt = abs(stamp_ns - earlier[0]) * 1e-9
        distance = float(np.linalg.norm(position_xyz - earlier[1]))
        return distance <= self.max_jump_m + self.max_speed_mps * dt

    def distance_to_last(self, position_xyz: npt.ArrayLike) -> float:
        """Return how far a position is from the last accepted one, m (0 before any)."""
        if self._last is None:
            return 0.0
        return float(np.linalg.norm(np.asarray(position_xyz, dtype=np.float64) - self._last[1]))

    def check(self, stamp_ns: int, position_xyz: npt.ArrayLike) -> OdometryVerdict:
        """
        Decide about one pose; an accepted one becomes the last good pose.

        Parameters
        ----------
        stamp_ns : int
            Its stamp, ns.
        position_xyz : array_like, shape (3,)
            The base's position in the odometry frame, m.

        """
        sample = (int(stamp_ns), np.asarray(position_xyz, dtype=np.float64).reshape(3))
        if self._last is None or self._agrees(self._last, *sample):
            self._last, self._suspects = sample, []
            return OdometryVerdict.ACCEPT
        if self._suspects and self._agrees(self._suspects[-1], *sample):
            self._suspects.append(sample)
        else:
            self._suspects = [sample]
        if len(self._suspects) >= self.confirmations:
            self._last, self._suspects = sample, []
            self.counters.resets += 1
            return OdometryVerdict.RESET
        self.counters.jumps += 1
        return OdometryVerdict.JUMP
