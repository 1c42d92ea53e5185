"""
The Kalman algebra every filter of the package shares, batched over tracks.

Both filters (the image-plane box filter :mod:`~deepsort_ros.core.kalman_filter` and the
ground-plane filter :mod:`~deepsort_ros.fusion.ground_kalman`) are constant-velocity models
whose state stacks K measured quantities and their rates, ``(q_1..q_K, dq_1..dq_K)``, and whose
measurement is the first K entries (H = [I, 0]). They differ only in their noises, which each
adds itself; the transition, the gain and the corrections live here once.
"""

from typing import Tuple, Union

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _transition(mean: FloatArray, covariance: FloatArray,
                dt: Union[float, FloatArray]) -> Tuple[FloatArray, FloatArray]:
    """Return ``F x`` and ``F P F^T`` for ``F = [[I, dt I], [0, I]]`` (see ``predict``)."""
    k = mean.shape[1] // 2
    step = np.asarray(dt, dtype=np.float64)
    row_dt, matrix_dt = (step[:, None], step[:, None, None]) if step.ndim else (dt, dt)
    new_mean = mean.copy()
    new_mean[:, :k] += row_dt * mean[:, k:]
    # F P F^T by blocks: a batched (2K, 2K) product costs more.
    new_cov = covariance.copy()
    new_cov[:, :k, :] += matrix_dt * covariance[:, k:, :]
    new_cov[:, :, :k] += matrix_dt * new_cov[:, :, k:]
    return new_mean, new_cov


def inverse_2x2(matrices: FloatArray) -> FloatArray:
    """
    Invert stacked 2x2 matrices in closed form.

    Parameters
    ----------
    matrices : ndarray, shape (N, 2, 2)
        Invertible.

    Returns
    -------
    ndarray, shape (N, 2, 2)

    """
    a, b = matrices[:, 0, 0], matrices[:, 0, 1]
    c, d = matrices[:, 1, 0], matrices[:, 1, 1]
    det = a * d - b * c
    inverse = np.empty_like(matrices)
    inverse[:, 0, 0] = d / det
    inverse[:, 0, 1] = -b / det
    inverse[:, 1, 0] = -c / det
    inverse[:, 1, 1] = a / det
    return inverse


def innovation_inverse(innovation_cov: FloatArray) -> FloatArray:
    """
    Invert stacked innovation covariances, in closed form where their structure allows.

    The filters never couple the centre with the size, nor the width with the height: the
    initial, process and measurement noises are diagonal, the update keeps that, and a camera
    motion mixes only cx with cy (``KalmanFilterCV.warp``). Each box S is then a 2x2 block for
    (cx, cy) and two variances, and each ground S a 2x2 block, inverted with a few array
    operations instead of one LAPACK call per matrix (at 200 tracks numpy's inv and solve were
    a tenth of an update; gating then took 126 us instead of 179, the update 97 instead of
    182). Any other S is inverted by ``numpy.linalg.inv``.

    Parameters
    ----------
    innovation_cov : ndarray, shape (N, M, M)
        Symmetric positive definite matrices.

    Returns
    -------
    ndarray, shape (N, M, M)

    """
    s = innovation_cov
    if s.shape[1:] == (2, 2):
        return inverse_2x2(s)
    if (s.shape[1:] != (4, 4) or s[:, :2, 2:].any() or s[:, 2:, :2].any() or s[:, 2, 3].any()
            or s[:, 3, 2].any()):
        return np.linalg.inv(s)
    inverse = np.zeros_like(s)
    inverse[:, :2, :2] = inverse_2x2(s[:, :2, :2])
    inverse[:, 2, 2] = 1.0 / s[:, 2, 2]
    inverse[:, 3, 3] = 1.0 / s[:, 3, 3]
    return inverse


def correct(mean: FloatArray, covariance: FloatArray, measurement: FloatArray,
            innovation_cov: FloatArray) -> Tuple[FloatArray, FloatArray]:
    """
    Correct states with one measurement each, row by row.

    Parameters
    ----------
    mean : ndarray, shape (M, 2K)
        Stacked state means.
    covariance : ndarray, shape (M, 2K, 2K)
        Stacked state covariances.
    measurement : ndarray, shape (M, K)
        Row i measures the first K entries of state i.
    innovation_cov : ndarray, shape (M, K, K)
        ``S = H P H^T + R``, with each filter's measurement noise R.

    Returns
    -------
    mean, covariance : ndarray, shapes (M, 2K) and (M, 2K, 2K)

    """
    k = measurement.shape[1]
    # K = P H^T S^-1, with H selecting the first K state entries.
    gain = covariance[:, :, :k] @ innovation_inverse(innovation_cov)
    innovation = measurement - mean[:, :k]
    new_mean = mean + np.einsum('nij,nj->ni', gain, innovation)
    # K S K^T, not the equal K H P: that form is not symmetric in floating point, and the
    # asymmetry grows when camera motions warp the covariance (PETS09 through a moving
    # camera lost 0.3 IDF1 with it).
    new_cov = covariance - gain @ innovation_cov @ np.swapaxes(gain, 1, 2)
    return new_mean, new_cov


class ConstantVelocityFilter:
    """
    What every filter here does the same way: predict by the transition, then its own noise.

    A subclass says only its process noise (:meth:`add_process_noise`), its measurement noise
    and its gate; :meth:`predict` (and :func:`correct` for the update) are the same algebra.
    """

    def predict(self, mean: FloatArray, covariance: FloatArray,
                dt: Union[float, FloatArray]) -> Tuple[FloatArray, FloatArray]:
        """
        Predict every state dt seconds ahead.

        Parameters
        ----------
        mean : ndarray, shape (N, 2K)
            Stacked state means, quantities then their rates.
        covariance : ndarray, shape (N, 2K, 2K)
            Stacked state covariances.
        dt : float or ndarray, shape (N,)
            Seconds, >= 0: one for all states or one per state.

        Returns
        -------
        mean, covariance : ndarray, shapes (N, 2K) and (N, 2K, 2K)
            New arrays.

        """
        dt_rows = np.broadcast_to(np.asarray(dt, dtype=np.float64), (len(mean),))
        if np.any(dt_rows < 0):
            raise ValueError(f'dt must be >= 0, got {dt}')
        # A scalar dt keeps the transition's one-step form (the box filter's numbers).
        new_mean, new_cov = _transition(
            mean, covariance, dt if np.ndim(dt) == 0 else dt_rows)
        self.add_process_noise(mean, new_cov, dt_rows)
        return new_mean, new_cov

    def add_process_noise(self, mean: FloatArray, covariance: FloatArray,
                          dt: FloatArray) -> None:
        """
        Add the model's process noise over dt to predicted covariances, in place.

        Parameters
        ----------
        mean : ndarray, shape (N, 2K)
            The state means before the prediction.
        covariance : ndarray, shape (N, 2K, 2K)
            Predicted covariances, changed in place.
        dt : ndarray, shape (N,)
            Seconds per state.

        """
        raise NotImplementedError
