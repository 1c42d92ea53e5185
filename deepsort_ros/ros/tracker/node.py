"""
The deepsort_ros tracker node: images, detections and odometry in; tracks out.

A lifecycle (managed) node: ``configure`` validates the parameters and loads the Re-ID model,
``activate`` subscribes and publishes, ``deactivate`` stops, ``cleanup`` frees the model. With
``autostart`` (the default) it configures and activates itself, for unmanaged use.

The node is thin, and runs on a ``MultiThreadedExecutor``
(:mod:`deepsort_ros.ros.common.executor`, rclpy's without its queueing storm) in three
callback groups. The input group (image,
detections, camera_info, odom) does only cheap work: the pipeline's clock gate,
pairing and buffering. Paired frames wait in a bounded queue (the oldest is dropped and
counted when the tracker falls behind) and a guard condition wakes the processing group, which
runs :meth:`deepsort_ros.pipeline.tracking.TrackingPipeline.process` and publishes; the target
selection service and ``~/select_point`` run there too, serialised with tracking. The
diagnostics and TF timers have the third group.
"""

from collections import deque
import ctypes
import os
import sys
import threading
from typing import Any, Callable, Deque, List, Optional

from deepsort_ros.pipeline.diagnostics import DiagnosticsCollector
from deepsort_ros.pipeline.encoder import load_encoder
from deepsort_ros.pipeline.pairing import PairedFrame
from deepsort_ros.pipeline.tracking import TrackingPipeline
from deepsort_ros.ros.common.executor import NodeExecutor
from deepsort_ros.ros.common.lifecycle import run_node
from deepsort_ros.ros.common.parameters import SchemaParameters
from deepsort_ros.ros.common.services import destroy_entities, reset_handler
from deepsort_ros.ros.common.throttle import ThrottledLog
from deepsort_ros.ros.convert.detections import yolo_to_detection_array
from deepsort_ros.ros.convert.diagnostics import diagnostics_to_msg
from deepsort_ros.ros.tracker import target
from deepsort_ros.ros.tracker.extrinsic import ExtrinsicFromTf
from deepsort_ros.ros.tracker.outputs import TrackerOutputs
from deepsort_ros.ros.tracker.refusal import ConfigureRefusal
from deepsort_ros.settings import tracker as nc
from deepsort_ros_msgs.srv import SelectTarget
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from nav_msgs.msg import Odometry
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

# The pairing timeout is checked this often (as a fraction of detection_timeout, at most
# every PAIRING_CHECK_MIN_S): a lone detection array waits about detection_timeout * 1.2.
PAIRING_CHECK_FRACTION = 0.2
PAIRING_CHECK_MIN_S = 0.01
# One thread per callback group (input, processing, timers) and one for the default group's
# lifecycle and parameter services, so that no group waits for a thread.
EXECUTOR_THREADS = 4


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


class TrackerNode(SchemaParameters, LifecycleNode):
    """DeepSORT tracking of ``vision_msgs/Detection2DArray`` on camera images."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(nc.NODE_NAME, **kwargs)
        self._init_schema(nc.split_parameters, nc.unknown_parameter_text)
        self._declare_settings(nc.node_fields())
        self._declare_core_settings(nc.TRACKER_PREFIX, nc.tracker_fields(),
                                    nc.tracker_descriptions(), dynamic_typing=False)
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
        self._log = ThrottledLog(self.get_logger)
        self._diagnostics = DiagnosticsCollector()
        self._trim_heap = _heap_trimmer()
        self.config: Optional[nc.NodeConfig] = None
        self._refusal = ConfigureRefusal(
            self, self._timer_group, f'{self.get_fully_qualified_name().lstrip("/")}: tracking')
        self._extrinsic: Optional[ExtrinsicFromTf] = None
        # Tracks, galleries and the target are forgotten; identities keep counting up, so an
        # id a consumer saw before never names someone new.
        self._on_reset = reset_handler(
            lambda: self.pipeline.tracker if self.pipeline is not None else None,
            'tracks, galleries and target forgotten', 'the node is not configured')
        self._watch_parameters(nc.runtime_fields())
        for name in self._unknown_overrides():
            # rclpy ignores a -p or params-file value for a name the node never declares; say
            # so, with the name that was most likely meant (max_age -> tracker.max_age).
            self.get_logger().warning(f'{nc.unknown_parameter_text(name)} (ignored)')
        if self.get_parameter('autostart').value:
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()

    def _config_changed(self) -> None:
        if self.pipeline is not None:
            self.pipeline.config = self.config

    # ---- lifecycle --------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate parameters, load the encoder and build the pipeline."""
        self._refusal.stop()
        if self._refused_at_start:
            return self._refusal.refuse('invalid parameters: ' + '; '.join(
                self._refused_at_start.values()))
        try:
            config, tracker_config = nc.split_parameters(self._parameter_values())
        except ValueError as error:
            return self._refusal.refuse(f'invalid parameters: {error}')
        for name in nc.TOPIC_PARAMETERS + (('depth_topic',) if config.depth_topic else ()):
            try:
                self.resolve_topic_name(getattr(config, name))
            except Exception as error:  # noqa: B902 - rclpy raises RCLError, not a ValueError
                reason = str(error).split(', at /')[0]  # without rcl's source location
                return self._refusal.refuse(
                    f'invalid parameters: {name} {getattr(config, name)!r} is not a valid '
                    f'topic name: {reason}')
        if config.detections_type == 'yolo_msgs':
            try:
                import yolo_msgs.msg  # noqa: F401 - only whether it is there
            except ImportError:
                return self._refusal.refuse(
                    'detections_type is yolo_msgs but yolo_msgs cannot be imported: install '
                    "yolo_ros (or build this repository's third_party/yolo_msgs), or publish "
                    'vision_msgs/Detection2DArray with detections_type:=vision_msgs')
        try:
            encoder, encoder_name, encoder_device = load_encoder(config)
        except RuntimeError as error:
            return self._refusal.refuse(str(error))
        if encoder is not None:
            self.get_logger().info(
                f'Re-ID encoder: {encoder_name} on {encoder_device}')
        self._extrinsic = None
        if config.extrinsic_from_tf:
            try:
                import tf2_ros  # noqa: F401 - only whether it is there
            except ImportError:
                return self._refusal.refuse(
                    'extrinsic_from_tf is true but tf2_ros cannot be imported: install it '
                    '(ros-$ROS_DISTRO-tf2-ros) or set base_to_camera_xyz/rpy and '
                    'extrinsic_from_tf:=false')
            self._extrinsic = ExtrinsicFromTf(self, self._log)
        self.config = config
        self._diagnostics = DiagnosticsCollector(encoder_name, encoder_device,
                                                 config.ego_motion_mode)
        self.pipeline = TrackingPipeline(config, tracker_config, encoder, self._log,
                                         lambda: self.get_clock().now().nanoseconds)
        self._outputs = TrackerOutputs(self, config)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        return TransitionCallbackReturn.SUCCESS

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
        if self._extrinsic is not None:
            self._extrinsic.start(self._lookup_extrinsic, self._timer_group)
        self._diagnostics.topics = {
            stream: sub.topic_name for stream, sub in zip(
                ('image', 'detections', 'camera_info', 'odom'), self._input_subscriptions)}
        self.get_logger().info(
            f'listening to {image_sub.topic_name} ({image_sub.msg_type.__name__}), '
            f'{detections_sub.topic_name} ({detections_sub.msg_type.__module__.split(".")[0]}/'
            f'{detections_sub.msg_type.__name__}), '
            f'{self._input_subscriptions[2].topic_name} (CameraInfo), '
            f'{self._input_subscriptions[3].topic_name} (Odometry); publishing '
            f'{self._outputs.topics()}, /diagnostics; ego-motion: {config.ego_motion_mode}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, and drop the frames not tracked yet."""
        destroy_entities(self, self._input_subscriptions + [
            self._select_srv, self._reset_srv, self._diagnostics_timer, self._pairing_timer])
        self._input_subscriptions = []
        if self._extrinsic is not None:
            self._extrinsic.stop()
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
        self._outputs.destroy()
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
                    self._outputs.publish(result, self.config)
            except Exception as error:  # noqa: B902 - a bad frame must not stop the node
                self._skipped(pipeline, 'frame', error)

    def _skipped(self, pipeline: TrackingPipeline, kind: str, error: Exception) -> None:
        pipeline.stats.last_error = f'{type(error).__name__}: {error}'
        self._log('warn', f'{kind} message skipped: {pipeline.stats.last_error}',
                  key=f'{kind} skipped {type(error).__name__}')

    # ---- single-object mode (processing group: serialised with tracking) --------------------

    def _on_select_target(self, request: Any, response: Any) -> Any:
        return target.select_target(self.pipeline, request, response, self._log)

    def _on_select_point(self, msg: PointStamped) -> None:
        target.select_point(self.pipeline, msg, self._log)

    # ---- timer group: the extrinsic from TF (where tf2_ros exists), diagnostics ------------

    def _lookup_extrinsic(self) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            self._extrinsic.lookup(pipeline, self.config, self._diagnostics)

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
    return run_node(TrackerNode, lambda: NodeExecutor(num_threads=EXECUTOR_THREADS), args,
                    started=_warn_about_small_dds_segments)


if __name__ == '__main__':
    sys.exit(main())
