"""
The ROS-free DeepSORT tracker core: numpy and scipy only (no rclpy, messages or torch).

``Tracker(TrackerConfig(...)).update(boxes_tlwh, scores, class_ids, features, timestamp)``
returns one :class:`TrackOutput` per track.
"""

from deepsort_ros.core.boxes import cxcywh_to_tlbr, cxcywh_to_tlwh, tlwh_to_cxcywh
from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.kalman_filter import KalmanFilterCV
from deepsort_ros.core.track_state import TargetStatus, TrackOutput, TrackState
from deepsort_ros.core.tracker import Tracker

__all__ = ['Tracker', 'TrackerConfig', 'TrackOutput', 'TrackState', 'TargetStatus',
           'KalmanFilterCV', 'tlwh_to_cxcywh', 'cxcywh_to_tlwh', 'cxcywh_to_tlbr']
