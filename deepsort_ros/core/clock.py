"""
One policy for clocks that jump: a looped bag or a reset ``/clock`` against one bad stamp.

Every message stamp of one camera's streams (images, detections, odometry) passes one
:class:`ClockGate`. Stamps of different streams interleave out of order by a little (camera
latency, odometry running ahead), so the gate does not ask for order, only for consistency: a
stamp further than ``jump_s`` from the newest stamp seen is a *suspect*. A suspect and the
items that come with it are held until later stamps decide: ``confirmations`` stamps in a row
that agree with the suspect (within ``jump_s`` of it) mean the clock really restarted or
jumped, and the gate releases the held items after a restart; a stamp that agrees with the
old clock means the suspect was one bad message, and it is dropped. Nothing ROS here: stamps
are integer nanoseconds and items are opaque.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

DEFAULT_MAX_HELD = 64


@dataclass
class Admission:
    """
    What the gate lets through for one stamp, in the order to process it.

    Attributes
    ----------
    restart : bool
        The clock restarted (or jumped) before ``items``: state tied to the old clock must be
        forgotten first.
    items : list of (int, object)
        ``(stamp_ns, item)`` to process now, oldest first: held items after a restart, then
        this one; empty while this stamp is held or after it was dropped.
    dropped : list of (int, object)
        Items dropped now: a suspect the clock did not confirm, or the oldest held item when
        the hold is full.

    """

    restart: bool = False
    items: List[Tuple[int, Any]] = field(default_factory=list)
    dropped: List[Tuple[int, Any]] = field(default_factory=list)


@dataclass
class ClockCounters:
    """What the gate decided, for diagnostics."""

    restarts: int = 0
    outliers: int = 0
    held: int = 0


class ClockGate:
    """
    Admit stamps that continue the clock; hold jumps until they are confirmed or refuted.

    Parameters
    ----------
    jump_s : float
        A stamp further than this from the newest one seen is suspect, seconds.
    confirmations : int
        Stamps agreeing with a suspect (the suspect itself included) that confirm a jump. 1
        restarts on the first stamp that jumps back and takes forward jumps as they come.
    max_held : int
        Most items held while a jump is undecided (the oldest is dropped beyond it).

    """

    def __init__(self, jump_s: float, confirmations: int = 1,
                 max_held: int = DEFAULT_MAX_HELD) -> None:
        if not jump_s > 0.0:
            raise ValueError(f'jump_s must be positive, got {jump_s}')
        if confirmations < 1:
            raise ValueError(f'confirmations must be >= 1, got {confirmations}')
        if max_held < 1:
            raise ValueError(f'max_held must be >= 1, got {max_held}')
        self.jump_ns = int(round(jump_s * 1e9))
        self.confirmations = int(confirmations)
        self.max_held = int(max_held)
        self.counters = ClockCounters()
        self._newest_ns: Optional[int] = None
        self._held: List[Tuple[int, Any]] = []
        self._agreeing = 0

    @property
    def newest_ns(self) -> Optional[int]:
        """Return the newest admitted stamp, ns (None before the first)."""
        return self._newest_ns

    def reset(self) -> None:
        """Forget the clock and anything held (a new session starts at its first stamp)."""
        self._newest_ns = None
        self._held = []
        self._agreeing = 0

    def admit(self, stamp_ns: int, item: Any = None) -> Admission:
        """
        Decide about one stamped item.

        Parameters
        ----------
        stamp_ns : int
            The item's stamp, nanoseconds.
        item : object
            Returned with the stamp when it may be processed.

        Returns
        -------
        Admission
            Whether the clock restarted, what to process now and what was dropped.

        """
        stamp_ns = int(stamp_ns)
        out = Admission()
        if self._newest_ns is None:
            self._newest_ns = stamp_ns
            out.items.append((stamp_ns, item))
            return out
        behind = stamp_ns < self._newest_ns - self.jump_ns
        ahead = stamp_ns > self._newest_ns + self.jump_ns and self.confirmations > 1
        if self._held:
            if behind or ahead:
                if abs(stamp_ns - self._held[-1][0]) <= self.jump_ns:
                    return self._hold(stamp_ns, item, out)
                out.dropped, self._held, self._agreeing = self._held, [], 0
                self.counters.outliers += 1
                return self._start_suspect(stamp_ns, item, out)
            # Back on the old clock: what was held was a bad stamp.
            out.dropped, self._held, self._agreeing = self._held, [], 0
            self.counters.outliers += 1
        elif behind or ahead:
            return self._start_suspect(stamp_ns, item, out)
        self._newest_ns = max(self._newest_ns, stamp_ns)
        out.items.append((stamp_ns, item))
        return out

    def _start_suspect(self, stamp_ns: int, item: Any, out: Admission) -> Admission:
        self._agreeing = 0
        return self._hold(stamp_ns, item, out)

    def _hold(self, stamp_ns: int, item: Any, out: Admission) -> Admission:
        self._held.append((stamp_ns, item))
        self._agreeing += 1
        self.counters.held += 1
        if len(self._held) > self.max_held:
            out.dropped.append(self._held.pop(0))
        if self._agreeing >= self.confirmations:
            # Confirmed: the clock runs from the jumped time now.
            out.restart = True
            out.items = self._held
            self._newest_ns = max(stamp for stamp, _ in self._held)
            self._held, self._agreeing = [], 0
            self.counters.restarts += 1
        return out
