"""
Merging global tracks that turn out to be one person.

Two global tracks that other cameras keep seeing at one place, looking alike, while a camera
sees one person there (:func:`~deepsort_ros.fusion.association.colocated`), are one person
started twice; after ``merge_after`` seconds together the younger is merged into the older:
its bindings move over (the fusion's part) and its evidence is absorbed (:func:`absorb`).
"""

from typing import Callable, Dict, Tuple

from deepsort_ros.fusion import association
from deepsort_ros.fusion.config import FusionConfig
from deepsort_ros.fusion.global_table import GlobalTable, NO_LOCAL_ID
from deepsort_ros.fusion.ground_kalman import GroundKalmanCV
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class MergeWatch:
    """
    Which pairs of global tracks have been seen together, and since when.

    Attributes
    ----------
    together : dict
        (older global id, younger global id) -> (first, last) fusion time seen together.

    """

    def __init__(self) -> None:
        self.together: Dict[Tuple[int, int], Tuple[float, float]] = {}

    def merge_colocated(self, table: GlobalTable, kalman: GroundKalmanCV, config: FusionConfig,
                        column: int, seen: IntArray, now: float,
                        merge: Callable[[int, int], None]) -> None:
        """
        Merge global tracks that other cameras keep seeing where this camera sees one.

        Parameters
        ----------
        table : GlobalTable
            Predicted to ``now``.
        kalman : GroundKalmanCV
            For the position gate.
        config : FusionConfig
            ``overlap_max_gap``, ``merge_after``, ``position_gate``, ``overlap_max_cosine``.
        column : int
            The camera's column in the table.
        seen : ndarray of int
            Slots this camera detected in this update.
        now : float
            Fusion time, seconds.
        merge : callable
            ``merge(older_slot, younger_slot)``; called as soon as a pair is due, so that
            later pairs of this update see its result.

        """
        self.together = {pair: span for pair, span in self.together.items()
                         if now - span[1] <= config.overlap_max_gap}
        slots = table.active
        others = np.delete(table.member_seen[slots], column, axis=1)
        live = (others.max(axis=1) >= now - config.overlap_max_gap if others.shape[1]
                else np.zeros(len(slots), dtype=bool))
        usable = table.has_position[slots] & table.has_appearance[slots]
        slots_b = slots[live & usable & (table.member_local[slots, column] == 0)]
        slots_a = seen[table.has_position[seen] & table.has_appearance[seen]]
        together = association.colocated(table, kalman, config, slots_a, slots_b)
        for i, j in zip(*np.nonzero(together)):
            a, b = int(slots_a[i]), int(slots_b[j])
            older, younger = sorted((a, b), key=lambda s: (table.first_time[s],
                                                           table.global_id[s]))
            pair = (int(table.global_id[older]), int(table.global_id[younger]))
            first = self.together.get(pair, (now, now))[0]
            self.together[pair] = (first, now)
            # Earlier merges of this update may have changed either side.
            if now - first >= config.merge_after and table.alive[older] \
                    and table.alive[younger] \
                    and not np.any((table.member_local[older] != NO_LOCAL_ID)
                                   & (table.member_local[younger] != NO_LOCAL_ID)):
                merge(older, younger)
                del self.together[pair]


def absorb(table: GlobalTable, kalman: GroundKalmanCV, older: int, younger: int) -> None:
    """
    Take the younger global track's evidence into the older one (its bindings moved already).

    Parameters
    ----------
    table : GlobalTable
        Both slots alive; ``younger`` is left for the caller to release.
    kalman : GroundKalmanCV
        The younger's ground position corrects the older's filter as a measurement.
    older, younger : int
        Slots.

    """
    table.mean[[older]], table.covariance[[older]] = kalman.update(
        table.mean[[older]], table.covariance[[older]], table.mean[[younger], :2],
        table.covariance[[younger], :2, :2])
    table.add_features(np.array([older]), table.appearance[[younger]], 0.5)
    if table.last_xy_time[younger] > table.last_xy_time[older]:
        table.last_xy[older] = table.last_xy[younger]
        table.last_xy_time[older] = table.last_xy_time[younger]
        table.last_velocity[older] = table.last_velocity[younger]
    table.last_detected_time[older] = max(table.last_detected_time[older],
                                          table.last_detected_time[younger])
    table.member_seen[older] = np.maximum(table.member_seen[older], table.member_seen[younger])
    seen_older = dict(table.last_seen[older])
    for camera, stamp in table.last_seen[younger]:
        table.seen(older, camera, max(stamp, seen_older.get(camera, stamp)))
