"""
The deepsort_ros tracker node: images, detections and odometry in; tracks out.

A lifecycle (managed) node: ``configure`` validates the parameters and loads the Re-ID model,
``activate`` subscribes and publishes, ``deactivate`` stops, ``cleanup`` frees the model. With
``autostart`` (the default) it configures and activates itself, for unmanaged use.

The node is thin, and runs on a ``MultiThreadedExecutor`` (:mod:`deepsort_ros.ros.executor`,
rclpy's without its queueing storm) in three callback groups. The input group (image,
detections, camera_info, odom) does only cheap work: the pipeline's clock gate,
pairing and buffering. Paired frames wait in a bounded queue (the oldest is dropped and
counted when the tracker falls behind) and a guard condition wakes the processing group, which
runs :meth:`deepsort_ros.ros.pipeline.TrackingPipeline.process` and publishes; the target
selection service and ``~/select_point`` run there too, serialised with tracking. The
diagnostics and TF timers have the third group.
"""

from collections import deque
import ctypes
from dataclasses import replace
import math
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional

from deepsort_ros.ros import parameters as nc
from deepsort_ros.ros.diagnostics import DiagnosticReport, DiagnosticsCollector, Level
from deepsort_ros.ros.executor import NodeExecutor
from deepsort_ros.ros.images import bgr_to_image_msg
from deepsort_ros.ros.messages import (diagnostics_to_msg, MarkerBuilder, stamp_to_ns,
                                       transform_to_xyz_quaternion, yolo_to_detection_array)
from deepsort_ros.ros.pairing import PairedFrame
from deepsort_ros.ros.pipeline import FrameResult, load_encoder, TrackingPipeline
from deepsort_ros.ros.visualization import draw_tracks, TrailHistory
from deepsort_ros_msgs.msg import TargetStatus, TrackAppearanceArray, TrackArray
from deepsort_ros_msgs.srv import SelectTarget
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

LOG_THROTTLE_S = 5.0
REFUSAL_REPORT_PERIOD_S = 1.0  # /diagnostics ERROR of a node that could not configure
TF_LOOKUP_PERIOD_S = 1.0
# Until TF first answers: frames before that use base_to_camera_xyz/rpy, so keep them few.
TF_FIRST_LOOKUP_PERIOD_S = 0.1
TF_STALE_S = 5.0  # a stamped transform older than this has stopped coming
# The pairing timeout is checked this often (as a fraction of detection_timeout, at most
# every PAIRING_CHECK_MIN_S): a lone detection array waits about detection_timeout * 1.2.
PAIRING_CHECK_FRACTION = 0.2
PAIRING_CHECK_MIN_S = 0.01
# One thread per callback group (input, processing, timers) and one for the default group's
# lifecycle and parameter services, so that no group waits for a thread.
EXECUTOR_THREADS = 4

# TargetStatus.status -> the word drawn on ~/image_annotated (NONE draws nothing).
TARGET_STATES = {TargetStatus.STATUS_TRACKED: 'TRACKED',
                 TargetStatus.STATUS_SEARCHING: 'SEARCHING', TargetStatus.STATUS_LOST: 'LOST',
                 TargetStatus.STATUS_CANDIDATE: 'CANDIDATE'}


def _heap_trimmer() -> Callable[[], None]:
    """Return a call that gives freed heap memory back to the system (glibc), or a no-op."""
    # glibc keeps what a large message freed for reuse, in every thread's arena: the resident
    # memory of the process then says little about what it holds. Trimming after each
    # diagnostics period costs about a millisecond.
    try:
        malloc_trim = ctypes.CDLL('libc.so.6').malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: malloc_trim(0)


def _descriptor(f: Any) -> ParameterDescriptor:
    meta = f.metadata
    text = meta.get('description', '')
    if meta.get('choices'):
        text += f' (one of: {", ".join(meta["choices"])})'
    descriptor = ParameterDescriptor(description=text, read_only=bool(meta.get('read_only')),
                                     dynamic_typing=nc.YAML_OFF in meta.get('choices', ()))
    low, high = meta.get('low'), meta.get('high')
    if low is not None and high is not None:
        if isinstance(f.default, float):
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(low), to_value=float(high))]
        elif isinstance(f.default, int) and not isinstance(f.default, bool):
            descriptor.integer_range = [IntegerRange(
                from_value=int(low), to_value=int(high), step=1)]
    return descriptor


class TrackerNode(LifecycleNode):
    """DeepSORT tracking of ``vision_msgs/Detection2DArray`` on camera images."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(nc.NODE_NAME, **kwargs)
        self._declare_parameters()
        self.pipeline: Optional[TrackingPipeline] = None
        self._input_subscriptions: List[Any] = []
        self._input_group = MutuallyExclusiveCallbackGroup()
        self._processing_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        self._frames: Deque[PairedFrame] = deque(maxlen=1)
        self._frames_lock = threading.Lock()
        # Held while a frame is processed, so that a lifecycle transition (in the default
        # group) waits for it instead of freeing what it uses.
        self._processing_lock = threading.Lock()
        self._frame_ready: Optional[Any] = None
        self._last_log = {}
        self._diagnostics = DiagnosticsCollector()
        self._trim_heap = _heap_trimmer()
        self.config: Optional[nc.NodeConfig] = None
        self._refusal: Optional[str] = None  # why configure failed, while it is reported
        self.add_pre_set_parameters_callback(self._say_why_refused)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._warn_about_unknown_parameters()
        if self.get_parameter('autostart').value:
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()

    # ---- parameters -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        # A start-up value rclpy refuses (out of its range, of the wrong type) would end the
        # process with a traceback: it is kept aside instead, and configure says why it fails.
        self._refused_at_start: Dict[str, str] = {}
        for f in nc.node_fields():
            default = f.default_factory() if callable(f.default_factory) else f.default
            self._declare(f.name, default, _descriptor(f))
        descriptions = nc.tracker_descriptions()
        for f in nc.tracker_fields():
            default = f.default_factory() if callable(f.default_factory) else f.default
            if default is None:
                continue
            description = descriptions.get(f.name) or f'tracker setting {f.name}'
            self._declare(nc.TRACKER_PREFIX + f.name, default,
                          ParameterDescriptor(description=description, read_only=True))

    def _declare(self, name: str, default: Any, descriptor: ParameterDescriptor) -> None:
        try:
            self.declare_parameter(name, default, descriptor)
        except (InvalidParameterTypeException, InvalidParameterValueException) as error:
            given = self._parameter_overrides[name].value
            try:
                nc.split_parameters({name: given})
                reason = str(error)
            except ValueError as invalid:
                reason = str(invalid)
            self._refused_at_start[name] = reason
            self.declare_parameter(name, default, descriptor, ignore_override=True)

    def _warn_about_unknown_parameters(self) -> None:
        # rclpy ignores a -p or params-file value for a name the node never declares; say so,
        # with the name that was most likely meant (max_age -> tracker.max_age).
        declared = set(self._parameters)
        for name in sorted(set(self._parameter_overrides) - declared):
            if not nc.is_ros_own_parameter(name):
                self.get_logger().warning(f'{nc.unknown_parameter_text(name)} (ignored)')

    def _parameter_values(self, overrides: Optional[List[Any]] = None) -> dict:
        values = {name: param.value for name, param in self._parameters.items()}
        for param in overrides or []:
            values[param.name] = param.value
        return values

    def _validate_parameters(self, params: List[Any]) -> SetParametersResult:
        try:
            nc.split_parameters(self._parameter_values(params))
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        return SetParametersResult(successful=True)

    def _say_why_refused(self, params: List[Any]) -> List[Any]:
        # Runs before rclpy checks ranges and read-only flags, which refuse without a word in
        # the node's log: the refusal is logged here, the answer still comes from rclpy or
        # _validate_parameters.
        for param in params:
            if param.name not in self._parameters:
                reason = nc.unknown_parameter_text(param.name)
            elif self._descriptors[param.name].read_only:
                reason = f'{param.name} is read-only: set it at start'
            else:
                continue
            self.get_logger().warning(f'parameter change refused: {reason}')
            return params
        try:
            nc.split_parameters(self._parameter_values(params))
        except ValueError as error:
            self.get_logger().warning(f'parameter change refused: {error}')
        return params

    def _apply_parameters(self, params: List[Any]) -> None:
        # Only the run-time parameters can get here once configured (the others are
        # read-only); they take effect from the next frame.
        runtime = {p.name: p.value for p in params if p.name in nc.runtime_fields()}
        if self.config is None or not runtime:
            return
        self.config = replace(self.config, **runtime)
        if self.pipeline is not None:
            self.pipeline.config = self.config
        self.get_logger().info('parameters changed: ' + ', '.join(
            f'{name}={value!r}' for name, value in runtime.items()))

    # ---- lifecycle --------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate parameters, load the encoder and build the pipeline."""
        self._stop_reporting_refusal()
        if self._refused_at_start:
            return self._refuse('invalid parameters: ' + '; '.join(
                self._refused_at_start.values()))
        try:
            config, tracker_config = nc.split_parameters(self._parameter_values())
        except ValueError as error:
            return self._refuse(f'invalid parameters: {error}')
        for name in nc.TOPIC_PARAMETERS + (('depth_topic',) if config.depth_topic else ()):
            try:
                self.resolve_topic_name(getattr(config, name))
            except Exception as error:  # noqa: B902 - rclpy raises RCLError, not a ValueError
                reason = str(error).split(', at /')[0]  # without rcl's source location
                return self._refuse(
                    f'invalid parameters: {name} {getattr(config, name)!r} is not a valid '
                    f'topic name: {reason}')
        if config.detections_type == 'yolo_msgs':
            try:
                import yolo_msgs.msg  # noqa: F401 - only whether it is there
            except ImportError:
                return self._refuse(
                    'detections_type is yolo_msgs but yolo_msgs cannot be imported: install '
                    "yolo_ros (or build this repository's third_party/yolo_msgs), or publish "
                    'vision_msgs/Detection2DArray with detections_type:=vision_msgs')
        try:
            encoder, encoder_name, encoder_device = load_encoder(config)
        except RuntimeError as error:
            return self._refuse(str(error))
        if encoder is not None:
            self.get_logger().info(
                f'Re-ID encoder: {encoder_name} on {encoder_device}')
        self._tf_buffer = None
        self._tf_found_at: Optional[float] = None
        if config.extrinsic_from_tf:
            try:
                import tf2_ros
            except ImportError:
                return self._refuse(
                    'extrinsic_from_tf is true but tf2_ros cannot be imported: install it '
                    '(ros-$ROS_DISTRO-tf2-ros) or set base_to_camera_xyz/rpy and '
                    'extrinsic_from_tf:=false')
            self._tf_buffer = tf2_ros.Buffer()
            self._tf_listener = tf2_ros.TransformListener(self._tf_buffer, self)
        self.config = config
        self._diagnostics = DiagnosticsCollector(encoder_name, encoder_device,
                                                 config.ego_motion_mode)
        self.pipeline = TrackingPipeline(config, tracker_config, encoder, self._log_throttled,
                                         lambda: self.get_clock().now().nanoseconds)
        self._trails = TrailHistory(config.trail_length, config.trail_max_jump)
        self._markers = MarkerBuilder()
        self._tracks_pub = self.create_lifecycle_publisher(TrackArray, '~/tracks', 10)
        # Re-ID features for a fusion node, keyed by track UUID, sent sparingly.
        self._appearances_pub = self.create_lifecycle_publisher(
            TrackAppearanceArray, '~/appearances', 10)
        self._target_pub = self.create_lifecycle_publisher(TargetStatus, '~/target', 10)
        self._markers_pub = self.create_lifecycle_publisher(
            MarkerArray, '~/markers', 10)
        self._annotated_pub = self.create_lifecycle_publisher(
            Image, '~/image_annotated', qos_profile_sensor_data)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        return TransitionCallbackReturn.SUCCESS

    def _refuse(self, reason: str) -> TransitionCallbackReturn:
        """
        Fail ``configure`` loudly: log ``reason`` now and every LOG_THROTTLE_S, and publish it.

        A node that could not configure has no topics of its own; without this it would idle
        in silence. ``/diagnostics`` carries an ERROR with the reason every
        REFUSAL_REPORT_PERIOD_S until a later ``configure`` succeeds.
        """
        self.get_logger().error(reason)
        self._refusal = reason
        self._refusal_reported = time.monotonic()
        self._refusal_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._refusal_timer = self.create_timer(
            REFUSAL_REPORT_PERIOD_S, self._report_refusal, callback_group=self._timer_group,
            clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._report_refusal()
        return TransitionCallbackReturn.FAILURE

    def _report_refusal(self) -> None:
        reason = self._refusal
        if reason is None:
            return
        if time.monotonic() - self._refusal_reported >= LOG_THROTTLE_S:
            self._refusal_reported = time.monotonic()
            self.get_logger().error(f'not configured: {reason}')
        report = DiagnosticReport(Level.ERROR, reason, 'none',
                                  (('state', 'unconfigured'), ('reason', reason)))
        self._refusal_pub.publish(diagnostics_to_msg(
            f'{self.get_fully_qualified_name().lstrip("/")}: tracking', report,
            self.get_clock().now().nanoseconds))

    def _stop_reporting_refusal(self) -> None:
        if self._refusal is None:
            return
        self._refusal = None
        self.destroy_timer(self._refusal_timer)
        self.destroy_publisher(self._refusal_pub)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the inputs and start tracking."""
        config = self.config
        image_qos = qos_profile_sensor_data if config.image_qos == 'sensor_data' else \
            QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        inputs, processing = self._input_group, self._processing_group
        if config.image_transport == 'compressed':
            image_sub = self.create_subscription(
                CompressedImage, config.image_topic.rstrip('/') + '/compressed', self._on_image,
                image_qos, callback_group=inputs)
        else:
            image_sub = self.create_subscription(Image, config.image_topic, self._on_image,
                                                 image_qos, callback_group=inputs)
        self._frames = deque(maxlen=config.max_queued_frames)
        self._frame_ready = self.create_guard_condition(self._on_frame_ready,
                                                        callback_group=processing)
        if config.detections_type == 'yolo_msgs':
            # Imported here: a robot without yolo_ros never needs its messages.
            from yolo_msgs.msg import DetectionArray
            detections_sub = self.create_subscription(
                DetectionArray, config.detections_topic,
                lambda msg: self._on_detections(yolo_to_detection_array(msg)), 10,
                callback_group=inputs)
        else:
            detections_sub = self.create_subscription(
                Detection2DArray, config.detections_topic, self._on_detections, 10,
                callback_group=inputs)
        self._input_subscriptions = [
            image_sub,
            detections_sub,
            self.create_subscription(CameraInfo, config.camera_info_topic,
                                     self._on_camera_info, qos_profile_sensor_data,
                                     callback_group=inputs),
            self.create_subscription(Odometry, config.odom_topic, self._on_odometry, 50,
                                     callback_group=inputs),
            self.create_subscription(PointStamped, '~/select_point', self._on_select_point, 1,
                                     callback_group=processing),
        ]
        if config.depth_topic:
            self._input_subscriptions.append(self.create_subscription(
                Image, config.depth_topic, self._on_depth, image_qos, callback_group=inputs))
        self._select_srv = self.create_service(SelectTarget, '~/select_target',
                                               self._on_select_target,
                                               callback_group=processing)
        self._reset_srv = self.create_service(Trigger, '~/reset', self._on_reset,
                                              callback_group=processing)
        # On the steady clock: with use_sim_time a ROS timer waits for /clock, and stops when
        # it jumps back, just when diagnostics matter. The messages carry the node's time.
        self._diagnostics_timer = self.create_timer(config.diagnostics_period,
                                                    self._publish_diagnostics,
                                                    callback_group=self._timer_group,
                                                    clock=Clock(clock_type=ClockType.STEADY_TIME))
        # Detections whose image never comes leave after detection_timeout on the node's
        # clock, also when no later message comes; in the input group, serialised with pairing.
        self._pairing_timer = self.create_timer(
            max(config.detection_timeout * PAIRING_CHECK_FRACTION, PAIRING_CHECK_MIN_S),
            self._release_expired,
            callback_group=inputs, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._tf_timer = self.create_timer(TF_FIRST_LOOKUP_PERIOD_S, self._lookup_extrinsic,
                                           callback_group=self._timer_group) \
            if self._tf_buffer is not None else None
        self._diagnostics.topics = {
            stream: sub.topic_name for stream, sub in zip(
                ('image', 'detections', 'camera_info', 'odom'), self._input_subscriptions)}
        self.get_logger().info(
            f'listening to {image_sub.topic_name} ({image_sub.msg_type.__name__}), '
            f'{detections_sub.topic_name} ({detections_sub.msg_type.__module__.split(".")[0]}/'
            f'{detections_sub.msg_type.__name__}), '
            f'{self._input_subscriptions[2].topic_name} (CameraInfo), '
            f'{self._input_subscriptions[3].topic_name} (Odometry); publishing '
            f'{self._tracks_pub.topic_name} (deepsort_ros_msgs/TrackArray), '
            f'{self._appearances_pub.topic_name}, '
            f'{self._markers_pub.topic_name}, {self._annotated_pub.topic_name}, '
            f'{self._target_pub.topic_name}, /diagnostics; ego-motion: {config.ego_motion_mode}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, and drop the frames not tracked yet."""
        for sub in self._input_subscriptions:
            self.destroy_subscription(sub)
        self._input_subscriptions = []
        self.destroy_service(self._select_srv)
        self.destroy_service(self._reset_srv)
        self.destroy_timer(self._diagnostics_timer)
        self.destroy_timer(self._pairing_timer)
        if self._tf_timer is not None:
            self.destroy_timer(self._tf_timer)
        with self._processing_lock:
            with self._frames_lock:
                frame_ready, self._frame_ready = self._frame_ready, None
                self._frames.clear()
            self.destroy_guard_condition(frame_ready)
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free the pipeline and the model."""
        with self._processing_lock:
            self.pipeline = None
        for pub in (self._tracks_pub, self._appearances_pub, self._target_pub,
                    self._markers_pub, self._annotated_pub):
            self.destroy_lifecycle_publisher(pub)
        self.destroy_publisher(self._diagnostics_pub)
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Drop the frames not tracked yet, from any state."""
        with self._frames_lock:
            self._frames.clear()
        return TransitionCallbackReturn.SUCCESS

    # ---- input group: the clock gate, pairing and buffering only --------------------------

    def _on_image(self, msg: Any) -> None:
        self._diagnostics.received('image')
        self._take_input('image', msg, lambda pipeline: pipeline.add_image(msg))

    def _on_detections(self, msg: Detection2DArray) -> None:
        self._diagnostics.received('detections')
        self._take_input('detections', msg, lambda pipeline: pipeline.add_detections(msg))

    def _on_depth(self, msg: Image) -> None:
        self._take_input('depth', msg, lambda pipeline: pipeline.add_depth(msg))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._diagnostics.received('camera_info')
        self._take_input('camera_info', msg, lambda pipeline: pipeline.add_camera_info(msg))

    def _on_odometry(self, msg: Odometry) -> None:
        self._diagnostics.received('odom')
        self._take_input('odom', msg, lambda pipeline: pipeline.add_odometry(msg))

    def _release_expired(self) -> None:
        self._take_input('pairing', None, lambda pipeline: pipeline.release_expired())

    def _take_input(self, kind: str, msg: Any,
                    add: Callable[[TrackingPipeline], Optional[List[PairedFrame]]]) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            frames = add(pipeline) or []
        except Exception as error:  # noqa: B902 - a bad message must not stop the node
            self._skipped(pipeline, kind, error)
            return
        if not frames:
            return
        with self._frames_lock:
            if self._frame_ready is None:
                return  # deactivated meanwhile
            for frame in frames:
                if len(self._frames) == self._frames.maxlen:
                    self._diagnostics.frames_dropped_overload += 1  # the oldest leaves
                self._frames.append(frame)
            self._frame_ready.trigger()

    # ---- processing group: track and publish ------------------------------------------------

    def _on_frame_ready(self) -> None:
        with self._processing_lock:
            with self._frames_lock:
                frame = self._frames.popleft() if self._frames else None
                if self._frames:
                    # One frame per call, so that the service can come in between frames.
                    self._frame_ready.trigger()
            pipeline = self.pipeline
            if frame is None or pipeline is None:
                return
            try:
                result = pipeline.process(frame)
                if result is not None:
                    self._publish(result)
            except Exception as error:  # noqa: B902 - a bad frame must not stop the node
                self._skipped(pipeline, 'frame', error)

    def _publish(self, result: FrameResult) -> None:
        if result.appearances is not None:
            # Before the tracks: a fusion node then has a new track's feature when its
            # TrackArray comes.
            self._appearances_pub.publish(result.appearances)
        self._tracks_pub.publish(result.tracks)
        self._target_pub.publish(result.target_status)
        if self.config.publish_markers:
            self._markers_pub.publish(self._markers.build(result.tracks))
        self._trails.update(result.tracks.tracks)
        wanted = self.config.annotated_image == 'always' or (
            self.config.annotated_image == 'auto'
            and self._annotated_pub.get_subscription_count() > 0)
        if wanted and result.image_bgr is not None:
            canvas = draw_tracks(result.image_bgr, result.tracks, self._trails,
                                 self.config.annotated_coast_time,
                                 target_state=TARGET_STATES.get(result.target_status.status, ''))
            self._annotated_pub.publish(bgr_to_image_msg(canvas, result.tracks.header))

    def _skipped(self, pipeline: TrackingPipeline, kind: str, error: Exception) -> None:
        pipeline.stats.last_error = f'{type(error).__name__}: {error}'
        self._log_throttled('warn', f'{kind} message skipped: {pipeline.stats.last_error}',
                            key=f'{kind} skipped {type(error).__name__}')

    # ---- timer group: the extrinsic from TF (where tf2_ros exists), diagnostics ------------

    def _lookup_extrinsic(self) -> None:
        # Looked up every TF_FIRST_LOOKUP_PERIOD_S until TF first answers, then every
        # TF_LOOKUP_PERIOD_S, so a moving mount (pan-tilt) is followed. Until
        # TF answers, base_to_camera_xyz/rpy are used; when it stops answering, the last
        # transform it gave is kept and diagnostics say since when.
        pipeline = self.pipeline
        base = self.config.base_frame_id or (pipeline.base_frame if pipeline else '')
        camera = self.config.camera_frame_id or (pipeline.camera_frame if pipeline else '')
        if pipeline is None or not base or not camera:
            return  # the frames are named by the first odometry and image messages
        try:
            transform = self._tf_buffer.lookup_transform(base, camera, Time())
            translation, quaternion = transform_to_xyz_quaternion(transform)
            # tf2 answers with the newest transform it has, however old: a dynamic one
            # (stamped; a static one has stamp 0) unheard of for TF_STALE_S has stopped.
            stamp_ns = stamp_to_ns(transform.header.stamp)
            age_s = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
            if stamp_ns > 0 and age_s > TF_STALE_S:
                raise LookupError(f'the newest transform is {age_s:.1f} s old')
        except Exception as error:  # noqa: B902 - tf2 lookup errors are several classes
            if self._tf_found_at is None:
                self._diagnostics.extrinsic_source = (
                    f'parameters base_to_camera_xyz/rpy (no TF {base} -> {camera} yet)')
                self._log_throttled('warn', f'no TF {base} -> {camera} yet ({error}); using '
                                    'base_to_camera_xyz/rpy', key='tf missing')
            else:
                age = time.monotonic() - self._tf_found_at
                self._diagnostics.extrinsic_source = (
                    f'TF {base} -> {camera} stale: last answered {age:.0f} s ago, kept')
                self._log_throttled('warn', f'TF {base} -> {camera} stopped answering '
                                    f'({error}); keeping the last transform', key='tf stale')
            return
        if self._tf_found_at is None:
            self.get_logger().info(f'camera extrinsic from TF {base} -> {camera}: '
                                   f'{translation.round(3).tolist()}')
        period_ns = int(TF_LOOKUP_PERIOD_S * 1e9)
        if self._tf_timer.timer_period_ns != period_ns:
            self._tf_timer.timer_period_ns = period_ns
        self._tf_found_at = time.monotonic()
        self._diagnostics.extrinsic_source = f'TF {base} -> {camera}'
        pipeline.set_extrinsic(translation, quaternion)

    # ---- single-object mode (processing group: serialised with tracking) --------------------

    def _on_select_target(self, request: Any, response: Any) -> Any:
        pipeline = self.pipeline
        if pipeline is None:
            response.success, response.message = False, 'the node is not configured'
            return response
        tracker = pipeline.tracker  # the one owner of the target
        if request.mode == SelectTarget.Request.CLEAR:
            tracker.clear_target()
            response.success, response.message = True, 'target cleared'
            return response
        refusal = None
        if request.mode == SelectTarget.Request.BY_TRACK_ID:
            chosen = tracker.select_target(track_id=int(request.track_id))
        elif request.mode == SelectTarget.Request.BY_CLASS:
            # A query must not grow the label table: an unknown class has no track.
            class_id = pipeline.classes.find(request.class_id)
            chosen = None if class_id is None else tracker.select_target(class_id=class_id)
            if class_id is None:
                refusal = f'no detection of class {request.class_id[:64]!r} was seen'
        elif request.mode == SelectTarget.Request.BY_POINT:
            refusal = pipeline.point_refusal(request.x, request.y)
            chosen = None if refusal else tracker.select_target(point_xy=(request.x, request.y))
        else:
            refusal, chosen = f'unknown mode {request.mode}', None
        if refusal is not None:
            pipeline.stats.select_refused += 1
            self._log_throttled('warn', f'select_target refused: {refusal}',
                                key='select refused')
        response.success = chosen is not None
        response.message = 'following' if response.success else (
            refusal or 'no matching track now')
        response.target_id = int(tracker.target_id or 0)
        return response

    def _on_reset(self, request: Any, response: Any) -> Any:
        # Tracks, galleries and the target are forgotten; identities keep counting up, so an
        # id a consumer saw before never names someone new.
        pipeline = self.pipeline
        if pipeline is None:
            response.success, response.message = False, 'the node is not configured'
            return response
        pipeline.tracker.forget()
        response.success, response.message = True, 'tracks, galleries and target forgotten'
        return response

    def _on_select_point(self, msg: PointStamped) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        refusal = pipeline.point_refusal(msg.point.x, msg.point.y)
        if refusal is not None:
            pipeline.stats.select_refused += 1
            self._log_throttled('warn', f'~/select_point refused: {refusal}',
                                key='select refused')
            return
        pipeline.tracker.select_target(point_xy=(msg.point.x, msg.point.y))

    def _log_throttled(self, level: str, text: str, key: Optional[str] = None) -> None:
        # One line per kind of problem (``key``) every LOG_THROTTLE_S, saying how many more
        # of that kind there were: a stream of distinct bad values is one problem, not many.
        now = time.monotonic()
        key = key or text[:60]
        last, suppressed = self._last_log.get(key, (-math.inf, 0))
        if now - last < LOG_THROTTLE_S:
            self._last_log[key] = (last, suppressed + 1)
            return
        self._last_log[key] = (now, 0)
        if suppressed:
            text += f' ({suppressed} more like it in the last {now - last:.0f} s)'
        logger = self.get_logger()
        (logger.warning if level == 'warn' else logger.info)(text)

    def _publish_diagnostics(self) -> None:
        self._trim_heap()
        if self.pipeline is None:
            return
        name = getattr(self.pipeline.encoder, 'name', None)
        if name is not None and str(name) != self._diagnostics.encoder_name:
            # the encoder switched to int8 while running (deepsort_ros.reid.int8)
            self._diagnostics.encoder_name = str(name)
            self.get_logger().info(f'Re-ID encoder now: {name}')
        report = self._diagnostics.collect(self.pipeline)
        self._diagnostics_pub.publish(diagnostics_to_msg(
            # The node's full name: several trackers (one per camera) report side by side.
            f'{self.get_fully_qualified_name().lstrip("/")}: tracking', report,
            self.get_clock().now().nanoseconds))


def _warn_about_small_dds_segments(node: TrackerNode) -> None:
    if 'fastrtps' not in rclpy.get_rmw_implementation_identifier():
        return
    if os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE') or \
            os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE'):
        return
    node.get_logger().warning(
        'Fast DDS runs with its default 512 KB shared-memory segment: camera images larger '
        'than that are lost, and messages beside them (odometry) with them. Export '
        'FASTDDS_DEFAULT_PROFILES_FILE=<install>/share/deepsort_ros/config/'
        'fastdds_large_data.xml for every process (the launch file does it for the node).')


def main(args: Optional[List[str]] = None) -> int:
    """Run the tracker node until shutdown (Ctrl-C), also when Ctrl-C comes during start-up."""
    rclpy.init(args=args)
    node: Optional[TrackerNode] = None
    executor: Optional[NodeExecutor] = None
    try:
        node = TrackerNode()
        _warn_about_small_dds_segments(node)
        executor = NodeExecutor(num_threads=EXECUTOR_THREADS)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C in a terminal reaches the whole process group and ros2 launch forwards one
        # more: a second SIGINT must not interrupt the teardown (or the interpreter's exit)
        # with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


if __name__ == '__main__':
    sys.exit(main())
