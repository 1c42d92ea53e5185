"""
What one camera's tracker sends the fusion: its tracks at one stamp, as stacked arrays.

A :class:`CameraBatch` is every track of one camera update (a ``TrackArray``'s content):
local ids, whether each was detected now, ground-plane position and velocity with their
covariances and a validity flag, and the smoothed Re-ID feature, with the name of the encoder
that made the features. :class:`CameraTrack` is one row, for callers that build tracks one at a
time. Shapes that do not fit raise ValueError (API misuse); bad values are flagged by
:func:`sanitise` and counted by the fusion, never raised.
"""

from dataclasses import dataclass
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

from deepsort_ros.core.track_state import TrackState
from deepsort_ros.core.track_table import normalise_rows
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Ground covariances whose smallest eigenvalue is below this (m^2) are not positive definite.
MIN_COVARIANCE_EIGENVALUE = -1e-9


class CameraTrack(NamedTuple):
    """
    One local track of one camera update.

    Attributes
    ----------
    local_id : int
        The camera tracker's identity (its ``Track.id``), > 0.
    state : TrackState
        CONFIRMED (detected in this frame) or COASTING; TENTATIVE and DELETED tracks are left
        out of a batch.
    position_xy : ndarray, shape (2,), optional
        World ground position, m.
    position_cov : ndarray, shape (2, 2), optional
        Its covariance, m^2.
    velocity_xy : ndarray, shape (2,), optional
        World ground velocity, m/s.
    velocity_cov : ndarray, shape (2, 2), optional
        Its covariance, m^2/s^2.
    world_valid : bool
        The camera could place the track on the ground (pose, intrinsics, below the horizon).
    feature : ndarray, shape (D,), optional
        The track's smoothed Re-ID feature.

    """

    local_id: int
    state: TrackState = TrackState.CONFIRMED
    position_xy: Optional[npt.ArrayLike] = None
    position_cov: Optional[npt.ArrayLike] = None
    velocity_xy: Optional[npt.ArrayLike] = None
    velocity_cov: Optional[npt.ArrayLike] = None
    world_valid: bool = False
    feature: Optional[npt.ArrayLike] = None


@dataclass(frozen=True, eq=False)
class CameraBatch:
    """
    All tracks of one camera update, stacked.

    Attributes
    ----------
    local_ids : ndarray of int, shape (N,)
    detected : ndarray of bool, shape (N,)
        Matched to a detection in this frame (CONFIRMED); False for COASTING.
    position_xy : ndarray, shape (N, 2)
        Ground positions, m (any value where ``world_valid`` is False).
    position_cov : ndarray, shape (N, 2, 2)
        m^2.
    velocity_xy : ndarray, shape (N, 2)
        m/s.
    velocity_cov : ndarray, shape (N, 2, 2)
        m^2/s^2.
    world_valid : ndarray of bool, shape (N,)
    features : ndarray of float32, shape (N, D), optional
        Smoothed Re-ID features; an all-zero row is a track without one.
    encoder : str
        Name and weights digest of the encoder that made ``features`` (e.g.
        ``'osnet_x0_25_msmt17:sha256:1a2b...'``); features of different encoders are never
        compared.
    source_id : str
        Identity of the sending tracker run (its track-UUID namespace): two senders using one
        camera name are told apart by it; '' when unknown.
    world_frame : str
        Frame of the ground positions (``TrackArray.world_frame_id``); positions in another
        frame than the fusion's are not used. '' when unknown (trusted).

    """

    local_ids: IntArray
    detected: BoolArray
    position_xy: FloatArray
    position_cov: FloatArray
    velocity_xy: FloatArray
    velocity_cov: FloatArray
    world_valid: BoolArray
    features: Optional[npt.NDArray[np.float32]] = None
    encoder: str = ''
    source_id: str = ''
    world_frame: str = ''

    def __post_init__(self) -> None:
        """Check shapes (ValueError) and store arrays of the documented dtypes."""
        ids = np.asarray(self.local_ids).reshape(-1)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            if not np.all(np.isfinite(ids.astype(np.float64))) or \
                    not np.all(ids == np.round(ids)):
                raise ValueError('local_ids must be whole numbers')
        n = len(ids)
        expected = {'detected': (n,), 'position_xy': (n, 2), 'position_cov': (n, 2, 2),
                    'velocity_xy': (n, 2), 'velocity_cov': (n, 2, 2), 'world_valid': (n,)}
        object.__setattr__(self, 'local_ids', ids.astype(np.int64))
        for name, shape in expected.items():
            dtype = bool if name in ('detected', 'world_valid') else np.float64
            value = np.asarray(getattr(self, name), dtype=dtype)
            if value.shape != shape:
                raise ValueError(f'{name} must have shape {shape}, got {value.shape}')
            object.__setattr__(self, name, value)
        if self.features is not None:
            features = np.asarray(self.features, dtype=np.float32)
            if features.ndim != 2 or len(features) != n:
                raise ValueError(f'features must have shape ({n}, D), got {features.shape}')
            object.__setattr__(self, 'features', features)
        if not all(isinstance(v, str) for v in (self.encoder, self.source_id, self.world_frame)):
            raise ValueError('encoder, source_id and world_frame must be strings')

    def __len__(self) -> int:
        """Return the number of tracks."""
        return len(self.local_ids)

    def positions_ahead(self, lag: float) -> Tuple[FloatArray, FloatArray]:
        """
        Return the ground positions and covariances predicted ``lag`` seconds forward.

        Parameters
        ----------
        lag : float
            Seconds; <= 0 returns the positions as sent.

        Returns
        -------
        position_xy : ndarray, shape (N, 2)
        position_cov : ndarray, shape (N, 2, 2)

        """
        if lag <= 0.0:
            return self.position_xy, self.position_cov
        position = self.position_xy + lag * self.velocity_xy
        return position, self.position_cov + lag * lag * self.velocity_cov

    @classmethod
    def empty(cls, encoder: str = '', source_id: str = '',
              world_frame: str = '') -> 'CameraBatch':
        """Return a batch without tracks (a camera that sees nobody)."""
        return cls(np.zeros(0, np.int64), np.zeros(0, bool), np.zeros((0, 2)),
                   np.zeros((0, 2, 2)), np.zeros((0, 2)), np.zeros((0, 2, 2)),
                   np.zeros(0, bool), None, encoder, source_id, world_frame)

    @classmethod
    def from_tracks(cls, tracks: Sequence[CameraTrack], encoder: str = '',
                    source_id: str = '', world_frame: str = '') -> 'CameraBatch':
        """
        Stack :class:`CameraTrack` rows; TENTATIVE and DELETED ones are left out.

        Parameters
        ----------
        tracks : sequence of CameraTrack
            One camera update's tracks.
        encoder : str
            See the class attributes.
        source_id : str
            See the class attributes.
        world_frame : str
            See the class attributes.

        Returns
        -------
        CameraBatch
            Missing positions or covariances are NaN (and the row not world-valid); features
            of differing lengths raise ValueError.

        """
        kept = [t for t in tracks if t.state in (TrackState.CONFIRMED, TrackState.COASTING)]
        if not kept:
            return cls.empty(encoder, source_id, world_frame)
        nan2, nan22 = np.full(2, np.nan), np.full((2, 2), np.nan)

        def stack(name: str, missing: npt.NDArray[np.float64]) -> FloatArray:
            return np.stack([np.asarray(getattr(t, name), dtype=np.float64)
                             if getattr(t, name) is not None else missing for t in kept])

        dims = {len(np.asarray(t.feature).reshape(-1)) for t in kept if t.feature is not None}
        if len(dims) > 1:
            raise ValueError(f'features of one batch have different lengths: {sorted(dims)}')
        features = None
        if dims:
            dim = dims.pop()
            features = np.zeros((len(kept), dim), np.float32)
            for i, t in enumerate(kept):
                if t.feature is not None:
                    features[i] = np.asarray(t.feature, dtype=np.float32).reshape(-1)
        return cls(np.array([int(t.local_id) for t in kept], dtype=np.int64),
                   np.array([t.state is TrackState.CONFIRMED for t in kept]),
                   stack('position_xy', nan2), stack('position_cov', nan22),
                   stack('velocity_xy', nan2), stack('velocity_cov', nan22),
                   np.array([bool(t.world_valid) and t.position_xy is not None
                             for t in kept]), features, encoder, source_id, world_frame)


@dataclass(frozen=True, eq=False)
class SanitisedBatch:
    """
    A batch the fusion can use: bad rows repaired or demoted, features unit or absent.

    Attributes
    ----------
    batch : CameraBatch
        Positions of rows that are not world-valid are NaN; velocities repaired (zero, with
        ``fallback_velocity_std``) where they were bad; features normalised.
    has_feature : ndarray of bool, shape (N,)
    refused : dict of str to int
        What was refused, by reason: ``bad_pose`` (world-valid rows with a non-finite, absurd
        or not positive semi-definite position or covariance; they continue without a world
        estimate), ``world_frame_mismatch`` (positions in another frame than the fusion's: the
        batch continues without world estimates), ``bad_velocity``, ``bad_feature``
        (non-finite rows), ``feature_length``
        and ``encoder_mismatch`` (all features of the batch dropped), ``duplicate_local_id``
        (rows dropped), ``bad_local_id`` (ids <= 0, rows dropped).

    """

    batch: CameraBatch
    has_feature: BoolArray
    refused: Dict[str, int]


def sanitise(batch: CameraBatch, encoder: str, feature_dim: Optional[int],
             max_position: float, fallback_velocity_std: float,
             world_frame: str = '') -> SanitisedBatch:
    """
    Flag and repair a batch's bad values; drop features the fusion must not compare.

    Parameters
    ----------
    batch : CameraBatch
        One camera update, as sent.
    encoder : str
        The fusion's encoder ('' when none fixed yet: any is accepted).
    feature_dim : int, optional
        The fusion's feature length (None when none fixed yet).
    max_position : float
        Metres; larger positions are bad data.
    fallback_velocity_std : float
        m/s given to velocities that were bad.
    world_frame : str
        The fusion's world frame ('' when none fixed yet: any is accepted).

    Returns
    -------
    SanitisedBatch

    """
    refused: Dict[str, int] = {}

    def count(reason: str, n: int) -> None:
        if n:
            refused[reason] = refused.get(reason, 0) + int(n)

    keep = _unique_valid_ids(batch.local_ids, count)
    pos, pos_cov = batch.position_xy[keep], batch.position_cov[keep]
    vel, vel_cov = batch.velocity_xy[keep].copy(), batch.velocity_cov[keep].copy()
    valid = batch.world_valid[keep].copy()
    if world_frame and batch.world_frame and batch.world_frame != world_frame:
        count('world_frame_mismatch', 1)
        valid[:] = False
    good_pose = (np.all(np.isfinite(pos), axis=1) & np.all(np.abs(pos) <= max_position, axis=1)
                 & _positive_semidefinite(pos_cov))
    count('bad_pose', np.sum(valid & ~good_pose))
    valid &= good_pose
    good_velocity = (np.all(np.isfinite(vel), axis=1) & _positive_semidefinite(vel_cov)
                     & np.all(np.abs(vel) <= max_position, axis=1))
    count('bad_velocity', np.sum(valid & ~good_velocity))
    vel[~good_velocity] = 0.0
    vel_cov[~good_velocity] = (fallback_velocity_std ** 2) * np.eye(2)
    pos = np.where(valid[:, None], pos, np.nan)
    pos_cov = np.where(valid[:, None, None], pos_cov, np.nan)
    features, has_feature = _usable_features(batch, keep, encoder, feature_dim, count)
    clean = CameraBatch(batch.local_ids[keep], batch.detected[keep], pos, pos_cov, vel, vel_cov,
                        valid, features, batch.encoder, batch.source_id, batch.world_frame)
    return SanitisedBatch(clean, has_feature, refused)


def _unique_valid_ids(local_ids: IntArray, count) -> IntArray:
    """Return the rows to keep: ids > 0, the first row of a repeated id."""
    positive = local_ids > 0
    count('bad_local_id', np.sum(~positive))
    rows = np.flatnonzero(positive)
    _, first = np.unique(local_ids[rows], return_index=True)
    count('duplicate_local_id', len(rows) - len(first))
    return rows[np.sort(first)]


def _positive_semidefinite(cov: FloatArray) -> BoolArray:
    """Return which (N, 2, 2) matrices are finite, symmetric and positive semi-definite."""
    finite = np.all(np.isfinite(cov), axis=(1, 2))
    safe = np.where(finite[:, None, None], cov, 0.0)
    a, b, c, d = safe[:, 0, 0], safe[:, 0, 1], safe[:, 1, 0], safe[:, 1, 1]
    symmetric = np.abs(b - c) <= 1e-6 * (1.0 + np.abs(a) + np.abs(d))
    # A symmetric 2x2 is PSD iff its trace and determinant are >= 0.
    psd = (a + d >= MIN_COVARIANCE_EIGENVALUE) & (a * d - b * c >= MIN_COVARIANCE_EIGENVALUE) \
        & (a >= MIN_COVARIANCE_EIGENVALUE) & (d >= MIN_COVARIANCE_EIGENVALUE)
    return finite & symmetric & psd


def _usable_features(batch: CameraBatch, keep: IntArray, encoder: str,
                     feature_dim: Optional[int], count
                     ) -> Tuple[Optional[npt.NDArray[np.float32]], BoolArray]:
    n = len(keep)
    if batch.features is None or batch.features.shape[1] == 0:
        return None, np.zeros(n, dtype=bool)
    if encoder and batch.encoder != encoder:
        count('encoder_mismatch', 1)
        return None, np.zeros(n, dtype=bool)
    if feature_dim is not None and batch.features.shape[1] != feature_dim:
        count('feature_length', 1)
        return None, np.zeros(n, dtype=bool)
    features = batch.features[keep]
    finite = np.all(np.isfinite(features), axis=1)
    count('bad_feature', np.sum(~finite))
    features = np.where(finite[:, None], features, 0.0)
    # Norms in float64: squares of large float32 features would overflow.
    norms = np.linalg.norm(features.astype(np.float64), axis=1)
    has_feature = finite & (norms > 0.0)
    return normalise_rows(features), has_feature
