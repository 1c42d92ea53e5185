"""
Cost matrices and gated linear assignment (scipy's Hungarian solver).

Costs are (T, N): one row per track, one column per detection. Forbidden pairs carry
``INFEASIBLE_COST`` and are never returned as matches.
"""

from typing import Tuple

from deepsort_ros.core.boxes import cxcywh_to_tlbr, iou_matrix_tlbr
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

INFEASIBLE_COST = 1e5


def cosine_distance(track_features: npt.NDArray[np.floating],
                    detection_features: npt.NDArray[np.floating]) -> FloatArray:
    """
    Cosine distance between unit-norm track representatives and detection features.

    Parameters
    ----------
    track_features : ndarray, shape (T, D)
        L2-normalised rows.
    detection_features : ndarray, shape (N, D)
        L2-normalised rows.

    Returns
    -------
    ndarray, shape (T, N)
        ``1 - cos``, in [0, 2]: one (T, D) @ (D, N) product.

    """
    similarity = np.asarray(track_features @ detection_features.T, dtype=np.float64)
    return 1.0 - similarity


def iou_distance(tracks_cxcywh: FloatArray, detections_cxcywh: FloatArray) -> FloatArray:
    """
    One minus the IoU of every track box with every detection box.

    Parameters
    ----------
    tracks_cxcywh : ndarray, shape (T, 4)
        Predicted track boxes.
    detections_cxcywh : ndarray, shape (N, 4)
        Detection boxes.

    Returns
    -------
    ndarray, shape (T, N)

    """
    return 1.0 - iou_matrix_tlbr(cxcywh_to_tlbr(tracks_cxcywh), cxcywh_to_tlbr(detections_cxcywh))


def class_mismatch(track_classes: IntArray, detection_classes: IntArray) -> npt.NDArray[np.bool_]:
    """
    Pairs whose classes differ.

    Parameters
    ----------
    track_classes : ndarray, shape (T,)
        Class id of each track.
    detection_classes : ndarray, shape (N,)
        Class id of each detection.

    Returns
    -------
    ndarray of bool, shape (T, N)

    """
    return track_classes[:, None] != detection_classes[None, :]


def assign(cost: FloatArray, max_cost: float) -> Tuple[IntArray, IntArray, IntArray]:
    """
    Minimum-cost one-to-one assignment keeping pairs whose cost is at most max_cost.

    Parameters
    ----------
    cost : ndarray, shape (T, N)
        Entries above max_cost (or non-finite) are forbidden.
    max_cost : float
        Largest accepted cost.

    Returns
    -------
    matches : ndarray, shape (K, 2)
        (row, column) pairs.
    unmatched_rows : ndarray, shape (T - K,)
    unmatched_columns : ndarray, shape (N - K,)

    """
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return (np.empty((0, 2), dtype=np.int64), np.arange(n_rows, dtype=np.int64),
                np.arange(n_cols, dtype=np.int64))
    # One comparison finds the feasible pairs: NaN fails both, inf fails the strict one.
    feasible = cost < np.inf if max_cost == np.inf else cost <= max_cost
    row_options = np.count_nonzero(feasible, axis=1)
    column_options = np.count_nonzero(feasible, axis=0)
    # Gated costs are sparse (at 200 x 200 a track has about one feasible detection): a
    # row and a column that are each other's only option are matched in every optimum, so
    # they are taken without the solver, which then sees a far smaller problem.
    single = np.flatnonzero(row_options == 1)
    single_column = feasible[single].argmax(axis=1)
    alone = column_options[single_column] == 1
    pair_rows, pair_cols = single[alone], single_column[alone]
    rows_left = row_options > 0
    rows_left[pair_rows] = False
    cols_left = column_options > 0
    cols_left[pair_cols] = False
    rows, cols = np.flatnonzero(rows_left), np.flatnonzero(cols_left)
    matched_r, matched_c = [pair_rows], [pair_cols]
    if len(rows) and len(cols):
        sub = np.ix_(rows, cols)
        sub_feasible = feasible[sub]
        r, c = linear_sum_assignment(np.where(sub_feasible, cost[sub], INFEASIBLE_COST))
        keep = sub_feasible[r, c]
        matched_r.append(rows[r[keep]])
        matched_c.append(cols[c[keep]])
    matches = np.stack([np.concatenate(matched_r), np.concatenate(matched_c)],
                       axis=1).astype(np.int64)
    matched_rows = np.zeros(n_rows, dtype=bool)
    matched_cols = np.zeros(n_cols, dtype=bool)
    matched_rows[matches[:, 0]] = True
    matched_cols[matches[:, 1]] = True
    return matches, np.flatnonzero(~matched_rows), np.flatnonzero(~matched_cols)
