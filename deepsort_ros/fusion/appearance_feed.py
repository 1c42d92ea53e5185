"""
Appearance over the wire, sparingly: when a camera sends a feature, what the fusion keeps.

A 512-d float32 feature is 2 kB; sent for every track in every frame it would be most of a
camera's traffic to the fusion (20.8 kB a frame at 10 tracks), yet a track's smoothed feature
(its gallery's representative) changes slowly. :class:`AppearanceSchedule` (the sender's side)
says which tracks' features are due in a frame: a newly confirmed track's at once, then again
only after ``period`` and when it moved by ``min_change`` (cosine distance), and unchanged
after ``refresh`` (so that a fusion that started later learns it).
:class:`AppearanceCache` (the fusion's side) keeps the latest feature of every track by its
UUID, with the encoder that made it, and hands a camera update the rows of its tracks.

ROS-free: numpy only.
"""

from collections import OrderedDict
from dataclasses import dataclass, field, fields
import math
from typing import Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


def encoder_identity(name: str, digest: str) -> str:
    """
    Return what the fusion compares to tell encoders apart: the weights' digest, else the name.

    Features of one weights file are comparable whatever runs them (onnxruntime, torch fp16);
    two files are never taken for one encoder, even when one is the other's ONNX export.

    Parameters
    ----------
    name : str
        The encoder's description (``TrackAppearanceArray.encoder``).
    digest : str
        SHA-256 of its weights file, hex; '' when unknown.

    Returns
    -------
    str
        ``'sha256:<digest>'``, or ``'name:<name>'`` without a digest; '' with neither.

    """
    if digest:
        return f'sha256:{digest.lower()}'
    return f'name:{name}' if name else ''


@dataclass(frozen=True)
class AppearanceScheduleConfig:
    """
    When a camera sends a track's feature; checked when constructed.

    Attributes
    ----------
    period : float
        Seconds (stamp time): a track's feature is sent at most this often after its first.
    min_change : float
        Cosine distance (0..2) from the feature last sent below which a feature is not sent
        again before ``refresh``.
    refresh : float
        Seconds after which a track's feature is sent again even unchanged; 0 never.

    """

    period: float = 1.0
    min_change: float = 0.02
    refresh: float = 5.0

    def __post_init__(self) -> None:
        """Check every value; raise ValueError naming the setting."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not math.isfinite(value) or value < 0.0:
                raise ValueError(f'{f.name} must be a finite number >= 0, got {value!r}')
        if self.min_change > 2.0:
            raise ValueError(f'min_change must be <= 2 (a cosine distance), got '
                             f'{self.min_change}')
        if self.refresh and self.refresh < self.period:
            raise ValueError(f'refresh must be 0 or >= period, got {self.refresh} < '
                             f'{self.period}')


class AppearanceSchedule:
    """
    The sender's side: which tracks' features are due in a frame.

    Parameters
    ----------
    config : AppearanceScheduleConfig, optional

    Attributes
    ----------
    config : AppearanceScheduleConfig
    sent : int
        Features sent so far.
    offered : int
        Features offered so far (tracks with a feature, over all frames).

    """

    def __init__(self, config: Optional[AppearanceScheduleConfig] = None) -> None:
        self.config = config if config is not None else AppearanceScheduleConfig()
        self.sent = 0
        self.offered = 0
        # track id -> (stamp sent, feature sent)
        self._last: Dict[int, Tuple[float, FloatArray]] = {}
        self._stamp: Optional[float] = None

    def due(self, track_ids: Sequence[int], features: Sequence[Optional[npt.ArrayLike]],
            stamp_s: float) -> List[int]:
        """
        Return the indices of the tracks whose feature is to be sent now, and note them sent.

        Parameters
        ----------
        track_ids : sequence of int
            The frame's tracks that the fusion takes (confirmed and coasting), N.
        features : sequence of (D,) arrays or None
            Their smoothed features (None: the track has none).
        stamp_s : float
            The frame's stamp, seconds. A stamp going back (a restarted clock) forgets
            everything sent: every feature is due again.

        Returns
        -------
        list of int
            Indices into ``track_ids``, in order.

        """
        cfg = self.config
        if self._stamp is not None and stamp_s < self._stamp:
            self._last.clear()
        self._stamp = float(stamp_s)
        present = set()
        chosen = []
        for i, (track_id, feature) in enumerate(zip(track_ids, features)):
            track_id = int(track_id)
            present.add(track_id)
            if feature is None:
                continue
            current = np.asarray(feature, dtype=np.float32).reshape(-1)
            if current.size == 0 or not np.all(np.isfinite(current)):
                continue
            self.offered += 1
            last = self._last.get(track_id)
            if last is not None:
                age = stamp_s - last[0]
                if not (cfg.refresh and age >= cfg.refresh):
                    if age < cfg.period or _cosine_distance(last[1], current) < cfg.min_change:
                        continue
            self._last[track_id] = (float(stamp_s), current.copy())
            chosen.append(i)
        for gone in [t for t in self._last if t not in present]:
            del self._last[gone]
        self.sent += len(chosen)
        return chosen


def _cosine_distance(a: FloatArray, b: FloatArray) -> float:
    if a.shape != b.shape:
        return 2.0
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 2.0 if norm == 0.0 else 1.0 - float(np.dot(a, b)) / norm


@dataclass
class _Entry:
    feature: FloatArray
    encoder: str
    time: float


@dataclass
class CameraFeatures:
    """
    What one camera's rows looked like when a camera update asked for them.

    Attributes
    ----------
    features : ndarray of float32, shape (N, D), or None
        One row per asked track; an all-zero row for a track without a usable feature. None
        when no track has one.
    encoder : str
        The encoder of those features (the camera's latest).
    found : int
        Rows with a feature.
    refused : dict of str to int
        Rows left out, by reason: ``feature_length`` (another length than the camera's latest
        features), ``encoder_changed`` (made by an encoder the camera no longer announces).

    """

    features: Optional[FloatArray]
    encoder: str
    found: int
    refused: Dict[str, int] = field(default_factory=dict)


class AppearanceCache:
    """
    The fusion's side: the latest feature of every camera track, by the track's UUID.

    Parameters
    ----------
    max_age : float
        Seconds (the caller's clock) an entry is kept after it was last sent or asked for.
    max_entries : int
        The oldest entries leave beyond this many.

    """

    def __init__(self, max_age: float = 30.0, max_entries: int = 10000) -> None:
        if not (math.isfinite(max_age) and max_age > 0.0) or int(max_entries) < 1:
            raise ValueError(f'max_age must be > 0 and max_entries >= 1, got {max_age}, '
                             f'{max_entries}')
        self.max_age = float(max_age)
        self.max_entries = int(max_entries)
        self._entries: 'OrderedDict[Hashable, _Entry]' = OrderedDict()
        # camera -> (encoder, feature length) of its latest features
        self._latest: Dict[str, Tuple[str, int]] = {}

    def __len__(self) -> int:
        """Return the number of features kept."""
        return len(self._entries)

    def encoder_of(self, camera: str) -> str:
        """Return the encoder of a camera's latest features ('' when none came)."""
        return self._latest.get(camera, ('', 0))[0]

    def add(self, camera: str, encoder: str, keys: Sequence[Hashable],
            features: Sequence[npt.ArrayLike], now: float) -> int:
        """
        Keep the features of one appearance message.

        Parameters
        ----------
        camera : str
            The camera they came from.
        encoder : str
            Their encoder's identity.
        keys : sequence of hashable
            The tracks' UUIDs (bytes), N.
        features : sequence of array_like
            N features (any lengths; the most common one of the message becomes the camera's).
        now : float
            Seconds, the caller's clock.

        Returns
        -------
        int
            Features kept.

        """
        rows = [np.asarray(f, dtype=np.float32).reshape(-1) for f in features]
        if not rows:
            return 0
        lengths = [len(r) for r in rows]
        dim = max(set(lengths), key=lengths.count)
        self._latest[camera] = (encoder, dim)
        for key, row in zip(keys, rows):
            self._entries[key] = _Entry(row, encoder, float(now))
            self._entries.move_to_end(key)
        self._expire(now)
        return len(rows)

    def lookup(self, camera: str, keys: Sequence[Hashable], now: float) -> CameraFeatures:
        """
        Return the features of a camera update's tracks.

        Parameters
        ----------
        camera : str
            The camera of the update.
        keys : sequence of hashable
            Its tracks' UUIDs, N (a track asked for stays kept).
        now : float
            Seconds, the caller's clock.

        Returns
        -------
        CameraFeatures

        """
        encoder, dim = self._latest.get(camera, ('', 0))
        refused: Dict[str, int] = {}
        rows = np.zeros((len(keys), dim), dtype=np.float32)
        found = 0
        for i, key in enumerate(keys):
            entry = self._entries.get(key)
            if entry is None:
                continue
            entry.time = float(now)
            self._entries.move_to_end(key)
            if entry.encoder != encoder:
                refused['encoder_changed'] = refused.get('encoder_changed', 0) + 1
            elif len(entry.feature) != dim:
                refused['feature_length'] = refused.get('feature_length', 0) + 1
            else:
                rows[i] = entry.feature
                found += 1
        self._expire(now)
        return CameraFeatures(rows if found else None, encoder, found, refused)

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if len(self._entries) <= self.max_entries and now - entry.time <= self.max_age:
                break
            del self._entries[key]
