"""
The pinhole camera model, ROS-free: intrinsics, lens distortion, projection and image size.

Shaped after image_geometry's ``PinholeCameraModel``: ``K`` maps camera-frame rays to the raw
(distorted) image's pixels, ``D`` and ``distortion_model`` describe the lens, ``P`` maps rays
to the pixels of the rectified image. Tracks live in raw pixels; :meth:`rectify_points` takes
their pixels to the rectified image, where rays are straight lines through
:attr:`rectified_matrix` (what ground projection needs). ROS messages become a camera in
``deepsort_ros.ros.convert.camera`` (``camera_info_to_camera``).
"""

import math
from typing import Optional

import cv2
import numpy as np
import numpy.typing as npt

DEFAULT_HFOV_DEG = 60.0  # field of view assumed when a camera's intrinsics are unknown
# Lens models of sensor_msgs/CameraInfo's distortion_model that OpenCV can undo.
PLUMB_BOB = 'plumb_bob'
RATIONAL_POLYNOMIAL = 'rational_polynomial'
EQUIDISTANT = 'equidistant'
DISTORTION_MODELS = (PLUMB_BOB, RATIONAL_POLYNOMIAL, EQUIDISTANT)
# OpenCV inverts the lens model iteratively; its default (5 steps) leaves tenths of a pixel
# near the corners of a strongly distorted image.
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
# Pixel step of the finite differences of :meth:`PinholeCamera.rectification_jacobian`.
JACOBIAN_STEP_PX = 0.5


class PinholeCamera:
    """
    A calibrated camera: K, distortion, P and image size, validated once.

    Parameters
    ----------
    matrix : array_like, shape (3, 3)
        K, the raw image's camera matrix: positive finite focal lengths, finite entries.
    width, height : int
        Image size in pixels; 0 when unknown (intrinsics given as parameters).
    distortion : array_like, shape (N,), optional
        D, the lens distortion coefficients (none: an ideal lens).
    distortion_model : str
        One of :data:`DISTORTION_MODELS`; only read when D is not all zero.
    projection : array_like, shape (3, 4), optional
        P, the rectified image's projection matrix; ``[K | 0]`` when omitted or all zero (many
        drivers leave it unset).

    Raises
    ------
    ValueError
        Naming what is wrong: a non-finite entry, a focal length that is not positive, a
        negative size, an unknown distortion model with non-zero coefficients.

    """

    def __init__(self, matrix: npt.ArrayLike, width: int = 0, height: int = 0,
                 distortion: Optional[npt.ArrayLike] = None,
                 distortion_model: str = PLUMB_BOB,
                 projection: Optional[npt.ArrayLike] = None) -> None:
        k = np.array(matrix, dtype=np.float64)
        if k.shape != (3, 3):
            raise ValueError(f'K must be 3x3, got shape {k.shape}')
        _check_focal('K', k)
        d = np.zeros(0) if distortion is None else np.array(distortion, dtype=np.float64)
        d = d.reshape(-1)
        if not np.isfinite(d).all():
            raise ValueError(f'distortion coefficients must be finite, got {d.tolist()}')
        p = np.zeros((3, 4)) if projection is None else np.array(projection, dtype=np.float64)
        if p.shape != (3, 4):
            raise ValueError(f'P must be 3x4, got shape {p.shape}')
        if not p.any():
            p = np.hstack([k, np.zeros((3, 1))])
        _check_focal('P', p)
        if int(width) != width or int(height) != height or width < 0 or height < 0:
            raise ValueError(f'image size must be whole pixels >= 0, got {width}x{height}')
        distorted = bool(d.any())
        if distorted and distortion_model not in DISTORTION_MODELS:
            raise ValueError(f'distortion model {distortion_model!r} is not one of '
                             f'{", ".join(DISTORTION_MODELS)}')
        if distorted and distortion_model == EQUIDISTANT and d.size != 4:
            raise ValueError(f'the equidistant model takes 4 coefficients, got {d.size}')
        self._k = k
        self._d = d
        self._p = p
        self.distortion_model = str(distortion_model)
        self.width, self.height = int(width), int(height)
        self.distorted = distorted

    @classmethod
    def from_intrinsics(cls, fx: float, fy: float, cx: float, cy: float, width: int = 0,
                        height: int = 0) -> 'PinholeCamera':
        """
        Return an ideal camera (no distortion, ``P = [K | 0]``) from four intrinsics.

        Parameters
        ----------
        fx, fy : float
            Focal lengths, pixels.
        cx, cy : float
            Principal point, pixels.
        width, height : int
            Image size in pixels; 0 when unknown.

        """
        matrix = [[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]
        return cls(matrix, width, height, distortion=np.zeros(5))

    @classmethod
    def plausible(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG
                  ) -> 'PinholeCamera':
        """Return a square-pixel ideal camera centred in the image, of the given field of view."""
        if not 0.0 < hfov_deg < 180.0:
            raise ValueError(f'hfov_deg must be in (0, 180), got {hfov_deg}')
        focal = width / (2.0 * math.tan(math.radians(hfov_deg) / 2.0))
        return cls.from_intrinsics(focal, focal, width / 2.0, height / 2.0, width, height)

    @property
    def matrix(self) -> npt.NDArray[np.float64]:
        """Return K, shape (3, 3) (a copy)."""
        return self._k.copy()

    @property
    def distortion(self) -> npt.NDArray[np.float64]:
        """Return D, shape (N,) (a copy)."""
        return self._d.copy()

    @property
    def projection(self) -> npt.NDArray[np.float64]:
        """Return P, shape (3, 4) (a copy)."""
        return self._p.copy()

    @property
    def fx(self) -> float:
        """Return the focal length along x, pixels."""
        return float(self._k[0, 0])

    @property
    def fy(self) -> float:
        """Return the focal length along y, pixels."""
        return float(self._k[1, 1])

    @property
    def cx(self) -> float:
        """Return the principal point's x, pixels."""
        return float(self._k[0, 2])

    @property
    def cy(self) -> float:
        """Return the principal point's y, pixels."""
        return float(self._k[1, 2])

    @property
    def rectified_matrix(self) -> npt.NDArray[np.float64]:
        """Return the camera matrix of :meth:`rectify_points`' pixels, shape (3, 3)."""
        return self._p[:, :3].copy() if self.distorted else self._k.copy()

    def rectify_points(self, points_uv: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """
        Map raw image pixels to the rectified image (identity for an ideal lens).

        Parameters
        ----------
        points_uv : array_like, shape (N, 2)
            Pixels of the raw image.

        Returns
        -------
        ndarray, shape (N, 2)
            Pixels of the rectified image, whose rays go through :attr:`rectified_matrix`.

        """
        points = np.asarray(points_uv, dtype=np.float64).reshape(-1, 2)
        if not self.distorted or len(points) == 0:
            return points.copy()
        src = points.reshape(-1, 1, 2)
        if self.distortion_model == EQUIDISTANT:
            out = cv2.fisheye.undistortPoints(src, self._k, self._d, P=self._p[:, :3],
                                              criteria=UNDISTORT_CRITERIA)
        else:
            out = _undistort_points(src, self._k, self._d, self._p[:, :3])
        return out.reshape(-1, 2).astype(np.float64)

    def rectification_jacobian(self, points_uv: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """
        Return ``d(rectified uv) / d(raw uv)`` at each pixel (identity for an ideal lens).

        Parameters
        ----------
        points_uv : array_like, shape (N, 2)
            Pixels of the raw image.

        Returns
        -------
        ndarray, shape (N, 2, 2)
            Central finite differences of :meth:`rectify_points`; carries pixel covariances
            and velocities into the rectified image.

        """
        points = np.asarray(points_uv, dtype=np.float64).reshape(-1, 2)
        count = len(points)
        if not self.distorted:
            return np.tile(np.eye(2), (count, 1, 1))
        steps = JACOBIAN_STEP_PX * np.eye(2)
        probes = np.concatenate([points + steps[0], points - steps[0],
                                 points + steps[1], points - steps[1]])
        moved = self.rectify_points(probes).reshape(4, count, 2)
        columns = [(moved[0] - moved[1]), (moved[2] - moved[3])]
        return np.stack(columns, axis=2) / (2.0 * JACOBIAN_STEP_PX)

    def __eq__(self, other: object) -> bool:
        """Return whether both cameras have the same K, D, model, P and size."""
        if not isinstance(other, PinholeCamera):
            return NotImplemented
        return (self.width, self.height, self.distortion_model) == (
            other.width, other.height, other.distortion_model) and \
            np.array_equal(self._k, other._k) and np.array_equal(self._p, other._p) and \
            self._d.shape == other._d.shape and np.array_equal(self._d, other._d)

    def __repr__(self) -> str:
        """Return the intrinsics, the size and the lens model."""
        lens = f'{self.distortion_model} {self._d.round(4).tolist()}' if self.distorted \
            else 'ideal lens'
        return (f'PinholeCamera(fx={self.fx:.2f}, fy={self.fy:.2f}, cx={self.cx:.2f}, '
                f'cy={self.cy:.2f}, {self.width}x{self.height}, {lens})')


def _check_focal(name: str, matrix: npt.NDArray[np.float64]) -> None:
    if not np.isfinite(matrix).all():
        raise ValueError(f'{name} must be finite, got {matrix.reshape(-1).tolist()}')
    fx, fy = float(matrix[0, 0]), float(matrix[1, 1])
    if not (fx > 0.0 and fy > 0.0):
        raise ValueError(f'{name} focal lengths must be positive, got fx={fx}, fy={fy}')


def _undistort_points(src: npt.NDArray[np.float64], k: npt.NDArray[np.float64],
                      d: npt.NDArray[np.float64], p: npt.NDArray[np.float64]
                      ) -> npt.NDArray[np.float64]:
    # OpenCV 4 takes the stopping criteria in undistortPointsIter, OpenCV 5 in undistortPoints.
    iterative = getattr(cv2, 'undistortPointsIter', None)
    if iterative is not None:
        return iterative(src, k, d, None, p, UNDISTORT_CRITERIA)
    return cv2.undistortPoints(src, k, d, R=None, P=p, criteria=UNDISTORT_CRITERIA)
