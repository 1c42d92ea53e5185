"""What the fusion took, refused and decided: per-camera and overall counters, for diagnostics."""

from dataclasses import dataclass, field
from typing import Dict

# Reasons a whole camera update is refused (see TrackFusion.update).
UPDATE_REFUSALS = ('bad_stamp', 'duplicate_name', 'stamp_backwards', 'clock_ahead', 'too_late')
# Kinds of new bindings of a camera track to a global track.
ASSOCIATION_KINDS = ('overlap', 'handover', 'appearance_only')


@dataclass
class CameraCounters:
    """
    Counts of one camera since the fusion first heard of it.

    Attributes
    ----------
    updates : int
        Updates taken.
    tracks : int
        Track rows taken.
    delayed : int
        Updates older than the fusion's time, predicted forward to it.
    no_world : int
        Rows without a valid world estimate (associated by appearance only).
    stale : int
        Times the camera fell silent for ``camera_timeout`` and its bindings were released.
    takeovers : int
        Times a new sender (another ``source_id``) took over the name after the old one went
        stale (a restarted tracker).
    broken_bindings : int
        Bound local tracks that became inconsistent with their global track and were unbound.
    refused : dict of str to int
        Whole updates refused (``bad_stamp``, ``duplicate_name``, ``stamp_backwards``,
        ``clock_ahead``, ``too_late``) and rows or features refused (``bad_pose``,
        ``world_frame_mismatch``, ``bad_velocity``, ``bad_feature``, ``feature_length``,
        ``encoder_mismatch``,
        ``duplicate_local_id``, ``bad_local_id``), by reason.

    """

    updates: int = 0
    tracks: int = 0
    delayed: int = 0
    no_world: int = 0
    stale: int = 0
    takeovers: int = 0
    broken_bindings: int = 0
    refused: Dict[str, int] = field(default_factory=dict)

    def refuse(self, reason: str, count: int = 1) -> None:
        """Add ``count`` to the refusals of ``reason``."""
        self.refused[reason] = self.refused.get(reason, 0) + int(count)


@dataclass
class FusionCounters:
    """
    Counts since the fusion was made.

    Attributes
    ----------
    updates : int
        Camera updates taken (all cameras).
    associations : dict of str to int
        New bindings of a camera track to an existing global track, by kind: ``overlap``
        (position-gated, the global track seen recently), ``handover`` (appearance and travel
        time after a gap), ``appearance_only`` (one side had no world position).
    new_globals : int
        Global tracks started.
    merges : int
        Global tracks found to be one person with an older one (seen together by different
        cameras for ``merge_after``) and merged into it.
    deleted_globals : int
        Global tracks forgotten after the handover window.
    cameras : dict of str to CameraCounters

    """

    updates: int = 0
    associations: Dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(ASSOCIATION_KINDS, 0))
    new_globals: int = 0
    merges: int = 0
    deleted_globals: int = 0
    cameras: Dict[str, CameraCounters] = field(default_factory=dict)

    def camera(self, name: str) -> CameraCounters:
        """Return the counters of camera ``name``, made on first use."""
        counters = self.cameras.get(name)
        if counters is None:
            counters = self.cameras[name] = CameraCounters()
        return counters
