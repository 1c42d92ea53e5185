"""
Constant-velocity Kalman filter on cxcywh boxes, batched over tracks.

The state of a track is ``(cx, cy, w, h, vcx, vcy, vw, vh)`` with velocities in pixels per
second; every function takes stacked arrays, ``mean`` (N, 8) and ``covariance`` (N, 8, 8), so
one call predicts, gates or updates all tracks at once. Noise scales with the box size (x
quantities with the width, y quantities with the height) and the process noise with dt. The
transition and the correction are :mod:`~deepsort_ros.core.kalman_algebra`'s, shared with the
ground-plane filter; this model adds its noises, the gate and the camera-motion warp.
"""

from typing import Optional, Tuple

from deepsort_ros.core.kalman_algebra import (ConstantVelocityFilter, correct,
                                              innovation_inverse)
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

STATE_DIM = 8
MEASUREMENT_DIM = 4
# Lower bound of the size used to scale noise, px: keeps degenerate boxes invertible.
MIN_NOISE_SIZE_PX = 1.0


class KalmanFilterCV(ConstantVelocityFilter):
    """
    Constant-velocity model in image coordinates, with noise relative to the box size.

    Parameters
    ----------
    std_position : float
        Process noise of (cx, cy, w, h), fraction of box size per sqrt(second).
    std_velocity : float
        Process noise of the velocities, fraction of box size per second per sqrt(second).
    std_measurement : float
        Detection noise, fraction of box size.
    initial_velocity_std : float
        Velocity uncertainty of a new track, box sizes per second.

    """

    def __init__(self, std_position: float, std_velocity: float, std_measurement: float,
                 initial_velocity_std: float) -> None:
        self.std_position = float(std_position)
        self.std_velocity = float(std_velocity)
        self.std_measurement = float(std_measurement)
        self.initial_velocity_std = float(initial_velocity_std)

    @staticmethod
    def _sizes(boxes_cxcywh: FloatArray) -> FloatArray:
        # (N, 4) noise scale: width for x quantities, height for y quantities.
        wh = np.maximum(boxes_cxcywh[:, 2:4], MIN_NOISE_SIZE_PX)
        return np.concatenate([wh, wh], axis=1)

    def initiate(self, boxes_cxcywh: FloatArray) -> Tuple[FloatArray, FloatArray]:
        """
        Create states for new tracks from their first detection.

        Parameters
        ----------
        boxes_cxcywh : ndarray, shape (N, 4)
            Boxes (centre x, centre y, width, height), pixels.

        Returns
        -------
        mean : ndarray, shape (N, 8)
            Zero velocity.
        covariance : ndarray, shape (N, 8, 8)
            Diagonal.

        """
        n = len(boxes_cxcywh)
        mean = np.zeros((n, STATE_DIM))
        mean[:, :4] = boxes_cxcywh
        sizes = self._sizes(boxes_cxcywh)
        std = np.concatenate([2.0 * self.std_measurement * sizes,
                              self.initial_velocity_std * sizes], axis=1)
        covariance = np.zeros((n, STATE_DIM, STATE_DIM))
        idx = np.arange(STATE_DIM)
        covariance[:, idx, idx] = std ** 2
        return mean, covariance

    def add_process_noise(self, mean: FloatArray, covariance: FloatArray,
                          dt: FloatArray) -> None:
        """Add noise relative to the box size, growing with dt, on the diagonal (in place)."""
        sizes = self._sizes(mean[:, :4])
        q_diag = np.concatenate([(self.std_position * sizes) ** 2,
                                 (self.std_velocity * sizes) ** 2], axis=1) * dt[:, None]
        idx = np.arange(STATE_DIM)
        covariance[:, idx, idx] += q_diag

    def measurement_noise(self, mean: FloatArray,
                          scores: Optional[npt.NDArray[np.float64]] = None) -> FloatArray:
        """
        Return the detection noise covariances.

        Parameters
        ----------
        mean : ndarray, shape (N, 8)
            Stacked state means.
        scores : ndarray, shape (N,), optional
            When given, the noise is scaled by (1 - score) (NSA Kalman filter).

        Returns
        -------
        ndarray, shape (N, 4, 4)

        """
        noise = np.zeros((len(mean), MEASUREMENT_DIM, MEASUREMENT_DIM))
        idx = np.arange(MEASUREMENT_DIM)
        noise[:, idx, idx] = self._measurement_variance(mean, scores)
        return noise

    def _measurement_variance(self, mean: FloatArray,
                              scores: Optional[npt.NDArray[np.float64]]) -> FloatArray:
        # (N, 4): the diagonal of measurement_noise.
        var = (self.std_measurement * self._sizes(mean[:, :4])) ** 2
        if scores is not None:
            var = var * np.clip(1.0 - scores, 0.05, 1.0)[:, None]
        return var

    def project(self, mean: FloatArray, covariance: FloatArray,
                scores: Optional[npt.NDArray[np.float64]] = None
                ) -> Tuple[FloatArray, FloatArray]:
        """
        Project states into measurement space.

        Parameters
        ----------
        mean : ndarray, shape (N, 8)
            Stacked state means.
        covariance : ndarray, shape (N, 8, 8)
            Stacked state covariances.
        scores : ndarray, shape (N,), optional
            Scores of the detections, for score-scaled noise.

        Returns
        -------
        boxes_cxcywh : ndarray, shape (N, 4)
            Boxes (centre x, centre y, width, height), pixels.
        innovation_covariance : ndarray, shape (N, 4, 4)

        """
        # The noise is diagonal: added on the diagonal of a copy, not as a full (N, 4, 4).
        innovation_cov = covariance[:, :4, :4].copy()
        idx = np.arange(MEASUREMENT_DIM)
        innovation_cov[:, idx, idx] += self._measurement_variance(mean, scores)
        return mean[:, :4].copy(), innovation_cov

    def update(self, mean: FloatArray, covariance: FloatArray, boxes_cxcywh: FloatArray,
               scores: Optional[npt.NDArray[np.float64]] = None
               ) -> Tuple[FloatArray, FloatArray]:
        """
        Correct states with their matched detections, row by row.

        Parameters
        ----------
        mean : ndarray, shape (M, 8)
            Stacked state means.
        covariance : ndarray, shape (M, 8, 8)
            Stacked state covariances.
        boxes_cxcywh : ndarray, shape (M, 4)
            Row i is the detection matched to state i.
        scores : ndarray, shape (M,), optional
            For score-scaled noise.

        Returns
        -------
        mean, covariance : ndarray, shapes (M, 8) and (M, 8, 8)

        """
        _, innovation_cov = self.project(mean, covariance, scores)
        return correct(mean, covariance, boxes_cxcywh, innovation_cov)

    def gating_distance(self, mean: FloatArray, covariance: FloatArray,
                        boxes_cxcywh: FloatArray) -> FloatArray:
        """
        Squared Mahalanobis distance of every detection to every track.

        Parameters
        ----------
        mean : ndarray, shape (T, 8)
            Stacked state means.
        covariance : ndarray, shape (T, 8, 8)
            Stacked state covariances.
        boxes_cxcywh : ndarray, shape (N, 4)
            Boxes (centre x, centre y, width, height), pixels.

        Returns
        -------
        ndarray, shape (T, N)
            Compared with ``TrackerConfig.gating_threshold`` (the chi-square 0.95 quantile
            for 4 dof is 9.49).

        """
        if len(mean) == 0 or len(boxes_cxcywh) == 0:
            return np.zeros((len(mean), len(boxes_cxcywh)))
        projected, innovation_cov = self.project(mean, covariance)
        inverse = innovation_inverse(innovation_cov)
        # (z - p)^T A (z - p) = z^T A z - 2 p^T A z + p^T A p, expanded so that all T x N
        # pairs take two matrix products instead of T batched (N, 4) @ (4, 4) ones (4x faster
        # at 200 x 200); in float64 the expansion loses nothing that matters for a gate.
        # The three terms are one product: [A, -2 p^T A, p^T A p] @ [z z^T, z, 1]^T.
        z = np.asarray(boxes_cxcywh, dtype=np.float64)
        n_tracks, n_boxes = len(inverse), len(z)
        pa = np.einsum('ti,tij->tj', projected, inverse)
        track_terms = np.empty((n_tracks, 21))
        track_terms[:, :16] = inverse.reshape(n_tracks, 16)
        np.multiply(pa, -2.0, out=track_terms[:, 16:20])
        track_terms[:, 20] = np.einsum('tj,tj->t', pa, projected)
        box_terms = np.empty((21, n_boxes))
        box_terms[:16] = (z[:, :, None] * z[:, None, :]).reshape(n_boxes, 16).T
        box_terms[16:20] = z.T
        box_terms[20] = 1.0
        distance = track_terms @ box_terms
        return np.maximum(distance, 0.0, out=distance)

    @staticmethod
    def warp(mean: FloatArray, covariance: FloatArray,
             homography: FloatArray) -> Tuple[FloatArray, FloatArray]:
        """
        Move states into the image of a new camera pose.

        The homography maps previous-image pixels to current-image pixels. It is linearised at
        each track centre: the centre is mapped exactly, the velocity by the 2x2 Jacobian J,
        width and height (and their rates) by the lengths of J's columns; the covariance by the
        same block-diagonal matrix. For an affine transform this is BoT-SORT's warp.

        Parameters
        ----------
        mean : ndarray, shape (N, 8)
            Stacked state means.
        covariance : ndarray, shape (N, 8, 8)
            Stacked state covariances.
        homography : ndarray, shape (3, 3)
            Maps previous-image pixels to current-image pixels.

        Returns
        -------
        mean, covariance : ndarray, shapes (N, 8) and (N, 8, 8)

        """
        h = np.asarray(homography, dtype=np.float64)
        if h.shape != (3, 3) or not np.isfinite(h).all():
            raise ValueError(f'camera motion must be a finite 3x3 matrix, got shape {h.shape}')
        n = len(mean)
        if n == 0:
            return mean.copy(), covariance.copy()
        centres = np.concatenate([mean[:, :2], np.ones((n, 1))], axis=1)
        mapped = centres @ h.T
        w = mapped[:, 2]
        if np.any(np.abs(w) < 1e-12):
            raise ValueError('camera motion maps a track centre to infinity')
        uv = mapped[:, :2] / w[:, None]
        # J_ij = (H_ij - uv_i * H_2j) / w
        jac = (h[None, :2, :2] - uv[:, :, None] * h[None, 2:3, :2]) / w[:, None, None]
        scale = np.linalg.norm(jac, axis=1)  # (N, 2): |J[:, 0]|, |J[:, 1]|
        transform = np.zeros((n, STATE_DIM, STATE_DIM))
        transform[:, 0:2, 0:2] = jac
        transform[:, 4:6, 4:6] = jac
        for offset in (2, 6):
            transform[:, offset, offset] = scale[:, 0]
            transform[:, offset + 1, offset + 1] = scale[:, 1]
        new_mean = np.einsum('nij,nj->ni', transform, mean)
        new_mean[:, :2] = uv
        new_cov = transform @ covariance @ np.swapaxes(transform, 1, 2)
        return new_mean, new_cov
