"""
Ego-motion: the camera's own motion between two frames, as a pixel homography, ROS-free.

From odometry (interpolated at image stamps, through the camera extrinsic) or from the images
themselves (sparse optical flow); :class:`EgoMotionEstimator` chooses. The geometry it uses
(poses, the camera model, homographies) is :mod:`deepsort_ros.geometry`.
"""

from deepsort_ros.ego_motion.estimator import (EgoMotionConfig, EgoMotionEstimator,
                                               EgoMotionResult, MODES)
from deepsort_ros.ego_motion.image_motion import ImageMotionConfig, ImageMotionEstimator
from deepsort_ros.ego_motion.odometry_buffer import OdometryBuffer, OdometryBufferConfig

__all__ = [
    'EgoMotionConfig',
    'EgoMotionEstimator',
    'EgoMotionResult',
    'ImageMotionConfig',
    'ImageMotionEstimator',
    'MODES',
    'OdometryBuffer',
    'OdometryBufferConfig',
]
