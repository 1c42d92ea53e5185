"""
The follower's evidence: bounded galleries of feature rows and this update's fresh crops.

Apart from :mod:`deepsort_ros.core.target` because it is the part that only measures (how
close a crop is to a gallery, which tracks took a usable crop now) while the follower decides.
"""

from typing import Optional, Tuple

from deepsort_ros.core.detections import DetectionBatch
from deepsort_ros.core.matching import cosine_distance
from deepsort_ros.core.track_table import has_feature_rows, TrackTable
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class FeatureRing:
    """A bounded gallery of unit feature rows; the oldest row is replaced when full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: Optional[npt.NDArray[np.float32]] = None
        self.count = 0
        self._next = 0

    def add(self, features: npt.NDArray[np.float32]) -> None:
        """Append rows (M, D), keeping the last ``size``."""
        for row in features[-self.size:]:
            if self.rows is None:
                self.rows = np.zeros((self.size, len(row)), dtype=np.float32)
            self.rows[self._next] = row
            self._next = (self._next + 1) % self.size
            self.count = min(self.count + 1, self.size)

    def distance(self, features: npt.NDArray[np.float32]) -> FloatArray:
        """Return each row's smallest cosine distance to the gallery, shape (M,); inf if empty."""
        if self.count == 0 or self.rows is None:
            return np.full(len(features), np.inf)
        return cosine_distance(features, self.rows[:self.count]).min(axis=1)


def fresh_features(table: TrackTable, slots: IntArray, detections: DetectionBatch,
                   min_score: float) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """
    Return the features of the detections the tracks took in this update.

    Returns
    -------
    features : ndarray of float32, shape (M, D)
        Zero rows where there is none.
    fresh : ndarray of bool, shape (M,)
        Whether the track took a detection with a feature and a score of at least
        ``min_score`` (low-score detections are often occluded).

    """
    dim = table.feature_dim or 0
    features = np.zeros((len(slots), dim), dtype=np.float32)
    fresh = np.zeros(len(slots), dtype=bool)
    if detections.features is None or len(slots) == 0 or len(detections) == 0:
        return features, fresh
    rows = table.detection_index[slots]
    lookup = np.full(max(int(rows.max()), int(detections.rows.max())) + 1, -1)
    lookup[detections.rows] = np.arange(len(detections))
    index = np.where(rows >= 0, lookup[np.maximum(rows, 0)], -1)
    taken = index >= 0
    features[taken] = detections.features[index[taken]]
    fresh[taken] = (has_feature_rows(features[taken])
                    & (detections.scores[index[taken]] >= min_score))
    return features, fresh
