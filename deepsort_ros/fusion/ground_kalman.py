"""
Constant-velocity Kalman filter on the world ground plane, batched over global tracks.

The state of a global track is ``(x, y, vx, vy)`` in metres and metres per second; the
measurement is a camera track's ground position ``(x, y)`` with the covariance the camera
published. Process noise is white acceleration (``std_acceleration`` m/s^2), so it grows with
dt the way a walking person's uncertainty does. The transition and the correction are
:mod:`~deepsort_ros.core.kalman_algebra`'s, shared with the image-plane box filter.
"""

from typing import Tuple

from deepsort_ros.core.kalman_algebra import ConstantVelocityFilter, correct
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

STATE_DIM = 4


class GroundKalmanCV(ConstantVelocityFilter):
    """
    Constant-velocity model in the ground plane.

    Parameters
    ----------
    std_acceleration : float
        White-noise acceleration, m/s^2.
    measurement_std_floor : float
        Metres added in quadrature to every measurement's own standard deviation.

    """

    def __init__(self, std_acceleration: float, measurement_std_floor: float) -> None:
        self.std_acceleration = float(std_acceleration)
        self.floor_var = float(measurement_std_floor) ** 2

    def initiate(self, position_xy: FloatArray, position_cov: FloatArray,
                 velocity_xy: FloatArray, velocity_cov: FloatArray
                 ) -> Tuple[FloatArray, FloatArray]:
        """
        Create states from first measurements.

        Parameters
        ----------
        position_xy : ndarray, shape (N, 2)
            Ground positions, m.
        position_cov : ndarray, shape (N, 2, 2)
            Their covariances, m^2 (the floor is added here).
        velocity_xy : ndarray, shape (N, 2)
            Velocities, m/s.
        velocity_cov : ndarray, shape (N, 2, 2)
            Their covariances, m^2/s^2.

        Returns
        -------
        mean : ndarray, shape (N, 4)
        covariance : ndarray, shape (N, 4, 4)
            Block diagonal: position, velocity.

        """
        n = len(position_xy)
        mean = np.concatenate([position_xy, velocity_xy], axis=1).astype(np.float64)
        covariance = np.zeros((n, STATE_DIM, STATE_DIM))
        covariance[:, :2, :2] = position_cov + self.floor_var * np.eye(2)
        covariance[:, 2:, 2:] = velocity_cov
        return mean, covariance

    def add_process_noise(self, mean: FloatArray, covariance: FloatArray,
                          dt: FloatArray) -> None:
        """Add white-acceleration noise over dt, position and velocity correlated (in place)."""
        q = self.std_acceleration ** 2
        eye = np.eye(2)
        covariance[:, :2, :2] += (q * dt ** 3 / 3.0)[:, None, None] * eye
        cross = (q * dt ** 2 / 2.0)[:, None, None] * eye
        covariance[:, :2, 2:] += cross
        covariance[:, 2:, :2] += cross
        covariance[:, 2:, 2:] += (q * dt)[:, None, None] * eye

    def update(self, mean: FloatArray, covariance: FloatArray, position_xy: FloatArray,
               position_cov: FloatArray) -> Tuple[FloatArray, FloatArray]:
        """
        Correct states with one position measurement each, row by row.

        Parameters
        ----------
        mean : ndarray, shape (M, 4)
            Stacked state means.
        covariance : ndarray, shape (M, 4, 4)
            Stacked state covariances.
        position_xy : ndarray, shape (M, 2)
            Row i measures state i, m.
        position_cov : ndarray, shape (M, 2, 2)
            Their covariances, m^2 (the floor is added here).

        Returns
        -------
        mean, covariance : ndarray, shapes (M, 4) and (M, 4, 4)

        """
        innovation_cov = covariance[:, :2, :2] + position_cov + self.floor_var * np.eye(2)
        # The box filter's K S K^T update: this filter's own P - K H P, symmetrised, gave the
        # same bench_fusion and bench_world tables to the last digit.
        return correct(mean, covariance, position_xy, innovation_cov)

    def gating_distance(self, mean: FloatArray, covariance: FloatArray,
                        position_xy: FloatArray, position_cov: FloatArray) -> FloatArray:
        """
        Squared Mahalanobis distance of every measurement to every state.

        Parameters
        ----------
        mean : ndarray, shape (T, 4)
            State means.
        covariance : ndarray, shape (T, 4, 4)
            State covariances.
        position_xy : ndarray, shape (N, 2)
            Measured positions, m.
        position_cov : ndarray, shape (N, 2, 2)
            Their covariances, m^2.

        Returns
        -------
        ndarray, shape (T, N)
            Under ``(P_t + R_n + floor^2 I)``; compare with a chi-square quantile for 2 dof.

        """
        s = (covariance[:, None, :2, :2] + position_cov[None, :, :, :]
             + self.floor_var * np.eye(2))
        return _mahalanobis_2d(position_xy[None, :, :] - mean[:, None, :2], s)

    def pair_distance(self, mean: FloatArray, covariance: FloatArray, position_xy: FloatArray,
                      position_cov: FloatArray) -> FloatArray:
        """
        Squared Mahalanobis distance of measurement i to state i.

        Parameters
        ----------
        mean : ndarray, shape (M, 4)
            State means.
        covariance : ndarray, shape (M, 4, 4)
            State covariances.
        position_xy : ndarray, shape (M, 2)
            Row i measures state i, m.
        position_cov : ndarray, shape (M, 2, 2)
            Their covariances, m^2.

        Returns
        -------
        ndarray, shape (M,)

        """
        s = covariance[:, :2, :2] + position_cov + self.floor_var * np.eye(2)
        return _mahalanobis_2d(position_xy - mean[:, :2], s)


def _mahalanobis_2d(delta: FloatArray, s: FloatArray) -> FloatArray:
    """Return ``delta^T s^-1 delta`` over leading axes, by the closed-form 2x2 inverse."""
    a, b, d = s[..., 0, 0], s[..., 0, 1], s[..., 1, 1]
    det = a * d - b * b
    dx, dy = delta[..., 0], delta[..., 1]
    with np.errstate(divide='ignore', invalid='ignore'):
        distance = (dx * dx * d - 2.0 * dx * dy * b + dy * dy * a) / det
    return np.where(det > 0.0, distance, np.inf)
