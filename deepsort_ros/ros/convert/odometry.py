"""
Poses: ``nav_msgs/Odometry`` and ``geometry_msgs/Transform`` as position and quaternion arrays.

Reading checks what it reads: a pose that is not finite or has a zero quaternion raises
``ValueError`` (the caller counts it), and quaternions come back normalised.
"""

from dataclasses import dataclass
from typing import Any, Sequence, Tuple

from deepsort_ros.ros.convert.stamps import stamp_to_ns
from nav_msgs.msg import Odometry
import numpy as np
import numpy.typing as npt


def transform_to_xyz_quaternion(transform: Any) -> Tuple[npt.NDArray[np.float64],
                                                         npt.NDArray[np.float64]]:
    """
    Return a ``geometry_msgs/Transform`` (or ``TransformStamped``) as arrays.

    Returns
    -------
    translation : ndarray, shape (3,)
        Metres.
    quaternion_xyzw : ndarray, shape (4,)
        Unit quaternion.

    Raises
    ------
    ValueError
        When a value is not finite or the quaternion is zero.

    """
    transform = getattr(transform, 'transform', transform)
    t, q = transform.translation, transform.rotation
    return _checked_pose([t.x, t.y, t.z], [q.x, q.y, q.z, q.w], 'transform')


@dataclass(frozen=True, eq=False)
class OdometryPose:
    """
    The pose of a ``nav_msgs/Odometry``: the base in the odometry frame at a stamp.

    Attributes
    ----------
    stamp_ns : int
    frame_id : str
        The odometry (world) frame.
    child_frame_id : str
        The base frame.
    position_xyz : ndarray, shape (3,)
        Metres.
    orientation_xyzw : ndarray, shape (4,)
        Unit quaternion.

    """

    stamp_ns: int
    frame_id: str
    child_frame_id: str
    position_xyz: npt.NDArray[np.float64]
    orientation_xyzw: npt.NDArray[np.float64]


def odometry_to_pose(msg: Any) -> OdometryPose:
    """
    Read the pose of a ``nav_msgs/Odometry``.

    Raises
    ------
    ValueError
        When the pose is not finite or its quaternion is zero.

    """
    pose = msg.pose.pose
    p, q = pose.position, pose.orientation
    position, orientation = _checked_pose([p.x, p.y, p.z], [q.x, q.y, q.z, q.w], 'odometry')
    return OdometryPose(stamp_to_ns(msg.header.stamp), msg.header.frame_id,
                        getattr(msg, 'child_frame_id', ''), position, orientation)


def pose_to_odometry(header: Any, child_frame_id: str, position_xyz: npt.ArrayLike,
                     orientation_xyzw: npt.ArrayLike,
                     angular_velocity_xyz: npt.ArrayLike = (0.0, 0.0, 0.0)) -> Odometry:
    """
    Build a ``nav_msgs/Odometry`` of a base pose (covariances left zero: unknown).

    Parameters
    ----------
    header : std_msgs/Header
        Stamp and odometry frame.
    child_frame_id : str
        The base frame.
    position_xyz : array_like, shape (3,)
        Metres.
    orientation_xyzw : array_like, shape (4,)
        Quaternion.
    angular_velocity_xyz : array_like, shape (3,)
        Rad/s, in the base frame.

    """
    msg = Odometry(header=header, child_frame_id=child_frame_id)
    position, orientation = msg.pose.pose.position, msg.pose.pose.orientation
    position.x, position.y, position.z = (float(v) for v in position_xyz)
    orientation.x, orientation.y, orientation.z, orientation.w = (
        float(v) for v in orientation_xyzw)
    angular = msg.twist.twist.angular
    angular.x, angular.y, angular.z = (float(v) for v in angular_velocity_xyz)
    return msg


def _checked_pose(position: Sequence[float], quaternion: Sequence[float], what: str
                  ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    translation = np.array(position, dtype=np.float64)
    rotation = np.array(quaternion, dtype=np.float64)
    if not (np.isfinite(translation).all() and np.isfinite(rotation).all()) or \
            np.linalg.norm(rotation) < 1e-9:
        raise ValueError(f'{what} is not finite or has a zero quaternion: {translation}, '
                         f'{rotation}')
    return translation, rotation / np.linalg.norm(rotation)
