"""
One frame's detections as the tracker takes them: shapes checked, bad rows flagged.

API misuse (arrays whose shapes do not fit) raises ValueError before anything changes; bad
values (non-finite or absurd numbers) only flag their row, which the tracker drops and counts.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

from deepsort_ros.core.boxes import coverage_matrix_tlbr, cxcywh_to_tlbr, tlwh_to_cxcywh
from deepsort_ros.core.track_table import normalise_rows
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class DetectionBatch:
    """
    The detections one update associates, in the core's box format.

    Attributes
    ----------
    rows : ndarray of int, shape (M,)
        Row of each detection in the update's input (reported as ``detection_index``).
    boxes_cxcywh : ndarray, shape (M, 4)
        Centre x, centre y, width, height, pixels.
    scores : ndarray, shape (M,)
    class_ids : ndarray of int, shape (M,)
    features : ndarray of float32, shape (M, D), optional
        Unit rows; an all-zero row is a detection without appearance.

    """

    rows: IntArray
    boxes_cxcywh: FloatArray
    scores: FloatArray
    class_ids: IntArray
    features: Optional[npt.NDArray[np.float32]]

    def __len__(self) -> int:
        """Return the number of detections."""
        return len(self.rows)

    def max_coverage(self, dets: IntArray) -> FloatArray:
        """
        Return how much of each of some boxes one other box of the batch covers at most.

        Parameters
        ----------
        dets : ndarray of int, shape (K,)
            The detections asked about, indices into the batch.

        Returns
        -------
        ndarray, shape (K,)
            The largest fraction of the box's area inside another box, in [0, 1].

        """
        if len(dets) == 0 or len(self) < 2:
            return np.zeros(len(dets))
        boxes_tlbr = cxcywh_to_tlbr(self.boxes_cxcywh)
        coverage = coverage_matrix_tlbr(boxes_tlbr[dets], boxes_tlbr)
        coverage[np.arange(len(dets)), dets] = 0.0  # each box covers itself
        return coverage.max(axis=1)


@dataclass(frozen=True)
class Detections:
    """
    The rows given to one update, with which of them are usable.

    Attributes
    ----------
    boxes_tlwh : ndarray, shape (N, 4)
    scores : ndarray, shape (N,)
    class_ids : ndarray of int, shape (N,)
    features : ndarray of float32, shape (N, D), optional
        Appearance features; None without appearance.
    good : ndarray of bool, shape (N,)
        Rows with finite, in-range values (see :meth:`parse`).

    """

    boxes_tlwh: FloatArray
    scores: FloatArray
    class_ids: IntArray
    features: Optional[npt.NDArray[np.float32]]
    good: BoolArray

    @classmethod
    def parse(cls, boxes_tlwh: npt.ArrayLike, scores: Optional[npt.ArrayLike],
              class_ids: Optional[npt.ArrayLike], features: Optional[npt.ArrayLike],
              feature_dim: Optional[int], max_box_coordinate: float) -> 'Detections':
        """
        Check shapes and flag good rows.

        Parameters
        ----------
        boxes_tlwh : array_like, shape (N, 4)
            Left, top, width, height, pixels.
        scores : array_like, shape (N,), optional
            1 when omitted.
        class_ids : array_like, shape (N,), optional
            0 when omitted.
        features : array_like, shape (N, D), optional
            Appearance features; None without appearance.
        feature_dim : int, optional
            The feature size earlier updates had; None while unknown.
        max_box_coordinate : float
            Largest accepted magnitude of a left, top, width or height.

        Returns
        -------
        Detections

        Raises
        ------
        ValueError
            Boxes not of shape (N, 4), scores, class ids or features whose lengths differ from
            N, features not 2-D or of another size than ``feature_dim``.

        Notes
        -----
        A row is good when its box, score, class id and feature are finite, its width and
        height are positive, no box number exceeds ``max_box_coordinate`` in magnitude and its
        class id is a whole number in int64's range.

        """
        boxes = np.asarray(boxes_tlwh, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f'boxes_tlwh must have shape (N, 4), got {boxes.shape}')
        n = len(boxes)
        det_scores = (np.ones(n) if scores is None
                      else np.asarray(scores, dtype=np.float64).reshape(-1))
        det_classes, classes_ok = _parse_class_ids(n, class_ids)
        if len(det_scores) != n or len(det_classes) != n:
            raise ValueError(f'{n} boxes but {len(det_scores)} scores and '
                             f'{len(det_classes)} class ids')
        det_features = None
        if features is not None:
            with np.errstate(over='ignore'):  # beyond float32: inf, a dropped row
                det_features = np.asarray(features, dtype=np.float32)
            if det_features.ndim != 2 or len(det_features) != n:
                raise ValueError(f'features must have shape ({n}, D), got {det_features.shape}')
            if feature_dim is not None and det_features.shape[1] != feature_dim:
                raise ValueError(f'features have {det_features.shape[1]} columns, earlier ones '
                                 f'had {feature_dim}')
        with np.errstate(invalid='ignore'):
            good = (np.all(np.abs(boxes) <= max_box_coordinate, axis=1) & (boxes[:, 2] > 0)
                    & (boxes[:, 3] > 0) & np.isfinite(det_scores) & classes_ok)
        if det_features is not None:
            good &= np.isfinite(det_features).all(axis=1)
        return cls(boxes, det_scores, det_classes, det_features, good)

    def __len__(self) -> int:
        """Return the number of rows given."""
        return len(self.boxes_tlwh)

    @property
    def dropped(self) -> int:
        """Return the number of rows that are not good."""
        return int(len(self.good) - self.good.sum())

    def batch(self, min_score: float) -> DetectionBatch:
        """
        Return the good rows scoring at least ``min_score``, features normalised.

        Parameters
        ----------
        min_score : float
            Lowest score associated (the low-score threshold).

        Returns
        -------
        DetectionBatch

        """
        rows = np.flatnonzero(self.good & (self.scores >= min_score))
        features = None if self.features is None else normalise_rows(self.features[rows])
        return DetectionBatch(rows, tlwh_to_cxcywh(self.boxes_tlwh[rows]), self.scores[rows],
                              self.class_ids[rows], features)


def _parse_class_ids(n: int, class_ids: Optional[npt.ArrayLike]) -> Tuple[IntArray, BoolArray]:
    """Return int64 class ids and which of them are usable (finite whole int64 numbers)."""
    if class_ids is None:
        return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
    raw = np.asarray(class_ids).reshape(-1)
    if np.issubdtype(raw.dtype, np.signedinteger) or raw.dtype == np.bool_:
        return raw.astype(np.int64), np.ones(len(raw), dtype=bool)
    values = raw.astype(np.float64)
    with np.errstate(invalid='ignore'):
        ok = (values == np.round(values)) & (np.abs(values) < 2.0 ** 63)  # int64's range
    return np.where(ok, values, 0.0).astype(np.int64), ok


def camera_motion_matrix(camera_motion: Optional[npt.ArrayLike]) -> Optional[FloatArray]:
    """
    Return an update's camera motion as an array; raise ValueError for another shape.

    Parameters
    ----------
    camera_motion : array_like, shape (3, 3), or None
        Homography from the previous image to this one.

    Returns
    -------
    ndarray, shape (3, 3), or None
        Its values are not checked here: a bad homography is counted by the tracker.

    """
    if camera_motion is None:
        return None
    homography = np.asarray(camera_motion, dtype=np.float64)
    if homography.shape != (3, 3):
        raise ValueError(f'camera_motion must have shape (3, 3), got {homography.shape}')
    return homography
