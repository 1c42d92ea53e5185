"""
The tracker's output records, made from the stacked table in one pass.

:func:`report_tracks` turns slots of a :class:`~deepsort_ros.core.track_table.TrackTable` into
:class:`~deepsort_ros.core.track_state.TrackOutput` records, ordered by identity; it is most of
what an update costs in Python at a few hundred tracks, so it builds every field for all rows
at once.
"""

import functools
from typing import List, Optional

from deepsort_ros.core.lifecycle import NO_IDENTITY
from deepsort_ros.core.track_state import TrackOutput, TrackState
from deepsort_ros.core.track_table import TrackTable
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

_REPORTED_STATES = (TrackState.TENTATIVE, TrackState.CONFIRMED, TrackState.COASTING)
_new_output = functools.partial(tuple.__new__, TrackOutput)


def report_tracks(table: TrackTable, slots: IntArray, now: float, followed_id: Optional[int],
                  forced_state: Optional[TrackState] = None) -> List[TrackOutput]:
    """
    Return the outputs of ``slots`` by identity, tentative ones last (oldest first).

    Parameters
    ----------
    table : TrackTable
        The tracks.
    slots : ndarray of int, shape (N,)
        Which to report.
    now : float
        Seconds, the update's time (``time_since_update`` is measured from it).
    followed_id : int or None
        Identity of the followed target, marked ``is_target``.
    forced_state : TrackState, optional
        Report every track in this state (DELETED ones without a detection index) instead of
        the one their counts give.

    Returns
    -------
    list of TrackOutput

    """
    ids = table.track_id[slots]
    named_first = np.where(ids == NO_IDENTITY, np.iinfo(np.int64).max, ids)
    slots = slots[np.lexsort((table.first_time[slots], named_first))]
    if len(slots) == 0:
        return []
    if forced_state is not None:
        states = [forced_state] * len(slots)
    else:
        codes = np.where(~table.confirmed[slots], 0, np.where(table.misses[slots] == 0, 1, 2))
        states = [_REPORTED_STATES[code] for code in codes.tolist()]
    # Fancy indexing copies: each record's arrays are rows of these fresh copies.
    mean = table.mean[slots]
    # Every consumer wants the corner box: made for all rows at once, a field rather than
    # a property computing it per track (a twentieth of the update at 200 tracks).
    box_tlwh = mean[:, :4].copy()
    box_tlwh[:, :2] -= 0.5 * box_tlwh[:, 2:]
    covariance = table.covariance[slots]
    features = (table.representative[slots] if table.feature_dim else
                np.zeros((len(slots), 0), dtype=np.float32))
    feature_rows: List[Optional[npt.NDArray[np.float32]]] = list(features)
    for row in np.flatnonzero(~table.has_feature[slots]).tolist():
        feature_rows[row] = None
    detection_index = (np.full(len(slots), -1) if forced_state is TrackState.DELETED
                       else table.detection_index[slots])
    ids = table.track_id[slots]
    is_target = (ids == followed_id if followed_id is not None
                 else np.zeros(len(ids), dtype=bool))
    # Rows taken by iterating the arrays (views made in C), not by indexing them from
    # Python, and the records made by tuple.__new__ through map, not by the named
    # tuple's Python-level constructor: at 200 tracks this list was a sixth of the
    # update, then a tenth.
    return list(map(_new_output, zip(
        ids.tolist(), states, table.class_id[slots].tolist(), table.score[slots].tolist(),
        table.age[slots].tolist(), table.hits[slots].tolist(),
        (now - table.last_update_time[slots]).tolist(), mean[:, :4], box_tlwh, mean[:, 4:],
        covariance, detection_index.tolist(), table.occluded[slots].tolist(),
        is_target.tolist(), feature_rows)))
