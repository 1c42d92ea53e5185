"""The camera extrinsic from TF, for the tracker node (where tf2_ros is installed)."""

import time
from typing import Any, Optional

from deepsort_ros.pipeline.diagnostics import DiagnosticsCollector
from deepsort_ros.pipeline.tracking import TrackingPipeline
from deepsort_ros.ros.convert.odometry import transform_to_xyz_quaternion
from deepsort_ros.ros.convert.stamps import stamp_to_ns
from deepsort_ros.settings.tracker import NodeConfig
from rclpy.time import Time

TF_LOOKUP_PERIOD_S = 1.0
# Until TF first answers: frames before that use base_to_camera_xyz/rpy, so keep them few.
TF_FIRST_LOOKUP_PERIOD_S = 0.1
TF_STALE_S = 5.0  # a stamped transform older than this has stopped coming


class ExtrinsicFromTf:
    """
    Look the camera optical frame up in the base frame, and hand it to the pipeline.

    Looked up every TF_FIRST_LOOKUP_PERIOD_S until TF first answers, then every
    TF_LOOKUP_PERIOD_S, so a moving mount (pan-tilt) is followed. Until TF answers,
    base_to_camera_xyz/rpy are used; when it stops answering, the last transform it gave is
    kept and diagnostics say since when (``extrinsic_source``).

    Parameters
    ----------
    node : rclpy.node.Node
        Whose clock, logger and TF listener.
    log : callable
        The node's throttled ``log(level, text, key)``.

    """

    def __init__(self, node: Any, log: Any) -> None:
        import tf2_ros  # the caller checked that it is there

        self._node = node
        self._log = log
        self._buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self._buffer, node)
        self._found_at: Optional[float] = None
        self._timer: Any = None

    def start(self, callback: Any, callback_group: Any) -> None:
        """Start looking up, calling ``callback()`` (which calls :meth:`lookup`) on a timer."""
        self._timer = self._node.create_timer(TF_FIRST_LOOKUP_PERIOD_S, callback,
                                              callback_group=callback_group)

    def stop(self) -> None:
        """Stop the timer (``deactivate``)."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None

    def lookup(self, pipeline: TrackingPipeline, config: NodeConfig,
               diagnostics: DiagnosticsCollector) -> None:
        """Look the extrinsic up once; set it on ``pipeline`` when TF answers."""
        base = config.base_frame_id or pipeline.base_frame
        camera = config.camera_frame_id or pipeline.camera_frame
        if not base or not camera:
            return  # the frames are named by the first odometry and image messages
        try:
            transform = self._buffer.lookup_transform(base, camera, Time())
            translation, quaternion = transform_to_xyz_quaternion(transform)
            # tf2 answers with the newest transform it has, however old: a dynamic one
            # (stamped; a static one has stamp 0) unheard of for TF_STALE_S has stopped.
            stamp_ns = stamp_to_ns(transform.header.stamp)
            age_s = (self._node.get_clock().now().nanoseconds - stamp_ns) * 1e-9
            if stamp_ns > 0 and age_s > TF_STALE_S:
                raise LookupError(f'the newest transform is {age_s:.1f} s old')
        except Exception as error:  # noqa: B902 - tf2 lookup errors are several classes
            if self._found_at is None:
                diagnostics.extrinsic_source = (
                    f'parameters base_to_camera_xyz/rpy (no TF {base} -> {camera} yet)')
                self._log('warn', f'no TF {base} -> {camera} yet ({error}); using '
                          'base_to_camera_xyz/rpy', key='tf missing')
            else:
                age = time.monotonic() - self._found_at
                diagnostics.extrinsic_source = (
                    f'TF {base} -> {camera} stale: last answered {age:.0f} s ago, kept')
                self._log('warn', f'TF {base} -> {camera} stopped answering ({error}); '
                          'keeping the last transform', key='tf stale')
            return
        if self._found_at is None:
            self._node.get_logger().info(f'camera extrinsic from TF {base} -> {camera}: '
                                         f'{translation.round(3).tolist()}')
        period_ns = int(TF_LOOKUP_PERIOD_S * 1e9)
        if self._timer.timer_period_ns != period_ns:
            self._timer.timer_period_ns = period_ns
        self._found_at = time.monotonic()
        diagnostics.extrinsic_source = f'TF {base} -> {camera}'
        pipeline.set_extrinsic(translation, quaternion)
