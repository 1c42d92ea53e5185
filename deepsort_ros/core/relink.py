"""
Re-identification: a newly confirmed track takes back the identity of a look-alike.

Candidates are confirmed tracks coasting now and identities in the lost gallery. A new track
may take a candidate's identity when their appearances are close, the candidate vanished
before the new track appeared, and the new track starts where the candidate could have walked
to in the meantime (a radius growing with the time elapsed, in units of the candidate's box
height). One assignment over all pairs decides.
"""

from typing import Optional

from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.lost_gallery import LostGallery
from deepsort_ros.core.matching import assign, class_mismatch, cosine_distance
from deepsort_ros.core.track_table import TrackTable
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def relink(table: TrackTable, lost: LostGallery, config: TrackerConfig, new_slots: IntArray,
           target_id: Optional[int]) -> int:
    """
    Give newly confirmed tracks the identity of a lost or coasting look-alike.

    Parameters
    ----------
    table : TrackTable
        The tracks.
    lost : LostGallery
        Identities of deleted tracks; those taken back are removed from it.
    config : TrackerConfig
        The tracker settings.
    new_slots : ndarray of int
        Tracks confirmed in this update.
    target_id : int, optional
        The followed target's identity: never handed out here (the target follower
        re-acquires it by its own, stricter rule).

    Returns
    -------
    int
        Tracks that took back an identity.

    """
    new_slots = new_slots[table.alive[new_slots] & table.has_feature[new_slots]]
    if len(new_slots) == 0:
        return 0
    active = table.active
    coasting = active[table.confirmed[active] & (table.misses[active] > 0)
                      & table.has_feature[active]]
    lost_rows = np.flatnonzero(lost.valid)
    if len(coasting) + len(lost_rows) == 0:
        return 0
    feats = [table.representative[coasting]]
    if len(lost_rows):
        feats.append(lost.feature[lost_rows])
    cand_feature = np.concatenate(feats)
    cand_class = np.concatenate([table.class_id[coasting], lost.class_id[lost_rows]])
    cand_box = np.concatenate([table.last_box_cxcywh[coasting], lost.box_cxcywh[lost_rows]])
    cand_time = np.concatenate([table.last_update_time[coasting], lost.last_time[lost_rows]])
    cand_id = np.concatenate([table.track_id[coasting], lost.track_id[lost_rows]])
    n_coasting = len(coasting)

    cost = cosine_distance(table.representative[new_slots], cand_feature)
    limit = np.where(np.arange(len(cand_id)) < n_coasting, config.relink_max_cosine_distance,
                     config.relink_lost_max_cosine_distance)
    forbidden = cost > limit[None, :]
    if config.class_aware:
        forbidden |= class_mismatch(table.class_id[new_slots], cand_class)
    # The look-alike must have vanished before the new track appeared, and be near enough.
    forbidden |= cand_time[None, :] >= table.first_time[new_slots][:, None]
    elapsed = table.first_time[new_slots][:, None] - cand_time[None, :]
    height = cand_box[None, :, 3]
    radius = height * (config.relink_min_radius
                       + config.relink_max_speed * np.maximum(elapsed, 0))
    first_box = table.mean[new_slots, :2]
    distance = np.linalg.norm(first_box[:, None, :] - cand_box[None, :, :2], axis=2)
    forbidden |= distance > radius
    if target_id is not None:
        forbidden |= cand_id[None, :] == target_id
    cost[forbidden] = np.inf
    matches, _, _ = assign(cost, np.inf)
    if len(matches) == 0:
        return 0
    slots = new_slots[matches[:, 0]]
    cands = matches[:, 1]
    table.track_id[slots] = cand_id[cands]
    table.add_features(slots, cand_feature[cands])
    from_coasting = cands < n_coasting
    table.release(coasting[cands[from_coasting]])
    lost.remove(lost_rows[cands[~from_coasting] - n_coasting])
    return len(matches)
