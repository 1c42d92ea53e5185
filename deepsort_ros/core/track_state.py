"""Life-cycle states of a track, and the per-track output of an update."""

import enum
from typing import NamedTuple, Optional

import numpy as np
import numpy.typing as npt


class TrackState(enum.Enum):
    """Where a track is in its life cycle."""

    TENTATIVE = 1
    """Seen fewer than ``n_init`` times in a row; not yet trusted."""
    CONFIRMED = 2
    """Trusted and matched to a detection in this update."""
    COASTING = 3
    """Trusted, not matched in this update: predicted until ``max_age`` runs out."""
    DELETED = 4
    """Removed in this update (reported once when ``report_deleted``)."""


class TrackOutput(NamedTuple):
    """
    One track as reported by an update (immutable; a named tuple, cheap to make by the hundred).

    Attributes
    ----------
    track_id : int
        Identity, stable across occlusions and re-identification, handed out when the track is
        confirmed (so identities count objects); 0 while the track is tentative.
    state : TrackState
    class_id : int
    score : float
        Score of the last matched detection.
    age : int
        Updates since the track was created.
    hits : int
        Detections matched in total.
    time_since_update : float
        Seconds since the last matched detection.
    box_cxcywh : ndarray, shape (4,)
        Filtered box, pixels.
    box_tlwh : ndarray, shape (4,)
        The same box as (left, top, width, height).
    velocity_cxcywh : ndarray, shape (4,)
        Rates of the box, pixels per second.
    covariance : ndarray, shape (8, 8)
        Of (cx, cy, w, h, vcx, vcy, vw, vh).
    detection_index : int
        Row of the update's input matched to this track; -1 when not matched.
    is_occluded : bool
        Coasting behind another tracked object.
    is_target : bool
        This is the followed target (single-object mode).
    feature : ndarray of float32, shape (D,), optional
        The track's appearance: the unit-norm representative of its gallery (the feature the
        matching cascade compares); None when the track has none.

    """

    track_id: int
    state: TrackState
    class_id: int
    score: float
    age: int
    hits: int
    time_since_update: float
    box_cxcywh: npt.NDArray[np.float64]
    box_tlwh: npt.NDArray[np.float64]
    velocity_cxcywh: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]
    detection_index: int
    is_occluded: bool
    is_target: bool = False
    feature: Optional[npt.NDArray[np.float32]] = None
