"""
Pixels to points on the world ground plane, vectorised over tracks.

Each pixel's viewing ray is intersected with the plane ``z = ground_height`` of the world
(odometry) frame. The node passes the bottom-centre of each track box as its ground contact
point, rectified first through the camera model when the lens distorts. The Jacobian of the
map carries image-plane uncertainty and velocity to the ground. :func:`ground_tracks` does it
all for a tracker's output: the one place where a track gets its world estimate.
"""

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.pose import Pose
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class GroundProjectionConfig:
    """
    Settings of :func:`image_to_ground`.

    Attributes
    ----------
    max_range : float
        Metres: intersections farther than this from the camera (horizontally) are invalid;
        near the horizon a pixel of error is many metres on the ground.
    min_ray_descent : float
        Smallest downward z component of the unit viewing ray in the world frame; rays
        flatter than this (at or above the horizon) are invalid.

    """

    max_range: float = 100.0
    min_ray_descent: float = 1e-3

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        if not np.isfinite(self.max_range) or self.max_range <= 0.0:
            raise ValueError(f'max_range must be finite and > 0 m, got {self.max_range}')
        if not 0.0 < self.min_ray_descent < 1.0:
            raise ValueError(
                f'min_ray_descent must be in (0, 1), got {self.min_ray_descent}')


def image_to_ground(intrinsics: npt.ArrayLike, pose_world_camera: Pose, ground_height: float,
                    points_uv: npt.ArrayLike,
                    config: Optional[GroundProjectionConfig] = None
                    ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                               npt.NDArray[np.bool_]]:
    """
    Intersect the viewing rays of pixels with the ground plane.

    Parameters
    ----------
    intrinsics : array_like
        3x3 camera matrix K (pixels of a rectified image).
    pose_world_camera : Pose
        Camera optical frame in the world frame.
    ground_height : float
        Height of the ground plane in the world frame (m).
    points_uv : array_like
        Nx2 pixel coordinates (u right, v down).
    config : GroundProjectionConfig, optional
        Range and horizon limits; defaults when omitted.

    Returns
    -------
    points_world_xy : numpy.ndarray
        Nx2 ground points (x, y) in the world frame (m); NaN where invalid.
    jacobian : numpy.ndarray
        Nx2x2 ``d(x, y) / d(u, v)`` (m/px); NaN where invalid.
    valid : numpy.ndarray
        N booleans: the ray descends, meets the plane in front of the camera and within
        ``max_range``.

    """
    config = config if config is not None else GroundProjectionConfig()
    matrix = np.asarray(intrinsics, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise ValueError(f'K must be 3x3, got shape {matrix.shape}')
    points = np.asarray(points_uv, dtype=np.float64).reshape(-1, 2)
    count = points.shape[0]
    inverse_k = np.linalg.inv(matrix)
    rotation = pose_world_camera.rotation
    centre = pose_world_camera.translation
    # Ray directions (not unit) in the world frame, r = R K^-1 (u, v, 1); they are affine in
    # (u, v) with derivatives a_u = R K^-1 e_u and a_v = R K^-1 e_v.
    homogeneous = np.column_stack([points, np.ones(count)])
    rays = homogeneous @ (rotation @ inverse_k).T
    d_rays = (rotation @ inverse_k[:, :2]).T
    height = centre[2] - ground_height
    ray_norms = np.linalg.norm(rays, axis=1)
    descent = -rays[:, 2] / np.where(ray_norms > 0.0, ray_norms, 1.0)
    valid = (descent >= config.min_ray_descent) & (height > 0.0) & np.isfinite(descent)
    safe_z = np.where(valid, rays[:, 2], -1.0)
    # Scale along the ray to the plane: centre_z + s r_z = ground_height.
    scale = -height / safe_z
    ground = centre[:2] + scale[:, None] * rays[:, :2]
    valid &= (scale > 0.0)
    valid &= np.linalg.norm(ground - centre[:2], axis=1) <= config.max_range
    # dP/du = s (a_u - r a_u_z / r_z): the ray direction changes and its length to the plane
    # changes with it; the z row vanishes since P stays on the plane.
    slope = d_rays[None, :, 2] / safe_z[:, None]
    jacobian = scale[:, None, None] * (
        d_rays[:, :2].T[None, :, :] - rays[:, :2, None] * slope[:, None, :])
    ground[~valid] = np.nan
    jacobian[~valid] = np.nan
    return ground, jacobian, valid


def propagate_to_ground(jacobian: npt.ArrayLike, covariance_uv: npt.ArrayLike,
                        velocity_uv: Optional[npt.ArrayLike] = None
                        ) -> Tuple[npt.NDArray[np.float64], Optional[npt.NDArray[np.float64]]]:
    """
    Carry image-plane covariance and velocity to the ground through the Jacobian.

    Parameters
    ----------
    jacobian : array_like
        Nx2x2 ``d(x, y) / d(u, v)`` from :func:`image_to_ground` (m/px).
    covariance_uv : array_like
        Nx2x2 covariance of the contact pixel (px^2).
    velocity_uv : array_like, optional
        Nx2 contact-pixel velocity (px/s), already compensated for camera motion so that it
        is the target's own motion as seen from a still camera.

    Returns
    -------
    covariance_xy : numpy.ndarray
        Nx2x2 world position covariance ``J S J^T`` (m^2), first-order.
    velocity_xy : numpy.ndarray or None
        Nx2 world velocity ``J v`` (m/s), first-order; None when no velocity was given.

    """
    jacobian = np.asarray(jacobian, dtype=np.float64).reshape(-1, 2, 2)
    covariance = np.asarray(covariance_uv, dtype=np.float64).reshape(-1, 2, 2)
    if covariance.shape[0] != jacobian.shape[0]:
        raise ValueError('jacobian and covariance_uv must have the same length')
    covariance_xy = jacobian @ covariance @ np.transpose(jacobian, (0, 2, 1))
    if velocity_uv is None:
        return covariance_xy, None
    velocity = np.asarray(velocity_uv, dtype=np.float64).reshape(-1, 2)
    if velocity.shape[0] != jacobian.shape[0]:
        raise ValueError('jacobian and velocity_uv must have the same length')
    return covariance_xy, np.einsum('nij,nj->ni', jacobian, velocity)


@dataclass(frozen=True, eq=False)
class GroundTracks:
    """
    Track contact points on the ground, with first-order uncertainty.

    Attributes
    ----------
    position_xy : numpy.ndarray
        Nx2 world positions (m); NaN where invalid.
    position_cov : numpy.ndarray
        Nx2x2 position covariances (m^2); NaN where invalid.
    velocity_xy : numpy.ndarray
        Nx2 world velocities (m/s); NaN where invalid.
    velocity_cov : numpy.ndarray
        Nx2x2 velocity covariances (m^2/s^2); NaN where invalid.
    valid : numpy.ndarray
        N booleans from :func:`image_to_ground`.

    """

    position_xy: npt.NDArray[np.float64]
    position_cov: npt.NDArray[np.float64]
    velocity_xy: npt.NDArray[np.float64]
    velocity_cov: npt.NDArray[np.float64]
    valid: npt.NDArray[np.bool_]


def project_tracks_to_ground(camera: PinholeCamera, pose_world_camera: Pose,
                             ground_height: float, points_uv: npt.ArrayLike,
                             covariance_uv: npt.ArrayLike, velocity_uv: npt.ArrayLike,
                             velocity_covariance_uv: npt.ArrayLike,
                             config: Optional[GroundProjectionConfig] = None) -> GroundTracks:
    """
    Project track contact points, their velocities and both covariances to the ground.

    Parameters
    ----------
    camera : PinholeCamera
        The camera; raw pixels are rectified first, so that a distorted lens projects right.
    pose_world_camera : Pose
        Camera optical frame in the world frame.
    ground_height : float
        Height of the ground plane in the world frame (m).
    points_uv : array_like
        Nx2 contact pixels of the raw image (the bottom-centre of each box).
    covariance_uv : array_like
        Nx2x2 contact-pixel covariances (px^2).
    velocity_uv : array_like
        Nx2 contact-pixel velocities (px/s), compensated for camera motion.
    velocity_covariance_uv : array_like
        Nx2x2 velocity covariances (px^2/s^2).
    config : GroundProjectionConfig, optional
        Range and horizon limits.

    Returns
    -------
    GroundTracks
        World positions, velocities and covariances through the Jacobian at each point (of
        the rectification and the ground intersection together).

    """
    points = np.asarray(points_uv, dtype=np.float64).reshape(-1, 2)
    position_xy, ground_jacobian, valid = image_to_ground(
        camera.rectified_matrix, pose_world_camera, ground_height, camera.rectify_points(points),
        config)
    jacobian = ground_jacobian @ camera.rectification_jacobian(points)
    position_cov, velocity_xy = propagate_to_ground(jacobian, covariance_uv, velocity_uv)
    velocity_cov, _ = propagate_to_ground(jacobian, velocity_covariance_uv)
    return GroundTracks(position_xy, position_cov, velocity_xy, velocity_cov, valid)


# (cx, cy, w, h) -> bottom-centre (cx, cy + h / 2): a person's contact point with the ground.
CONTACT_SELECT_CXCYWH = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.5]])


def ground_tracks(tracks: Sequence[Any], camera: PinholeCamera, pose_world_camera: Pose,
                  ground_height: float = 0.0,
                  config: Optional[GroundProjectionConfig] = None) -> GroundTracks:
    """
    Place tracks on the ground: their box bottoms, velocities and covariances.

    The image Kalman estimate carried to the ground. Not what the node publishes (its world
    fields come from :class:`deepsort_ros.world.GroundTrackFilter`, which starts a new track
    from this); :func:`deepsort_ros.fusion.from_tracker.batch_from_tracker` uses it when given
    no world estimate (``bench/bench_fusion.py``'s "image KF projected" comparison).

    Parameters
    ----------
    tracks : sequence of track outputs
        N tracks of one update, each with ``box_cxcywh`` (4,), ``velocity_cxcywh`` (4,) and
        ``covariance`` (8, 8) of ``(cx, cy, w, h)`` and their rates (the core's
        ``TrackOutput``), boxes in the image of ``pose_world_camera``.
    camera : PinholeCamera
        The camera of that image (raw pixels are rectified by the projection).
    pose_world_camera : Pose
        Camera optical frame in the world frame at the update's stamp.
    ground_height : float
        Height of the ground plane in the world frame, m.
    config : GroundProjectionConfig, optional
        Range and horizon limits of the projection.

    Returns
    -------
    GroundTracks
        N rows, as :func:`project_tracks_to_ground` returns them.

    """
    if len(tracks) == 0:
        empty = np.zeros((0, 2))
        return GroundTracks(empty, np.zeros((0, 2, 2)), empty.copy(), np.zeros((0, 2, 2)),
                            np.zeros(0, dtype=bool))
    boxes = np.array([t.box_cxcywh for t in tracks], dtype=np.float64)
    velocities = np.array([t.velocity_cxcywh for t in tracks], dtype=np.float64)
    covariances = np.array([t.covariance for t in tracks], dtype=np.float64)
    select = CONTACT_SELECT_CXCYWH
    contact = boxes @ select.T
    contact_velocity = velocities @ select.T
    contact_cov = select @ covariances[:, :4, :4] @ select.T
    velocity_cov = select @ covariances[:, 4:, 4:] @ select.T
    return project_tracks_to_ground(camera, pose_world_camera, ground_height, contact,
                                    contact_cov, contact_velocity, velocity_cov, config)
