"""
Camera geometry, ROS-free: rigid poses, the pinhole camera model, homographies, the ground.

Used by ego-motion (the pixel map of a camera motion), the pipeline (world positions of
tracks on the ground plane) and the virtual cameras of :mod:`deepsort_ros.sim`.
"""

from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.ground_projection import (ground_tracks, GroundProjectionConfig,
                                                     GroundTracks, image_to_ground,
                                                     project_tracks_to_ground,
                                                     propagate_to_ground)
from deepsort_ros.geometry.homography import (camera_motion, ground_plane_in_camera,
                                              make_extrinsic, plane_homography,
                                              rotation_homography)
from deepsort_ros.geometry.pose import Pose

__all__ = [
    'camera_motion',
    'ground_plane_in_camera',
    'ground_tracks',
    'GroundProjectionConfig',
    'GroundTracks',
    'image_to_ground',
    'make_extrinsic',
    'plane_homography',
    'PinholeCamera',
    'Pose',
    'project_tracks_to_ground',
    'propagate_to_ground',
    'rotation_homography',
]
