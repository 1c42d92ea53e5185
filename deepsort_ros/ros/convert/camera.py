"""
Camera calibration: ``sensor_msgs/CameraInfo`` to and from the ROS-free pinhole model.

The one adapter between the calibration message and
:class:`~deepsort_ros.geometry.camera_model.PinholeCamera` (image_geometry's
``fromCameraInfo``): the model itself imports no message.
"""

from typing import Any

from deepsort_ros.geometry.camera_model import PinholeCamera
import numpy as np
from sensor_msgs.msg import CameraInfo


def camera_info_to_camera(msg: Any) -> PinholeCamera:
    """
    Return the camera model of a ``sensor_msgs/CameraInfo``: K, D, P and the image size.

    Raises
    ------
    ValueError
        Saying why the message cannot be used: an all-zero K (an uncalibrated camera), focal
        lengths that are zero, negative or NaN, non-finite values, an unknown lens model.

    """
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if not k.any():
        raise ValueError('camera_info k is all zero (an uncalibrated camera)')
    try:
        return PinholeCamera(k, int(msg.width), int(msg.height),
                             np.asarray(msg.d, dtype=np.float64), str(msg.distortion_model),
                             np.asarray(msg.p, dtype=np.float64).reshape(3, 4))
    except ValueError as error:
        raise ValueError(f'camera_info: {error}') from None


def camera_to_camera_info(camera: PinholeCamera, header: Any) -> CameraInfo:
    """
    Build a ``sensor_msgs/CameraInfo`` of a camera model (R is the identity: one camera).

    Parameters
    ----------
    camera : PinholeCamera
        K, D, P and the image size.
    header : std_msgs/Header
        Stamp and optical frame of the images the camera took.

    """
    msg = CameraInfo()
    msg.header = header
    msg.width, msg.height = camera.width, camera.height
    msg.distortion_model = camera.distortion_model
    msg.d = camera.distortion.tolist()
    msg.k = camera.matrix.reshape(9).tolist()
    msg.r = np.eye(3).reshape(9).tolist()
    msg.p = camera.projection.reshape(12).tolist()
    return msg
