"""
The DeepSORT multi-object tracker: one :meth:`Tracker.update` per frame.

The update warps the tracks for camera motion, predicts them by the time since the last
update, associates them with the detections (:mod:`~deepsort_ros.core.association`), runs
their life cycle (:mod:`~deepsort_ros.core.lifecycle`), re-links new tracks to remembered
identities (:mod:`~deepsort_ros.core.relink`), follows the chosen target
(:mod:`~deepsort_ros.core.target`) and reports. All per-track numerics run on the stacked
arrays of a :class:`~deepsort_ros.core.track_table.TrackTable`; Python loops only build the
returned records.

Bad data (non-finite or absurd numbers, clocks that jump, degenerate camera motions) is dropped
and counted, never raised: a tracker fed by a live robot or a looping bag must keep running.
Only API misuse (array shapes that do not fit) raises ValueError.
"""

from typing import List, Optional

from deepsort_ros.core import lifecycle
from deepsort_ros.core.association import associate
from deepsort_ros.core.boxes import warp_boxes_cxcywh
from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.counters import TrackerCounters
from deepsort_ros.core.detections import camera_motion_matrix, DetectionBatch, Detections
from deepsort_ros.core.kalman_filter import KalmanFilterCV
from deepsort_ros.core.lost_gallery import LostGallery
from deepsort_ros.core.relink import relink
from deepsort_ros.core.report import report_tracks
from deepsort_ros.core.target import TargetFollower, TargetStatus
from deepsort_ros.core.track_state import TrackOutput, TrackState
from deepsort_ros.core.track_table import TrackTable
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
    config : TrackerConfig
        The tracker settings.
    counters : TrackerCounters
        What was dropped, ignored or repaired since the tracker was made.

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
    class id that is not a whole number in int64's range are dropped and counted. Duplicated
    rows are ordinary detections.

    A track whose filter stops being finite, or whose box or box standard deviation leaves
    ``max_box_coordinate`` (only absurd camera motions get there), is deleted without a report
    and counted in ``counters.diverged_tracks``.

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
        self.counters = TrackerCounters()
        self._forgotten_reports: List[TrackOutput] = []
        self._forget()

    def forget(self) -> None:
        """
        Forget every track, remembered identity, the target and the clock (a user's reset).

        Identities keep counting up, so an old identity never names a new object; the counters
        go on. The confirmed tracks forgotten are reported once more, DELETED, by the next
        update (when ``report_deleted``), so that consumers drop them.
        """
        self._forgotten_reports = self._forget_reporting()

    def _forget_reporting(self) -> List[TrackOutput]:
        """Forget as :meth:`_forget`; return DELETED reports of the confirmed tracks lost."""
        table = self._table
        active = table.active
        gone = active[table.confirmed[active]]
        reports = (self._report(gone, self._last_time, TrackState.DELETED)
                   if self.config.report_deleted and self._last_time is not None else [])
        self._forget()
        return reports

    def _forget(self) -> None:
        """Forget every track, identity, target and the clock; keep ids and counters going."""
        self._table = TrackTable(self.config.nn_budget, self.config.feature_ema_alpha)
        self._lost = LostGallery(self.config.lost_gallery_size)
        self._target = TargetFollower(self.config)
        self._last_time: Optional[float] = None
        self._outputs: List[TrackOutput] = []

    # ---- queries --------------------------------------------------------------------------

    @property
    def tracks(self) -> List[TrackOutput]:
        """Return the tracks reported by the last update."""
        return list(self._outputs)

    @property
    def target_id(self) -> Optional[int]:
        """Return the identity of the followed target, or None."""
        return self._target.track_id

    @property
    def target_status(self) -> TargetStatus:
        """Return the status of the followed target after the last update."""
        return self._target.status

    @property
    def followed_id(self) -> Optional[int]:
        """Return the identity of the track the target is followed on now, or None."""
        return self._target.followed_id

    @property
    def target_confidence(self) -> float:
        """Return how sure the follower is of the target; see :class:`TargetFollower`."""
        return self._target.confidence

    @property
    def target_candidate_id(self) -> Optional[int]:
        """Return the identity of the track being confirmed as the target, or None."""
        return self._target.candidate_id

    @property
    def lost_identities(self) -> int:
        """Return the number of identities remembered for re-identification."""
        return len(self._lost)

    # ---- single-object mode ---------------------------------------------------------------

    def select_target(self, track_id: Optional[int] = None, class_id: Optional[int] = None,
                      point_xy: Optional[npt.ArrayLike] = None) -> Optional[int]:
        """
        Choose the single followed target; see :meth:`TargetFollower.select`.

        Parameters
        ----------
        track_id : int, optional
            This confirmed track (seen now or coasting).
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
        return self._target.select(self._table, track_id, class_id, point_xy)

    def clear_target(self) -> None:
        """Stop following a target."""
        self._target.clear()

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
            then. :meth:`update` counts such a camera motion in
            ``counters.bad_camera_motions`` and tracks the frame without it.

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
            self._target.warp(h)
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
            :meth:`warp` refuses is ignored and counted in ``counters.bad_camera_motions``.

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
        given = Detections.parse(boxes_tlwh, scores, class_ids, features,
                                 self._table.feature_dim, cfg.max_box_coordinate)
        homography = camera_motion_matrix(camera_motion)
        now = float(timestamp)
        if not np.isfinite(now):
            # No place in time: the frame cannot be predicted to, so it is not tracked.
            self.counters.dropped_detections += len(given)
            self.counters.bad_timestamps += 1
            return []
        self.counters.dropped_detections += given.dropped
        restart_reports = self._forgotten_reports + self._restart_if_time_went_back(now)
        self._forgotten_reports = []
        first_frame = self._last_time is None
        detections = self._take(given)
        dt = self._advance_clock(now)
        self._compensate_camera_motion(homography)
        slots = self._predict(dt)
        self._lost.expire(now, cfg.lost_gallery_max_age)
        track_match, detection_match = associate(self._table, self.kalman, cfg, slots,
                                                 detections, now)
        matched = self._correct_matched(slots, track_match, detections, now)
        missed = self._count_misses(slots, track_match)
        confirmed = lifecycle.confirm(self._table, matched, cfg.n_init)
        started = lifecycle.start_tracks(self._table, self.kalman, cfg, detection_match,
                                         detections, now, first_frame)
        if cfg.n_init <= 1:
            confirmed = np.concatenate([confirmed, started])
        deleted = self._delete_stale(missed, now)
        # Re-identification never looks at the target: the tracks are the same with one or not.
        self.counters.relinked += relink(self._table, self._lost, cfg, confirmed, None)
        self._next_id += lifecycle.name_identities(self._table, self._next_id)
        lifecycle.mark_occluded(self._table, self._table.active, cfg.occlusion_iou)
        reacquired = self._target.reacquired
        self._target.update(self._table, detections, now)
        self.counters.target_reacquired += self._target.reacquired - reacquired
        return self._publish(now, restart_reports, deleted)

    # ---- the steps of an update -----------------------------------------------------------

    def _restart_if_time_went_back(self, now: float) -> List[TrackOutput]:
        """Forget everything when time went backwards; return the reports of lost tracks."""
        if self._last_time is None or now >= self._last_time:
            return []
        self.counters.time_resets += 1
        return self._forget_reporting()

    def _take(self, given: Detections) -> DetectionBatch:
        """Return the detections this update associates; fix the feature size on first use."""
        if given.features is not None:
            self._table.set_feature_dim(given.features.shape[1])
        return given.batch(self.config.low_score_threshold)

    def _advance_clock(self, now: float) -> float:
        """Move the clock to ``now``; return the time step to predict by."""
        dt = (0.0 if self._last_time is None
              else min(now - self._last_time, self.config.max_time_step))
        self._last_time = now
        self.counters.frames += 1
        return dt

    def _compensate_camera_motion(self, homography: Optional[FloatArray]) -> None:
        if homography is None:
            return
        try:
            self.warp(homography)
        except ValueError:
            self.counters.bad_camera_motions += 1

    def _predict(self, dt: float) -> IntArray:
        """Predict every track; delete those whose state broke; return the rest."""
        table = self._table
        slots = table.active
        kept = lifecycle.predict(table, self.kalman, slots, dt, self.config.max_box_coordinate)
        self.counters.diverged_tracks += len(slots) - len(kept)
        return kept

    def _correct_matched(self, slots: IntArray, track_match: IntArray,
                         detections: DetectionBatch, now: float) -> IntArray:
        """Update the matched tracks with their detections; return their slots."""
        matched = np.flatnonzero(track_match >= 0)
        lifecycle.update_matched(self._table, self.kalman, self.config, slots[matched],
                                 track_match[matched], detections, now)
        return slots[matched]

    def _count_misses(self, slots: IntArray, track_match: IntArray) -> IntArray:
        """Count a miss for unmatched tracks and age every track; return the unmatched."""
        missed = slots[track_match < 0]
        lifecycle.mark_missed(self._table, missed)
        self._table.age[slots] += 1
        return missed

    def _delete_stale(self, missed: IntArray, now: float) -> List[TrackOutput]:
        """Delete tracks unseen too long, remember confirmed ones; return DELETED reports."""
        table = self._table
        doomed = lifecycle.stale(table, self.config, missed, now)
        if len(doomed) == 0:
            return []
        gone = doomed[table.confirmed[doomed]]
        reported = (self._report(gone, now, TrackState.DELETED)
                    if self.config.report_deleted else [])
        remember = gone[table.has_feature[gone]]
        if len(remember):
            self._lost.add(table.track_id[remember], table.class_id[remember],
                           table.last_box_cxcywh[remember], table.last_update_time[remember],
                           table.representative[remember])
        table.release(doomed)
        return reported

    def _publish(self, now: float, restart_reports: List[TrackOutput],
                 deleted: List[TrackOutput]) -> List[TrackOutput]:
        active = self._report(self._table.active, now)
        # An identity deleted and re-linked in the same update lives on: reporting it DELETED
        # beside its active self would make consumers drop a live track.
        alive = {t.track_id for t in active}
        deleted = [t for t in deleted if t.track_id not in alive]
        self._outputs = active + restart_reports + deleted
        return list(self._outputs)

    def _report(self, slots: IntArray, now: float,
                forced_state: Optional[TrackState] = None) -> List[TrackOutput]:
        """Return the outputs of ``slots`` by identity, tentative ones last (oldest first)."""
        return report_tracks(self._table, slots, now, self._target.followed_id, forced_state)
