"""
A virtual camera rotating over a recorded static sequence: moving-camera footage with truth.

A drone or a turning robot sees a static scene through a camera that pans, tilts and rolls.
This module turns any static sequence into such footage with known motion: the robot base
follows a roll/pitch/yaw profile, every frame is warped by the pixel map of the resulting
camera rotation, boxes (detections and ground truth) are warped the same way, and the base
orientation is exactly what odometry would report. Rotation only (no translation), so the
pixel map is exact for every scene point: ``H = K R K^-1``.

ROS-free: numpy, scipy and OpenCV; the camera geometry comes from
:mod:`deepsort_ros.ego_motion` (the same conventions the node's compensation uses).
"""

from dataclasses import dataclass
import math
from typing import Tuple

import cv2
from deepsort_ros.geometry.homography import (camera_motion, make_extrinsic,
                                              rotation_homography)
from deepsort_ros.geometry.pose import Pose
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

# Boxes keeping less than this share of their area inside the image are dropped (a detector
# would not report them either).
MIN_VISIBLE_FRACTION = 0.5
# Step of the numerical derivative that gives the body angular velocity, s.
RATE_STEP_S = 1e-4
# Standard rotation from a REP 103 body frame to a forward-looking camera optical frame.
FORWARD_OPTICAL_RPY = (-math.pi / 2.0, 0.0, -math.pi / 2.0)


def triangle_wave(t_s: float, rate: float, amplitude: float) -> Tuple[float, float]:
    """
    Return value and rate of a quantity sweeping at constant speed between +-amplitude.

    Parameters
    ----------
    t_s : float
        Time since the start, seconds; the value is 0 at t = 0.
    rate : float
        Speed of the sweep per second (its sign gives the first direction).
    amplitude : float
        The sweep turns round at +-amplitude; 0 or less sweeps on without turning.

    Returns
    -------
    value, rate_now : float

    """
    travel = rate * t_s
    if amplitude <= 0 or rate == 0:
        return travel, rate
    period = 4.0 * amplitude
    phase = (abs(travel) + amplitude) % period  # 0..period, value 0 at phase = amplitude
    sign = math.copysign(1.0, rate)
    if phase < 2.0 * amplitude:
        return sign * (phase - amplitude), rate
    return sign * (3.0 * amplitude - phase), -rate


@dataclass(frozen=True)
class RotationProfile:
    """
    Roll, pitch and yaw of the robot base over time, each a triangle wave.

    Attributes
    ----------
    rates_deg_s : tuple of 3 float
        Roll, pitch, yaw sweep speeds, degrees per second (REP 103: yaw counter-clockwise
        seen from above, so a positive yaw turns the camera left and the scene moves right).
    amplitudes_deg : tuple of 3 float
        Each angle turns round at +-amplitude, degrees; 0 sweeps on without turning.

    """

    rates_deg_s: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    amplitudes_deg: Tuple[float, float, float] = (10.0, 10.0, 10.0)

    def __post_init__(self) -> None:
        for name in ('rates_deg_s', 'amplitudes_deg'):
            values = tuple(float(v) for v in getattr(self, name))
            if len(values) != 3 or not all(math.isfinite(v) for v in values):
                raise ValueError(f'{name} must be three finite numbers, got '
                                 f'{getattr(self, name)!r}')
            object.__setattr__(self, name, values)

    @property
    def moving(self) -> bool:
        """Return whether any angle changes."""
        return any(rate != 0.0 for rate in self.rates_deg_s)

    def rpy_at(self, t_s: float) -> npt.NDArray[np.float64]:
        """Return (roll, pitch, yaw) of the base at ``t_s``, radians, shape (3,)."""
        return np.radians([triangle_wave(t_s, rate, amplitude)[0]
                           for rate, amplitude in zip(self.rates_deg_s, self.amplitudes_deg)])

    def rotation_at(self, t_s: float) -> Rotation:
        """Return the base orientation in the world frame at ``t_s`` (fixed-axis RPY)."""
        return Rotation.from_euler('xyz', self.rpy_at(t_s))

    def quaternion_xyzw_at(self, t_s: float) -> npt.NDArray[np.float64]:
        """Return the base orientation at ``t_s`` as a quaternion (x, y, z, w), shape (4,)."""
        return self.rotation_at(t_s).as_quat()

    def angular_velocity_at(self, t_s: float) -> npt.NDArray[np.float64]:
        """
        Return the base's angular velocity in its own frame at ``t_s``, rad/s, shape (3,).

        This is what ``nav_msgs/Odometry.twist.twist.angular`` carries (child frame).
        """
        step = self.rotation_at(t_s).inv() * self.rotation_at(t_s + RATE_STEP_S)
        return step.as_rotvec() / RATE_STEP_S


# A drone's wobble and pan: roll, pitch and yaw sweeping at 3, 4 and 8 deg/s, turning round at
# 3, 4 and 10 deg. At PETS09's 7 fps and 60-degree field of view the yaw alone moves the image
# by ~13 px per frame. Used by the node tests and the benchmark.
DRONE_PROFILE = RotationProfile(rates_deg_s=(3.0, 4.0, 8.0), amplitudes_deg=(3.0, 4.0, 10.0))


class VirtualCamera:
    """
    The pixel maps of a camera on a base that rotates by a :class:`RotationProfile`.

    Parameters
    ----------
    intrinsics : array_like, shape (3, 3)
        Camera matrix K, pixels.
    profile : RotationProfile
        Base orientation over time; the recorded (static) frames are the view at rotation 0.
    base_to_camera_rpy : array_like, shape (3,)
        Orientation of the camera optical frame in the base frame, radians (fixed-axis RPY);
        by default a camera looking forward along base x, as the node's default extrinsic.

    """

    def __init__(self, intrinsics: npt.ArrayLike, profile: RotationProfile,
                 base_to_camera_rpy: npt.ArrayLike = FORWARD_OPTICAL_RPY) -> None:
        self.intrinsics = np.asarray(intrinsics, dtype=np.float64)
        self.profile = profile
        self._extrinsic = make_extrinsic(np.zeros(3), base_to_camera_rpy)

    def homography_at(self, t_s: float) -> npt.NDArray[np.float64]:
        """
        Return the map from recorded (static) pixels to the pixels seen at ``t_s``.

        Returns
        -------
        ndarray, shape (3, 3)
            ``H = K R_ba K^-1`` with a = the base at rotation 0, b = the base at ``t_s``.

        """
        base_now = Pose(self.profile.rotation_at(t_s).as_matrix(), np.zeros(3))
        rotation_ba, _ = camera_motion(Pose.identity(), base_now, self._extrinsic)
        return rotation_homography(self.intrinsics, rotation_ba)

    def frame_to_frame(self, t_prev_s: float, t_now_s: float) -> npt.NDArray[np.float64]:
        """Return the map from the view at ``t_prev_s`` to the view at ``t_now_s``, (3, 3)."""
        now = self.homography_at(t_now_s)
        previous = self.homography_at(t_prev_s)
        return now @ np.linalg.inv(previous)

    def warp_image(self, image: npt.NDArray[np.uint8], t_s: float) -> npt.NDArray[np.uint8]:
        """Return ``image`` (H, W[, 3]) as the rotated camera sees it at ``t_s``."""
        height, width = image.shape[:2]
        return cv2.warpPerspective(image, self.homography_at(t_s), (width, height))


def warp_boxes_tlwh(boxes_tlwh: npt.NDArray[np.float64], homography: npt.NDArray[np.float64],
                    width: int, height: int) -> Tuple[npt.NDArray[np.float64],
                                                      npt.NDArray[np.bool_]]:
    """
    Map boxes through a homography, as the axis-aligned boxes of their warped corners.

    Parameters
    ----------
    boxes_tlwh : ndarray, shape (N, 4)
        Boxes in the source image, pixels.
    homography : ndarray, shape (3, 3)
        Source -> target pixels.
    width, height : int
        Target image size; boxes are clipped to it.

    Returns
    -------
    boxes_tlwh : ndarray, shape (N, 4)
        Warped, clipped boxes.
    keep : ndarray of bool, shape (N,)
        False for boxes with less than :data:`MIN_VISIBLE_FRACTION` of their area inside.

    """
    n = len(boxes_tlwh)
    if n == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=bool)
    x, y, w, h = np.asarray(boxes_tlwh, dtype=np.float64).T
    corners = np.stack([np.stack([x, y], 1), np.stack([x + w, y], 1),
                        np.stack([x, y + h], 1), np.stack([x + w, y + h], 1)], 1)
    warped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), homography).reshape(n, 4, 2)
    tl, br = warped.min(axis=1), warped.max(axis=1)
    area = np.prod(br - tl, axis=1)
    tl_clip = np.clip(tl, 0, [width, height])
    br_clip = np.clip(br, 0, [width, height])
    inside = np.prod(np.maximum(br_clip - tl_clip, 0), axis=1)
    keep = inside >= MIN_VISIBLE_FRACTION * np.maximum(area, 1e-9)
    return np.hstack([tl_clip, br_clip - tl_clip]), keep


def warp_mot_rows(rows: npt.NDArray[np.float64], camera: VirtualCamera, frame_rate: float,
                  width: int, height: int) -> npt.NDArray[np.float64]:
    """
    Move MOTChallenge rows (gt or det) into the rotating camera's view, frame by frame.

    Parameters
    ----------
    rows : ndarray, shape (N, >= 6)
        ``frame, id, left, top, width, height, ...`` with 1-based frames.
    camera : VirtualCamera
        The motion; frame k is seen at ``t = (k - 1) / frame_rate``.
    frame_rate : float
        Frames per second.
    width, height : int
        Image size, pixels.

    Returns
    -------
    ndarray, shape (M, same columns)
        The rows whose box stays mostly in view, boxes warped and clipped.

    """
    rows = np.asarray(rows, dtype=np.float64)
    out = rows.copy()
    keep = np.zeros(len(rows), dtype=bool)
    for frame in np.unique(rows[:, 0]).astype(int).tolist():
        index = np.flatnonzero(rows[:, 0] == frame)
        homography = camera.homography_at((frame - 1) / frame_rate)
        out[index, 2:6], keep[index] = warp_boxes_tlwh(rows[index, 2:6], homography,
                                                       width, height)
    return out[keep]
