"""
A multi-camera rig cut out of PETS09-S2L1: several moving cameras with consistent world poses.

How the rig is made
-------------------
1. **The real camera** is PETS09-S2L1's, fitted to its ground truth
   (:data:`~deepsort_ros.sim.ground_camera.PETS09_CAMERA`, see
   :mod:`~deepsort_ros.sim.ground_camera`). The rig's world frame is PETS09's ground frame,
   z up, the ground at z = 0.
2. **The virtual cameras.** Each virtual camera is a drone hovering at the real camera's
   centre (its odometry: position (-28.933, -19.544, 7.128), orientation
   ``Rz(heading + yaw_offset) P(t)`` with ``P(t)`` its own
   :class:`~deepsort_ros.sim.virtual_camera.RotationProfile`), carrying the real camera's
   tilt and roll as its mount (extrinsic base -> optical: no translation, rotation
   ``Ry(pitch) Rx(roll)`` then the forward optical frame). Its image is narrower than the real
   one (``width`` px by 576, the same focal length 1180.4 px, principal point at its centre),
   so it sees a vertical strip of the scene; ``yaw_offset`` is solved so that at t = 0 its
   principal point looks at a chosen column of the real image.
3. **Its footage.** The centres coincide, so every scene point maps exactly from the real
   image to virtual camera i at time t by ``H_i(t) = K_i R_i(t)^T R_0 K_0^-1`` (R: camera in
   world). Frames are warped by it (black where the real image ends); detections and gt boxes
   become the axis-aligned boxes of their warped corners, clipped to the image, and are
   dropped when less than half is in view
   (:func:`~deepsort_ros.sim.virtual_camera.warp_mot_rows`). gt ids are PETS09's, shared by
   all cameras. A camera may drop frames (``drop_every``: every k-th frame missing).

Layouts (:func:`overlap_rig`, :func:`gap_rig`): two cameras, ``left`` and ``right``.
``overlap``: each 460 px wide (60% of the frame), looking at real columns 230 and 538 at
t = 0, so they share the middle 20% (columns 308-460). ``gap``: each 284 px wide (37%),
looking at columns 142 and 626, so columns 284-484 (26% of the frame) are seen by neither:
people take 2.6-8.6 s (median 5.7 s) from one view to the other. ``left`` sweeps
roll/pitch/yaw at 2/3/4 deg/s (turning at 1/1.5/2 deg) and keeps every frame (7 fps);
``right`` sweeps at -3/2/-5 deg/s (turning at 1.5/1/2 deg) and drops every third frame
(4.67 fps). Their output reaches the fusion 0.02 s (left) and 0.2 s (right, after the left
camera's next frame) after its stamp (``latency_s``). Projected back to the ground through
each camera's own pose, the bottom-centres of its warped gt boxes land a median 5-7 cm from
PETS09's world positions, and 7 cm from the other camera's (overlap layout).

Everything a tracker node per camera needs is here: :attr:`RigView.intrinsics` and
:attr:`RigView.camera` (its camera_info), the image size, the extrinsic
(:attr:`RigView.base_to_camera`, or :attr:`RigView.base_to_camera_rpy` for the node's
parameters), the odometry pose and twist per stamp (:meth:`RigView.base_pose_at`,
:meth:`RigView.quaternion_xyzw_at`, :meth:`RigView.angular_velocity_at`), which frames it
produces (:meth:`RigView.keeps`) and the warps of frames and rows.

ROS-free: numpy, scipy and OpenCV.
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Sequence, Tuple

import cv2
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.pose import Pose
from deepsort_ros.sim.ground_camera import GroundCamera, PETS09_CAMERA, pinhole_intrinsics
from deepsort_ros.sim.virtual_camera import RotationProfile, warp_mot_rows
import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.spatial.transform import Rotation

FloatArray = npt.NDArray[np.float64]

# Yaw offsets are searched within +-this, degrees (a wider one looks off the real image).
MAX_YAW_OFFSET_DEG = 40.0


@dataclass(frozen=True)
class RigCamera:
    """
    One virtual camera of a rig, as specified.

    Attributes
    ----------
    name : str
    width : int
        Image width, px (the height is the real camera's).
    look_at_column : float
        Column of the real image its principal point looks at, at t = 0, px.
    profile : RotationProfile
        Its own base motion over time.
    drop_every : int
        Every k-th frame (1-based frame numbers divisible by k) is not produced; 0 keeps all.
    latency_s : float
        Seconds after its stamp that the camera's output reaches the fusion (its tracker and
        network together); a bag of this camera records its messages this late.

    """

    name: str
    width: int
    look_at_column: float
    profile: RotationProfile = RotationProfile()
    drop_every: int = 0
    latency_s: float = 0.0


class RigView:
    """
    One virtual camera: its calibration, its odometry and the warps of the real footage.

    Parameters
    ----------
    spec : RigCamera
    real : GroundCamera
        The recorded camera; the virtual camera shares its centre, mount and focal length.

    Attributes
    ----------
    name : str
    width, height : int
        Image size, px.
    intrinsics : ndarray, shape (3, 3)
        K of the virtual camera.
    yaw_offset_deg : float
        Heading offset from the real camera, degrees (solved from ``look_at_column``).
    base_to_camera : Pose
        Extrinsic: optical frame in the base frame (no translation).
    profile : RotationProfile
    drop_every : int
    latency_s : float

    """

    def __init__(self, spec: RigCamera, real: GroundCamera) -> None:
        if spec.width < 16 or spec.drop_every < 0 or spec.drop_every == 1:
            raise ValueError(f'camera {spec.name!r}: width must be >= 16 px and drop_every 0 '
                             f'or >= 2, got {spec.width} and {spec.drop_every}')
        if not (math.isfinite(spec.latency_s) and spec.latency_s >= 0.0):
            raise ValueError(f'camera {spec.name!r}: latency_s must be >= 0, got '
                             f'{spec.latency_s}')
        self.name = spec.name
        self.width = int(spec.width)
        self.height = int(real.height)
        self.profile = spec.profile
        self.drop_every = int(spec.drop_every)
        self.latency_s = float(spec.latency_s)
        self.real = real
        self.intrinsics = pinhole_intrinsics(real.focal_px, self.width, self.height)
        self.base_to_camera = Pose(real.mount.as_matrix(), np.zeros(3))
        self.yaw_offset_deg = 0.0
        self.yaw_offset_deg = self._solve_yaw(spec.look_at_column)

    @property
    def camera(self) -> PinholeCamera:
        """Return the camera model (K, no distortion, image size), as camera_info gives it."""
        return PinholeCamera(self.intrinsics, self.width, self.height)

    @property
    def base_to_camera_rpy(self) -> Tuple[float, float, float]:
        """Return the extrinsic rotation as the node's ``base_to_camera_rpy``, radians."""
        rpy = Rotation.from_matrix(self.base_to_camera.rotation).as_euler('xyz')
        return float(rpy[0]), float(rpy[1]), float(rpy[2])

    def keeps(self, frame: int) -> bool:
        """Return whether this camera produces 1-based ``frame``."""
        return self.drop_every == 0 or frame % self.drop_every != 0

    def base_rotation_at(self, t_s: float) -> Rotation:
        """Return the base orientation in the world at ``t_s``."""
        heading = math.radians(self.real.heading_deg + self.yaw_offset_deg)
        return Rotation.from_euler('z', heading) * self.profile.rotation_at(t_s)

    def base_pose_at(self, t_s: float) -> Pose:
        """Return the base pose in the world at ``t_s`` (what odometry reports)."""
        return Pose(self.base_rotation_at(t_s).as_matrix(), self.real.centre)

    def quaternion_xyzw_at(self, t_s: float) -> FloatArray:
        """Return the odometry orientation at ``t_s`` as (x, y, z, w), shape (4,)."""
        return self.base_rotation_at(t_s).as_quat()

    def angular_velocity_at(self, t_s: float) -> FloatArray:
        """Return the base's angular velocity in its own frame at ``t_s``, rad/s, shape (3,)."""
        return self.profile.angular_velocity_at(t_s)

    def camera_pose_at(self, t_s: float) -> Pose:
        """Return the optical frame's pose in the world at ``t_s``."""
        return self.base_pose_at(t_s).compose(self.base_to_camera)

    def homography_at(self, t_s: float) -> FloatArray:
        """
        Return the map from real-image pixels to this camera's pixels at ``t_s``.

        Returns
        -------
        ndarray, shape (3, 3)
            ``K_i R_i(t)^T R_0 K_0^-1``, scaled so that ``H[2, 2] = 1``.

        """
        rotation = self.camera_pose_at(t_s).rotation.T @ self.real.rotation
        h = self.intrinsics @ rotation @ np.linalg.inv(self.real.intrinsics)
        return h / h[2, 2]

    def frame_to_frame(self, t_prev_s: float, t_now_s: float) -> FloatArray:
        """Return the map from this camera's view at ``t_prev_s`` to ``t_now_s``, (3, 3)."""
        return self.homography_at(t_now_s) @ np.linalg.inv(self.homography_at(t_prev_s))

    def warp_image(self, image: npt.NDArray[np.uint8], t_s: float) -> npt.NDArray[np.uint8]:
        """Return a real frame (H, W[, 3]) as this camera sees it at ``t_s``."""
        return cv2.warpPerspective(image, self.homography_at(t_s), (self.width, self.height))

    def warp_rows(self, rows: npt.ArrayLike, frame_rate: float) -> FloatArray:
        """
        Return MOTChallenge rows (gt or det) of the real camera as this camera sees them.

        Parameters
        ----------
        rows : array_like, shape (N, >= 6)
            ``frame, id, left, top, width, height, ...``, 1-based frames.
        frame_rate : float
            Frames per second; frame k is seen at ``(k - 1) / frame_rate``.

        Returns
        -------
        ndarray, shape (M, same columns)
            Rows of produced frames whose box is at least half in view, warped and clipped.

        """
        rows = np.asarray(rows, dtype=np.float64)
        if self.drop_every:
            rows = rows[rows[:, 0].astype(np.int64) % self.drop_every != 0]
        return warp_mot_rows(rows, self, frame_rate, self.width, self.height)

    def _solve_yaw(self, column: float) -> float:
        """Return the yaw offset whose principal ray meets the real image at ``column``."""
        centre = np.array([self.width / 2.0, self.height / 2.0, 1.0])

        def miss(offset_deg: float) -> float:
            self.yaw_offset_deg = offset_deg
            back = np.linalg.solve(self.homography_at(0.0), centre)
            return back[0] / back[2] - column

        return float(brentq(miss, -MAX_YAW_OFFSET_DEG, MAX_YAW_OFFSET_DEG, xtol=1e-9))


class CameraRig:
    """
    Virtual cameras sharing the centre of one real camera.

    Parameters
    ----------
    cameras : sequence of RigCamera
        Distinct names.
    real : GroundCamera
        The recorded camera (PETS09-S2L1's by default).

    Attributes
    ----------
    views : dict of str to RigView
        In the order given.
    real : GroundCamera

    """

    def __init__(self, cameras: Sequence[RigCamera],
                 real: GroundCamera = PETS09_CAMERA) -> None:
        names = [c.name for c in cameras]
        if not names or len(set(names)) != len(names):
            raise ValueError(f'a rig needs cameras with distinct names, got {names}')
        self.real = real
        self.views: Dict[str, RigView] = {c.name: RigView(c, real) for c in cameras}

    @property
    def names(self) -> List[str]:
        """Return the camera names, in order."""
        return list(self.views)

    def __getitem__(self, name: str) -> RigView:
        """Return the view of camera ``name``."""
        return self.views[name]


LEFT_PROFILE = RotationProfile(rates_deg_s=(2.0, 3.0, 4.0), amplitudes_deg=(1.0, 1.5, 2.0))
RIGHT_PROFILE = RotationProfile(rates_deg_s=(-3.0, 2.0, -5.0), amplitudes_deg=(1.5, 1.0, 2.0))
# Delivery latency of each camera's output to the fusion, s: the right camera's land after the
# left camera's next frame (1/7 s later), so the fusion takes them late and predicts them forward.
LATENCY_S = {'left': 0.02, 'right': 0.2}


def overlap_rig(moving: bool = True, real: GroundCamera = PETS09_CAMERA) -> CameraRig:
    """
    Return two cameras seeing 60% of the frame each, overlapping in the middle 20%.

    Parameters
    ----------
    moving : bool
        Give each camera its rotation profile (else both stay still).
    real : GroundCamera
        The recorded camera.

    Returns
    -------
    CameraRig
        ``left`` (every frame, 0.02 s late) and ``right`` (every third frame dropped, 0.2 s
        late).

    """
    return _two_cameras(0.6, moving, real)


def gap_rig(moving: bool = True, real: GroundCamera = PETS09_CAMERA) -> CameraRig:
    """
    Return two cameras seeing 37% of the frame each, with the middle 26% seen by neither.

    Parameters
    ----------
    moving : bool
        Give each camera its rotation profile (else both stay still).
    real : GroundCamera
        The recorded camera.

    Returns
    -------
    CameraRig
        ``left`` (every frame, 0.02 s late) and ``right`` (every third frame dropped, 0.2 s
        late).

    """
    return _two_cameras(0.37, moving, real)


def _two_cameras(fraction: float, moving: bool, real: GroundCamera) -> CameraRig:
    width = 2 * int(round(fraction * real.width / 2.0))
    still = RotationProfile()
    return CameraRig([
        RigCamera('left', width, width / 2.0, LEFT_PROFILE if moving else still, 0,
                  LATENCY_S['left']),
        RigCamera('right', width, real.width - width / 2.0,
                  RIGHT_PROFILE if moving else still, 3, LATENCY_S['right']),
    ], real)


def ground_points(view: RigView, rows: npt.ArrayLike, frame_rate: float,
                  ground_height: float = 0.0) -> Tuple[FloatArray, npt.NDArray[np.bool_]]:
    """
    Project the bottom-centres of a camera's rows to the world ground plane.

    Parameters
    ----------
    view : RigView
        The camera.
    rows : array_like, shape (N, >= 6)
        Rows in this camera's image (``frame, id, left, top, width, height``).
    frame_rate : float
        Frames per second; frame k is seen at ``(k - 1) / frame_rate``.
    ground_height : float
        m.

    Returns
    -------
    points_xy : ndarray, shape (N, 2)
        World ground points, m (NaN where invalid).
    valid : ndarray of bool, shape (N,)

    """
    from deepsort_ros.geometry.ground_projection import image_to_ground

    rows = np.asarray(rows, dtype=np.float64)
    points = np.full((len(rows), 2), np.nan)
    valid = np.zeros(len(rows), dtype=bool)
    for frame in np.unique(rows[:, 0]).astype(int).tolist():
        index = np.flatnonzero(rows[:, 0] == frame)
        foot = np.stack([rows[index, 2] + rows[index, 4] / 2.0,
                         rows[index, 3] + rows[index, 5]], axis=1)
        xy, _, ok = image_to_ground(view.intrinsics, view.camera_pose_at((frame - 1) / frame_rate),
                                    ground_height, foot)
        points[index], valid[index] = xy, ok
    return points, valid


__all__ = ['CameraRig', 'gap_rig', 'ground_points', 'overlap_rig', 'RigCamera', 'RigView']
