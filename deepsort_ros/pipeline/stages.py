"""
The stages of :meth:`deepsort_ros.pipeline.tracking.TrackingPipeline.process`, one method each.

A paired frame passes, in order (the names of :data:`deepsort_ros.pipeline.diagnostics.STAGES`,
each timed): ``convert`` (messages to arrays; a malformed detection array ends the frame
here), ``ego_motion`` (the camera's motion since the last frame), ``encode`` (Re-ID features,
encoded or reused), ``track`` (the core) and ``publish`` (world positions and the output
messages). Each stage reads and fills a :class:`FrameWork`; a tracked frame ends as a
:class:`FrameResult`, counted in :class:`PipelineStats`. :class:`FrameStages` is the
processing half of ``TrackingPipeline``, which owns the state they share.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Tuple

from deepsort_ros.pipeline.diagnostics import STAGES
from deepsort_ros.pipeline.pairing import PairedFrame
from deepsort_ros.reid.base import clip_boxes_tlwh
from deepsort_ros.reid.planner import EncodePlan
from deepsort_ros.ros.convert.appearances import appearances_to_msg
from deepsort_ros.ros.convert.detections import DetectionBatch, detections_to_batch
from deepsort_ros.ros.convert.images import (compressed_msg_to_bgr, image_msg_to_bgr,
                                             ImageConversionError)
from deepsort_ros.ros.convert.stamps import make_header
from deepsort_ros.ros.convert.tracks import target_status_to_msg, tracks_to_msg, WorldEstimate
from deepsort_ros.world import depth_positions
import numpy as np
import numpy.typing as npt

LATENCY_WINDOW = 500


@dataclass
class FrameResult:
    """What one tracked frame produced."""

    stamp_ns: int
    tracks: Any
    target_status: Any
    image_bgr: Optional[npt.NDArray[np.uint8]]
    ego_motion_source: str
    stage_ms: Dict[str, float]
    # TrackAppearanceArray of the tracks whose feature is due (for ~/appearances), or None.
    appearances: Any = None


@dataclass
class PipelineStats:
    """Counters and recent latencies, reported in diagnostics and by the offline runner."""

    frames: int = 0
    images: int = 0
    detection_arrays: int = 0
    odometry: int = 0
    camera_infos: int = 0
    bad_camera_infos: int = 0
    bad_images: int = 0
    bad_detections: int = 0
    bad_odometry: int = 0
    images_too_large: int = 0
    detections_over_limit: int = 0
    clock_jumps_ahead: int = 0
    select_refused: int = 0
    time_backwards: int = 0
    encoded: int = 0
    reused: int = 0
    refreshes_waited: int = 0
    # Encoded rows that were non-finite or all-zero (or whose encoder call failed): those
    # detections were tracked on motion alone.
    bad_features: int = 0
    depth_images: int = 0
    # Depth images that could not be used (encoding, size, truncated data), counted, never
    # raised: those frames' tracks fall back to the ground plane.
    bad_depth: int = 0
    frames_without_depth: int = 0
    tracks_from_depth: int = 0
    ego_motion_sources: Dict[str, int] = field(default_factory=dict)
    ego_motion_reason: str = ''
    stage_ms: Dict[str, Deque[float]] = field(
        default_factory=lambda: {s: deque(maxlen=LATENCY_WINDOW) for s in STAGES})
    last_error: str = ''

    def percentile_ms(self, stage: str, q: float) -> float:
        """Return the q-th percentile of a stage's recent latencies, ms (nan when none)."""
        values = self.stage_ms.get(stage)
        return float(np.percentile(list(values), q)) if values else float('nan')


@dataclass
class FrameWork:
    """What the stages know of one frame so far."""

    frame: PairedFrame
    stamp_s: float
    batch: Optional[DetectionBatch] = None
    image_bgr: Optional[npt.NDArray[np.uint8]] = None
    # Homography from the previous image to this one, and what gave it.
    homography: Optional[npt.NDArray[np.float64]] = None
    ego_motion_source: str = 'none'
    features: Optional[npt.NDArray[np.float32]] = None
    plan: Optional[EncodePlan] = None
    tracks: List[Any] = field(default_factory=list)
    track_array: Any = None
    target_status: Any = None
    appearances: Any = None
    stage_ms: Dict[str, float] = field(default_factory=dict)


class FrameStages:
    """The processing half of ``TrackingPipeline``: each stage of ``process``, in order."""

    def _convert(self, work: FrameWork) -> bool:
        """Convert the detections and the image; False when the detection array is malformed."""
        frame = work.frame
        if frame.session != self._session:
            # The first frame after a clock restart: the optical flow must not compare with a
            # frame from before it, and ego-motion has no previous stamp. The tracker resets
            # itself on the earlier timestamp.
            self._session = frame.session
            self._ego.image_motion.reset()
            self.planner.reset()
            self.world_filter.reset()
            self._depth.clear()
            self._last_stamp_ns = None
        try:
            batch = detections_to_batch(frame.detections, self.classes, self.config.min_score,
                                        self.config.max_detections)
        except (AttributeError, TypeError, ValueError) as error:
            self.stats.bad_detections += 1
            self.stats.last_error = f'malformed Detection2DArray: {error}'
            self._log('warn', self.stats.last_error, 'malformed detections')
            return False
        if batch.rejected:
            self.stats.bad_detections += batch.rejected
            self._log('warn', f'{batch.rejected} detections with a non-finite or empty box '
                      'ignored', 'bad detections')
        if batch.truncated:
            self.stats.detections_over_limit += batch.truncated
            self._log('warn', f'{batch.truncated} detections beyond max_detections '
                      f'{self.config.max_detections} dropped (the lowest scores)',
                      'too many detections')
        work.batch = batch
        work.image_bgr = self._to_bgr(frame.image)
        if work.image_bgr is not None:
            self.image_size = (int(work.image_bgr.shape[1]), int(work.image_bgr.shape[0]))
        return True

    def _ego_motion(self, work: FrameWork) -> bool:
        """Estimate the camera's motion since the last frame (odometry or image)."""
        stamp_s, image_bgr, boxes_tlwh = work.stamp_s, work.image_bgr, work.batch.boxes_tlwh
        if self._last_stamp_ns is not None:
            with self._odometry_lock:
                result = self._ego.estimate(self._last_stamp_ns * 1e-9, stamp_s, image_bgr,
                                            boxes_tlwh)
            work.homography, work.ego_motion_source = result.homography, result.source
            self.stats.ego_motion_reason = result.reason
        elif image_bgr is not None and self.config.ego_motion_mode in ('image', 'auto'):
            # Prime the image-based estimator with the first frame.
            with self._odometry_lock:
                self._ego.estimate(stamp_s, stamp_s, image_bgr, boxes_tlwh)
        sources = self.stats.ego_motion_sources
        sources[work.ego_motion_source] = sources.get(work.ego_motion_source, 0) + 1
        return True

    def _encode(self, work: FrameWork) -> bool:
        """Give the detections their Re-ID features, encoded or reused."""
        work.features, work.plan = self._encode_features(work.image_bgr, work.batch,
                                                         work.stamp_s, work.homography)
        return True

    def _track(self, work: FrameWork) -> bool:
        """Run the core on the frame's detections."""
        batch = work.batch
        work.tracks = self.tracker.update(batch.boxes_tlwh, batch.scores, batch.class_ids,
                                          work.features, timestamp=work.stamp_s,
                                          camera_motion=work.homography)
        if work.plan is not None:
            self.planner.observe(work.plan, work.tracks, work.stamp_s, work.features)
        self._last_stamp_ns = work.frame.stamp_ns
        self.classes.mark_in_use(t.class_id for t in work.tracks)
        return True

    def _publish(self, work: FrameWork) -> bool:
        """Place the tracks in the world; build TrackArray, TargetStatus and the features."""
        frame, tracks = work.frame, work.tracks
        header = make_header(frame.stamp_ns, self.config.camera_frame_id or self._frame_id(frame))
        world = self._world_estimate(tracks, work.batch.boxes_tlwh, work.stamp_s)
        world_frame = self.config.world_frame_id or self._odom_frame
        tracker = self.tracker
        work.track_array = tracks_to_msg(tracks, header, self.classes, self.namespace,
                                         work.batch.message_indices, world, world_frame,
                                         tracker.followed_id)
        work.target_status = target_status_to_msg(
            header, tracker.target_status, tracker.target_id, work.track_array,
            tracker.target_confidence, tracker.target_candidate_id)
        work.appearances = self._appearances(tracks, header, work.stamp_s)
        return True

    # ---- what the stages use ------------------------------------------------------------------

    def _appearances(self, tracks: List[Any], header: Any, stamp_s: float) -> Any:
        # Confirmed and coasting tracks (what a fusion takes) whose feature is due.
        if self.encoder is None:
            return None
        shown = [t for t in tracks if t.state.name in ('CONFIRMED', 'COASTING')]
        due = self.appearance_schedule.due([t.track_id for t in shown],
                                           [t.feature for t in shown], stamp_s)
        if not due:
            return None
        return appearances_to_msg(header, self.namespace, self.encoder_name,
                                  self.encoder_digest, [shown[i].track_id for i in due],
                                  [shown[i].feature for i in due])

    def _frame_id(self, frame: PairedFrame) -> str:
        source = frame.image if frame.image is not None else frame.detections
        return source.header.frame_id

    def _to_bgr(self, image_msg: Any) -> Optional[npt.NDArray[np.uint8]]:
        if image_msg is None:
            return None
        try:
            if hasattr(image_msg, 'format') and not hasattr(image_msg, 'encoding'):
                return compressed_msg_to_bgr(image_msg)
            return image_msg_to_bgr(image_msg)
        except ImageConversionError as error:
            self.stats.bad_images += 1
            self.stats.last_error = str(error)
            self._log('warn', f'image skipped: {error}', f'bad image: {error.kind}')
            return None

    def _encode_features(self, image_bgr: Optional[npt.NDArray[np.uint8]],
                         batch: DetectionBatch, stamp_s: float,
                         homography: Optional[npt.NDArray[np.float64]]
                         ) -> Tuple[Optional[npt.NDArray[np.float32]], Optional[EncodePlan]]:
        """Return this frame's features (encoded or reused) and the plan that chose which."""
        if self.encoder is None:
            return None, None
        if image_bgr is None:
            self.planner.reset()  # a frame without appearance breaks the chain of reuse
            return None, None
        plan = self.planner.plan(batch.boxes_tlwh, stamp_s, homography)
        if len(batch.boxes_tlwh) == 0:
            return None, plan
        # In calls of at most encode_batch_size crops: one call's crops are all in memory at
        # once, so a frame's memory does not grow with its number of detections. The calls
        # are of even size (17 crops: 9 + 8, not 16 + 1): a network's time per crop grows as
        # its batch shrinks (OSNet int8, one crop: 3.1 ms; in a batch of 16: 1.9 ms each).
        boxes = batch.boxes_tlwh[plan.encode_rows]
        calls = -(-len(boxes) // self.config.encode_batch_size)
        try:
            with np.errstate(over='ignore', invalid='ignore'):  # checked row by row below
                chunks = [np.asarray(self.encoder(image_bgr, part), dtype=np.float32)
                          for part in np.array_split(boxes, max(calls, 1)) if len(part)]
        except Exception as error:  # noqa: B902 - runtimes raise their own untyped errors
            self.stats.bad_features += len(boxes)
            self.stats.last_error = f'encoder failed: {error}'
            self._log('warn', self.stats.last_error + '; tracking this frame without appearance',
                      'encoder failed')
            return None, plan
        self.stats.encoded += len(plan.encode_rows)
        self.stats.reused += len(plan.reuse_rows)
        self.stats.refreshes_waited += plan.deferred
        encoded = np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
        if len(encoded):
            self._drop_bad_features(encoded, boxes, image_bgr.shape[:2])
        return plan.merge(encoded), plan

    def _drop_bad_features(self, encoded: npt.NDArray[np.float32],
                           boxes_tlwh: npt.NDArray[np.float64], image_hw: Tuple[int, int]
                           ) -> None:
        """
        Zero the encoder's non-finite rows and count them with its unexpected all-zero rows.

        The core drops a detection whose feature is not finite; an all-zero row is a detection
        without appearance, tracked on motion and IoU (and never stored as a track's
        feature). A model that starts answering NaN therefore leaves tracking on motion
        instead of emptying it. A zero row for a box with no pixels in the image is the
        encoder's contract (``deepsort_ros.reid.base``), not a fault, and is not counted.

        Parameters
        ----------
        encoded : numpy.ndarray, shape (M, D)
            Features of ``boxes_tlwh``, changed in place.
        boxes_tlwh : numpy.ndarray, shape (M, 4)
            The boxes encoded.
        image_hw : tuple of int
            The image's height and width.

        """
        finite = np.isfinite(encoded).all(axis=1)
        encoded[~finite] = 0.0
        _, has_pixels = clip_boxes_tlwh(boxes_tlwh, image_hw)
        bad = ~finite | (has_pixels & ~encoded.any(axis=1))
        if bad.any():
            self.stats.bad_features += int(bad.sum())
            self.stats.last_error = (f'the Re-ID encoder returned {int(bad.sum())} non-finite '
                                     'or all-zero feature(s)')
            self._log('warn', self.stats.last_error + '; those detections are tracked on motion '
                      'alone', 'bad features')

    def _world_estimate(self, tracks: List[Any], detections_tlwh: npt.NDArray[np.float64],
                        stamp_s: float) -> Optional[WorldEstimate]:
        if not tracks or self.camera is None or not self.config.use_ground_plane:
            return None
        with self._odometry_lock:
            pose_world_camera = self._ego.camera_pose_at(stamp_s)
        if pose_world_camera is None:
            return None
        depth = None
        if self.config.depth_topic:
            depth = self._depth_positions(tracks, detections_tlwh, stamp_s, pose_world_camera)
        projected = self.world_filter.update(stamp_s, tracks, detections_tlwh, self.camera,
                                             pose_world_camera, self.config.ground_height,
                                             depth)
        from_depth = self.world_filter.from_depth & projected.valid
        self.stats.tracks_from_depth += int(from_depth.sum())
        return WorldEstimate(projected.position_xy, projected.position_cov,
                             projected.velocity_xy, projected.velocity_cov, projected.valid,
                             self.config.ground_height, from_depth)

    def _depth_positions(self, tracks: List[Any], detections_tlwh: npt.NDArray[np.float64],
                         stamp_s: float, pose_world_camera: Any) -> Any:
        # Depth over each matched track's detection box; unmatched tracks get none (their box
        # is a prediction, and what it covers may be the occluder).
        depth = self._depth_at(int(round(stamp_s * 1e9)))
        if depth is None or self.camera is None:
            return None
        boxes = np.full((len(tracks), 4), np.nan)
        index = np.array([int(t.detection_index) for t in tracks], dtype=np.int64)
        matched = (index >= 0) & (index < len(detections_tlwh))
        boxes[matched] = np.asarray(detections_tlwh, dtype=np.float64)[index[matched]]
        return depth_positions(depth, boxes, self.camera, pose_world_camera, self.depth_config)

    def _depth_at(self, stamp_ns: int) -> Optional[npt.NDArray[np.float32]]:
        # The depth image stamped like the frame (within sync_tolerance), sized like its image.
        depth = self._depth.nearest(stamp_ns, int(self.config.sync_tolerance * 1e9))
        if depth is None:
            self.stats.frames_without_depth += 1
            return None
        size = self.image_size
        if size is None and self.camera is not None and self.camera.width > 0:
            size = (self.camera.width, self.camera.height)
        if size is not None and depth.shape != (size[1], size[0]):
            self._bad_depth(f'depth image {depth.shape[1]}x{depth.shape[0]} is not registered '
                            f'to the {size[0]}x{size[1]} colour image')
            return None
        return depth
