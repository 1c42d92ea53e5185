"""
Bounded memory of identities whose tracks were deleted, for re-identification.

An entry keeps what is needed to decide a re-link: the identity, its class, its appearance
representative and where and when it was last seen. The oldest entry is dropped when full.
"""

from typing import Optional

from deepsort_ros.core.boxes import warp_boxes_cxcywh
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class LostGallery:
    """
    Fixed-size arrays of lost identities.

    Parameters
    ----------
    size : int
        Most identities kept (0 disables the gallery).

    """

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.track_id = np.zeros(self.size, dtype=np.int64)
        self.class_id = np.zeros(self.size, dtype=np.int64)
        self.box_cxcywh = np.zeros((self.size, 4))
        self.last_time = np.zeros(self.size)
        self.valid = np.zeros(self.size, dtype=bool)
        self.feature: Optional[npt.NDArray[np.float32]] = None

    def __len__(self) -> int:
        """Return the number of remembered identities."""
        return int(self.valid.sum())

    def add(self, track_id: IntArray, class_id: IntArray, box_cxcywh: FloatArray,
            last_time: FloatArray, feature: npt.NDArray[np.float32]) -> None:
        """
        Remember identities (only those with an appearance feature are worth keeping).

        Parameters
        ----------
        track_id, class_id : ndarray, shape (M,)
            Identities and their classes.
        box_cxcywh : ndarray, shape (M, 4)
            Last detected box.
        last_time : ndarray, shape (M,)
            Seconds, time of the last detection.
        feature : ndarray, shape (M, D)
            Unit-norm representatives.

        """
        count = len(track_id)
        if self.size == 0 or count == 0:
            return
        if self.feature is None or self.feature.shape[1] != feature.shape[1]:
            self.feature = np.zeros((self.size, feature.shape[1]), dtype=np.float32)
            self.valid[:] = False
        # Free slots first, then the oldest sightings.
        order = np.lexsort((self.last_time, self.valid))
        slots = order[:min(count, self.size)]
        take = np.argsort(last_time)[-len(slots):]
        self.track_id[slots] = track_id[take]
        self.class_id[slots] = class_id[take]
        self.box_cxcywh[slots] = box_cxcywh[take]
        self.last_time[slots] = last_time[take]
        self.feature[slots] = feature[take]
        self.valid[slots] = True

    def expire(self, now: float, max_age: float) -> None:
        """Forget identities not seen for more than max_age seconds."""
        self.valid &= (now - self.last_time) <= max_age

    def remove(self, slots: IntArray) -> None:
        """Forget entries (re-linked identities)."""
        self.valid[slots] = False

    def find(self, track_id: int) -> int:
        """Return the slot holding an identity, or -1."""
        hits = np.flatnonzero(self.valid & (self.track_id == track_id))
        return int(hits[0]) if len(hits) else -1

    def warp(self, homography: FloatArray, max_coordinate: float = np.inf) -> None:
        """
        Move the remembered boxes with the camera (centre exactly, size by the Jacobian).

        Parameters
        ----------
        homography : ndarray, shape (3, 3)
            Maps previous-image pixels to current-image pixels.
        max_coordinate : float
            Pixels; an identity whose box leaves this range (or stops being finite) is
            forgotten: it can no longer be compared with anything in the image.

        """
        slots = np.flatnonzero(self.valid)
        boxes_cxcywh = warp_boxes_cxcywh(self.box_cxcywh[slots], homography)
        self.box_cxcywh[slots] = boxes_cxcywh
        with np.errstate(invalid='ignore'):
            in_range = np.all(np.abs(boxes_cxcywh) <= max_coordinate, axis=1)
        self.valid[slots[~in_range]] = False
