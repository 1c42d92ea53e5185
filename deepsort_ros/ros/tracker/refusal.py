"""A tracker node that could not configure says why, in its log and on ``/diagnostics``."""

import time
from typing import Any, Optional

from deepsort_ros.pipeline.diagnostics import DiagnosticReport, Level
from deepsort_ros.ros.common.throttle import LOG_THROTTLE_S
from deepsort_ros.ros.convert.diagnostics import diagnostics_to_msg
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import TransitionCallbackReturn

REFUSAL_REPORT_PERIOD_S = 1.0  # /diagnostics ERROR of a node that could not configure


class ConfigureRefusal:
    """
    Fail ``configure`` loudly: log the reason now and every LOG_THROTTLE_S, and publish it.

    A node that could not configure has no topics of its own; without this it would idle in
    silence. ``/diagnostics`` carries an ERROR with the reason every REFUSAL_REPORT_PERIOD_S
    until a later ``configure`` succeeds (:meth:`stop`).

    Parameters
    ----------
    node : rclpy.node.Node
    callback_group : rclpy.callback_groups.CallbackGroup
        Of the report's timer.
    status_name : str
        The diagnostics status name (``<node>: tracking``).

    """

    def __init__(self, node: Any, callback_group: Any, status_name: str) -> None:
        self._node = node
        self._group = callback_group
        self._status_name = status_name
        self._reason: Optional[str] = None  # why configure failed, while it is reported
        self._reported = 0.0
        self._pub: Any = None
        self._timer: Any = None

    def refuse(self, reason: str) -> TransitionCallbackReturn:
        """Log and start reporting ``reason``; return the failed transition."""
        self._node.get_logger().error(reason)
        self._reason = reason
        self._reported = time.monotonic()
        self._pub = self._node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._timer = self._node.create_timer(
            REFUSAL_REPORT_PERIOD_S, self._report, callback_group=self._group,
            clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._report()
        return TransitionCallbackReturn.FAILURE

    def stop(self) -> None:
        """Stop reporting (a new ``configure`` begins)."""
        if self._reason is None:
            return
        self._reason = None
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._pub)

    def _report(self) -> None:
        reason = self._reason
        if reason is None:
            return
        if time.monotonic() - self._reported >= LOG_THROTTLE_S:
            self._reported = time.monotonic()
            self._node.get_logger().error(f'not configured: {reason}')
        report = DiagnosticReport(Level.ERROR, reason, 'none',
                                  (('state', 'unconfigured'), ('reason', reason)))
        self._pub.publish(diagnostics_to_msg(self._status_name, report,
                                             self._node.get_clock().now().nanoseconds))
