"""
Frame-to-frame pixel map of the camera's own motion, from odometry or from the images.

The tracker warps its image-plane states by the returned homography before predicting, so
that a target standing still in the world stays still in the filter while the robot turns.
Odometry gives the motion exactly for a pure rotation and for points on the ground plane, at
no image cost; sparse optical flow is the fallback when odometry is absent or stale.
"""

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

from deepsort_ros.ego_motion.image_motion import ImageMotionConfig, ImageMotionEstimator
from deepsort_ros.ego_motion.odometry_buffer import OdometryBuffer, OdometryBufferConfig
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.homography import (camera_motion, ground_plane_in_camera,
                                              make_extrinsic, plane_homography,
                                              rotation_homography)
from deepsort_ros.geometry.pose import Pose
import numpy as np
import numpy.typing as npt

MODES = ('odometry', 'image', 'auto', 'off')
SOURCES = ('odometry', 'image', 'none')


@dataclass(frozen=True)
class EgoMotionConfig:
    """
    Settings of :class:`EgoMotionEstimator`.

    Attributes
    ----------
    mode : str
        ``'odometry'`` (odometry only), ``'image'`` (optical flow only), ``'auto'`` (odometry
        when both poses are available, else optical flow) or ``'off'``.
    use_ground_plane : bool
        Odometry path: map pixels as points of the ground plane (right for the feet of
        people and vehicles, which is where tracks touch the world) instead of as points at
        infinity (rotation only, which ignores translation).
    ground_height : float
        Height of the ground plane in the world (odometry) frame, metres.
    min_camera_height : float
        Metres: below this height above the ground the plane homography is ill-conditioned
        and the rotation-only map is used instead.
    stamp_tolerance : float
        Seconds: the image estimator's reference frame must have been taken this close to
        ``stamp_prev``, else its answer would span the wrong interval.
    odom_buffer_size : int
        Odometry samples kept (:class:`OdometryBufferConfig` ``max_samples``).
    odom_max_gap : float
        Seconds (:class:`OdometryBufferConfig` ``max_gap``): how far a frame stamp may lie
        outside the buffered odometry, and how far apart two samples may be, for odometry to
        answer.
    image : ImageMotionConfig
        Optical-flow settings.

    """

    mode: str = 'auto'
    use_ground_plane: bool = True
    ground_height: float = 0.0
    min_camera_height: float = 0.05
    stamp_tolerance: float = 1e-3
    odom_buffer_size: int = 400
    odom_max_gap: float = 0.5
    image: ImageMotionConfig = field(default_factory=ImageMotionConfig)

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}')
        if not isinstance(self.use_ground_plane, (bool, np.bool_)):
            raise ValueError(
                f'use_ground_plane must be a bool, got {type(self.use_ground_plane).__name__}')
        if not np.isfinite(self.ground_height):
            raise ValueError(f'ground_height must be finite, got {self.ground_height}')
        if not np.isfinite(self.min_camera_height) or self.min_camera_height <= 0.0:
            raise ValueError(
                f'min_camera_height must be finite and > 0 m, got {self.min_camera_height}')
        if not np.isfinite(self.stamp_tolerance) or self.stamp_tolerance < 0.0:
            raise ValueError(
                f'stamp_tolerance must be finite and >= 0 s, got {self.stamp_tolerance}')
        # Builds (and so validates) the buffer settings now rather than at first use.
        self.odometry_buffer_config()
        if not isinstance(self.image, ImageMotionConfig):
            raise ValueError('image must be an ImageMotionConfig')

    def odometry_buffer_config(self) -> OdometryBufferConfig:
        """
        Build the settings of the odometry buffer.

        Returns
        -------
        OdometryBufferConfig
            ``odom_buffer_size`` and ``odom_max_gap``, other settings at their defaults.

        """
        return OdometryBufferConfig(max_samples=self.odom_buffer_size,
                                    max_gap=self.odom_max_gap)


@dataclass(frozen=True, eq=False)
class EgoMotionResult:
    """
    One frame-to-frame camera-motion estimate.

    Attributes
    ----------
    homography : numpy.ndarray or None
        3x3 map of previous-frame pixels to current-frame pixels (``H[2, 2] = 1``), None when
        there is no estimate (the tracker then predicts without compensation).
    source : str
        ``'odometry'``, ``'image'`` or ``'none'``.
    reason : str
        Why this source (or none) answered, for diagnostics.

    """

    homography: Optional[npt.NDArray[np.float64]]
    source: str
    reason: str


class EgoMotionEstimator:
    """
    Camera motion between consecutive frames, as a homography in pixels.

    Parameters
    ----------
    config : EgoMotionConfig, optional
        Settings; defaults when omitted.

    Attributes
    ----------
    odometry : OdometryBuffer
        Buffered poses of the base in the world frame.
    image_motion : ImageMotionEstimator
        The optical-flow estimator (keeps the previous frame).
    camera : PinholeCamera or None
        The camera whose K maps odometry motions to pixels (:meth:`set_camera`).

    """

    def __init__(self, config: Optional[EgoMotionConfig] = None) -> None:
        self.config = config if config is not None else EgoMotionConfig()
        self.odometry = OdometryBuffer(config=self.config.odometry_buffer_config())
        self.image_motion = ImageMotionEstimator(self.config.image)
        self.camera: Optional[PinholeCamera] = None
        self._extrinsic: Optional[Pose] = None

    def add_odometry(self, stamp: float, position_xyz: npt.ArrayLike,
                     orientation_xyzw: npt.ArrayLike,
                     position_covariance: Optional[npt.ArrayLike] = None) -> bool:
        """
        Buffer one odometry sample; see :meth:`OdometryBuffer.add`.

        Parameters
        ----------
        stamp : float
            Sample time in seconds.
        position_xyz : array_like
            3 vector, base origin in the world frame (m).
        orientation_xyzw : array_like
            4 quaternion (x, y, z, w), base orientation in the world frame.
        position_covariance : array_like, optional
            3x3 position covariance (m^2).

        Returns
        -------
        bool
            True when stored.

        """
        return self.odometry.add(stamp, position_xyz, orientation_xyzw, position_covariance)

    def camera_pose_at(self, stamp: float) -> Optional[Pose]:
        """
        Pose of the camera optical frame in the world frame at ``stamp``, from odometry.

        Parameters
        ----------
        stamp : float
            Query time in seconds.

        Returns
        -------
        Pose or None
            None without an extrinsic or when the odometry buffer cannot answer (reason in
            ``odometry.last_miss_reason``).

        """
        if self._extrinsic is None:
            return None
        pose_world_base = self.odometry.pose_at(stamp)
        if pose_world_base is None:
            return None
        return pose_world_base.compose(self._extrinsic)

    def set_camera(self, camera: PinholeCamera) -> None:
        """
        Set the camera model of the odometry path.

        Parameters
        ----------
        camera : PinholeCamera
            Its K maps the raw image's pixels, where the tracks are.

        """
        if not isinstance(camera, PinholeCamera):
            raise ValueError(f'camera must be a PinholeCamera, got {type(camera).__name__}')
        self.camera = camera

    def set_extrinsic(self, translation_xyz: Union[Pose, npt.ArrayLike],
                      rotation_rpy: Optional[npt.ArrayLike] = None,
                      quaternion_xyzw: Optional[npt.ArrayLike] = None) -> None:
        """
        Set the pose of the camera optical frame in the base frame.

        Parameters
        ----------
        translation_xyz : Pose or array_like
            A ready :class:`Pose`, or the 3 vector translation (m) for :func:`make_extrinsic`.
        rotation_rpy : array_like, optional
            Roll, pitch, yaw (rad); see :func:`make_extrinsic`.
        quaternion_xyzw : array_like, optional
            Quaternion (x, y, z, w); see :func:`make_extrinsic`.

        """
        if isinstance(translation_xyz, Pose):
            if rotation_rpy is not None or quaternion_xyzw is not None:
                raise ValueError('give a Pose alone, or a translation and one rotation form')
            self._extrinsic = translation_xyz
        else:
            self._extrinsic = make_extrinsic(translation_xyz, rotation_rpy, quaternion_xyzw)

    def estimate(self, stamp_prev: float, stamp_now: float,
                 frame: Optional[npt.NDArray[np.uint8]] = None,
                 boxes_tlwh: Optional[npt.ArrayLike] = None) -> EgoMotionResult:
        """
        Pixel map from the frame at ``stamp_prev`` to the frame at ``stamp_now``.

        Call once per frame, in order: the image path keeps the previous frame.

        Parameters
        ----------
        stamp_prev : float
            Stamp of the previous frame (the one the tracker state refers to), seconds.
        stamp_now : float
            Stamp of the current frame, seconds.
        frame : numpy.ndarray, optional
            HxW or HxWx3 uint8 current image; needed by the image path.
        boxes_tlwh : array_like, optional
            Nx4 track boxes (top-left x, y, width, height) in the previous frame, masked out
            of the optical flow.

        Returns
        -------
        EgoMotionResult
            The homography (or None), its source and the reason.

        """
        mode = self.config.mode
        if mode == 'off':
            return EgoMotionResult(None, 'none', 'mode off')
        odometry_reason = ''
        if mode in ('odometry', 'auto'):
            homography, odometry_reason = self._from_odometry(stamp_prev, stamp_now)
            if homography is not None:
                if mode == 'auto' and frame is not None:
                    # Keep the flow reference current so a fallback next frame spans one frame.
                    self.image_motion.observe(frame, stamp_now)
                return EgoMotionResult(homography, 'odometry', odometry_reason)
            if mode == 'odometry':
                return EgoMotionResult(None, 'none', odometry_reason)
        homography, image_reason = self._from_image(stamp_prev, stamp_now, frame, boxes_tlwh)
        if odometry_reason:
            image_reason = f'{odometry_reason}; image: {image_reason}'
        if homography is None:
            return EgoMotionResult(None, 'none', image_reason)
        return EgoMotionResult(homography, 'image', image_reason)

    def _from_odometry(self, stamp_prev: float, stamp_now: float
                       ) -> Tuple[Optional[npt.NDArray[np.float64]], str]:
        if self.camera is None:
            return None, 'odometry: no intrinsics'
        matrix = self.camera.matrix
        if self._extrinsic is None:
            return None, 'odometry: no extrinsic'
        pose_prev = self.odometry.pose_at(stamp_prev)
        if pose_prev is None:
            return None, f'odometry {self.odometry.last_miss_reason} at previous stamp'
        pose_now = self.odometry.pose_at(stamp_now)
        if pose_now is None:
            return None, f'odometry {self.odometry.last_miss_reason} at current stamp'
        rotation_ba, translation_ba = camera_motion(pose_prev, pose_now, self._extrinsic)
        if not self.config.use_ground_plane:
            return rotation_homography(matrix, rotation_ba), 'odometry: rotation'
        normal, distance = ground_plane_in_camera(pose_prev.compose(self._extrinsic),
                                                  self.config.ground_height)
        if distance < self.config.min_camera_height:
            return (rotation_homography(matrix, rotation_ba),
                    'odometry: rotation (camera too close to the ground plane)')
        return (plane_homography(matrix, rotation_ba, translation_ba, normal, distance),
                'odometry: ground plane')

    def _from_image(self, stamp_prev: float, stamp_now: float,
                    frame: Optional[npt.NDArray[np.uint8]],
                    boxes_tlwh: Optional[npt.ArrayLike]
                    ) -> Tuple[Optional[npt.NDArray[np.float64]], str]:
        if frame is None:
            return None, 'no frame'
        reference = self.image_motion.previous_stamp
        if reference is not None and abs(reference - stamp_prev) > self.config.stamp_tolerance:
            self.image_motion.observe(frame, stamp_now)
            return None, 'flow reference frame is not the previous frame'
        homography = self.image_motion.estimate(frame, stamp_now, boxes_tlwh)
        return homography, f'flow: {self.image_motion.last_reason}'
