"""
The tracking pipeline behind the node, usable without a running node (offline on bags).

Two halves. The input half is cheap: ``add_image``, ``add_detections``, ``add_odometry`` and
``add_camera_info`` pass every stamp through one clock gate (the one place that decides that the
clock restarted), pair detections with images and buffer odometry, and return the frames
ready to track. The processing half, :meth:`TrackingPipeline.process`, converts a frame,
runs ego-motion, the encoder and the tracker, and builds ``TrackArray`` and friends: a list
of named stages (:mod:`deepsort_ros.pipeline.stages`), each timed. The node
runs the halves in two callback groups; ``deepsort-ros track --bag`` calls both in turn on a
bag's messages in recorded order, so both run exactly the same code.
"""

import threading
import time
from typing import Any, Callable, List, Optional, Tuple
import uuid

from deepsort_ros.core import ClockGate, Tracker, TrackerConfig
from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros.ego_motion import EgoMotionConfig, EgoMotionEstimator
from deepsort_ros.fusion.appearance_feed import AppearanceSchedule
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.pipeline.depth import DepthImages
from deepsort_ros.pipeline.diagnostics import STAGES
from deepsort_ros.pipeline.encoder import encoder_digest
from deepsort_ros.pipeline.odometry_guard import OdometryGuard, OdometryVerdict
from deepsort_ros.pipeline.pairing import FramePairer, PairedFrame, PairingConfig
from deepsort_ros.pipeline.stages import FrameResult, FrameStages, FrameWork, PipelineStats
from deepsort_ros.reid.planner import EncodePlanner, EncodePlannerConfig
from deepsort_ros.ros.convert.camera import camera_info_to_camera
from deepsort_ros.ros.convert.detections import limit_detections
from deepsort_ros.ros.convert.images import check_image_size, ImageConversionError
from deepsort_ros.ros.convert.odometry import odometry_to_pose
from deepsort_ros.ros.convert.stamps import stamp_to_ns
from deepsort_ros.settings.tracker import NodeConfig
from deepsort_ros.world import GroundTrackFilter
import numpy as np
import numpy.typing as npt

# The streams that pass the clock gate.
IMAGE, DETECTIONS, ODOMETRY = 'image', 'detections', 'odometry'


class TrackingPipeline(FrameStages):
    """
    Pair, compensate ego-motion, encode, track and convert, for one camera.

    Parameters
    ----------
    node_config : NodeConfig
    tracker_config : deepsort_ros.core.TrackerConfig
    encoder : callable, optional
        ``(image_bgr, boxes_tlwh) -> (N, D)`` features; None tracks on motion and IoU only.
    logger : callable, optional
        ``logger(level, text, kind)`` for warnings throttled per ``kind`` (one short name per
        problem, not per value); levels 'warn' and 'info'.
    clock : callable, optional
        ``clock() -> int`` nanoseconds, the running node's clock: a detection array whose
        image has not come after ``detection_timeout`` on it is released motion-only
        (:meth:`release_expired`); offline, without one, stamps alone decide.

    Attributes
    ----------
    tracker : deepsort_ros.core.Tracker
        The core, also the one owner of the followed target (``select_target``,
        ``clear_target``, ``target_id``, ``target_status``) and of its own ``counters``.
    clock : deepsort_ros.core.ClockGate
        The one judge of clock restarts, for every stream; ``clock.counters``.
    stats : PipelineStats
        Inputs, bad input and stage latencies.
    camera : PinholeCamera or None
        The last good camera model.
    classes : ClassRegistry
        Detector labels and the core's class ids, bounded (``max_label_length``,
        ``max_classes``).
    odometry_guard : OdometryGuard
        Refuses odometry in another frame or jumping farther than the base can move.
    image_size : (int, int) or None
        Width and height of the last image tracked, for checking image points.

    """

    def __init__(self, node_config: NodeConfig, tracker_config: TrackerConfig,
                 encoder: Optional[Callable] = None,
                 logger: Optional[Callable[[str, str], None]] = None,
                 clock: Optional[Callable[[], int]] = None) -> None:
        self.config = node_config
        self.tracker = Tracker(tracker_config)
        self.encoder = encoder
        # Which detections need the network and which may reuse a track's feature.
        self.planner = EncodePlanner(EncodePlannerConfig(
            enabled=node_config.reuse_features, encode_budget=node_config.encode_budget))
        self.stats = PipelineStats()
        self.classes = ClassRegistry(node_config.max_label_length, node_config.max_classes)
        self.namespace = uuid.uuid4()
        # Features for a fusion node, sent sparingly, named by the encoder and its weights.
        self.appearance_schedule = AppearanceSchedule()
        self.encoder_name = str(getattr(encoder, 'name', type(encoder).__name__))
        self.encoder_digest = encoder_digest(node_config, encoder)
        self._log = logger or (lambda level, text, kind=None: None)
        # One policy for clocks that jump, for every stream. With two confirmations a looped
        # bag restarts on its first frame (its image and detections agree) while one message
        # stamped far off is held, contradicted by the next and dropped.
        self.clock = ClockGate(node_config.time_jump_reset,
                               confirmations=node_config.clock_jump_confirmations)
        self._pairer = FramePairer(PairingConfig(
            node_config.sync_tolerance, node_config.detection_timeout, node_config.max_pending,
            node_config.max_pending_image_bytes), clock)
        self.odometry_guard = OdometryGuard(node_config.odom_max_jump, node_config.odom_max_speed,
                                            node_config.odom_jump_confirmations)
        self.image_size: Optional[Tuple[int, int]] = None
        self._session = 0
        # The input side buffers odometry while the processing side interpolates it.
        self._odometry_lock = threading.Lock()
        self._ego = EgoMotionEstimator(EgoMotionConfig(
            mode=node_config.ego_motion_mode, odom_buffer_size=node_config.odom_buffer_size,
            odom_max_gap=node_config.odom_max_gap, use_ground_plane=node_config.use_ground_plane,
            ground_height=node_config.ground_height))
        self._ego.set_extrinsic(np.asarray(node_config.base_to_camera_xyz, dtype=np.float64),
                                np.asarray(node_config.base_to_camera_rpy, dtype=np.float64))
        self.camera: Optional[PinholeCamera] = None
        # Each track's world position and velocity, estimated on the ground plane.
        self.world_filter = GroundTrackFilter(node_config.ground_filter())
        self.depth_config = node_config.depth()
        self._depth = DepthImages(node_config.max_pending, node_config.max_image_pixels)
        camera = node_config.camera()
        if camera is not None:
            self.set_camera(camera)
        self._last_stamp_ns: Optional[int] = None
        self._odom_frame = ''
        self.base_frame = ''  # child frame of the odometry: the robot base
        self.camera_frame = ''  # frame of the images: the camera's optical frame
        # process's stages, in order: the names are diagnostics' STAGES.
        self._stages = tuple(zip(STAGES, (self._convert, self._ego_motion, self._encode,
                                          self._track, self._publish)))

    # ---- inputs -----------------------------------------------------------------------------

    def set_camera(self, camera: PinholeCamera) -> None:
        """Use this camera model (from the fx, fy, cx, cy parameters or camera_info)."""
        self.camera = camera
        self._ego.set_camera(camera)

    def add_camera_info(self, msg: Any) -> None:
        """Take the camera model of a ``sensor_msgs/CameraInfo``; keep the last good one."""
        self.stats.camera_infos += 1
        try:
            camera = camera_info_to_camera(msg)
        except ValueError as error:
            self.stats.bad_camera_infos += 1
            self.stats.last_error = str(error)
            self._log('warn', f'{error}: ignored, the last good camera model is kept',
                      'bad camera info')
            return
        if camera != self.camera:
            self.set_camera(camera)

    def add_odometry(self, msg: Any) -> None:
        """Buffer a ``nav_msgs/Odometry`` pose for interpolation at image stamps."""
        self.stats.odometry += 1
        try:
            odometry = odometry_to_pose(msg)
        except ValueError:
            self.stats.bad_odometry += 1
            self._log('warn', 'odometry with a non-finite or zero-norm pose ignored',
                      'bad odometry')
            return
        refused = self.odometry_guard.check_frame(odometry.frame_id, odometry.child_frame_id)
        if refused is not None:
            self.stats.last_error = refused
            self._log('warn', f'{refused}: refused, the last good odometry is kept',
                      'odometry frame')
            return
        self._odom_frame = odometry.frame_id or self._odom_frame
        self.base_frame = odometry.child_frame_id or self.base_frame
        self._admit(ODOMETRY, odometry.stamp_ns, odometry)

    def set_extrinsic(self, translation_xyz: npt.ArrayLike,
                      quaternion_xyzw: npt.ArrayLike) -> None:
        """Set the camera optical frame's pose in the base frame (e.g. from TF)."""
        self._ego.set_extrinsic(np.asarray(translation_xyz, dtype=np.float64),
                                quaternion_xyzw=np.asarray(quaternion_xyzw, dtype=np.float64))

    def add_image(self, msg: Any) -> List[PairedFrame]:
        """
        Buffer an Image or CompressedImage; return the frames ready to :meth:`process`.

        An image larger than ``max_image_pixels`` is refused here, before it is buffered or
        converted: counted, and its detections are tracked on motion alone at once (they do
        not wait for an image that will not come).
        """
        self.stats.images += 1
        stamp_ns = stamp_to_ns(msg.header.stamp)
        try:
            check_image_size(msg, self.config.max_image_pixels)
        except ImageConversionError as error:
            self.stats.images_too_large += 1
            self.stats.bad_images += 1
            self.stats.last_error = str(error)
            self._log('warn', f'image refused: {error}', 'image too large')
            msg = None
        else:
            self.camera_frame = msg.header.frame_id or self.camera_frame
        return self._admit(IMAGE, stamp_ns, msg)

    def add_detections(self, msg: Any) -> List[PairedFrame]:
        """
        Buffer a Detection2DArray; return the frames ready to :meth:`process`.

        Only the ``max_detections`` best detections are kept from here on, so that one huge
        array costs neither buffer memory nor tracking time.
        """
        self.stats.detection_arrays += 1
        limited = limit_detections(msg, self.config.max_detections)
        return self._admit(DETECTIONS, stamp_to_ns(msg.header.stamp), limited)

    def add_depth(self, msg: Any) -> None:
        """
        Decode a registered depth ``sensor_msgs/Image`` and keep it for its frame.

        A depth image that cannot be used is counted and reported, never raised: that frame's
        tracks are placed on the ground plane.
        """
        self.stats.depth_images += 1
        reason = self._depth.add(msg)
        if reason is not None:
            self._bad_depth(reason)

    def _bad_depth(self, reason: str) -> None:
        self.stats.bad_depth += 1
        self.stats.last_error = reason
        self._log('warn', f'{reason}: ignored, tracks fall back to the ground plane',
                  'bad depth')

    def flush(self) -> List[PairedFrame]:
        """Release every frame still waiting for its partner (end of a bag)."""
        return self._pairer.flush()

    def release_expired(self) -> List[PairedFrame]:
        """Release the detection arrays that waited ``detection_timeout`` on the clock."""
        return self._pairer.release_expired().frames

    def _admit(self, kind: str, stamp_ns: int, item: Any) -> List[PairedFrame]:
        # Every stamp of the camera's streams passes the one clock gate, which alone decides
        # that the clock restarted; what it lets through goes on to pairing or the buffer.
        newest_ns = self.clock.newest_ns
        admission = self.clock.admit(stamp_ns, (kind, item))
        if admission.restart:
            if newest_ns is not None and self.clock.newest_ns > newest_ns:
                # Confirmed by the stamps after it: the clock jumped ahead (a paused stream,
                # a /clock set forward). Nothing pending is older than the clock now.
                self.stats.clock_jumps_ahead += 1
                self._log('warn', f'the clock jumped ahead by '
                          f'{(self.clock.newest_ns - newest_ns) * 1e-9:.1f} s', 'clock ahead')
            else:
                self._restart()
        if admission.dropped:
            kinds = ', '.join(sorted({dropped_kind for _, (dropped_kind, _) in
                                      admission.dropped}))
            self.stats.last_error = (f'{len(admission.dropped)} {kinds} message(s) with a stamp '
                                     'off the clock dropped')
            self._log('warn', f'{self.stats.last_error}; the next stamps did not follow it '
                      f'(more than time_jump_reset {self.config.time_jump_reset} s from the '
                      'clock)', 'clock outlier')
        ready: List[PairedFrame] = []
        for admitted_ns, (admitted_kind, admitted) in admission.items:
            if admitted_kind == ODOMETRY:
                self._buffer_odometry(admitted_ns, admitted)
                continue
            if admitted_kind == IMAGE:
                # A refused image (None) still pairs: its detections go on motion alone.
                nbytes = 0 if admitted is None else len(admitted.data)
                released = self._pairer.add_image(admitted_ns, admitted, nbytes)
            else:
                released = self._pairer.add_detections(admitted_ns, admitted)
            if released.late_dropped:
                self.stats.time_backwards += released.late_dropped
                self._log('warn', 'detections older than the last tracked frame dropped '
                          '(time went backwards or arrived too late)', 'late detections')
            ready += released.frames
        return ready

    def _buffer_odometry(self, stamp_ns: int, odometry: Any) -> None:
        verdict = self.odometry_guard.check(stamp_ns, odometry.position_xyz)
        if verdict is OdometryVerdict.JUMP:
            distance = self.odometry_guard.distance_to_last(odometry.position_xyz)
            self.stats.last_error = (f'odometry jumped {distance:.1f} m from the last good '
                                     'pose')
            self._log('warn', f'{self.stats.last_error}: refused (odom_max_jump '
                      f'{self.config.odom_max_jump} m + odom_max_speed '
                      f'{self.config.odom_max_speed} m/s); the last good odometry is kept',
                      'odometry jump')
            return
        with self._odometry_lock:
            if verdict is OdometryVerdict.RESET:
                # The poses after the jump agree: the odometry origin moved. Interpolating
                # across it would invent a motion.
                self._ego.odometry.clear()
            self._ego.add_odometry(stamp_ns * 1e-9, odometry.position_xyz,
                                   odometry.orientation_xyzw)
        if verdict is OdometryVerdict.RESET:
            self._log('warn', 'odometry jumped and stayed there: taken as an odometry reset, '
                      'its history starts again', 'odometry reset')

    def _restart(self) -> None:
        # Pending frames and odometry from before the jump can never pair or interpolate with
        # what comes now; the image motion and the tracker restart when the new session's
        # first frame is processed (the tracker by itself, on its earlier timestamp).
        self._pairer.reset()
        self.odometry_guard.reset()
        with self._odometry_lock:
            self._ego.odometry.clear()
        self._log('warn', 'time jumped back: pairing, odometry, image motion and tracks '
                  'restarted', 'clock restart')

    @property
    def pairing(self) -> Any:
        """Return the counters of stamp matching: paired, motion-only, dropped."""
        return self._pairer.counters

    def point_refusal(self, x: float, y: float) -> Optional[str]:
        """
        Return why an image point cannot select a target, or None when it can.

        The point must be finite and, once an image was tracked, inside it (else inside the
        camera_info size when known): a click outside the picture means nothing there.
        """
        if not (np.isfinite(x) and np.isfinite(y)):
            return f'the point ({x}, {y}) is not finite'
        size = self.image_size
        if size is None and self.camera is not None and self.camera.width > 0:
            size = (self.camera.width, self.camera.height)
        if size is None:
            return None
        width, height = size
        if not (0.0 <= x < width and 0.0 <= y < height):
            return f'the point ({x:g}, {y:g}) is outside the last image ({width}x{height} px)'
        return None

    # ---- processing -------------------------------------------------------------------------

    def track(self, frames: List[PairedFrame]) -> List[FrameResult]:
        """Process frames in order; return the results of those that could be tracked."""
        return [r for r in (self.process(f) for f in frames) if r is not None]

    def process(self, frame: PairedFrame) -> Optional[FrameResult]:
        """Track one paired frame through the stages; None when its detections are malformed."""
        work = FrameWork(frame, frame.stamp_ns * 1e-9)
        for name, stage in self._stages:
            started = time.perf_counter()
            if not stage(work):
                return None
            work.stage_ms[name] = (time.perf_counter() - started) * 1e3
        for name, value in work.stage_ms.items():
            self.stats.stage_ms[name].append(value)
        self.stats.frames += 1
        return FrameResult(frame.stamp_ns, work.track_array, work.target_status,
                           work.image_bgr, work.ego_motion_source, work.stage_ms,
                           work.appearances)
