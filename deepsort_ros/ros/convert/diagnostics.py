"""
Diagnostics: a node's report as one status of a ``diagnostic_msgs/DiagnosticArray``.

The report (level, message, key/value pairs) is gathered without ROS by
:class:`~deepsort_ros.ros.diagnostics.DiagnosticReport`; only its message is made here.
"""

from deepsort_ros.pipeline.diagnostics import DiagnosticReport
from deepsort_ros.ros.convert.stamps import make_header
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


def diagnostics_to_msg(name: str, report: DiagnosticReport, stamp_ns: int) -> DiagnosticArray:
    """
    Build a ``diagnostic_msgs/DiagnosticArray`` of one status.

    Parameters
    ----------
    name : str
        The status name (``'<node>: tracking'``).
    report : DiagnosticReport
        Level, message, hardware id and key/value pairs.
    stamp_ns : int
        Stamp of the array, integer nanoseconds.

    """
    status = DiagnosticStatus(name=name, message=report.message,
                              hardware_id=report.hardware_id,
                              level=getattr(DiagnosticStatus, report.level.name))
    status.values = [KeyValue(key=key, value=value) for key, value in report.values]
    return DiagnosticArray(header=make_header(stamp_ns, ''), status=[status])
