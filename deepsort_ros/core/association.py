"""
Which detection each track takes: DeepSORT's cascade, then IoU, then low-score boxes.

Stage 1 matches confirmed tracks that have an appearance to high-score detections by a cost
mixing cosine distance and Mahalanobis distance, gated by both (level by level of frames
missed when ``matching_cascade``). Stage 2 matches what is left by IoU (weighted by the
detection score, confirmed tracks before tentative ones, by default), then confirmed tracks
left by the IoU of their last detection (OC-SORT's observation-centric recovery); stage 3
(ByteTrack's second association) gives confirmed tracks still unmatched the low-score
detections by IoU.
"""

from typing import Optional, Tuple

from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.detections import DetectionBatch
from deepsort_ros.core.kalman_filter import KalmanFilterCV
from deepsort_ros.core.matching import assign, class_mismatch, cosine_distance, iou_distance
from deepsort_ros.core.track_table import has_feature_rows, TrackTable
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class _Matches:
    """The detection of each track (-1: none) and the track of each detection, filled in."""

    def __init__(self, tracks: int, detections: int) -> None:
        self.track = np.full(tracks, -1, dtype=np.int64)
        self.detection = np.full(detections, -1, dtype=np.int64)

    def record(self, rows: IntArray, cols: IntArray, matches: IntArray) -> None:
        """Store ``assign``'s (row, column) pairs of a sub-problem over ``rows`` x ``cols``."""
        self.track[rows[matches[:, 0]]] = cols[matches[:, 1]]
        self.detection[cols[matches[:, 1]]] = rows[matches[:, 0]]


def associate(table: TrackTable, kalman: KalmanFilterCV, config: TrackerConfig,
              slots: IntArray, detections: DetectionBatch, now: float
              ) -> Tuple[IntArray, IntArray]:
    """
    Match predicted tracks to detections.

    Parameters
    ----------
    table : TrackTable
        The tracks, predicted to ``now``.
    kalman : KalmanFilterCV
        For the Mahalanobis gate.
    config : TrackerConfig
        The tracker settings.
    slots : ndarray of int, shape (T,)
        The tracks taking part.
    detections : DetectionBatch
        This frame's detections (M of them).
    now : float
        Seconds.

    Returns
    -------
    track_match : ndarray of int, shape (T,)
        Detection of each track, -1 when unmatched.
    detection_match : ndarray of int, shape (M,)
        Index into ``slots`` of each detection's track, -1 when unmatched.

    """
    matches = _Matches(len(slots), len(detections))
    high = detections.scores >= config.high_score_threshold
    if detections.features is not None and len(slots):
        _appearance_stage(table, kalman, config, slots, detections, high, matches)
    # Stage 2: IoU for the tracks left and the high-score detections left. A confirmed
    # track with appearance must have been seen recently: after a long gap only its
    # appearance may claim a detection (DeepSORT), else strangers inherit identities.
    recent = (~table.confirmed[slots] | ~table.has_feature[slots]
              | (detections.features is None)
              | (now - table.last_update_time[slots] <= config.iou_max_gap))
    # Confirmed tracks choose first: a track just started by a stray box would otherwise
    # take a confirmed track's person where both overlap it (ByteTrack, BoT-SORT).
    groups = ((table.confirmed[slots], ~table.confirmed[slots]) if config.confirmed_first
              else (np.ones(len(slots), dtype=bool),))
    for group in groups:
        _iou_stage(table, config, slots, np.flatnonzero((matches.track < 0) & recent & group),
                   np.flatnonzero(high & (matches.detection < 0)), detections,
                   config.max_iou_distance, matches, config.iou_score_fusion)
    # Observation-centric recovery (OC-SORT's OCR): a confirmed track that turned or stopped
    # while its prediction ran on may still overlap its person's box where it last saw it.
    # A track with appearance only shortly after a miss: the last box of a person hidden
    # longer (behind another in a group) is where the one in front now walks, and the
    # appearance stage finds the person again. Without appearance this is the only way back.
    if config.observation_recovery:
        brief = (~table.has_feature[slots] | (detections.features is None)
                 | (now - table.last_update_time[slots] <= config.recovery_max_gap))
        _iou_stage(table, config, slots,
                   np.flatnonzero((matches.track < 0) & recent & brief
                                  & table.confirmed[slots]),
                   np.flatnonzero(high & (matches.detection < 0)), detections,
                   config.recovery_max_iou_distance, matches, False, last_observation=True)
    # Stage 3: confirmed tracks left against low-score detections (ByteTrack).
    if config.second_association:
        rows = np.flatnonzero((matches.track < 0) & table.confirmed[slots])
        _iou_stage(table, config, slots, rows, np.flatnonzero(~high & (matches.detection < 0)),
                   detections, config.second_max_iou_distance, matches, False)
    return matches.track, matches.detection


def _appearance_stage(table: TrackTable, kalman: KalmanFilterCV, config: TrackerConfig,
                      slots: IntArray, detections: DetectionBatch,
                      high: npt.NDArray[np.bool_], matches: _Matches) -> None:
    """Stage 1: appearance with Mahalanobis gating, confirmed tracks with a feature."""
    features = detections.features
    has_det_feature = has_feature_rows(features)
    rows = np.flatnonzero(table.confirmed[slots] & table.has_feature[slots])
    cols = np.flatnonzero(high & has_det_feature)
    if len(rows) == 0 or len(cols) == 0:
        return
    s = slots[rows]
    gate = kalman.gating_distance(table.mean[s], table.covariance[s],
                                  detections.boxes_cxcywh[cols])
    allowed = gate <= config.gating_threshold
    mismatch = (_class_mismatch(table.class_id[s], detections.class_ids[cols])
                if config.class_aware else None)
    if mismatch is not None:
        allowed &= ~mismatch
    pair_rows, pair_cols = np.nonzero(allowed)
    if 4 * len(pair_rows) < allowed.size:
        # The gate leaves few pairs (about 1% at 200 x 200): their cosine distances alone,
        # one dot product each, instead of the whole (T, D) @ (D, N) product.
        appearance = 1.0 - np.einsum('ij,ij->i', table.representative[s[pair_rows]],
                                     features[cols[pair_cols]], dtype=np.float64)
    else:
        appearance = cosine_distance(table.representative[s], features[cols])[allowed]
    cost = np.full(allowed.shape, np.inf)
    cost[pair_rows, pair_cols] = np.where(
        appearance <= config.max_cosine_distance,
        config.appearance_weight * appearance
        + (1.0 - config.appearance_weight) / config.gating_threshold * gate[allowed],
        np.inf)
    if not config.matching_cascade:
        pairs, _, _ = assign(cost, np.inf)
        matches.record(rows, cols, pairs)
        return
    # The cascade: tracks seen more recently choose first.
    misses = table.misses[s]
    free = np.ones(len(cols), dtype=bool)
    for level in np.unique(misses):
        level_rows = np.flatnonzero(misses == level)
        free_cols = np.flatnonzero(free)
        pairs, _, _ = assign(cost[np.ix_(level_rows, free_cols)], np.inf)
        matches.record(rows[level_rows], cols[free_cols], pairs)
        free[free_cols[pairs[:, 1]]] = False


def _iou_stage(table: TrackTable, config: TrackerConfig, slots: IntArray, rows: IntArray,
               cols: IntArray, detections: DetectionBatch, max_distance: float,
               matches: _Matches, score_fusion: bool, last_observation: bool = False) -> None:
    """
    Match ``slots[rows]`` to detections ``cols`` by IoU distance up to ``max_distance``.

    With ``score_fusion`` the cost is 1 - IoU x score (ByteTrack's fused score); with
    ``last_observation`` the track's box is its last detection's, not its prediction.
    """
    if len(rows) == 0 or len(cols) == 0:
        return
    s = slots[rows]
    track_boxes_cxcywh = table.last_box_cxcywh[s] if last_observation else table.mean[s, :4]
    cost = iou_distance(track_boxes_cxcywh, detections.boxes_cxcywh[cols])
    if score_fusion:
        cost = 1.0 - (1.0 - cost) * detections.scores[cols]
    mismatch = (_class_mismatch(table.class_id[s], detections.class_ids[cols])
                if config.class_aware else None)
    if mismatch is not None:
        np.copyto(cost, np.inf, where=mismatch)
    pairs, _, _ = assign(cost, max_distance)
    matches.record(rows, cols, pairs)


def _class_mismatch(track_classes: IntArray,
                    detection_classes: IntArray) -> Optional[npt.NDArray[np.bool_]]:
    """Return the (T, N) pairs of different classes; None when all share one class."""
    # One class in the whole frame (people only, the common case) cannot mismatch: four
    # reductions instead of a (T, N) comparison and a masked write.
    first = track_classes[0]
    if (track_classes.min() == first == track_classes.max()
            and detection_classes.min() == first == detection_classes.max()):
        return None
    return class_mismatch(track_classes, detection_classes)
