"""
Which global track each new camera track joins: one cost matrix over all pairs, one assignment.

A pair (global track g, camera track n) is one of three kinds, decided per pair:

- **overlap**: another camera detected g within ``overlap_max_gap`` and both have a ground
  position: the
  squared Mahalanobis distance of n to g's prediction (under both covariances) must pass
  ``position_gate``, and their appearance (when both have one) ``overlap_max_cosine``; the
  cost mixes both, normalised by their gates.
- **handover**: no other camera detected g that recently (it left every other view) and
  both have ground
  positions and features: the cosine distance must pass ``handover_max_cosine``, n must be
  within ``max_speed`` x gap of g's last sighting and within ``handover_spread`` x gap of
  where g's velocity then predicts it (both + ``handover_min_radius``).
- **appearance-only**: one side has no ground position (both have features): only the
  cosine distance, under the strictest threshold ``appearance_only_max_cosine``.

Kinds are ranked by adding 0, 1 and 2 to their normalised costs, so the solver prefers a
position-checked pair to a handover and a handover to appearance alone.
"""

from typing import Tuple

from deepsort_ros.core.matching import assign, cosine_distance
from deepsort_ros.fusion.config import FusionConfig
from deepsort_ros.fusion.global_table import GlobalTable
from deepsort_ros.fusion.ground_kalman import GroundKalmanCV
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

OVERLAP, HANDOVER, APPEARANCE_ONLY = 0, 1, 2
KIND_NAMES = ('overlap', 'handover', 'appearance_only')


def pair_costs(table: GlobalTable, kalman: GroundKalmanCV, config: FusionConfig,
               slots: IntArray, position_xy: FloatArray, position_cov: FloatArray,
               valid: BoolArray, features: npt.NDArray[np.float32], has_feature: BoolArray,
               now: float, column: int) -> Tuple[FloatArray, npt.NDArray[np.int8]]:
    """
    Cost and kind of every (global track, camera track) pair.

    Parameters
    ----------
    table : GlobalTable
        Predicted to ``now``.
    kalman : GroundKalmanCV
        For the position gate.
    config : FusionConfig
        Gates, thresholds and weights.
    slots : ndarray of int, shape (K,)
        Candidate global tracks.
    position_xy : ndarray, shape (M, 2)
        Camera tracks' ground positions at ``now``, m.
    position_cov : ndarray, shape (M, 2, 2)
        Their covariances, m^2.
    valid : ndarray of bool, shape (M,)
        Which camera tracks have a ground position.
    features : ndarray of float32, shape (M, D)
        Unit features (rows without ``has_feature`` are ignored); D may be 0.
    has_feature : ndarray of bool, shape (M,)
        Which camera tracks have a feature.
    now : float
        Seconds.
    column : int
        The camera's column in the table: only detections by other cameras make a global
        track recent enough for an overlap pair.

    Returns
    -------
    cost : ndarray, shape (K, M)
        Infinite where the pair is forbidden.
    kind : ndarray of int8, shape (K, M)
        OVERLAP, HANDOVER or APPEARANCE_ONLY.

    """
    k, m = len(slots), len(position_xy)
    cost = np.full((k, m), np.inf)
    kind = np.full((k, m), APPEARANCE_ONLY, dtype=np.int8)
    if k == 0 or m == 0:
        return cost, kind
    both_feature = table.has_appearance[slots][:, None] & has_feature[None, :]
    if features.shape[1] and np.any(both_feature):
        appearance = cosine_distance(table.appearance[slots], features)
    else:
        appearance = np.full((k, m), np.inf)
    appearance = np.where(both_feature, appearance, np.inf)
    both_position = table.has_position[slots][:, None] & valid[None, :]
    # Recent means detected by another camera: if only this camera saw it lately, its own
    # tracker already judged the new track someone else, and position alone must not
    # overrule it (a person stepping where another just left).
    others = np.delete(table.member_seen[slots], column, axis=1)
    recent = np.zeros((k, 1), dtype=bool)
    if others.shape[1]:
        recent[:, 0] = others.max(axis=1) >= now - config.overlap_max_gap

    overlap = recent & both_position
    if np.any(overlap):
        d2 = kalman.gating_distance(table.mean[slots], table.covariance[slots],
                                    np.where(valid[:, None], position_xy, 0.0),
                                    np.where(valid[:, None, None], position_cov, 0.0))
        position_term = d2 / config.position_gate
        with np.errstate(invalid='ignore'):
            mixed = np.where(both_feature,
                             (1.0 - config.appearance_weight) * position_term
                             + config.appearance_weight * appearance
                             / max(config.overlap_max_cosine, 1e-12),
                             position_term)
        ok = overlap & (d2 <= config.position_gate) & (
            ~both_feature | (appearance <= config.overlap_max_cosine))
        cost[ok] = mixed[ok]
        kind[overlap] = OVERLAP

    handover = ~recent & both_position & both_feature
    if np.any(handover):
        gap = np.maximum(now - table.last_xy_time[slots], 0.0)
        last_xy = table.last_xy[slots]
        predicted = last_xy + table.last_velocity[slots] * gap[:, None]
        reach = config.max_speed * gap + config.handover_min_radius
        spread = config.handover_spread * gap + config.handover_min_radius
        travel = np.linalg.norm(last_xy[:, None, :] - position_xy[None, :, :], axis=2)
        miss = np.linalg.norm(predicted[:, None, :] - position_xy[None, :, :], axis=2)
        with np.errstate(invalid='ignore'):
            fraction = miss / spread[:, None]
            ok = (handover & (travel <= reach[:, None]) & (fraction <= 1.0)
                  & (appearance <= config.handover_max_cosine))
        value = (1.0 + appearance / max(config.handover_max_cosine, 1e-12)
                 + config.travel_weight * fraction)
        cost[ok] = value[ok]
        kind[handover] = HANDOVER

    appearance_only = ~both_position & both_feature
    if np.any(appearance_only):
        ok = appearance_only & (appearance <= config.appearance_only_max_cosine)
        value = 2.0 + appearance / max(config.appearance_only_max_cosine, 1e-12)
        cost[ok] = value[ok]
    return cost, kind


def associate(table: GlobalTable, kalman: GroundKalmanCV, config: FusionConfig,
              slots: IntArray, position_xy: FloatArray, position_cov: FloatArray,
              valid: BoolArray, features: npt.NDArray[np.float32], has_feature: BoolArray,
              now: float, column: int,
              forbidden: BoolArray) -> Tuple[IntArray, npt.NDArray[np.int8]]:
    """
    Match camera tracks to candidate global tracks at minimum total cost.

    Parameters
    ----------
    table, kalman, config, slots, position_xy, position_cov, valid, features, has_feature, now
        As for :func:`pair_costs`.
    column : int
        As for :func:`pair_costs`.
    forbidden : ndarray of bool, shape (K, M)
        Pairs excluded beforehand (a binding just broken must not be remade).

    Returns
    -------
    matches : ndarray of int, shape (P, 2)
        (index into ``slots``, index into the camera tracks).
    kinds : ndarray of int8, shape (P,)

    """
    cost, kind = pair_costs(table, kalman, config, slots, position_xy, position_cov, valid,
                            features, has_feature, now, column)
    cost[forbidden] = np.inf
    matches, _, _ = assign(cost, np.inf)
    return matches, kind[matches[:, 0], matches[:, 1]]


def colocated(table: GlobalTable, kalman: GroundKalmanCV, config: FusionConfig,
              slots_a: IntArray, slots_b: IntArray) -> BoolArray:
    """
    Which pairs of global tracks look like one person seen by different cameras.

    Parameters
    ----------
    table : GlobalTable
        Predicted to the same time.
    kalman : GroundKalmanCV
        For the position gate.
    config : FusionConfig
        ``position_gate`` and ``overlap_max_cosine``.
    slots_a : ndarray of int, shape (A,)
        Global tracks with a position and an appearance.
    slots_b : ndarray of int, shape (B,)
        Others, likewise.

    Returns
    -------
    ndarray of bool, shape (A, B)
        Within the position gate under both covariances, within ``overlap_max_cosine`` in
        appearance, and bound to disjoint sets of cameras.

    """
    if len(slots_a) == 0 or len(slots_b) == 0:
        return np.zeros((len(slots_a), len(slots_b)), dtype=bool)
    d2 = kalman.gating_distance(table.mean[slots_a], table.covariance[slots_a],
                                table.mean[slots_b, :2], table.covariance[slots_b, :2, :2])
    appearance = cosine_distance(table.appearance[slots_a], table.appearance[slots_b])
    members_a = table.member_local[slots_a] != 0
    members_b = table.member_local[slots_b] != 0
    shared = (members_a.astype(np.int64) @ members_b.T.astype(np.int64)) > 0
    return (d2 <= config.position_gate) & (appearance <= config.overlap_max_cosine) & ~shared


def consistent(table: GlobalTable, kalman: GroundKalmanCV, config: FusionConfig,
               slots: IntArray, position_xy: FloatArray, position_cov: FloatArray,
               valid: BoolArray, features: npt.NDArray[np.float32], has_feature: BoolArray,
               supported: BoolArray) -> BoolArray:
    """
    Whether each bound camera track still agrees with its global track.

    Parameters
    ----------
    table, kalman, config
        As for :func:`pair_costs`.
    slots : ndarray of int, shape (M,)
        The global track of each camera track.
    position_xy, position_cov, valid, features, has_feature
        The camera tracks (M rows), as for :func:`pair_costs`.
    supported : ndarray of bool, shape (M,)
        Another camera detected the global track recently: only then can its position
        contradict this camera's (otherwise it is this camera's own track).

    Returns
    -------
    ndarray of bool, shape (M,)
        False where the position leaves ``keep_position_gate`` (supported tracks) or the
        appearance drifts beyond ``keep_max_cosine``.

    """
    ok = np.ones(len(slots), dtype=bool)
    if len(slots) == 0:
        return ok
    check_position = supported & valid & table.has_position[slots]
    if np.any(check_position):
        rows = np.flatnonzero(check_position)
        s = slots[rows]
        d2 = kalman.pair_distance(table.mean[s], table.covariance[s], position_xy[rows],
                                  position_cov[rows])
        ok[rows] &= d2 <= config.keep_position_gate
    check_appearance = has_feature & table.has_appearance[slots]
    if np.any(check_appearance) and features.shape[1]:
        rows = np.flatnonzero(check_appearance)
        similarity = np.einsum('nd,nd->n', table.appearance[slots[rows]].astype(np.float64),
                               features[rows].astype(np.float64))
        ok[rows] &= (1.0 - similarity) <= config.keep_max_cosine
    return ok
