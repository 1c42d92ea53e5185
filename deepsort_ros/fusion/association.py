"""
Which global track each new camera track joins: one cost matrix over all pairs, one assignment.

A pair (global track g, camera track n) is one of three kinds, decided per pair; each kind is
a cost regime, a function of the gathered :class:`Pairs` (the way deep_sort's
``min_cost_matching`` takes its distance metric):

- **overlap** (:func:`overlap_cost`): another camera detected g within ``overlap_max_gap``
  and both have a ground position: the squared Mahalanobis distance of n to g's prediction
  (under both covariances) must pass ``position_gate``, and their appearance (when both have
  one) ``overlap_max_cosine``; the cost mixes both, normalised by their gates.
- **handover** (:func:`handover_cost`): no other camera detected g that recently (it left
  every other view) and both have ground positions and features: the cosine distance must
  pass ``handover_max_cosine``, n must be within ``max_speed`` x gap of g's last sighting and
  within ``handover_spread`` x gap of where g's velocity then predicts it (both +
  ``handover_min_radius``).
- **appearance-only** (:func:`appearance_only_cost`): one side has no ground position (both
  have features): only the cosine distance, under the strictest threshold
  ``appearance_only_max_cosine``.

Kinds are ranked by adding 0, 1 and 2 to their normalised costs, so the solver
(:func:`min_cost_matching`) prefers a position-checked pair to a handover and a handover to
appearance alone.
"""

from dataclasses import dataclass
from typing import Callable, Sequence, Tuple

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


@dataclass(frozen=True)
class Pairs:
    """
    What every cost regime reads about the (global track, camera track) pairs.

    Attributes
    ----------
    table : GlobalTable
        Predicted to ``now``.
    slots : ndarray of int, shape (K,)
        Candidate global tracks.
    position_xy : ndarray, shape (M, 2)
        Camera tracks' ground positions at ``now``, m.
    position_cov : ndarray, shape (M, 2, 2)
        Their covariances, m^2.
    valid : ndarray of bool, shape (M,)
        Which camera tracks have a ground position.
    appearance : ndarray, shape (K, M)
        Cosine distances, infinite where either side has no feature.
    both_feature, both_position : ndarray of bool, shape (K, M)
        Both sides have a feature; both have a ground position.
    recent : ndarray of bool, shape (K, 1)
        Another camera detected the global track within ``overlap_max_gap``.
    now : float
        Seconds.

    """

    table: GlobalTable
    slots: IntArray
    position_xy: FloatArray
    position_cov: FloatArray
    valid: BoolArray
    appearance: FloatArray
    both_feature: BoolArray
    both_position: BoolArray
    recent: BoolArray
    now: float

    @classmethod
    def of(cls, table: GlobalTable, config: FusionConfig, slots: IntArray,
           position_xy: FloatArray, position_cov: FloatArray, valid: BoolArray,
           features: npt.NDArray[np.float32], has_feature: BoolArray, now: float,
           column: int) -> 'Pairs':
        """
        Gather the pairs of ``slots`` and the camera tracks.

        Parameters
        ----------
        table, slots, position_xy, position_cov, valid, now
            As the attributes.
        config : FusionConfig
            ``overlap_max_gap``.
        features : ndarray of float32, shape (M, D)
            Unit features (rows without ``has_feature`` are ignored); D may be 0.
        has_feature : ndarray of bool, shape (M,)
            Which camera tracks have a feature.
        column : int
            The camera's column in the table: only detections by other cameras make a global
            track recent enough for an overlap pair.

        Returns
        -------
        Pairs

        """
        k, m = len(slots), len(position_xy)
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
        return cls(table, slots, position_xy, position_cov, valid, appearance, both_feature,
                   both_position, recent, now)


# A cost regime: (pairs, kalman, config) -> (which pairs are of its kind (K, M), their costs
# (K, M), infinite where its gates forbid the pair; read only where the first is True).
CostRegime = Callable[[Pairs, GroundKalmanCV, FusionConfig], Tuple[BoolArray, FloatArray]]


def overlap_cost(pairs: Pairs, kalman: GroundKalmanCV,
                 config: FusionConfig) -> Tuple[BoolArray, FloatArray]:
    """Recently seen elsewhere, both located: position gate and appearance, mixed."""
    members = pairs.recent & pairs.both_position
    if not np.any(members):
        return members, np.empty(members.shape)
    table, slots, valid = pairs.table, pairs.slots, pairs.valid
    d2 = kalman.gating_distance(table.mean[slots], table.covariance[slots],
                                np.where(valid[:, None], pairs.position_xy, 0.0),
                                np.where(valid[:, None, None], pairs.position_cov, 0.0))
    position_term = d2 / config.position_gate
    appearance, both_feature = pairs.appearance, pairs.both_feature
    with np.errstate(invalid='ignore'):
        mixed = np.where(both_feature,
                         (1.0 - config.appearance_weight) * position_term
                         + config.appearance_weight * appearance
                         / max(config.overlap_max_cosine, 1e-12),
                         position_term)
    ok = (d2 <= config.position_gate) & (
        ~both_feature | (appearance <= config.overlap_max_cosine))
    return members, np.where(ok, mixed, np.inf)


def handover_cost(pairs: Pairs, kalman: GroundKalmanCV,
                  config: FusionConfig) -> Tuple[BoolArray, FloatArray]:
    """Left every other view, both located and described: appearance and travel time."""
    members = ~pairs.recent & pairs.both_position & pairs.both_feature
    if not np.any(members):
        return members, np.empty(members.shape)
    table, slots, position_xy = pairs.table, pairs.slots, pairs.position_xy
    gap = np.maximum(pairs.now - table.last_xy_time[slots], 0.0)
    last_xy = table.last_xy[slots]
    predicted = last_xy + table.last_velocity[slots] * gap[:, None]
    reach = config.max_speed * gap + config.handover_min_radius
    spread = config.handover_spread * gap + config.handover_min_radius
    travel = np.linalg.norm(last_xy[:, None, :] - position_xy[None, :, :], axis=2)
    miss = np.linalg.norm(predicted[:, None, :] - position_xy[None, :, :], axis=2)
    appearance = pairs.appearance
    with np.errstate(invalid='ignore'):
        fraction = miss / spread[:, None]
        ok = ((travel <= reach[:, None]) & (fraction <= 1.0)
              & (appearance <= config.handover_max_cosine))
    value = (1.0 + appearance / max(config.handover_max_cosine, 1e-12)
             + config.travel_weight * fraction)
    return members, np.where(ok, value, np.inf)


def appearance_only_cost(pairs: Pairs, kalman: GroundKalmanCV,
                         config: FusionConfig) -> Tuple[BoolArray, FloatArray]:
    """One side without a ground position: appearance alone, under the strictest threshold."""
    members = ~pairs.both_position & pairs.both_feature
    if not np.any(members):
        return members, np.empty(members.shape)
    ok = pairs.appearance <= config.appearance_only_max_cosine
    value = 2.0 + pairs.appearance / max(config.appearance_only_max_cosine, 1e-12)
    return members, np.where(ok, value, np.inf)


# Kind code -> its regime; the codes' offsets (0, 1, 2) rank the kinds.
REGIMES: Tuple[CostRegime, ...] = (overlap_cost, handover_cost, appearance_only_cost)


def pair_costs(pairs: Pairs, kalman: GroundKalmanCV, config: FusionConfig,
               regimes: Sequence[CostRegime] = REGIMES
               ) -> Tuple[FloatArray, npt.NDArray[np.int8]]:
    """
    Cost and kind of every (global track, camera track) pair.

    Parameters
    ----------
    pairs : Pairs
        The pairs.
    kalman : GroundKalmanCV
        For the position gate.
    config : FusionConfig
        Gates, thresholds and weights.
    regimes : sequence of CostRegime
        Indexed by kind code; their members must not overlap.

    Returns
    -------
    cost : ndarray, shape (K, M)
        Infinite where the pair is forbidden.
    kind : ndarray of int8, shape (K, M)
        OVERLAP, HANDOVER or APPEARANCE_ONLY (also for pairs no regime takes).

    """
    shape = (len(pairs.slots), len(pairs.position_xy))
    cost = np.full(shape, np.inf)
    kind = np.full(shape, APPEARANCE_ONLY, dtype=np.int8)
    if 0 in shape:
        return cost, kind
    for code, regime in enumerate(regimes):
        members, value = regime(pairs, kalman, config)
        cost[members] = value[members]
        kind[members] = code
    return cost, kind


def min_cost_matching(regimes: Sequence[CostRegime], pairs: Pairs, kalman: GroundKalmanCV,
                      config: FusionConfig,
                      forbidden: BoolArray) -> Tuple[IntArray, npt.NDArray[np.int8]]:
    """
    Match the pairs at minimum total cost under the given cost regimes.

    Parameters
    ----------
    regimes : sequence of CostRegime
        As for :func:`pair_costs`.
    pairs : Pairs
        The candidate global tracks (rows) and camera tracks (columns).
    kalman : GroundKalmanCV
        For the position gate.
    config : FusionConfig
        Gates, thresholds and weights.
    forbidden : ndarray of bool, shape (K, M)
        Pairs excluded beforehand.

    Returns
    -------
    matches : ndarray of int, shape (P, 2)
        (row, column) pairs.
    kinds : ndarray of int8, shape (P,)

    """
    cost, kind = pair_costs(pairs, kalman, config, regimes)
    cost[forbidden] = np.inf
    matches, _, _ = assign(cost, np.inf)
    return matches, kind[matches[:, 0], matches[:, 1]]


def associate(table: GlobalTable, kalman: GroundKalmanCV, config: FusionConfig,
              slots: IntArray, position_xy: FloatArray, position_cov: FloatArray,
              valid: BoolArray, features: npt.NDArray[np.float32], has_feature: BoolArray,
              now: float, column: int,
              forbidden: BoolArray) -> Tuple[IntArray, npt.NDArray[np.int8]]:
    """
    Match camera tracks to candidate global tracks at minimum total cost.

    Parameters
    ----------
    table, slots, position_xy, position_cov, valid, features, has_feature, now, column
        As for :meth:`Pairs.of`.
    kalman : GroundKalmanCV
        For the position gate.
    config : FusionConfig
        Gates, thresholds and weights.
    forbidden : ndarray of bool, shape (K, M)
        Pairs excluded beforehand (a binding just broken must not be remade).

    Returns
    -------
    matches : ndarray of int, shape (P, 2)
        (index into ``slots``, index into the camera tracks).
    kinds : ndarray of int8, shape (P,)

    """
    pairs = Pairs.of(table, config, slots, position_xy, position_cov, valid, features,
                     has_feature, now, column)
    return min_cost_matching(REGIMES, pairs, kalman, config, forbidden)


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
    table : GlobalTable
        Predicted to the stamp of the camera tracks.
    kalman : GroundKalmanCV
        For the position gate.
    config : FusionConfig
        ``keep_position_gate`` and ``keep_max_cosine``.
    slots : ndarray of int, shape (M,)
        The global track of each camera track.
    position_xy, position_cov, valid, features, has_feature
        The camera tracks (M rows), as for :meth:`Pairs.of`.
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
