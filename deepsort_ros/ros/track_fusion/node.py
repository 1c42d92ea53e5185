"""
The multi-camera fusion node (``track_fusion``): every camera's tracks in, global identities out.

A lifecycle (managed) node like the tracker: ``configure`` validates the parameters
(:mod:`deepsort_ros.settings.fusion`, documented in ``config/fusion.yaml``) and builds
the :class:`~deepsort_ros.pipeline.fusion.FusionPipeline`, ``activate`` subscribes to
each camera's ``TrackAppearanceArray`` and ``TrackArray`` topics, ``deactivate`` stops. With
``autostart`` (the default) it configures and activates itself.

The node is thin: a ``TrackArray`` callback hands the message, its publisher and its arrival
time on the node's clock to the pipeline and publishes the ``GlobalTrackArray`` it returns on
``~/global_tracks``, with RViz markers on ``~/markers``. One callback group serialises every
camera's updates, as the fusion takes them one at a time. Camera world frames other than the
fusion's are looked up in TF (where tf2_ros is installed), else taken from the camera's
``world_pose`` parameter.
"""

from dataclasses import fields
import sys
from typing import Any, Callable, Dict, List, Optional

from deepsort_ros.fusion.world_frames import PlanarTransform
from deepsort_ros.pipeline.fusion import FusionPipeline
from deepsort_ros.pipeline.fusion_diagnostics import fusion_report
from deepsort_ros.ros.common.lifecycle import run_node
from deepsort_ros.ros.common.parameters import descriptor, SchemaParameters
from deepsort_ros.ros.common.services import destroy_entities, reset_handler
from deepsort_ros.ros.common.throttle import ThrottledLog
from deepsort_ros.ros.convert.diagnostics import diagnostics_to_msg
from deepsort_ros.ros.convert.odometry import transform_to_xyz_quaternion
from deepsort_ros.ros.display.markers import GlobalMarkerBuilder
from deepsort_ros.settings import fusion as fp
from deepsort_ros_msgs.msg import GlobalTrackArray, TrackAppearanceArray, TrackArray
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.time import Time
from std_srvs.srv import Trigger
from visualization_msgs.msg import MarkerArray

# Tracks and appearances are small and every one counts: reliable, a few frames deep.
INPUT_DEPTH = 20


def _sender(info: Any) -> str:
    """Return who published a message: its publisher's GID (hex), '' when unknown."""
    gid = info.get('publisher_gid') if isinstance(info, dict) else None
    data = gid.get('data') if isinstance(gid, dict) else None
    return bytes(data).hex() if data else ''


class FusionNode(SchemaParameters, LifecycleNode):
    """Global identities over many cameras' ``deepsort_ros_msgs/TrackArray`` topics."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fp.NODE_NAME, **kwargs)
        self._init_schema(fp.split_parameters, fp.unknown_parameter_text)
        self._declare_parameters()
        self.pipeline: Optional[FusionPipeline] = None
        self.config: Optional[fp.FusionNodeConfig] = None
        self._group = MutuallyExclusiveCallbackGroup()
        self._camera_subscriptions: List[Any] = []
        self._log = ThrottledLog(self.get_logger)
        self._tf_buffer = None
        # In the inputs' callback group: never in the middle of a fusion step. The cameras'
        # cached appearances stay: they describe camera tracks that still live.
        self._on_reset = reset_handler(
            lambda: self.pipeline.fusion if self.pipeline is not None else None,
            'global tracks and galleries forgotten', 'the node is not active')
        self._watch_parameters(fp.runtime_fields())
        if self.get_parameter('autostart').value:
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()

    # ---- parameters -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        settings = fields(fp.FusionNodeConfig)
        # No default for the cameras: they are the deployment's (config/rig_*.yaml).
        self._declare('cameras', Parameter.Type.STRING_ARRAY,
                      descriptor(next(f for f in settings if f.name == 'cameras')))
        self._declare_settings(f for f in settings if f.name != 'cameras')
        cameras = self._parameters['cameras'].value or []  # None when not given
        for camera in cameras:
            for name, description in fp.CAMERA_PARAMETERS.items():
                kind = Parameter.Type.DOUBLE_ARRAY if name == 'world_pose' \
                    else Parameter.Type.STRING
                self._declare(fp.camera_parameter(camera, name), kind,
                              ParameterDescriptor(description=description, read_only=True))
        # Dynamically typed: a YAML 2 for a float setting is taken (FusionConfig checks).
        self._declare_core_settings(fp.FUSION_PREFIX, fp.fusion_fields(),
                                    fp.fusion_descriptions(), dynamic_typing=True)

    def _parameter_values(self, overrides: Optional[List[Any]] = None) -> Dict[str, Any]:
        values = super()._parameter_values(overrides)
        for name in self._unknown_overrides():
            values[name] = self._parameter_overrides[name].value  # undeclared: refused
        return values

    # ---- lifecycle --------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate the parameters and build the fusion."""
        try:
            if self._refused_at_start:
                raise ValueError('; '.join(self._refused_at_start.values()))
            config, cameras, fusion_config = fp.split_parameters(self._parameter_values())
        except ValueError as error:
            self.get_logger().error(f'invalid parameters: {error}')
            return TransitionCallbackReturn.FAILURE
        lookup: Optional[Callable[[str, str], PlanarTransform]] = None
        if config.use_tf:
            try:
                import tf2_ros
            except ImportError:
                self.get_logger().warning(
                    'use_tf is true but tf2_ros cannot be imported: camera world frames other '
                    "than the fusion's need camera.<name>.world_pose")
            else:
                self._tf_buffer = tf2_ros.Buffer()
                self._tf_listener = tf2_ros.TransformListener(self._tf_buffer, self)
                lookup = self._lookup_transform
        self.config = config
        self.pipeline = FusionPipeline(config, cameras, fusion_config, self._log, lookup)
        self._markers = GlobalMarkerBuilder()
        self._global_pub = self.create_lifecycle_publisher(GlobalTrackArray,
                                                           '~/global_tracks', 10)
        self._markers_pub = self.create_lifecycle_publisher(MarkerArray, '~/markers', 10)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to every camera's appearances and tracks."""
        self._camera_subscriptions = []
        for camera in self.pipeline.cameras.values():
            # Appearances first: of two messages waiting, the executor takes the one of the
            # earlier subscription, so a new track's feature comes before its TrackArray.
            self._camera_subscriptions.append(self.create_subscription(
                TrackAppearanceArray, camera.appearances_topic,
                self._appearances_callback(camera.name), INPUT_DEPTH,
                callback_group=self._group))
            self._camera_subscriptions.append(self.create_subscription(
                TrackArray, camera.tracks_topic, self._tracks_callback(camera.name),
                INPUT_DEPTH, callback_group=self._group))
        # On the steady clock: a ROS timer under use_sim_time waits for /clock.
        self._diagnostics_timer = self.create_timer(
            self.config.diagnostics_period, self._publish_diagnostics,
            callback_group=self._group, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._reset_srv = self.create_service(Trigger, '~/reset', self._on_reset,
                                              callback_group=self._group)
        self.get_logger().info(
            'fusing ' + ', '.join(f'{c.name} ({self._resolved(c.tracks_topic)})'
                                  for c in self.pipeline.cameras.values())
            + f'; publishing {self._global_pub.topic_name}, {self._markers_pub.topic_name}, '
            f'/diagnostics; world frame {self.config.world_frame_id or "(first camera)"}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe."""
        destroy_entities(self, self._camera_subscriptions + [self._diagnostics_timer,
                                                             self._reset_srv])
        self._camera_subscriptions = []
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Forget the fusion."""
        self.pipeline = None
        for pub in (self._global_pub, self._markers_pub):
            self.destroy_lifecycle_publisher(pub)
        self.destroy_publisher(self._diagnostics_pub)
        return TransitionCallbackReturn.SUCCESS

    # ---- callbacks: convert -> fuse -> convert -> publish ----------------------------------

    def _appearances_callback(self, camera: str) -> Callable[[Any], None]:
        def callback(msg: TrackAppearanceArray) -> None:
            pipeline = self.pipeline
            if pipeline is None:
                return
            try:
                pipeline.add_appearances(camera, msg, self._arrival_s())
            except Exception as error:  # noqa: B902 - a bad message must not stop the node
                self._skipped(camera, 'appearances', error)
        return callback

    def _tracks_callback(self, camera: str) -> Callable[[Any, Any], None]:
        def callback(msg: TrackArray, info: Any) -> None:
            pipeline = self.pipeline
            if pipeline is None:
                return
            try:
                global_tracks = pipeline.add_tracks(camera, msg, _sender(info),
                                                    self._arrival_s())
            except Exception as error:  # noqa: B902 - a bad message must not stop the node
                self._skipped(camera, 'tracks', error)
                return
            if global_tracks is None:
                return
            self._global_pub.publish(global_tracks)
            if self.config.publish_markers:
                self._markers_pub.publish(self._markers.build(global_tracks))
        return callback

    def _arrival_s(self) -> Optional[float]:
        if not self.config.use_arrival_time:
            return None
        return self.get_clock().now().nanoseconds * 1e-9

    def _lookup_transform(self, target: str, source: str) -> PlanarTransform:
        try:
            transform = self._tf_buffer.lookup_transform(target, source, Time())
        except Exception as error:  # noqa: B902 - tf2 raises several exception classes
            raise LookupError(str(error)) from None
        translation, quaternion = transform_to_xyz_quaternion(transform)
        return PlanarTransform.from_xyz_quaternion(translation, quaternion)

    def _skipped(self, camera: str, kind: str, error: Exception) -> None:
        self._log('warn', f'camera {camera}: {kind} message skipped: '
                  f'{type(error).__name__}: {error}', f'{camera} {kind} skipped')

    def _resolved(self, topic: str) -> str:
        try:
            return self.resolve_topic_name(topic)
        except Exception:  # noqa: B902 - rclpy raises RCLError for an invalid name
            return topic

    def _publish_diagnostics(self) -> None:
        if self.pipeline is None:
            return
        self._diagnostics_pub.publish(diagnostics_to_msg(
            f'{self.get_name()}: fusion', fusion_report(self.pipeline),
            self.get_clock().now().nanoseconds))


def main(args: Optional[List[str]] = None) -> int:
    """Run the fusion node until shutdown (Ctrl-C), also when Ctrl-C comes during start-up."""
    return run_node(FusionNode, SingleThreadedExecutor, args)


if __name__ == '__main__':
    sys.exit(main())
