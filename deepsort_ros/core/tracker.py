"""
The DeepSORT multi-object tracker: association, life cycle, re-identification, one target.

One :meth:`Tracker.update` per frame: warp for camera motion, predict by the time since the
last update, associate in three stages (appearance with Mahalanobis gating, IoU, then
optionally low-score detections by IoU), update the filters, start, confirm and delete tracks,
re-link new tracks to remembered identities, and report. All per-track numerics run on stacked
arrays; Python loops only build the returned records.

Bad data (non-finite or absurd numbers, clocks that jump, degenerate camera motions) is dropped
and counted, never raised: a tracker fed by a live robot or a looping bag must keep running.
Only API misuse (array shapes that do not fit) raises ValueError.
"""

from typing import List, Optional, Tuple

from deepsort_ros.core.boxes import (cxcywh_to_tlbr, iou_matrix_tlbr, tlwh_to_cxcywh,
                                     warp_boxes_cxcywh)
from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.kalman_filter import KalmanFilterCV
from deepsort_ros.core.lost_gallery import LostGallery
from deepsort_ros.core.matching import assign, class_mismatch, cosine_distance, iou_distance
from deepsort_ros.core.track_state import TargetStatus, TrackOutput, TrackState
from deepsort_ros.core.track_table import normalise_rows, TrackTable
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Tracker:
    """
    Multi-object tracker on boxes, scores, classes and optional appearance features.

    Parameters
    ----------
    config : TrackerConfig, optional
        Defaults when omitted.

    Attributes
    ----------
    frame_count : int
        Updates processed (a frame with a non-finite timestamp is not one).
    dropped_detections : int
        Detection rows dropped as bad data (see Notes).
    relinked : int
        New tracks given a remembered identity.
    time_resets : int
        Updates whose timestamp was earlier than the previous one's (see Notes).
    bad_timestamps : int
        Updates ignored for a non-finite timestamp.
    bad_camera_motions : int
        Camera motions given to :meth:`update` and ignored as unusable (see :meth:`warp`).
    diverged_tracks : int
        Tracks deleted, unreported, because their state left the coordinate range.

    Notes
    -----
    Timestamps: an equal timestamp is accepted with dt = 0; a gap longer than
    ``max_time_step`` is predicted as ``max_time_step`` (tracks coast and age by the real
    gap, so a long pause deletes them, and covariances stay bounded). A timestamp earlier than
    the previous update's (a looping bag, a restarted clock) resets the tracker: its active
    tracks (reported once more as DELETED when ``report_deleted``), remembered identities and
    followed target are forgotten, its clock restarts at the new timestamp, and the frame is
    then tracked like a first frame. Identities keep counting up, so an old identity never
    names a new object. A non-finite timestamp drops the frame: all its rows count as
    dropped, nothing else changes and the update returns an empty list.

    Detections: rows with a non-finite box, score, class id or feature, a non-positive width
    or height, a left, top, width or height beyond ``max_box_coordinate`` in magnitude, or a
    class id that is not a whole number in int64's range are dropped and counted in
    :attr:`dropped_detections`. Duplicated rows are ordinary detections.

    A track whose filter stops being finite, or whose box or box standard deviation leaves
    ``max_box_coordinate`` (only absurd camera motions get there), is deleted without a report
    and counted in :attr:`diverged_tracks`.

    """

    def __init__(self, config: Optional[TrackerConfig] = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        if not isinstance(self.config, TrackerConfig):
            raise ValueError(f'config must be a TrackerConfig, got {type(self.config).__name__}')
        self.kalman = KalmanFilterCV(self.config.std_position, self.config.std_velocity,
                                     self.config.std_measurement,
                                     self.config.initial_velocity_std)
        self.reset()

    def reset(self) -> None:
        """Forget every track, identity, target and the clock; ids and counters start again."""
        self._next_id = 1
        self.frame_count = 0
        self.dropped_detections = 0
        self.relinked = 0
        self.time_resets = 0
        self.bad_timestamps = 0
        self.bad_camera_motions = 0
        self.diverged_tracks = 0
        self._forget()

    def _forget(self) -> None:
        """Forget every track, identity, target and the clock; keep ids and counters going."""
        self._table = TrackTable(self.config.nn_budget, self.config.feature_ema_alpha)
        self._lost = LostGallery(self.config.lost_gallery_size)
        self._last_time: Optional[float] = None
        self._outputs: List[TrackOutput] = []
        self._target_id: Optional[int] = None
        self._target_status = TargetStatus.NONE
        self._target_last_seen = 0.0
        self._target_class: Optional[int] = None
        self._target_feature: Optional[npt.NDArray[np.float32]] = None

    # ---- queries --------------------------------------------------------------------------

    @property
    def tracks(self) -> List[TrackOutput]:
        """Return the tracks reported by the last update."""
        return list(self._outputs)

    @property
    def target_id(self) -> Optional[int]:
        """Return the identity of the followed target, or None."""
        return self._target_id

    @property
    def target_status(self) -> TargetStatus:
        """Return the status of the followed target after the last update."""
        return self._target_status

    @property
    def lost_identities(self) -> int:
        """Return the number of identities remembered for re-identification."""
        return len(self._lost)

    # ---- single-object mode ---------------------------------------------------------------

    def select_target(self, track_id: Optional[int] = None, class_id: Optional[int] = None,
                      point_xy: Optional[npt.ArrayLike] = None) -> Optional[int]:
        """
        Choose the single followed target among the confirmed tracks.

        Exactly one criterion must be given.

        Parameters
        ----------
        track_id : int, optional
            This track (any active state).
        class_id : int, optional
            The confirmed track of this class with the best last detection score.
        point_xy : array_like, shape (2,), optional
            The confirmed track whose box contains the point, nearest centre first; if none
            contains it, the one with the nearest centre.

        Returns
        -------
        int or None
            The chosen identity; None when nothing fits (the selection is then cleared).

        """
        given = [v is not None for v in (track_id, class_id, point_xy)]
        if sum(given) != 1:
            raise ValueError('select_target needs exactly one of track_id, class_id, point_xy')
        table = self._table
        slots = table.active
        chosen = -1
        if track_id is not None:
            hit = slots[table.track_id[slots] == int(track_id)]
            chosen = int(hit[0]) if len(hit) else -1
        else:
            slots = slots[table.confirmed[slots]]
            if class_id is not None:
                slots = slots[table.class_id[slots] == int(class_id)]
                if len(slots):
                    fresh = table.misses[slots] == 0
                    key = table.score[slots] + np.where(fresh, 1.0, 0.0)
                    chosen = int(slots[np.argmax(key)])
            elif len(slots):
                point = np.asarray(point_xy, dtype=np.float64).reshape(2)
                if not np.isfinite(point).all():
                    raise ValueError(f'point_xy must be finite, got {point}')
                boxes = table.mean[slots, :4]
                distance = np.linalg.norm(boxes[:, :2] - point, axis=1)
                inside = np.all(np.abs(boxes[:, :2] - point) <= boxes[:, 2:] / 2.0, axis=1)
                chosen = int(slots[np.argmin(distance + np.where(inside, 0.0, 1e9))])
        if chosen < 0:
            self.clear_target()
            return None
        self._target_id = int(table.track_id[chosen])
        self._target_class = int(table.class_id[chosen])
        self._target_last_seen = float(table.last_update_time[chosen])
        self._target_feature = (table.representative[chosen].copy()
                                if table.has_feature[chosen] else None)
        self._target_status = (TargetStatus.TRACKED if table.misses[chosen] == 0
                               else TargetStatus.SEARCHING)
        return self._target_id

    def clear_target(self) -> None:
        """Stop following a target."""
        self._target_id = None
        self._target_class = None
        self._target_feature = None
        self._target_status = TargetStatus.NONE

    # ---- camera motion --------------------------------------------------------------------

    def warp(self, homography: npt.ArrayLike) -> None:
        """
        Move every track and remembered identity into the current camera image.

        Parameters
        ----------
        homography : array_like, shape (3, 3)
            Maps previous-image pixels to current-image pixels (an affine transform has a last
            row (0, 0, 1)).

        Raises
        ------
        ValueError
            When the matrix is not 3x3, not finite, singular (rank below 3 by
            ``numpy.linalg.matrix_rank``), or maps a track centre to infinity; nothing changes
            then. :meth:`update` counts such a camera motion in :attr:`bad_camera_motions` and
            tracks the frame without it.

        Notes
        -----
        A remembered identity whose box the homography sends out of the coordinate range is
        forgotten; a track sent there is deleted by the next update (see the class Notes).

        """
        h = np.asarray(homography, dtype=np.float64)
        if h.shape != (3, 3) or not np.isfinite(h).all():
            raise ValueError(f'camera motion must be a finite 3x3 matrix, got {h!r}')
        if np.linalg.matrix_rank(h) < 3:
            raise ValueError(f'camera motion is a singular matrix, not a homography: {h!r}')
        table = self._table
        slots = table.active
        # Extreme (but invertible) homographies may overflow; the next update deletes the
        # tracks they break, so the warnings would say nothing the counters do not.
        with np.errstate(over='ignore', invalid='ignore', divide='ignore'):
            mean, cov = self.kalman.warp(table.mean[slots], table.covariance[slots], h)
            last_box_cxcywh = warp_boxes_cxcywh(table.last_box_cxcywh[slots], h)
            self._lost.warp(h, self.config.max_box_coordinate)
        table.mean[slots] = mean
        table.covariance[slots] = cov
        table.last_box_cxcywh[slots] = last_box_cxcywh

    # ---- the update -----------------------------------------------------------------------

    def update(self, boxes_tlwh: npt.ArrayLike, scores: Optional[npt.ArrayLike] = None,
               class_ids: Optional[npt.ArrayLike] = None,
               features: Optional[npt.ArrayLike] = None, timestamp: float = 0.0,
               camera_motion: Optional[npt.ArrayLike] = None) -> List[TrackOutput]:
        """
        Track one frame of detections.

        Parameters
        ----------
        boxes_tlwh : array_like, shape (N, 4)
            Detection boxes (left, top, width, height), pixels.
        scores : array_like, shape (N,), optional
            Detection confidences in [0, 1]; 1 when omitted.
        class_ids : array_like of int, shape (N,), optional
            Detection classes; 0 when omitted.
        features : array_like, shape (N, D), optional
            Appearance features (normalised here); None tracks on motion and IoU only. An
            all-zero row is a detection without appearance. D must not change between frames.
        timestamp : float
            Seconds. An earlier timestamp than the previous update's resets the tracker, a
            non-finite one drops the frame (see the class Notes).
        camera_motion : array_like, shape (3, 3), optional
            Homography from the previous image to this one, applied before prediction; one
            :meth:`warp` refuses is ignored and counted in :attr:`bad_camera_motions`.

        Returns
        -------
        list of TrackOutput
            Active tracks (tentative, confirmed, coasting), then those deleted in this update
            when ``report_deleted``.

        Raises
        ------
        ValueError
            Only for API misuse, before anything changes: boxes not of shape (N, 4), scores,
            class ids or features whose lengths differ from N, features not 2-D or of another
            size D than before, a camera motion not of shape (3, 3). Bad values never raise.

        """
        cfg = self.config
        boxes, det_scores, det_classes, det_features, ok, homography = self._parse_inputs(
            boxes_tlwh, scores, class_ids, features, camera_motion)
        now = float(timestamp)
        if not np.isfinite(now):
            # No place in time: the frame cannot be predicted to, so it is not tracked.
            self.dropped_detections += len(boxes)
            self.bad_timestamps += 1
            return []
        self.dropped_detections += int(len(boxes) - ok.sum())
        reset_deleted: List[TrackOutput] = []
        if self._last_time is not None and now < self._last_time:
            reset_deleted = self._restart_clock()
        first_frame = self._last_time is None
        det_rows = np.flatnonzero(ok & (det_scores >= cfg.low_score_threshold))
        boxes_cxcywh = tlwh_to_cxcywh(boxes[det_rows])
        det_scores = det_scores[det_rows]
        det_classes = det_classes[det_rows]
        if det_features is not None:
            self._table.set_feature_dim(det_features.shape[1])
            det_features = normalise_rows(det_features[det_rows])
        dt = 0.0 if first_frame else min(now - self._last_time, cfg.max_time_step)
        self._last_time = now
        self.frame_count += 1

        if homography is not None:
            try:
                self.warp(homography)
            except ValueError:
                self.bad_camera_motions += 1
        table = self._table
        slots = table.active
        if len(slots) and dt > 0.0:
            with np.errstate(over='ignore', invalid='ignore'):
                mean, cov = self.kalman.predict(table.mean[slots], table.covariance[slots], dt)
            table.mean[slots] = mean
            table.covariance[slots] = cov
        slots = self._delete_diverged(slots)
        self._lost.expire(now, cfg.lost_gallery_max_age)

        track_match, det_match = self._associate(slots, boxes_cxcywh, det_scores, det_classes,
                                                 det_features)
        matched_t = np.flatnonzero(track_match >= 0)
        matched_slots = slots[matched_t]
        matched_dets = track_match[matched_t]
        self._apply_matches(matched_slots, matched_dets, boxes_cxcywh, det_scores,
                            det_features, det_rows, now)
        unmatched_slots = slots[track_match < 0]
        table.misses[unmatched_slots] += 1
        table.detection_index[unmatched_slots] = -1
        table.age[slots] += 1

        newly_confirmed = matched_slots[~table.confirmed[matched_slots]
                                        & (table.hits[matched_slots] >= cfg.n_init)]
        table.confirmed[newly_confirmed] = True
        new_slots = self._start_tracks(det_match, boxes_cxcywh, det_scores, det_classes,
                                       det_features, det_rows, now, first_frame)
        if cfg.n_init <= 1:
            newly_confirmed = np.concatenate([newly_confirmed, new_slots])
        deleted = self._delete_stale(unmatched_slots, now)
        self._reacquire_target(now)
        self._relink(newly_confirmed, now)
        self._mark_occluded(table.active)
        self._update_target_status(now)
        active = self._report(table.active, now)
        # An identity deleted and re-linked in the same update lives on: reporting it DELETED
        # beside its active self would make consumers drop a live track.
        alive = {t.track_id for t in active}
        deleted = [t for t in deleted if t.track_id not in alive]
        self._outputs = active + reset_deleted + deleted
        return list(self._outputs)

    def _parse_inputs(self, boxes_tlwh: npt.ArrayLike, scores: Optional[npt.ArrayLike],
                      class_ids: Optional[npt.ArrayLike], features: Optional[npt.ArrayLike],
                      camera_motion: Optional[npt.ArrayLike]
                      ) -> Tuple[FloatArray, FloatArray, IntArray,
                                 Optional[npt.NDArray[np.float32]], npt.NDArray[np.bool_],
                                 Optional[FloatArray]]:
        """Check shapes (raising ValueError) and flag good rows; change nothing."""
        boxes = np.asarray(boxes_tlwh, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f'boxes_tlwh must have shape (N, 4), got {boxes.shape}')
        n = len(boxes)
        det_scores = (np.ones(n) if scores is None
                      else np.asarray(scores, dtype=np.float64).reshape(-1))
        det_classes, classes_ok = self._parse_class_ids(n, class_ids)
        if len(det_scores) != n or len(det_classes) != n:
            raise ValueError(f'{n} boxes but {len(det_scores)} scores and '
                             f'{len(det_classes)} class ids')
        det_features = None
        if features is not None:
            with np.errstate(over='ignore'):  # beyond float32: inf, a dropped row
                det_features = np.asarray(features, dtype=np.float32)
            if det_features.ndim != 2 or len(det_features) != n:
                raise ValueError(f'features must have shape ({n}, D), got {det_features.shape}')
            known = self._table.feature_dim
            if known is not None and det_features.shape[1] != known:
                raise ValueError(f'features have {det_features.shape[1]} columns, earlier ones '
                                 f'had {known}')
        homography = None
        if camera_motion is not None:
            homography = np.asarray(camera_motion, dtype=np.float64)
            if homography.shape != (3, 3):
                raise ValueError(f'camera_motion must have shape (3, 3), got {homography.shape}')
        limit = self.config.max_box_coordinate
        with np.errstate(invalid='ignore'):
            ok = (np.all(np.abs(boxes) <= limit, axis=1) & (boxes[:, 2] > 0)
                  & (boxes[:, 3] > 0) & np.isfinite(det_scores) & classes_ok)
        if det_features is not None:
            ok &= np.isfinite(det_features).all(axis=1)
        return boxes, det_scores, det_classes, det_features, ok, homography

    @staticmethod
    def _parse_class_ids(n: int, class_ids: Optional[npt.ArrayLike]
                         ) -> Tuple[IntArray, npt.NDArray[np.bool_]]:
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

    def _restart_clock(self) -> List[TrackOutput]:
        """Forget everything after time went backwards; return the reports of lost tracks."""
        table = self._table
        active = table.active
        gone = active[table.confirmed[active]]
        reported = (self._report(gone, self._last_time, TrackState.DELETED)
                    if self.config.report_deleted and self._last_time is not None else [])
        self._forget()
        self.time_resets += 1
        return reported

    def _delete_diverged(self, slots: IntArray) -> IntArray:
        """Delete tracks whose state is not finite or out of range; return the others."""
        table = self._table
        limit = self.config.max_box_coordinate
        idx = np.arange(4)
        with np.errstate(invalid='ignore'):
            sane = (np.isfinite(table.mean[slots]).all(axis=1)
                    & np.isfinite(table.covariance[slots]).all(axis=(1, 2))
                    & np.all(np.abs(table.mean[slots, :4]) <= limit, axis=1)
                    & np.all(np.abs(table.last_box_cxcywh[slots]) <= limit, axis=1)
                    & np.all(table.covariance[slots][:, idx, idx] <= limit ** 2, axis=1))
        if sane.all():
            return slots
        table.release(slots[~sane])
        self.diverged_tracks += int((~sane).sum())
        return slots[sane]

    def _associate(self, slots: IntArray, boxes_cxcywh: FloatArray, scores: FloatArray,
                   classes: IntArray, features: Optional[npt.NDArray[np.float32]]
                   ) -> Tuple[IntArray, IntArray]:
        """Return the detection of each track (-1: none) and the track of each detection."""
        cfg = self.config
        table = self._table
        track_match = np.full(len(slots), -1, dtype=np.int64)
        det_match = np.full(len(boxes_cxcywh), -1, dtype=np.int64)
        high = scores >= cfg.high_score_threshold

        def record(rows: IntArray, cols: IntArray, matches: IntArray) -> None:
            track_match[rows[matches[:, 0]]] = cols[matches[:, 1]]
            det_match[cols[matches[:, 1]]] = rows[matches[:, 0]]

        # Stage 1: appearance with Mahalanobis gating, confirmed tracks with a feature.
        if features is not None and len(slots):
            has_det_feature = np.linalg.norm(features, axis=1) > 0.5
            rows = np.flatnonzero(table.confirmed[slots] & table.has_feature[slots])
            cols = np.flatnonzero(high & has_det_feature)
            if len(rows) and len(cols):
                s = slots[rows]
                gate = self.kalman.gating_distance(table.mean[s], table.covariance[s],
                                                   boxes_cxcywh[cols])
                appearance = cosine_distance(table.representative[s], features[cols])
                cost = (cfg.appearance_weight * appearance
                        + (1.0 - cfg.appearance_weight) * gate / cfg.gating_threshold)
                forbidden = (gate > cfg.gating_threshold) | (appearance > cfg.max_cosine_distance)
                if cfg.class_aware:
                    forbidden |= class_mismatch(table.class_id[s], classes[cols])
                cost[forbidden] = np.inf
                if cfg.matching_cascade:
                    misses = table.misses[s]
                    free = np.ones(len(cols), dtype=bool)
                    for level in np.unique(misses):
                        level_rows = np.flatnonzero(misses == level)
                        free_cols = np.flatnonzero(free)
                        matches, _, _ = assign(cost[np.ix_(level_rows, free_cols)], np.inf)
                        record(rows[level_rows], cols[free_cols], matches)
                        free[free_cols[matches[:, 1]]] = False
                else:
                    matches, _, _ = assign(cost, np.inf)
                    record(rows, cols, matches)

        # Stage 2: IoU for the tracks left and the high-score detections left. A confirmed
        # track with appearance must have been seen recently: after a long gap only its
        # appearance may claim a detection (DeepSORT), else strangers inherit identities.
        recent = (~table.confirmed[slots] | ~table.has_feature[slots] | (features is None)
                  | (self._last_time - table.last_update_time[slots] <= cfg.iou_max_gap))
        self._iou_stage(slots, np.flatnonzero((track_match < 0) & recent),
                        np.flatnonzero(high & (det_match < 0)), boxes_cxcywh, classes,
                        cfg.max_iou_distance, record)
        # Stage 3: confirmed tracks left against low-score detections (ByteTrack).
        if cfg.second_association:
            rows = np.flatnonzero((track_match < 0) & table.confirmed[slots])
            self._iou_stage(slots, rows, np.flatnonzero(~high & (det_match < 0)),
                            boxes_cxcywh, classes, cfg.second_max_iou_distance, record)
        return track_match, det_match

    def _iou_stage(self, slots: IntArray, rows: IntArray, cols: IntArray,
                   boxes_cxcywh: FloatArray, classes: IntArray, max_distance: float,
                   record: 'object') -> None:
        if len(rows) == 0 or len(cols) == 0:
            return
        s = slots[rows]
        cost = iou_distance(self._table.mean[s, :4], boxes_cxcywh[cols])
        if self.config.class_aware:
            cost[class_mismatch(self._table.class_id[s], classes[cols])] = np.inf
        matches, _, _ = assign(cost, max_distance)
        record(rows, cols, matches)  # type: ignore[operator]

    def _apply_matches(self, slots: IntArray, dets: IntArray, boxes_cxcywh: FloatArray,
                       scores: FloatArray, features: Optional[npt.NDArray[np.float32]],
                       rows: IntArray, now: float) -> None:
        if len(slots) == 0:
            return
        table = self._table
        cfg = self.config
        mean, cov = self.kalman.update(table.mean[slots], table.covariance[slots],
                                       boxes_cxcywh[dets],
                                       scores[dets] if cfg.score_scaled_noise else None)
        table.mean[slots] = mean
        table.covariance[slots] = cov
        table.hits[slots] += 1
        table.misses[slots] = 0
        table.last_update_time[slots] = now
        table.last_box_cxcywh[slots] = boxes_cxcywh[dets]
        table.score[slots] = scores[dets]
        table.detection_index[slots] = rows[dets]
        if features is not None:
            # Low-score detections are often occluded: their features would pollute the gallery.
            good = (scores[dets] >= cfg.high_score_threshold) & (
                np.linalg.norm(features[dets], axis=1) > 0.5)
            table.add_features(slots[good], features[dets[good]])

    def _start_tracks(self, det_match: IntArray, boxes_cxcywh: FloatArray, scores: FloatArray,
                      classes: IntArray, features: Optional[npt.NDArray[np.float32]],
                      rows: IntArray, now: float, first_frame: bool) -> IntArray:
        dets = np.flatnonzero((det_match < 0) & (scores >= self.config.new_track_score)
                              & (scores >= self.config.high_score_threshold))
        table = self._table
        slots = table.allocate(len(dets))
        if len(dets) == 0:
            return slots
        mean, cov = self.kalman.initiate(boxes_cxcywh[dets])
        table.mean[slots] = mean
        table.covariance[slots] = cov
        table.track_id[slots] = np.arange(self._next_id, self._next_id + len(dets))
        self._next_id += len(dets)
        table.class_id[slots] = classes[dets]
        table.score[slots] = scores[dets]
        table.confirmed[slots] = self.config.n_init <= 1 or (self.config.confirm_first_frame
                                                             and first_frame)
        table.hits[slots] = 1
        table.age[slots] = 1
        table.misses[slots] = 0
        table.last_update_time[slots] = now
        table.first_time[slots] = now
        table.last_box_cxcywh[slots] = boxes_cxcywh[dets]
        table.detection_index[slots] = rows[dets]
        if features is not None:
            good = np.linalg.norm(features[dets], axis=1) > 0.5
            table.add_features(slots[good], features[dets[good]])
        return slots

    def _delete_stale(self, unmatched_slots: IntArray, now: float) -> List[TrackOutput]:
        cfg = self.config
        table = self._table
        unseen = now - table.last_update_time[unmatched_slots]
        confirmed = table.confirmed[unmatched_slots]
        stale = np.where(confirmed, unseen > cfg.max_age,
                         unseen >= cfg.tentative_max_age if cfg.tentative_max_age > 0 else True)
        doomed = unmatched_slots[stale]
        if len(doomed) == 0:
            return []
        gone = doomed[table.confirmed[doomed]]
        reported = (self._report(gone, now, TrackState.DELETED) if cfg.report_deleted else [])
        remember = gone[table.has_feature[gone]]
        if len(remember):
            self._lost.add(table.track_id[remember], table.class_id[remember],
                           table.last_box_cxcywh[remember], table.last_update_time[remember],
                           table.representative[remember])
        table.release(doomed)
        return reported

    def _relink(self, new_slots: IntArray, now: float) -> None:
        """Give newly confirmed tracks the identity of a lost or coasting look-alike."""
        cfg = self.config
        table = self._table
        new_slots = new_slots[table.alive[new_slots] & table.has_feature[new_slots]]
        if len(new_slots) == 0:
            return
        active = table.active
        coasting = active[table.confirmed[active] & (table.misses[active] > 0)
                          & table.has_feature[active]]
        lost = np.flatnonzero(self._lost.valid)
        if len(coasting) + len(lost) == 0:
            return
        feats = [table.representative[coasting]]
        if len(lost):
            feats.append(self._lost.feature[lost])
        cand_feature = np.concatenate(feats)
        cand_class = np.concatenate([table.class_id[coasting], self._lost.class_id[lost]])
        cand_box = np.concatenate([table.last_box_cxcywh[coasting], self._lost.box_cxcywh[lost]])
        cand_time = np.concatenate([table.last_update_time[coasting], self._lost.last_time[lost]])
        cand_id = np.concatenate([table.track_id[coasting], self._lost.track_id[lost]])
        n_coasting = len(coasting)

        cost = cosine_distance(table.representative[new_slots], cand_feature)
        limit = np.where(np.arange(len(cand_id)) < len(coasting), cfg.relink_max_cosine_distance,
                         cfg.relink_lost_max_cosine_distance)
        forbidden = cost > limit[None, :]
        if cfg.class_aware:
            forbidden |= class_mismatch(table.class_id[new_slots], cand_class)
        # The look-alike must have vanished before the new track appeared, and be near enough.
        forbidden |= cand_time[None, :] >= table.first_time[new_slots][:, None]
        elapsed = table.first_time[new_slots][:, None] - cand_time[None, :]
        height = cand_box[None, :, 3]
        radius = height * (cfg.relink_min_radius + cfg.relink_max_speed * np.maximum(elapsed, 0))
        first_box = table.mean[new_slots, :2]
        distance = np.linalg.norm(first_box[:, None, :] - cand_box[None, :, :2], axis=2)
        forbidden |= distance > radius
        if self._target_id is not None:
            # The followed target is re-acquired by _reacquire_target, not here.
            forbidden |= cand_id[None, :] == self._target_id
        cost[forbidden] = np.inf
        matches, _, _ = assign(cost, np.inf)
        if len(matches) == 0:
            return
        slots = new_slots[matches[:, 0]]
        cands = matches[:, 1]
        table.track_id[slots] = cand_id[cands]
        table.add_features(slots, cand_feature[cands])
        from_coasting = cands < n_coasting
        table.release(coasting[cands[from_coasting]])
        self._lost.remove(lost[cands[~from_coasting] - n_coasting])
        self.relinked += len(matches)

    def _reacquire_target(self, now: float) -> None:
        """Hand the followed target's identity to a new look-alike when the target is unseen."""
        if self._target_id is None or self._target_feature is None:
            return
        table = self._table
        active = table.active
        own = active[table.track_id[active] == self._target_id]
        if len(own) and table.misses[own[0]] == 0:
            return
        candidates = active[(table.first_time[active] > self._target_last_seen)
                            & table.has_feature[active]
                            & (table.track_id[active] != self._target_id)]
        if self.config.class_aware and self._target_class is not None:
            candidates = candidates[table.class_id[candidates] == self._target_class]
        candidates = candidates[table.misses[candidates] == 0]
        if len(candidates) == 0:
            return
        distance = cosine_distance(table.representative[candidates],
                                   self._target_feature[None, :])[:, 0]
        best = int(np.argmin(distance))
        if distance[best] > self.config.target_reacquire_max_cosine_distance:
            return
        slot = candidates[best]
        if len(own):
            table.release(own)
        found = self._lost.find(self._target_id)
        if found >= 0:
            self._lost.remove(np.array([found]))
        table.track_id[slot] = self._target_id
        table.confirmed[slot] = True
        table.add_features(np.array([slot]), self._target_feature[None, :])
        self.relinked += 1

    def _mark_occluded(self, slots: IntArray) -> None:
        table = self._table
        table.occluded[slots] = False
        coasting = slots[table.confirmed[slots] & (table.misses[slots] > 0)]
        seen = slots[table.misses[slots] == 0]
        if len(coasting) == 0 or len(seen) == 0:
            return
        iou = iou_matrix_tlbr(cxcywh_to_tlbr(table.mean[coasting, :4]),
                              cxcywh_to_tlbr(table.mean[seen, :4]))
        table.occluded[coasting] = iou.max(axis=1) >= max(self.config.occlusion_iou, 1e-9)

    def _update_target_status(self, now: float) -> None:
        if self._target_id is None:
            self._target_status = TargetStatus.NONE
            return
        table = self._table
        active = table.active
        own = active[table.track_id[active] == self._target_id]
        if len(own) and table.misses[own[0]] == 0:
            slot = own[0]
            self._target_status = TargetStatus.TRACKED
            self._target_last_seen = now
            self._target_class = int(table.class_id[slot])
            if table.has_feature[slot]:
                self._target_feature = table.representative[slot].copy()
        elif now - self._target_last_seen <= self.config.target_search_time:
            self._target_status = TargetStatus.SEARCHING
        else:
            self._target_status = TargetStatus.LOST

    def _report(self, slots: IntArray, now: float,
                forced_state: Optional[TrackState] = None) -> List[TrackOutput]:
        table = self._table
        slots = slots[np.argsort(table.track_id[slots], kind='stable')]
        out = []
        target = self._target_id
        for slot in slots.tolist():
            if forced_state is not None:
                state = forced_state
            elif not table.confirmed[slot]:
                state = TrackState.TENTATIVE
            elif table.misses[slot] == 0:
                state = TrackState.CONFIRMED
            else:
                state = TrackState.COASTING
            track_id = int(table.track_id[slot])
            mean = table.mean[slot]
            out.append(TrackOutput(
                track_id=track_id, state=state, class_id=int(table.class_id[slot]),
                score=float(table.score[slot]), age=int(table.age[slot]),
                hits=int(table.hits[slot]),
                time_since_update=float(now - table.last_update_time[slot]),
                box_cxcywh=mean[:4].copy(), velocity_cxcywh=mean[4:].copy(),
                covariance=table.covariance[slot].copy(),
                detection_index=int(table.detection_index[slot]) if state is not
                TrackState.DELETED else -1,
                is_occluded=bool(table.occluded[slot]), is_target=track_id == target))
        return out
