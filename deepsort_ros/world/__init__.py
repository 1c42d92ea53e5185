"""
World state of tracks, ROS-free: where a navigation stack reads them from.

:class:`GroundTrackFilter` estimates each track's ground position and velocity, with a
covariance calibrated against ground truth (``bench/bench_world.py``).
"""

from deepsort_ros.world.ground_filter import GroundFilterConfig, GroundTrackFilter

__all__ = ['GroundFilterConfig', 'GroundTrackFilter']
