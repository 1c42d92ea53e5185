"""
A bounded, time-sorted buffer of odometry poses, queried at camera frame stamps.

Odometry (base in the world frame) usually runs faster than the camera and arrives on its own
schedule, sometimes out of order. ``pose_at`` interpolates between the two samples around a
frame stamp: linear in position, spherical-linear (slerp) in orientation.

Outside the buffered span it extrapolates at constant linear and angular velocity, estimated
from the newest (or oldest) sample and its neighbour, for at most ``max_gap`` seconds. We
extrapolate rather than clamp because the common case is a camera frame a few milliseconds
newer than the latest odometry; clamping would then drop the motion of that interval, which
at a yaw rate of 1 rad/s and 30 ms is already ~10 px of image shift.
"""

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from typing import Counter as CounterType, Dict, List, Optional, Tuple

from deepsort_ros.geometry.pose import Pose
import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

__all__ = ['OdometryBuffer', 'OdometryBufferConfig', 'Pose']

# Quaternions shorter than this cannot be normalised meaningfully (an uninitialised message).
MIN_QUATERNION_NORM = 1e-6


@dataclass(frozen=True)
class OdometryBufferConfig:
    """
    Settings of an :class:`OdometryBuffer`.

    Attributes
    ----------
    max_samples : int
        Samples kept; the oldest are dropped beyond this.
    max_gap : float
        Seconds: largest distance from a query stamp to the buffered span that is still
        answered (by extrapolation), and largest spacing of two neighbouring samples that is
        still interpolated.
    duplicate_tolerance : float
        Seconds: a sample this close to a buffered stamp is a duplicate and is rejected.
    min_extrapolation_baseline : float
        Seconds: extrapolation estimates the velocity from two samples at least this far
        apart, so that jitter between near-simultaneous samples is not amplified.

    """

    max_samples: int = 400
    max_gap: float = 0.5
    duplicate_tolerance: float = 1e-6
    min_extrapolation_baseline: float = 0.01

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        if int(self.max_samples) != self.max_samples or self.max_samples < 2:
            raise ValueError(f'max_samples must be an integer >= 2, got {self.max_samples}')
        if not np.isfinite(self.max_gap) or self.max_gap < 0.0:
            raise ValueError(f'max_gap must be finite and >= 0 s, got {self.max_gap}')
        if not np.isfinite(self.duplicate_tolerance) or self.duplicate_tolerance < 0.0:
            raise ValueError(
                f'duplicate_tolerance must be finite and >= 0 s, got {self.duplicate_tolerance}')
        if (not np.isfinite(self.min_extrapolation_baseline)
                or self.min_extrapolation_baseline < 0.0):
            raise ValueError('min_extrapolation_baseline must be finite and >= 0 s, got '
                             f'{self.min_extrapolation_baseline}')


class OdometryBuffer:
    """
    Time-sorted odometry samples (pose of the base in the world frame).

    Parameters
    ----------
    max_samples : int
        Samples kept; the oldest are dropped beyond this.
    max_gap : float
        Seconds; see :class:`OdometryBufferConfig`.
    config : OdometryBufferConfig, optional
        Full settings; when given, ``max_samples`` and ``max_gap`` are ignored.

    Attributes
    ----------
    last_miss_reason : str
        Why the last ``pose_at`` returned None: ``'empty'``, ``'stale'`` (stamp newer than
        the newest sample by more than max_gap), ``'out of range'`` (older than the oldest by
        more than max_gap) or ``'gap'`` (the neighbouring samples are more than max_gap
        apart); ``''`` after a successful query.
    rejected : collections.Counter
        Rejected samples by reason: ``'non-finite'``, ``'zero quaternion'``, ``'duplicate'``,
        ``'too old'`` (older than everything in a full buffer).

    """

    def __init__(self, max_samples: int = 400, max_gap: float = 0.5,
                 config: Optional[OdometryBufferConfig] = None) -> None:
        self.config = config if config is not None else OdometryBufferConfig(
            max_samples=max_samples, max_gap=max_gap)
        self._stamps: List[float] = []
        self._positions: List[npt.NDArray[np.float64]] = []
        self._quaternions: List[npt.NDArray[np.float64]] = []
        self._covariances: List[Optional[npt.NDArray[np.float64]]] = []
        self.last_miss_reason = ''
        self.rejected: CounterType[str] = Counter()

    def __len__(self) -> int:
        """Return the number of buffered samples."""
        return len(self._stamps)

    @property
    def span(self) -> Optional[Tuple[float, float]]:
        """
        Oldest and newest buffered stamps.

        Returns
        -------
        tuple of float or None
            (oldest, newest) in seconds, None when empty.

        """
        if not self._stamps:
            return None
        return self._stamps[0], self._stamps[-1]

    def clear(self) -> None:
        """Drop all samples (e.g. after a time jump backwards in a replayed bag)."""
        self._stamps.clear()
        self._positions.clear()
        self._quaternions.clear()
        self._covariances.clear()

    def add(self, stamp: float, position_xyz: npt.ArrayLike, orientation_xyzw: npt.ArrayLike,
            position_covariance: Optional[npt.ArrayLike] = None) -> bool:
        """
        Insert one sample in stamp order.

        Parameters
        ----------
        stamp : float
            Sample time in seconds.
        position_xyz : array_like
            3 vector, base origin in the world frame (m).
        orientation_xyzw : array_like
            4 quaternion (x, y, z, w), base orientation in the world frame; normalised here.
        position_covariance : array_like, optional
            3x3 position covariance (m^2).

        Returns
        -------
        bool
            True when stored; False when rejected (counted in ``rejected``).

        Raises
        ------
        ValueError
            When an array has the wrong shape (a programming error, not bad data).

        """
        position = np.asarray(position_xyz, dtype=np.float64).reshape(-1)
        quaternion = np.asarray(orientation_xyzw, dtype=np.float64).reshape(-1)
        if position.shape != (3,):
            raise ValueError(f'position_xyz must have 3 elements, got {position.shape}')
        if quaternion.shape != (4,):
            raise ValueError(f'orientation_xyzw must have 4 elements, got {quaternion.shape}')
        covariance = None
        if position_covariance is not None:
            covariance = np.asarray(position_covariance, dtype=np.float64)
            if covariance.shape != (3, 3):
                raise ValueError(
                    f'position_covariance must be 3x3, got shape {covariance.shape}')
        stamp = float(stamp)
        if not (np.isfinite(stamp) and np.all(np.isfinite(position))
                and np.all(np.isfinite(quaternion))
                and (covariance is None or np.all(np.isfinite(covariance)))):
            self.rejected['non-finite'] += 1
            return False
        norm = float(np.linalg.norm(quaternion))
        if norm < MIN_QUATERNION_NORM:
            self.rejected['zero quaternion'] += 1
            return False
        index = bisect_left(self._stamps, stamp)
        if index == 0 and len(self._stamps) >= self.config.max_samples:
            self.rejected['too old'] += 1
            return False
        tolerance = self.config.duplicate_tolerance
        if ((index < len(self._stamps) and self._stamps[index] - stamp <= tolerance)
                or (index > 0 and stamp - self._stamps[index - 1] <= tolerance)):
            self.rejected['duplicate'] += 1
            return False
        self._stamps.insert(index, stamp)
        self._positions.insert(index, position)
        self._quaternions.insert(index, quaternion / norm)
        self._covariances.insert(index, covariance)
        excess = len(self._stamps) - self.config.max_samples
        if excess > 0:
            del self._stamps[:excess]
            del self._positions[:excess]
            del self._quaternions[:excess]
            del self._covariances[:excess]
        return True

    def pose_at(self, stamp: float) -> Optional[Pose]:
        """
        Pose of the base in the world frame at ``stamp``.

        Parameters
        ----------
        stamp : float
            Query time in seconds.

        Returns
        -------
        Pose or None
            Interpolated (or, within max_gap of the span, extrapolated) pose; None when it
            cannot be answered, with the reason in ``last_miss_reason``.

        """
        stamp = float(stamp)
        stamps = self._stamps
        max_gap = self.config.max_gap
        if not stamps or not np.isfinite(stamp):
            return self._miss('empty' if not stamps else 'out of range')
        if stamp > stamps[-1] + max_gap:
            return self._miss('stale')
        if stamp < stamps[0] - max_gap:
            return self._miss('out of range')
        if len(stamps) == 1:
            # Nothing to estimate a velocity from: hold the only sample.
            return self._hit(self._sample_pose(0))
        if stamp >= stamps[-1]:
            newest = len(stamps) - 1
            return self._hit(self._blend(self._baseline_index(newest, -1), newest, stamp))
        if stamp <= stamps[0]:
            return self._hit(self._blend(0, self._baseline_index(0, 1), stamp))
        upper = bisect_left(stamps, stamp)
        lower = upper - 1
        if stamps[upper] - stamps[lower] > max_gap:
            return self._miss('gap')
        return self._hit(self._blend(lower, upper, stamp))

    def counts(self) -> Dict[str, int]:
        """
        Summarise the buffer for diagnostics.

        Returns
        -------
        dict
            ``samples`` and one ``rejected <reason>`` entry per rejection reason.

        """
        result = {'samples': len(self._stamps)}
        result.update({f'rejected {reason}': n for reason, n in self.rejected.items()})
        return result

    def _miss(self, reason: str) -> None:
        self.last_miss_reason = reason
        return None

    def _hit(self, pose: Pose) -> Pose:
        self.last_miss_reason = ''
        return pose

    def _baseline_index(self, end: int, step: int) -> int:
        # Walk away from the end sample until the pair spans min_extrapolation_baseline, so
        # that the velocity is not the ratio of two tiny, noisy differences.
        stamps = self._stamps
        index = end + step
        while (0 <= index + step < len(stamps)
               and abs(stamps[index] - stamps[end]) < self.config.min_extrapolation_baseline):
            index += step
        return index

    def _sample_pose(self, index: int) -> Pose:
        return Pose(Rotation.from_quat(self._quaternions[index]).as_matrix(),
                    self._positions[index], self._covariances[index])

    def _blend(self, first: int, second: int, stamp: float) -> Pose:
        # tau in [0, 1] interpolates; outside it extrapolates at constant (body-frame) angular
        # and linear velocity. R(tau) = R0 exp(tau log(R0^-1 R1)) is exactly slerp for
        # tau in [0, 1], and its natural continuation outside.
        if first > second:
            first, second = second, first
        t0, t1 = self._stamps[first], self._stamps[second]
        tau = (stamp - t0) / (t1 - t0)
        rotation0 = Rotation.from_quat(self._quaternions[first])
        rotation1 = Rotation.from_quat(self._quaternions[second])
        delta = Rotation.from_rotvec(tau * (rotation0.inv() * rotation1).as_rotvec())
        position = (1.0 - tau) * self._positions[first] + tau * self._positions[second]
        covariance = self._blend_covariance(first, second, tau)
        return Pose((rotation0 * delta).as_matrix(), position, covariance)

    def _blend_covariance(self, first: int, second: int,
                          tau: float) -> Optional[npt.NDArray[np.float64]]:
        covariance0 = self._covariances[first]
        covariance1 = self._covariances[second]
        if covariance0 is None or covariance1 is None:
            return covariance0 if covariance1 is None else covariance1
        # Outside the span, hold the nearer sample's covariance rather than extrapolating a
        # matrix that could lose positive definiteness.
        weight = min(max(tau, 0.0), 1.0)
        return (1.0 - weight) * covariance0 + weight * covariance1
