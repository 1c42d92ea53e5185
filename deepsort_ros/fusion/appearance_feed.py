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
    The features of one camera update's tracks.

    Attributes
    ----------
    features : ndarray of float32, shape (N, D), or None
        One row per asked track; an all-zero row for a track without a usable feature. None
        when no track has one.
    encoder : str
        The encoder of those features: the one most of the found rows were made by.
    found : int
        Rows with a feature.
    refused : dict of str to int
        Rows left out, by reason: ``encoder_changed`` (made by another encoder than most
        rows: a tracker restarted with other weights), ``feature_length`` (another length).

    """

    features: Optional[FloatArray]
    encoder: str
    found: int
    refused: Dict[str, int] = field(default_factory=dict)


class AppearanceCache:
    """
    The fusion's side: the latest feature of every camera track, by the track's UUID.

    Track UUIDs are unique across cameras and tracker runs (``uuid5`` of a run's random
    namespace), so one cache serves every camera; a feature is looked up only for a track of an
    update the fusion takes, so features from a sender it refuses are never used.

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

    def __len__(self) -> int:
        """Return the number of features kept."""
        return len(self._entries)

    def add(self, encoder: str, keys: Sequence[Hashable], features: Sequence[npt.ArrayLike],
            now: float) -> int:
        """
        Keep the features of one appearance message.

        Parameters
        ----------
        encoder : str
            Their encoder's identity.
        keys : sequence of hashable
            The tracks' UUIDs (bytes), N.
        features : sequence of array_like
            N features.
        now : float
            Seconds, the caller's clock.

        Returns
        -------
        int
            Features kept.

        """
        count = 0
        for key, feature in zip(keys, features):
            self._entries[key] = _Entry(np.asarray(feature, dtype=np.float32).reshape(-1),
                                        encoder, float(now))
            self._entries.move_to_end(key)
            count += 1
        self._expire(now)
        return count

    def lookup(self, keys: Sequence[Hashable], now: float) -> CameraFeatures:
        """
        Return the features of a camera update's tracks.

        Parameters
        ----------
        keys : sequence of hashable
            Its tracks' UUIDs, N (a track asked for stays kept).
        now : float
            Seconds, the caller's clock.

        Returns
        -------
        CameraFeatures

        """
        entries: List[Optional[_Entry]] = []
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None:
                entry.time = float(now)
                self._entries.move_to_end(key)
            entries.append(entry)
        self._expire(now)
        kinds = [(e.encoder, len(e.feature)) for e in entries if e is not None]
        if not kinds:
            return CameraFeatures(None, '', 0)
        encoder, dim = max(set(kinds), key=kinds.count)
        refused: Dict[str, int] = {}
        rows = np.zeros((len(keys), dim), dtype=np.float32)
        found = 0
        for i, entry in enumerate(entries):
            if entry is None:
                continue
            reason = 'encoder_changed' if entry.encoder != encoder else \
                'feature_length' if len(entry.feature) != dim else None
            if reason is not None:
                refused[reason] = refused.get(reason, 0) + 1
                continue
            rows[i] = entry.feature
            found += 1
        return CameraFeatures(rows, encoder, found, refused)

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if len(self._entries) <= self.max_entries and now - entry.time <= self.max_age:
                break
            del self._entries[key]
