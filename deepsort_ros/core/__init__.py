"""
The ROS-free DeepSORT tracker core: numpy and scipy only (no rclpy, messages or torch).

``Tracker(TrackerConfig(...)).update(boxes_tlwh, scores, class_ids, features, timestamp)``
returns one :class:`TrackOutput` per track. One module per concept, as in nwojke/deep_sort:
``config`` (every threshold), ``detections`` (input checks), ``kalman_filter`` (on the algebra
of ``kalman_algebra``, which the ground-plane filter shares), ``matching`` (costs and
assignment), ``association`` (the three stages), ``lifecycle`` (predict, update, confirm,
start, delete), ``track_table`` (the stacked state, on ``growable``'s slots, which the global
table shares), ``lost_gallery`` and ``relink`` (re-identification), ``target`` (single-object
mode, on the galleries of ``target_evidence``), ``clock`` (clocks that jump), ``counters``,
``labels`` (detector labels as class ids), ``report`` (the output records), ``tracker`` (the
update, a short list of those steps).
"""

from deepsort_ros.core.boxes import cxcywh_to_tlbr, cxcywh_to_tlwh, tlwh_to_cxcywh
from deepsort_ros.core.clock import Admission, ClockGate
from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.counters import TrackerCounters
from deepsort_ros.core.kalman_filter import KalmanFilterCV
from deepsort_ros.core.target import TargetStatus
from deepsort_ros.core.track_state import TrackOutput, TrackState
from deepsort_ros.core.tracker import Tracker

__all__ = ['Admission', 'ClockGate', 'Tracker', 'TrackerConfig', 'TrackerCounters',
           'TrackOutput', 'TrackState', 'TargetStatus', 'KalmanFilterCV', 'tlwh_to_cxcywh',
           'cxcywh_to_tlwh', 'cxcywh_to_tlbr']
