"""
A rigid transform between two frames, as a rotation matrix and a translation.

``Pose`` is the one representation of transforms in the ego-motion maths: the pose of frame
``child`` in frame ``parent`` maps child coordinates to parent coordinates,
``X_parent = rotation @ X_child + translation``.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np
import numpy.typing as npt

# Tolerance on R^T R = I when a pose is built; looser than float64 rounding so that rotations
# composed or interpolated by scipy pass, tight enough to catch a scaled or sheared matrix.
ORTHONORMAL_TOLERANCE = 1e-6


# eq=False: element-wise array comparison has no single truth value; compare matrices instead.
@dataclass(frozen=True, eq=False)
class Pose:
    """
    Pose of a child frame in a parent frame.

    Attributes
    ----------
    rotation : numpy.ndarray
        3x3 rotation matrix, child axes expressed in the parent frame.
    translation : numpy.ndarray
        3 vector, child origin in the parent frame (metres).
    position_covariance : numpy.ndarray or None
        3x3 covariance of ``translation`` (m^2), when the source gave one.

    """

    rotation: npt.NDArray[np.float64]
    translation: npt.NDArray[np.float64]
    position_covariance: Optional[npt.NDArray[np.float64]] = None

    def __post_init__(self) -> None:
        """Check shapes and orthonormality, and store float64 copies."""
        rotation = np.array(self.rotation, dtype=np.float64)
        translation = np.array(self.translation, dtype=np.float64).reshape(-1)
        if rotation.shape != (3, 3):
            raise ValueError(f'rotation must be 3x3, got shape {rotation.shape}')
        if translation.shape != (3,):
            raise ValueError(f'translation must have 3 elements, got {translation.shape}')
        if not (np.all(np.isfinite(rotation)) and np.all(np.isfinite(translation))):
            raise ValueError('pose contains NaN or infinite values')
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=ORTHONORMAL_TOLERANCE):
            raise ValueError('rotation is not orthonormal')
        if np.linalg.det(rotation) <= 0.0:
            raise ValueError('rotation is a reflection (determinant <= 0)')
        object.__setattr__(self, 'rotation', rotation)
        object.__setattr__(self, 'translation', translation)
        if self.position_covariance is not None:
            covariance = np.array(self.position_covariance, dtype=np.float64)
            if covariance.shape != (3, 3):
                raise ValueError(
                    f'position_covariance must be 3x3, got shape {covariance.shape}')
            object.__setattr__(self, 'position_covariance', covariance)

    @staticmethod
    def identity() -> 'Pose':
        """
        Return the identity transform.

        Returns
        -------
        Pose
            Rotation I, translation 0.

        """
        return Pose(np.eye(3), np.zeros(3))

    def compose(self, other: 'Pose') -> 'Pose':
        """
        Chain ``self`` (child in parent) with ``other`` (grandchild in child).

        Parameters
        ----------
        other : Pose
            Pose of a third frame in this pose's child frame.

        Returns
        -------
        Pose
            Pose of the third frame in this pose's parent frame; the covariance is dropped.

        """
        return Pose(self.rotation @ other.rotation,
                    self.rotation @ other.translation + self.translation)

    def inverse(self) -> 'Pose':
        """
        Return the pose of the parent frame in the child frame.

        Returns
        -------
        Pose
            The inverse transform; the covariance is dropped.

        """
        rotation_t = self.rotation.T
        return Pose(rotation_t, -rotation_t @ self.translation)

    def transform_points(self, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """
        Map points from the child frame to the parent frame.

        Parameters
        ----------
        points : numpy.ndarray
            Nx3 points in the child frame.

        Returns
        -------
        numpy.ndarray
            Nx3 points in the parent frame.

        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return points @ self.rotation.T + self.translation

    def matrix(self) -> npt.NDArray[np.float64]:
        """
        Return the 4x4 homogeneous matrix.

        Returns
        -------
        numpy.ndarray
            4x4 matrix ``[[R, t], [0, 1]]``.

        """
        result = np.eye(4)
        result[:3, :3] = self.rotation
        result[:3, 3] = self.translation
        return result
