"""
Pair detections with the image they were computed on, by header stamp, in bounded buffers.

ROS-free: stamps are integer nanoseconds and payloads are opaque. A detection array never waits
on what will not come: it leaves without its image once a later detection array has its own
(a complete frame is never held back by an incomplete one before it), once the newest stamp
seen is ``timeout_s`` later (a bag replayed at any speed pairs exactly as it did live), or,
given a clock (the node's), once it has waited ``timeout_s`` on that clock (nothing newer may
ever come). Whether a clock restarted is not decided here: the pipeline's clock gate decides
for every stream and calls :meth:`FramePairer.reset`.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional


@dataclass(frozen=True)
class PairingConfig:
    """
    Settings of :class:`FramePairer`.

    Attributes
    ----------
    tolerance_s : float
        Largest stamp difference between a detection array and its image, seconds.
    timeout_s : float
        A detection array whose image has not arrived once the newest stamp is this much later,
        or once it has waited this long on the pairer's clock, is processed motion-only
        (without an image) rather than dropped.
    max_pending : int
        Most images and most detection arrays held while waiting for their partner.
    max_pending_bytes : int
        Most bytes of images held while waiting (the newest image is always kept); 0: no
        bound but ``max_pending``.

    """

    tolerance_s: float = 0.005
    timeout_s: float = 0.5
    max_pending: int = 30
    max_pending_bytes: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.tolerance_s <= 1.0:
            raise ValueError(f'tolerance_s must be in [0, 1] s, got {self.tolerance_s}')
        if not 0.0 < self.timeout_s <= 60.0:
            raise ValueError(f'timeout_s must be in (0, 60] s, got {self.timeout_s}')
        if not 1 <= self.max_pending <= 10000:
            raise ValueError(f'max_pending must be in [1, 10000], got {self.max_pending}')
        if self.max_pending_bytes < 0:
            raise ValueError(f'max_pending_bytes must be >= 0, got {self.max_pending_bytes}')


@dataclass
class PairedFrame:
    """
    A detection array with its image, ready to track.

    Attributes
    ----------
    stamp_ns : int
        The detection array's stamp.
    detections : object
        The detection array.
    image : object or None
        Its image; None when it never came (tracked motion-only).
    session : int
        How many times the pairer was reset before this frame was paired: frames of a new
        session follow a clock restart.

    """

    stamp_ns: int
    detections: Any
    image: Optional[Any]
    session: int = 0


@dataclass
class Released:
    """
    What one message added to the pairer gives back.

    Attributes
    ----------
    frames : list of PairedFrame
        Frames ready now, in stamp order.
    late_dropped : int
        Detection arrays dropped because a later frame was released already (the tracker's
        time cannot go back).

    """

    frames: List[PairedFrame] = field(default_factory=list)
    late_dropped: int = 0


@dataclass
class PairingCounters:
    """What the pairer had to drop or degrade, for diagnostics."""

    paired: int = 0
    motion_only: int = 0
    images_without_detections: int = 0
    detections_dropped_overflow: int = 0
    images_dropped_memory: int = 0
    late_dropped: int = 0


class FramePairer:
    """
    Match detection arrays to images by stamp and release them in stamp order.

    Parameters
    ----------
    config : PairingConfig
        Tolerance, timeout and buffer bound.
    clock : callable, optional
        ``clock() -> int`` nanoseconds (a live node's clock): a detection array that waited
        ``timeout_s`` on it leaves without its image, also when no later stamp comes
        (:meth:`release_expired`). Without one (offline) only stamps count.

    """

    def __init__(self, config: PairingConfig,
                 clock: Optional[Callable[[], int]] = None) -> None:
        self.config = config
        self._clock = clock
        self._arrived_ns: Dict[int, int] = {}
        self.counters = PairingCounters()
        self._images: 'OrderedDict[int, Any]' = OrderedDict()
        self._detections: 'OrderedDict[int, Any]' = OrderedDict()
        self._image_bytes: Dict[int, int] = {}
        self._tolerance_ns = int(round(config.tolerance_s * 1e9))
        self._timeout_ns = int(round(config.timeout_s * 1e9))
        self._newest_ns: Optional[int] = None
        self._last_released_ns: Optional[int] = None
        self.session = 0

    def reset(self) -> None:
        """Drop everything pending and start a new session (the clock restarted)."""
        self._images.clear()
        self._image_bytes.clear()
        self._detections.clear()
        self._arrived_ns.clear()
        self._newest_ns = None
        self._last_released_ns = None
        self.session += 1

    @property
    def pending_image_bytes(self) -> int:
        """Return the bytes of the images waiting for their detections."""
        return sum(self._image_bytes.values())

    def add_image(self, stamp_ns: int, image: Any, nbytes: int = 0) -> Released:
        """
        Buffer an image of ``nbytes``; return the frames that became ready, in stamp order.

        ``image`` None stands for an image that came and was refused: its detections are
        released at once, without an image (motion-only).
        """
        self._see(stamp_ns)
        self._images[stamp_ns] = image
        self._image_bytes[stamp_ns] = int(nbytes)
        while len(self._images) > self.config.max_pending:
            self._drop_oldest_image()
            self.counters.images_without_detections += 1
        budget = self.config.max_pending_bytes
        while budget and len(self._images) > 1 and self.pending_image_bytes > budget:
            self._drop_oldest_image()
            self.counters.images_dropped_memory += 1
        return Released(self._release())

    def _drop_oldest_image(self) -> None:
        stamp_ns, _ = self._images.popitem(last=False)
        self._image_bytes.pop(stamp_ns, None)

    def add_detections(self, stamp_ns: int, detections: Any) -> Released:
        """Buffer a detection array; return the frames that became ready, in stamp order."""
        if self._last_released_ns is not None and stamp_ns <= self._last_released_ns:
            # Older than a frame already tracked: the tracker's time cannot go back.
            self.counters.late_dropped += 1
            return Released(late_dropped=1)
        self._see(stamp_ns)
        self._detections[stamp_ns] = detections
        if self._clock is not None:
            self._arrived_ns[stamp_ns] = self._clock()
        self._detections = OrderedDict(sorted(self._detections.items()))
        while len(self._detections) > self.config.max_pending:
            dropped_ns, _ = self._detections.popitem(last=False)
            self._arrived_ns.pop(dropped_ns, None)
            self.counters.detections_dropped_overflow += 1
        return Released(self._release())

    def release_expired(self) -> Released:
        """Return the detection arrays that waited ``timeout_s`` on the clock, motion-only."""
        return Released(self._release())

    def flush(self) -> List[PairedFrame]:
        """Release everything still pending (end of a bag), motion-only where unpaired."""
        self._newest_ns = None
        return self._release(force=True)

    def _see(self, stamp_ns: int) -> None:
        if self._newest_ns is None or stamp_ns > self._newest_ns:
            self._newest_ns = stamp_ns

    def _find_image(self, stamp_ns: int) -> Optional[int]:
        best, best_gap = None, None
        for image_ns in self._images:
            gap = abs(image_ns - stamp_ns)
            if gap <= self._tolerance_ns and (best_gap is None or gap < best_gap):
                best, best_gap = image_ns, gap
        return best

    def _expired(self, stamp_ns: int, now_ns: Optional[int]) -> bool:
        if self._newest_ns is not None and self._newest_ns - stamp_ns >= self._timeout_ns:
            return True
        arrived_ns = self._arrived_ns.get(stamp_ns)
        return now_ns is not None and arrived_ns is not None and \
            now_ns - arrived_ns >= self._timeout_ns

    def _release(self, force: bool = False) -> List[PairedFrame]:
        ready: List[PairedFrame] = []
        now_ns = self._clock() if self._clock is not None else None
        # Detections leave strictly in stamp order (the tracker's time cannot go back), so an
        # array whose image is missing leaves at once when a later one has its image: else it
        # would hold that complete frame, and every one behind it, until its timeout, and then
        # release them all at once into the node's short frame queue (issue 26).
        complete_ns = max((ns for ns in self._detections if self._find_image(ns) is not None),
                          default=None)
        while self._detections:
            stamp_ns, detections = next(iter(self._detections.items()))
            image_ns = self._find_image(stamp_ns)
            if image_ns is not None:
                image = self._images.pop(image_ns)
                self._image_bytes.pop(image_ns, None)
                if image is None:  # its image was refused: nothing to wait for
                    self.counters.motion_only += 1
                else:
                    self.counters.paired += 1
            elif force or self._expired(stamp_ns, now_ns) or \
                    (complete_ns is not None and stamp_ns < complete_ns):
                image = None
                self.counters.motion_only += 1
            else:
                break
            del self._detections[stamp_ns]
            self._arrived_ns.pop(stamp_ns, None)
            ready.append(PairedFrame(stamp_ns, detections, image, self.session))
            self._last_released_ns = stamp_ns
        # Images older than every frame released can never be paired any more.
        if self._last_released_ns is not None:
            for image_ns in [ns for ns in self._images
                             if ns < self._last_released_ns - self._tolerance_ns]:
                del self._images[image_ns]
                self._image_bytes.pop(image_ns, None)
                self.counters.images_without_detections += 1
        return ready
