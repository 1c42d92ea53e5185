"""
Decide which detections of a frame need the Re-ID network and which may reuse a track's feature.

The network is most of a frame's cost on a small CPU, and most of its work is spent on people
who were seen a moment ago, alone, in nearly the same box. A detection may reuse the
feature of the confirmed track it will match (the feature of that track's last detection)
when the track was matched in the previous frame, the detection nearly coincides with the
track's predicted box, nothing else overlaps either of them, the camera itself barely moved
and the feature is fresh enough.
Everything else is encoded. Reusing the last detection's feature, not the gallery's
representative, keeps the gallery what encoding would have made it (on PETS09 the
representative lost 5 IDF1 points). Numpy only (no torch, no ROS).

Usage, once per frame around the tracker::

    plan = planner.plan(boxes_tlwh, stamp_s, camera_motion)
    features = plan.merge(encoder(image_bgr, boxes_tlwh[plan.encode_rows]))
    tracks = tracker.update(boxes_tlwh, scores, class_ids, features, stamp_s, camera_motion)
    planner.observe(plan, tracks, stamp_s, features)
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from deepsort_ros.core.boxes import cxcywh_to_tlwh, iou_matrix_tlwh
from deepsort_ros.core.track_state import TrackOutput, TrackState
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class EncodePlannerConfig:
    """
    When a detection may reuse a track's feature instead of being encoded.

    The defaults were chosen on PETS09-S2L1 (bench/README-reid.md): they skip 42% of the
    encodes there with HOTA and IDF1 unchanged (over 9 feature-noise draws, the worst IDF1 was
    0.755 against 0.754 without); a looser neighbour IoU (0.3) or a third reused frame cost
    1-5 IDF1 points in some draws. The budget of 12 crops never binds on PETS09 (at most 8
    people a frame); in a crowd of 30 it staggers the refreshes (17.3 -> 15.4 crops a frame,
    HOTA and IDF1 unchanged or better: bench/results/pipeline.md).

    Attributes
    ----------
    enabled : bool
        False encodes every detection (the plan is then a no-op).
    min_iou : float
        Least IoU between the detection and the track's predicted box (the box barely moved).
    max_neighbour_iou : float
        Most IoU of the detection, and of the track's predicted box, with any other detection
        or other track's predicted box (the person is alone: the feature cannot go to the
        wrong track, and the crop is not shared with someone else).
    max_reuse_frames : int
        Most consecutive frames one track's feature may be reused before it is encoded again.
    max_gap_s : float
        Reuse nothing when the previous frame is older than this (or time went backwards).
    max_camera_shift : float
        Most that the camera's own motion (``camera_motion``) may move a corner of the
        track's box, as a fraction of the box's height. A turning camera changes the crop
        even where the box barely moves in the image (it rolls, the light and the background
        change): on PETS09 seen by a drone-like camera, reusing there cost 2 IDF1 points.
    encode_budget : int
        Crops a frame should encode at most; 0 sets no budget. Only refreshes can wait: a
        detection that could reuse its track's feature but for ``max_reuse_frames`` is
        encoded while the frame is within the budget, else it reuses the feature once more
        (the freshest wait first). Everything else is always encoded, so a frame may exceed
        the budget. It staggers the refreshes of a crowd over frames instead of paying them
        all when they fall due; a frame that fits changes nothing.
    max_deferred_frames : int
        Most frames one refresh may wait for the budget (after ``max_reuse_frames``).

    """

    enabled: bool = True
    min_iou: float = 0.6
    max_neighbour_iou: float = 0.1
    max_reuse_frames: int = 2
    max_gap_s: float = 0.5
    max_camera_shift: float = 0.02
    encode_budget: int = 12
    max_deferred_frames: int = 2

    def __post_init__(self) -> None:
        """Validate every setting."""
        if not 0.0 < self.min_iou <= 1.0:
            raise ValueError(f'min_iou must be in (0, 1], got {self.min_iou}')
        if not 0.0 <= self.max_neighbour_iou < 1.0:
            raise ValueError(f'max_neighbour_iou must be in [0, 1), got {self.max_neighbour_iou}')
        if self.max_reuse_frames < 0:
            raise ValueError(f'max_reuse_frames must be >= 0, got {self.max_reuse_frames}')
        if not self.max_gap_s > 0.0:
            raise ValueError(f'max_gap_s must be > 0, got {self.max_gap_s}')
        if not 0.0 <= self.max_camera_shift < float('inf'):
            raise ValueError(f'max_camera_shift must be finite and >= 0, got '
                             f'{self.max_camera_shift}')
        if self.encode_budget < 0:
            raise ValueError(f'encode_budget must be >= 0 (0: none), got {self.encode_budget}')
        if self.max_deferred_frames < 0:
            raise ValueError(f'max_deferred_frames must be >= 0, got {self.max_deferred_frames}')


@dataclass(frozen=True)
class EncodePlan:
    """
    One frame's decision.

    Attributes
    ----------
    encode_rows : ndarray of int, shape (E,)
        Rows of the frame's detections to run through the encoder, in order.
    reuse_rows : ndarray of int, shape (R,)
        Rows that take a track's feature instead.
    reuse_track_ids : ndarray of int, shape (R,)
        The track each reused row takes its feature from.
    reuse_features : ndarray of float32, shape (R, D)
        Those features (unit rows); (R, 0) when R is 0.
    count : int
        N, the number of detections planned.
    deferred : int
        Of the reused rows, refreshes that wait for ``encode_budget``.

    """

    encode_rows: npt.NDArray[np.intp]
    reuse_rows: npt.NDArray[np.intp]
    reuse_track_ids: npt.NDArray[np.int64]
    reuse_features: npt.NDArray[np.float32]
    count: int
    deferred: int = 0

    def merge(self, encoded: Optional[npt.ArrayLike]) -> Optional[npt.NDArray[np.float32]]:
        """
        Put the encoder's rows and the reused rows back in detection order.

        Parameters
        ----------
        encoded : array_like, shape (E, D), optional
            The encoder's output for ``encode_rows``; None when the encoder failed (then the
            frame has no appearance and None is returned, as without a plan).

        Returns
        -------
        ndarray of float32, shape (N, D), or None

        """
        if encoded is None:
            return None
        encoded = np.asarray(encoded, dtype=np.float32)
        if len(self.reuse_rows) == 0:
            return encoded
        dim = self.reuse_features.shape[1]
        encoded = encoded.reshape(len(self.encode_rows), dim if encoded.size == 0 else -1)
        if encoded.shape[1] != dim:
            raise ValueError(f'encoded rows have {encoded.shape[1]} columns, reused features '
                             f'{dim}')
        features = np.zeros((self.count, dim), dtype=np.float32)
        features[self.encode_rows] = encoded
        features[self.reuse_rows] = self.reuse_features
        return features


class EncodePlanner:
    """
    Per-camera state of the encode-or-reuse decision (one instance per tracker).

    Parameters
    ----------
    config : EncodePlannerConfig, optional

    Attributes
    ----------
    planned, reused : int
        Detections planned and reused since creation (what the planner saved).
    deferred : int
        Of the reused, refreshes that waited for ``encode_budget``.

    """

    def __init__(self, config: Optional[EncodePlannerConfig] = None) -> None:
        self.config = config or EncodePlannerConfig()
        self.planned = 0
        self.reused = 0
        self.deferred = 0
        self._tracks: Sequence[TrackOutput] = ()
        self._stamp_s: Optional[float] = None
        self._streak: Dict[int, int] = {}
        self._last_feature: Dict[int, npt.NDArray[np.float32]] = {}

    def reset(self) -> None:
        """Forget the previous frame (a clock restart, a new sequence)."""
        self._tracks, self._stamp_s, self._streak, self._last_feature = (), None, {}, {}

    def plan(self, boxes_tlwh: npt.ArrayLike, stamp_s: float,
             camera_motion: Optional[npt.ArrayLike] = None) -> EncodePlan:
        """
        Decide for this frame's detections.

        Parameters
        ----------
        boxes_tlwh : array_like, shape (N, 4)
            This frame's detections, pixels, in the order given to the encoder and tracker.
        stamp_s : float
            This frame's time, seconds.
        camera_motion : array_like, shape (3, 3), optional
            Homography from the previous image to this one (as given to the tracker).

        Returns
        -------
        EncodePlan

        """
        boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
        count = len(boxes)
        self.planned += count
        rows = self._reusable(boxes, stamp_s, camera_motion)
        if rows is None:
            return _encode_all(count)
        detection_rows, track_ids, features, waited = rows
        self.reused += len(detection_rows)
        encode = np.setdiff1d(np.arange(count), detection_rows).astype(np.intp)
        return EncodePlan(encode, detection_rows.astype(np.intp), track_ids, features, count,
                          waited)

    def observe(self, plan: EncodePlan, tracks: Sequence[TrackOutput], stamp_s: float,
                features: Optional[npt.ArrayLike]) -> None:
        """
        Take the tracker's output of the frame that ``plan`` was made for.

        Parameters
        ----------
        plan : EncodePlan
            This frame's plan.
        tracks : sequence of TrackOutput
            What ``Tracker.update`` returned for it (``detection_index`` refers to the plan's
            rows).
        stamp_s : float
            The frame's time, seconds.
        features : array_like, shape (N, D), optional
            The features given to the tracker (``plan.merge``'s result); None when the frame
            had none: then nothing is reused in the next frame.

        """
        rows = None if features is None else np.asarray(features, dtype=np.float32)
        if rows is not None and rows.shape[0] != plan.count:
            rows = None
        reused_row = np.zeros(plan.count, dtype=bool)
        reused_row[plan.reuse_rows] = True
        streak: Dict[int, int] = {}
        last: Dict[int, npt.NDArray[np.float32]] = {}
        for track in tracks:
            row = track.detection_index
            if rows is None or not track.track_id or not 0 <= row < plan.count:
                continue
            # A reused row is the track's own last feature: the streak counts how stale it is.
            streak[track.track_id] = (self._streak.get(track.track_id, 0) + 1
                                      if reused_row[row] else 0)
            if np.dot(rows[row], rows[row]) > 0.25:  # all-zero rows carry no appearance
                last[track.track_id] = rows[row]
        self._streak, self._last_feature = streak, last
        self._tracks, self._stamp_s = tracks, float(stamp_s)

    def _reusable(self, boxes_tlwh: npt.NDArray[np.float64], stamp_s: float,
                  camera_motion: Optional[npt.ArrayLike]):
        config = self.config
        if not config.enabled or not len(boxes_tlwh) or self._stamp_s is None:
            return None
        dt_s = float(stamp_s) - self._stamp_s
        if not 0.0 < dt_s <= config.max_gap_s:
            return None
        # Every track of the last frame (any state) competes for the detections: a tentative
        # or coasting one nearby makes the scene ambiguous.
        everyone = [t for t in self._tracks if t.state is not TrackState.DELETED]
        # With a budget, a refresh that falls due may wait: such tracks are candidates too
        # (the budget decides below whether they wait).
        streak_limit = config.max_reuse_frames + (config.max_deferred_frames
                                                  if config.encode_budget else 0)
        candidate = np.array([t.state is TrackState.CONFIRMED and t.detection_index >= 0
                              and not t.is_occluded and t.track_id in self._last_feature
                              and self._streak.get(t.track_id, 0) < streak_limit
                              for t in everyone], dtype=bool)
        if not candidate.any():
            return None
        predicted_tlwh, camera_shift = _predict_tlwh(everyone, dt_s, camera_motion)
        candidate &= camera_shift <= config.max_camera_shift
        if not candidate.any():
            return None
        finite = np.isfinite(boxes_tlwh).all(axis=1) & (boxes_tlwh[:, 2:] > 0).all(axis=1)
        safe_boxes = np.where(finite[:, None], boxes_tlwh, 0.0)
        track_det = iou_matrix_tlwh(predicted_tlwh, safe_boxes)
        track_det[:, ~finite] = 0.0
        det_det = iou_matrix_tlwh(safe_boxes, safe_boxes)
        np.fill_diagonal(det_det, 0.0)
        track_track = iou_matrix_tlwh(predicted_tlwh, predicted_tlwh)
        np.fill_diagonal(track_track, 0.0)
        best_det = track_det.argmax(axis=1)
        best_iou = track_det[np.arange(len(everyone)), best_det]
        rows = np.flatnonzero(candidate & (best_iou >= config.min_iou))
        dets = best_det[rows]
        pairs = np.arange(len(rows))
        # The largest overlap of each pair with anyone else, all pairs at once: another
        # track's box on the detection, another detection on the track's box, and the
        # detection's and the track's own neighbours (a pair's own IoU zeroed: IoU >= 0).
        rival_tracks = track_det[:, dets]
        rival_tracks[rows, pairs] = 0.0
        rival_dets = track_det[rows]
        rival_dets[pairs, dets] = 0.0
        alone = ((rival_tracks.max(axis=0, initial=0.0) <= config.max_neighbour_iou)
                 & (rival_dets.max(axis=1, initial=0.0) <= config.max_neighbour_iou)
                 & (det_det[dets].max(axis=1, initial=0.0) <= config.max_neighbour_iou)
                 & (track_track[rows].max(axis=1, initial=0.0) <= config.max_neighbour_iou))
        chosen = list(zip(dets[alone].tolist(), rows[alone].tolist()))
        chosen, waited = self._within_budget(chosen, everyone, len(boxes_tlwh))
        self.deferred += waited
        if not chosen:
            return None
        detection_rows = np.array([d for d, _ in chosen], dtype=np.intp)
        order = np.argsort(detection_rows)
        detection_rows = detection_rows[order]
        track_rows = [chosen[i][1] for i in order]
        track_ids = np.array([everyone[r].track_id for r in track_rows], dtype=np.int64)
        features = np.stack([self._last_feature[everyone[r].track_id] for r in track_rows])
        return detection_rows, track_ids, features, waited

    def _within_budget(self, chosen: List[Tuple[int, int]], everyone: Sequence[TrackOutput],
                       count: int) -> Tuple[List[Tuple[int, int]], int]:
        """
        Keep the reusable (detection, track row) pairs; refreshes only where the budget asks.

        A pair whose track reused ``max_reuse_frames`` times is a refresh: it is encoded
        unless the frame's encodes would exceed ``encode_budget``; then as many refreshes as
        the excess wait, those reused fewest times first (ties: lower track id), so the
        stalest are encoded. Returns the pairs that reuse and how many of them wait.
        """
        config = self.config
        streaks = [self._streak.get(everyone[row].track_id, 0) for _, row in chosen]
        due = [i for i, streak in enumerate(streaks) if streak >= config.max_reuse_frames]
        if not due:
            return chosen, 0
        fresh = [pair for pair, streak in zip(chosen, streaks)
                 if streak < config.max_reuse_frames]
        excess = count - len(fresh) - config.encode_budget
        if excess <= 0:
            return fresh, 0
        due.sort(key=lambda i: (streaks[i], everyone[chosen[i][1]].track_id))
        waiting = [chosen[i] for i in due[:excess]]
        return fresh + waiting, len(waiting)


def _encode_all(count: int) -> EncodePlan:
    return EncodePlan(np.arange(count, dtype=np.intp), np.zeros(0, dtype=np.intp),
                      np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), count)


def _predict_tlwh(tracks: Sequence[TrackOutput], dt_s: float,
                  camera_motion: Optional[npt.ArrayLike]
                  ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """
    Return each track's box moved on by its velocity and the camera, and the camera's part.

    Returns
    -------
    boxes_tlwh : ndarray of float64, shape (T, 4)
    camera_shift : ndarray of float64, shape (T,)
        Farthest that the camera motion alone moved a corner of the box, in box heights
        (0 without camera motion; inf for a degenerate box or homography).

    """
    boxes = np.array([t.box_cxcywh for t in tracks], dtype=np.float64).reshape(-1, 4)
    velocities = np.array([t.velocity_cxcywh for t in tracks], dtype=np.float64).reshape(-1, 4)
    boxes = boxes + velocities * dt_s
    shift = np.zeros(len(boxes))
    if camera_motion is not None and len(boxes):
        homography = np.asarray(camera_motion, dtype=np.float64).reshape(3, 3)
        corners = np.stack([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2])
        points = np.concatenate([corners, np.ones((2, len(boxes), 1))], axis=2) @ homography.T
        with np.errstate(divide='ignore', invalid='ignore'):
            points = points[..., :2] / points[..., 2:3]
            moved = np.linalg.norm(points - corners, axis=2).max(axis=0)
            shift = np.where(boxes[:, 3] > 0, moved / boxes[:, 3], np.inf)
        shift = np.nan_to_num(shift, nan=np.inf)
        boxes = np.concatenate([(points[0] + points[1]) / 2, np.abs(points[1] - points[0])],
                               axis=1)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 0.0)
    return cxcywh_to_tlwh(boxes), shift
