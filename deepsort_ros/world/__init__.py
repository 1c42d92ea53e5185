"""
World state of tracks, ROS-free: where a navigation stack reads them from.

:class:`GroundTrackFilter` estimates each track's ground position and velocity, with a
covariance calibrated against ground truth (``bench/bench_world.py``);
:func:`depth_positions` places them from a registered depth image where the robot has one.
"""

from deepsort_ros.world.depth import decode_depth, depth_positions, DepthConfig, DepthPositions
from deepsort_ros.world.ground_filter import GroundFilterConfig, GroundTrackFilter

__all__ = ['decode_depth', 'depth_positions', 'DepthConfig', 'DepthPositions',
           'GroundFilterConfig', 'GroundTrackFilter']
