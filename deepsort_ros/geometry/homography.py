"""
Camera motion between two frames and the pixel maps (homographies) it induces.

Frames: the camera optical frame has z forward, x right, y down; the robot base frame
(REP 103) has x forward, y left, z up; the world frame is the odometry frame, z up. The
extrinsic is the pose of the camera optical frame in the base frame.

Plane convention: a plane is ``{X : n . X = d}`` in camera-a coordinates, with ``n`` the unit
normal pointing from the camera towards the plane and ``d > 0`` the camera's distance to it
(for the ground seen by an upright camera, ``n`` points down). With that convention the
plane-induced homography from camera a to camera b is ``H = K (R_ba + t_ba n^T / d) K^-1``.
It is the textbook ``K (R - t n^T / d) K^-1`` with the normal flipped to point towards the
camera; tests check the sign by projecting ground points through both cameras.
"""

from typing import Optional, Tuple

from deepsort_ros.geometry.pose import Pose
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

# |H[2, 2]| below this cannot be normalised to 1 (the homography maps the principal point to
# infinity, which no real camera motion between consecutive frames does).
MIN_HOMOGRAPHY_SCALE = 1e-12


def make_extrinsic(translation_xyz: npt.ArrayLike,
                   rotation_rpy: Optional[npt.ArrayLike] = None,
                   quaternion_xyzw: Optional[npt.ArrayLike] = None) -> Pose:
    """
    Build the pose of the camera optical frame in the base frame.

    Parameters
    ----------
    translation_xyz : array_like
        3 vector, optical-frame origin in the base frame (m).
    rotation_rpy : array_like, optional
        3 angles (roll, pitch, yaw) in radians, fixed-axis x-y-z as in ROS/tf
        (``R = Rz(yaw) Ry(pitch) Rx(roll)``), rotating base axes onto optical axes.
    quaternion_xyzw : array_like, optional
        4 quaternion (x, y, z, w) of the same rotation; give exactly one of the two.

    Returns
    -------
    Pose
        The extrinsic, mapping optical-frame points to base-frame points.

    Raises
    ------
    ValueError
        When both or neither rotation forms are given, or a shape is wrong.

    Notes
    -----
    A camera looking straight ahead has optical z = base x, optical x = -base y and
    optical y = -base z: ``rotation_rpy = (-pi/2, 0, -pi/2)``, quaternion
    ``(-0.5, 0.5, -0.5, 0.5)``.

    """
    if (rotation_rpy is None) == (quaternion_xyzw is None):
        raise ValueError('give exactly one of rotation_rpy and quaternion_xyzw')
    if rotation_rpy is not None:
        rpy = np.asarray(rotation_rpy, dtype=np.float64).reshape(-1)
        if rpy.shape != (3,):
            raise ValueError(f'rotation_rpy must have 3 elements, got {rpy.shape}')
        # Lower-case 'xyz' is scipy's extrinsic (fixed-axis) convention, the same as tf's RPY.
        rotation = Rotation.from_euler('xyz', rpy).as_matrix()
    else:
        quaternion = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(-1)
        if quaternion.shape != (4,):
            raise ValueError(f'quaternion_xyzw must have 4 elements, got {quaternion.shape}')
        if not np.isfinite(quaternion).all() or np.linalg.norm(quaternion) == 0.0:
            raise ValueError('quaternion_xyzw must be finite and non-zero')
        rotation = Rotation.from_quat(quaternion).as_matrix()
    return Pose(rotation, translation_xyz)


def camera_motion(pose_world_base_a: Pose, pose_world_base_b: Pose,
                  base_to_camera: Pose) -> Tuple[npt.NDArray[np.float64],
                                                 npt.NDArray[np.float64]]:
    """
    Rigid motion from the camera at time a to the camera at time b.

    Parameters
    ----------
    pose_world_base_a : Pose
        Base in the world frame at time a (previous frame).
    pose_world_base_b : Pose
        Base in the world frame at time b (current frame).
    base_to_camera : Pose
        Extrinsic: camera optical frame in the base frame.

    Returns
    -------
    rotation_ba : numpy.ndarray
        3x3 ``R_ba`` with ``X_b = R_ba X_a + t_ba`` for a static point X.
    translation_ba : numpy.ndarray
        3 vector ``t_ba`` (m, in camera-b coordinates).

    """
    camera_a = pose_world_base_a.compose(base_to_camera)
    camera_b = pose_world_base_b.compose(base_to_camera)
    # X_w = R_a X_a + t_a = R_b X_b + t_b  =>  X_b = R_b^T R_a X_a + R_b^T (t_a - t_b).
    rotation_ba = camera_b.rotation.T @ camera_a.rotation
    translation_ba = camera_b.rotation.T @ (camera_a.translation - camera_b.translation)
    return rotation_ba, translation_ba


def _check_intrinsics(intrinsics: npt.ArrayLike) -> npt.NDArray[np.float64]:
    matrix = np.asarray(intrinsics, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise ValueError(f'K must be 3x3, got shape {matrix.shape}')
    if not np.isfinite(matrix).all() or abs(np.linalg.det(matrix)) == 0.0:
        raise ValueError('K must be finite and invertible')
    return matrix


def _normalise(homography: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    scale = homography[2, 2]
    if abs(scale) < MIN_HOMOGRAPHY_SCALE:
        raise ValueError('homography has H[2, 2] = 0 and cannot be normalised')
    return homography / scale


def rotation_homography(intrinsics: npt.ArrayLike,
                        rotation_ba: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """
    Pixel map of a pure camera rotation (exact for any point, or for points at infinity).

    Parameters
    ----------
    intrinsics : array_like
        3x3 camera matrix K.
    rotation_ba : array_like
        3x3 rotation from camera a to camera b.

    Returns
    -------
    numpy.ndarray
        3x3 ``H = K R_ba K^-1`` scaled so that ``H[2, 2] = 1``; maps homogeneous pixels of
        frame a to frame b.

    """
    matrix = _check_intrinsics(intrinsics)
    rotation = np.asarray(rotation_ba, dtype=np.float64)
    if rotation.shape != (3, 3):
        raise ValueError(f'rotation_ba must be 3x3, got shape {rotation.shape}')
    return _normalise(matrix @ rotation @ np.linalg.inv(matrix))


def plane_homography(intrinsics: npt.ArrayLike, rotation_ba: npt.ArrayLike,
                     translation_ba: npt.ArrayLike, normal_a: npt.ArrayLike,
                     distance_a: float) -> npt.NDArray[np.float64]:
    """
    Pixel map induced by a plane, from frame a to frame b.

    Parameters
    ----------
    intrinsics : array_like
        3x3 camera matrix K (the same camera at both times).
    rotation_ba : array_like
        3x3 rotation with ``X_b = R_ba X_a + t_ba``.
    translation_ba : array_like
        3 vector ``t_ba`` (m).
    normal_a : array_like
        3 unit normal of the plane in camera-a coordinates, pointing from the camera towards
        the plane; normalised here.
    distance_a : float
        Distance from camera a to the plane (m), > 0; the plane is ``n . X_a = d``.

    Returns
    -------
    numpy.ndarray
        3x3 ``H = K (R_ba + t_ba n^T / d) K^-1`` scaled so that ``H[2, 2] = 1``.

    Raises
    ------
    ValueError
        When a shape is wrong, the normal is zero or the distance is not positive.

    """
    matrix = _check_intrinsics(intrinsics)
    rotation = np.asarray(rotation_ba, dtype=np.float64)
    translation = np.asarray(translation_ba, dtype=np.float64).reshape(-1)
    normal = np.asarray(normal_a, dtype=np.float64).reshape(-1)
    if rotation.shape != (3, 3):
        raise ValueError(f'rotation_ba must be 3x3, got shape {rotation.shape}')
    if translation.shape != (3,) or normal.shape != (3,):
        raise ValueError('translation_ba and normal_a must have 3 elements')
    norm = float(np.linalg.norm(normal))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError('normal_a must be finite and non-zero')
    if not np.isfinite(distance_a) or distance_a <= 0.0:
        raise ValueError(f'distance_a must be > 0 m, got {distance_a}')
    # For X_a on the plane, n.X_a / d = 1, so X_b = R X_a + t = (R + t n^T / d) X_a.
    euclidean = rotation + np.outer(translation, normal / norm) / float(distance_a)
    return _normalise(matrix @ euclidean @ np.linalg.inv(matrix))


def ground_plane_in_camera(pose_world_camera: Pose,
                           ground_height: float) -> Tuple[npt.NDArray[np.float64], float]:
    """
    Express the world ground plane ``z = ground_height`` in camera coordinates.

    Parameters
    ----------
    pose_world_camera : Pose
        Camera optical frame in the world frame.
    ground_height : float
        Height of the ground plane in the world frame (m).

    Returns
    -------
    normal_cam : numpy.ndarray
        3 unit normal in camera coordinates pointing down (from a camera above the ground
        towards it).
    distance : float
        Camera height above the plane (m); the plane is ``normal_cam . X_cam = distance``.
        Zero or negative when the camera is on or below the plane, which
        :func:`plane_homography` rejects.

    """
    # World down (0, 0, -1) in camera axes is -R^T e_z, i.e. minus the third row of R.
    normal_cam = -pose_world_camera.rotation[2, :].copy()
    distance = float(pose_world_camera.translation[2] - ground_height)
    return normal_cam, distance
