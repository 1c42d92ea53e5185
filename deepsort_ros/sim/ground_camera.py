"""
The recorded camera of a scene: a square-pixel pinhole camera above the ground plane.

PETS09-S2L1's ground truth gives, for every box, the world position of
the person on the ground plane (gt columns 8-9, metres). A square-pixel pinhole camera with
its principal point at the image centre is fitted to the box bottom-centres and those world
points (:func:`fit_ground_camera`, robust least squares over the 4476 scored rows); it
reprojects them with a median error of 0.65 px. The fit (:data:`PETS09_CAMERA`): focal
length 1180.4 px (a 36.0-degree horizontal field of view at 768 x 576), centre at world
(-28.933, -19.544) m, 7.128 m above the ground, heading 32.79 degrees, pitched down 16.94
degrees, rolled 2.30 degrees (REP 103 angles of a level x-forward body, then the optical
frame). The rig's world frame is PETS09's ground frame, z up, the ground at z = 0. A
60-degree guess would put people at the wrong distances; the fitted pose is what PETS09's
own world coordinates say.

ROS-free: numpy and scipy.
"""

from dataclasses import dataclass
import math
from typing import Tuple

from deepsort_ros.geometry.pose import Pose
from deepsort_ros.sim.virtual_camera import FORWARD_OPTICAL_RPY
import numpy as np
import numpy.typing as npt
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GroundCamera:
    """
    A square-pixel pinhole camera above a ground plane, principal point at the image centre.

    Attributes
    ----------
    focal_px : float
    width, height : int
        Image size, px.
    position_xy : tuple of 2 float
        Camera centre on the world ground plane, m.
    height_m : float
        Camera centre above the ground (z = 0), m.
    heading_deg, pitch_deg, roll_deg : float
        REP 103 body angles: heading counter-clockwise from world x, pitch down positive,
        roll; the optical frame is the forward optical frame of that body.

    """

    focal_px: float
    width: int
    height: int
    position_xy: Tuple[float, float]
    height_m: float
    heading_deg: float
    pitch_deg: float
    roll_deg: float

    @property
    def intrinsics(self) -> FloatArray:
        """Return K, shape (3, 3)."""
        return pinhole_intrinsics(self.focal_px, self.width, self.height)

    @property
    def centre(self) -> FloatArray:
        """Return the camera centre in the world, m, shape (3,)."""
        return np.array([self.position_xy[0], self.position_xy[1], self.height_m])

    @property
    def mount(self) -> Rotation:
        """Return the optical frame in a level body of the same heading (tilt and roll)."""
        return (Rotation.from_euler('xyz', [math.radians(self.roll_deg),
                                            math.radians(self.pitch_deg), 0.0])
                * Rotation.from_euler('xyz', FORWARD_OPTICAL_RPY))

    @property
    def rotation(self) -> FloatArray:
        """Return the optical frame's orientation in the world, shape (3, 3)."""
        heading = Rotation.from_euler('z', math.radians(self.heading_deg))
        return (heading * self.mount).as_matrix()

    @property
    def pose(self) -> Pose:
        """Return the optical frame's pose in the world."""
        return Pose(self.rotation, self.centre)

    def project(self, points_world: npt.ArrayLike) -> FloatArray:
        """Return the pixels (N, 2) of world points (N, 3)."""
        points = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
        camera = (points - self.centre) @ self.rotation
        return (camera[:, :2] / camera[:, 2:3]) * self.focal_px + [self.width / 2.0,
                                                                   self.height / 2.0]


# Fitted to PETS09-S2L1's gt world coordinates by fit_ground_camera (see the module docstring).
PETS09_CAMERA = GroundCamera(focal_px=1180.4, width=768, height=576,
                             position_xy=(-28.933, -19.544), height_m=7.128, heading_deg=32.79,
                             pitch_deg=16.94, roll_deg=2.30)


def fit_ground_camera(foot_uv: npt.ArrayLike, world_xy: npt.ArrayLike, width: int, height: int,
                      initial: GroundCamera) -> Tuple[GroundCamera, FloatArray]:
    """
    Fit a :class:`GroundCamera` to pixels of known ground points (robust least squares).

    Parameters
    ----------
    foot_uv : array_like, shape (N, 2)
        Pixels of ground points (box bottom-centres).
    world_xy : array_like, shape (N, 2)
        Their world ground positions, m.
    width, height : int
        Image size, px.
    initial : GroundCamera
        Starting point (a rough guess suffices).

    Returns
    -------
    camera : GroundCamera
    residual_px : ndarray, shape (N,)
        Reprojection error of each point, px.

    """
    uv = np.asarray(foot_uv, dtype=np.float64)
    world = np.column_stack([np.asarray(world_xy, dtype=np.float64), np.zeros(len(uv))])

    def camera_of(p: FloatArray) -> GroundCamera:
        return GroundCamera(float(p[0]), width, height, (float(p[1]), float(p[2])),
                            float(p[3]), float(p[4]), float(p[5]), float(p[6]))

    def residual(p: FloatArray) -> FloatArray:
        return (camera_of(p).project(world) - uv).ravel()

    start = np.array([initial.focal_px, *initial.position_xy, initial.height_m,
                      initial.heading_deg, initial.pitch_deg, initial.roll_deg])
    fit = least_squares(residual, start, loss='soft_l1', f_scale=2.0)
    camera = camera_of(fit.x)
    return camera, np.linalg.norm(camera.project(world) - uv, axis=1)


def pinhole_intrinsics(focal_px: float, width: int, height: int) -> FloatArray:
    """Return K (3, 3) of a square-pixel camera with its principal point at the centre."""
    return np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0],
                     [0.0, 0.0, 1.0]])
