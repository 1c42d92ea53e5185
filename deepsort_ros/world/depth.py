"""
World positions of tracks from a depth image registered to the colour image.

RGB-D robots (a RealSense or an OAK-D) publish depth aligned to the colour camera: 16UC1 in
millimetres or 32FC1 in metres, 0 or NaN where the sensor saw nothing. Where a track's box has
enough valid depth over the lower body, its position is the median depth there back-projected
through the box's centre column: no ground plane, no range error from a box bottom. The
covariance comes from the depth noise model of a stereo / structured-light sensor (sigma grows
with depth squared) and a pixel error of the chosen point, carried through the back-projection.
Where depth is missing or invalid, the caller falls back to the ground plane, per track.

ROS-free: numpy (and the geometry room's OpenCV lens model).
"""

from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple

from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.pose import Pose
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Encodings of registered depth images and their scale to metres.
DEPTH_ENCODINGS = {'16UC1': ('u2', 0.001), 'mono16': ('u2', 0.001), '32FC1': ('f4', 1.0)}


@dataclass(frozen=True)
class DepthConfig:
    """
    Settings of :func:`depth_positions`.

    Attributes
    ----------
    rows : tuple of 2 float
        Band of the box height whose depth is used, as fractions from its top: the lower body
        (hips to knees) is the part least often hidden by a table or lost against the floor.
    width_fraction : float
        Central share of the box width used (the edges see the background).
    min_valid_fraction : float
        Share of the band's pixels that must hold valid depth; below it the track falls back
        to the ground plane.
    depth_range_m : tuple of 2 float
        Depths outside (min, max) are invalid, m.
    depth_std_quadratic : float
        k of the depth noise sigma_z = floor + k z^2, 1/m (about 0.005 for a RealSense D435
        at its default settings).
    depth_std_floor : float
        Depth sigma that does not shrink with depth, m.
    point_std_px : float
        Pixel error of the back-projected point on each image axis (where the box centre
        column is against the body's), px.

    """

    rows: Tuple[float, float] = (0.5, 0.85)
    width_fraction: float = 0.5
    min_valid_fraction: float = 0.25
    depth_range_m: Tuple[float, float] = (0.2, 20.0)
    depth_std_quadratic: float = 0.005
    depth_std_floor: float = 0.02
    point_std_px: float = 3.0

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        low, high = self.rows
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f'rows must satisfy 0 <= low < high <= 1, got {self.rows!r}')
        near, far = self.depth_range_m
        if not (np.isfinite(far) and 0.0 <= near < far):
            raise ValueError(f'depth_range_m must satisfy 0 <= near < far, got '
                             f'{self.depth_range_m!r}')
        for name in ('width_fraction', 'min_valid_fraction'):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f'{name} must be in (0, 1], got {value!r}')
        for name in ('depth_std_quadratic', 'depth_std_floor', 'point_std_px'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f'{name} must be finite and >= 0, got {value!r}')


class DepthPositions(NamedTuple):
    """
    Per-box world positions from depth.

    Attributes
    ----------
    position_xy : ndarray, shape (N, 2)
        World positions, m; NaN where ``valid`` is False.
    position_cov : ndarray, shape (N, 2, 2)
        Their covariances, m^2; NaN where ``valid`` is False.
    depth_m : ndarray, shape (N,)
        Median depth of each box's band, m; NaN where too few pixels were valid.
    valid : ndarray, shape (N,)
        True where the box had enough valid depth.

    """

    position_xy: FloatArray
    position_cov: FloatArray
    depth_m: FloatArray
    valid: npt.NDArray[np.bool_]


def decode_depth(encoding: str, height: int, width: int, step: int, data: bytes,
                 is_bigendian: bool) -> Tuple[Optional[npt.NDArray[np.float32]], str]:
    """
    Return a depth image in metres from the fields of a ``sensor_msgs/Image``.

    Parameters
    ----------
    encoding : str
        ``16UC1`` / ``mono16`` (mm) or ``32FC1`` (m).
    height, width, step : int
        Rows, columns and bytes per row.
    data : bytes
        The pixels.
    is_bigendian : bool
        Byte order of the pixels.

    Returns
    -------
    depth : ndarray, shape (height, width), float32, or None
        Metres; 0 and non-finite pixels become NaN (no reading). None when the message cannot
        be read.
    reason : str
        Why it could not be read ('' when it could).

    """
    if encoding not in DEPTH_ENCODINGS:
        return None, f'depth encoding {encoding!r} is not one of {sorted(DEPTH_ENCODINGS)}'
    kind, scale = DEPTH_ENCODINGS[encoding]
    dtype = np.dtype(('>' if is_bigendian else '<') + kind)
    if height <= 0 or width <= 0 or step < width * dtype.itemsize:
        return None, f'depth image {width}x{height} with step {step} is malformed'
    if len(data) < step * (height - 1) + width * dtype.itemsize:
        return None, f'depth image data has {len(data)} bytes, {width}x{height} needs more'
    rows = np.frombuffer(bytes(data[:step * height]).ljust(step * height, b'\0'), np.uint8)
    pixels = rows.reshape(height, step)[:, :width * dtype.itemsize].copy().view(dtype)
    depth = pixels.astype(np.float32) * np.float32(scale)
    depth[~np.isfinite(depth) | (depth <= 0.0)] = np.nan
    return depth, ''


def depth_positions(depth_m: npt.ArrayLike, boxes_tlwh: npt.ArrayLike, camera: PinholeCamera,
                    pose_world_camera: Pose, config: Optional[DepthConfig] = None
                    ) -> DepthPositions:
    """
    Place boxes in the world from a depth image registered to their image.

    Parameters
    ----------
    depth_m : array_like, shape (H, W)
        Depth along the optical axis, m; NaN, 0 or out of ``depth_range_m`` is no reading.
        It must have the colour image's size (the caller checks it against the camera).
    boxes_tlwh : array_like, shape (N, 4)
        Boxes of the colour image, px.
    camera : PinholeCamera
        The colour camera (the depth image is registered to it).
    pose_world_camera : Pose
        Camera optical frame in the world frame.
    config : DepthConfig, optional
        Band, validity and noise settings; the defaults when None.

    Returns
    -------
    DepthPositions
        N rows aligned with ``boxes_tlwh``.

    """
    config = config if config is not None else DepthConfig()
    depth = np.asarray(depth_m, dtype=np.float64)
    boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    median = np.full(n, np.nan)
    height, width = depth.shape
    near, far = config.depth_range_m
    top = boxes[:, 1] + config.rows[0] * boxes[:, 3]
    bottom = boxes[:, 1] + config.rows[1] * boxes[:, 3]
    centre_u = boxes[:, 0] + boxes[:, 2] / 2.0
    half = config.width_fraction * boxes[:, 2] / 2.0
    finite = np.all(np.isfinite(boxes), axis=1)
    for i in np.flatnonzero(finite):
        # Boxes are few and their bands differ in size: one slice each.
        r0, r1 = int(max(np.floor(top[i]), 0)), int(min(np.ceil(bottom[i]), height))
        c0 = int(max(np.floor(centre_u[i] - half[i]), 0))
        c1 = int(min(np.ceil(centre_u[i] + half[i]), width))
        if r1 <= r0 or c1 <= c0:
            continue
        band = depth[r0:r1, c0:c1]
        readings = band[np.isfinite(band) & (band > near) & (band < far)]
        if readings.size >= config.min_valid_fraction * band.size and readings.size:
            median[i] = np.median(readings)
    valid = np.isfinite(median)
    position = np.full((n, 2), np.nan)
    covariance = np.full((n, 2, 2), np.nan)
    if not valid.any():
        return DepthPositions(position, covariance, median, valid)
    z = median[valid]
    uv = np.column_stack([centre_u[valid], (top[valid] + bottom[valid]) / 2.0])
    k = camera.rectified_matrix
    rectified = camera.rectify_points(uv)
    # Back-projection X = z K^-1 [u, v, 1] and its Jacobian in (u, v, z).
    ray = np.column_stack([(rectified[:, 0] - k[0, 2]) / k[0, 0],
                           (rectified[:, 1] - k[1, 2]) / k[1, 1], np.ones(len(z))])
    point_camera = ray * z[:, None]
    jacobian = np.zeros((len(z), 3, 3))
    jacobian[:, 0, 0] = z / k[0, 0]
    jacobian[:, 1, 1] = z / k[1, 1]
    jacobian[:, :, 2] = ray
    jacobian[:, :, :2] = jacobian[:, :, :2] @ camera.rectification_jacobian(uv)
    sigma_z = config.depth_std_floor + config.depth_std_quadratic * z ** 2
    noise = np.zeros((len(z), 3, 3))
    noise[:, 0, 0] = noise[:, 1, 1] = config.point_std_px ** 2
    noise[:, 2, 2] = sigma_z ** 2
    rotation = np.asarray(pose_world_camera.rotation, dtype=np.float64)
    world = point_camera @ rotation.T + np.asarray(pose_world_camera.translation)
    to_world = rotation[None, :2, :] @ jacobian
    position[valid] = world[:, :2]
    covariance[valid] = to_world @ noise @ np.swapaxes(to_world, 1, 2)
    return DepthPositions(position, covariance, median, valid)
