"""
One world frame for every camera: a camera's ground positions moved into the fusion's frame.

Each camera's tracker places its tracks on the ground plane of its own world frame (its
odometry frame, ``TrackArray.world_frame_id``). When that is not the fusion's frame, the
camera's frame must sit on the same ground plane, turned and shifted: a :class:`PlanarTransform`
(from TF, or from the camera's parameters) carries positions, velocities and their
covariances over. A transform that tilts the ground is refused: the planes would not agree.

ROS-free: numpy only.
"""

from dataclasses import dataclass, replace
import math
from typing import Sequence

from deepsort_ros.fusion.inputs import CameraBatch
import numpy as np
import numpy.typing as npt

# Radians: a frame tilted more than this against the fusion's ground is not on one plane with it.
MAX_TILT_RAD = math.radians(2.0)


@dataclass(frozen=True)
class PlanarTransform:
    """
    Pose of a camera's world frame in the fusion's world frame, on the ground plane.

    Attributes
    ----------
    x, y : float
        Origin of the camera's frame in the fusion's frame, m.
    yaw : float
        Its rotation about z, radians (counter-clockwise).

    """

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    def __post_init__(self) -> None:
        """Refuse values that are not finite."""
        if not all(math.isfinite(v) for v in (self.x, self.y, self.yaw)):
            raise ValueError(f'a planar transform must be finite, got {self}')

    @classmethod
    def from_xy_yaw(cls, values: Sequence[float]) -> 'PlanarTransform':
        """Return the transform of ``[x, y, yaw]`` (a camera's ``world_pose`` parameter)."""
        if len(values) != 3:
            raise ValueError(f'a planar transform is [x, y, yaw], got {list(values)}')
        return cls(*(float(v) for v in values))

    @classmethod
    def from_xyz_quaternion(cls, translation_xyz: npt.ArrayLike,
                            quaternion_xyzw: npt.ArrayLike,
                            max_tilt: float = MAX_TILT_RAD) -> 'PlanarTransform':
        """
        Return the planar part of a 3-D transform (TF), refusing one that tilts the ground.

        Parameters
        ----------
        translation_xyz : array_like, shape (3,)
            m; z (a height offset between the frames) is not used.
        quaternion_xyzw : array_like, shape (4,)
            Rotation of the camera's frame in the fusion's frame.
        max_tilt : float
            Radians of roll or pitch beyond which the frames' ground planes disagree.

        Raises
        ------
        ValueError
            A zero or non-finite quaternion, or one that tilts by more than ``max_tilt``.

        """
        t = np.asarray(translation_xyz, dtype=np.float64).reshape(3)
        q = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(4)
        norm = float(np.linalg.norm(q))
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q)) and norm > 1e-9):
            raise ValueError(f'transform is not finite or has a zero quaternion: {t}, {q}')
        x, y, z, w = q / norm
        # z axis of the rotated frame, in the fusion's frame: its angle to z is the tilt.
        z_axis_z = 1.0 - 2.0 * (x * x + y * y)
        tilt = math.acos(max(-1.0, min(1.0, z_axis_z)))
        if tilt > max_tilt:
            raise ValueError(f'the transform tilts the ground by {math.degrees(tilt):.1f} deg '
                             f'(at most {math.degrees(max_tilt):.1f}): not one ground plane')
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        return cls(float(t[0]), float(t[1]), yaw)

    @property
    def rotation(self) -> npt.NDArray[np.float64]:
        """Return the 2x2 rotation."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s], [s, c]])

    def apply(self, batch: CameraBatch, world_frame: str) -> CameraBatch:
        """
        Return a batch's ground estimates in the fusion's frame.

        Parameters
        ----------
        batch : CameraBatch
            In the camera's world frame.
        world_frame : str
            The fusion's frame, which the returned batch names.

        Returns
        -------
        CameraBatch
            Positions ``R p + t``, velocities ``R v``, covariances ``R C R^T``; the rest as
            given.

        """
        r = self.rotation
        return replace(batch,
                       position_xy=batch.position_xy @ r.T + np.array([self.x, self.y]),
                       position_cov=r @ batch.position_cov @ r.T,
                       velocity_xy=batch.velocity_xy @ r.T,
                       velocity_cov=r @ batch.velocity_cov @ r.T,
                       world_frame=world_frame)
