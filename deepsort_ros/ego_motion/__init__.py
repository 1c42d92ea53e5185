"""
Ego-motion maths: the camera's own motion between frames, as a pixel map, ROS-free.

Inputs are plain numpy arrays and float seconds; the node converts messages (Odometry,
CameraInfo, tf) before calling in. Nothing here imports rclpy, message types or torch.
"""

from deepsort_ros.ego_motion.camera_geometry import (camera_motion, ground_plane_in_camera,
                                                     make_extrinsic, plane_homography,
                                                     rotation_homography)
from deepsort_ros.ego_motion.ego_motion import (EgoMotionConfig, EgoMotionEstimator,
                                                EgoMotionResult)
from deepsort_ros.ego_motion.ground_projection import (GroundProjectionConfig, GroundTracks,
                                                       image_to_ground,
                                                       project_tracks_to_ground,
                                                       propagate_to_ground)
from deepsort_ros.ego_motion.image_motion import ImageMotionConfig, ImageMotionEstimator
from deepsort_ros.ego_motion.odometry_buffer import OdometryBuffer, OdometryBufferConfig
from deepsort_ros.ego_motion.pose import Pose

__all__ = [
    'camera_motion',
    'EgoMotionConfig',
    'EgoMotionEstimator',
    'EgoMotionResult',
    'ground_plane_in_camera',
    'GroundProjectionConfig',
    'GroundTracks',
    'image_to_ground',
    'ImageMotionConfig',
    'ImageMotionEstimator',
    'make_extrinsic',
    'OdometryBuffer',
    'OdometryBufferConfig',
    'plane_homography',
    'Pose',
    'project_tracks_to_ground',
    'propagate_to_ground',
    'rotation_homography',
]
