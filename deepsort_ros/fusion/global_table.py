"""
Structure-of-arrays storage of the global tracks: one slot per person across all cameras.

Slots live in preallocated arrays grown by doubling; per-camera facts (which local track of
each camera is bound to a global track, when each camera last detected it) are (G, C) arrays
with a column per camera, so eligibility and costs are computed for all global tracks at once.
The same facts are mirrored in small per-slot dictionaries keyed by camera name, which is what
the outputs carry; both are changed only through :meth:`GlobalTable.bind` and
:meth:`GlobalTable.unbind`.
"""

from typing import Any, List, Optional, Tuple
import uuid

from deepsort_ros.core.growable import GrowableTable, INITIAL_CAPACITY
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

INITIAL_CAMERAS = 4
NO_LOCAL_ID = 0


class GlobalTable(GrowableTable):
    """
    Stacked state of all global tracks; a slot index addresses one.

    Attributes
    ----------
    alive : ndarray of bool, shape (G,)
    global_id : ndarray of int, shape (G,)
    mean, covariance : ndarray, shapes (G, 4) and (G, 4, 4)
        Ground-plane state ``(x, y, vx, vy)``, meaningful where ``has_position``.
    has_position : ndarray of bool, shape (G,)
    first_time, last_detected_time : ndarray, shape (G,)
        Seconds (fusion time).
    last_xy : ndarray, shape (G, 2)
        Ground position at the last detection with a world estimate (NaN before any).
    last_xy_time : ndarray, shape (G,)
        When ``last_xy`` was measured.
    last_velocity : ndarray, shape (G, 2)
        Filtered ground velocity at that time, m/s.
    appearance : ndarray of float32, shape (G, D)
        Unit moving average of the bound tracks' features, where ``has_appearance``.
    member_local : ndarray of int, shape (G, C)
        Local id bound per camera column, 0 when none.
    member_seen : ndarray, shape (G, C)
        Last stamp at which that camera detected the track, -inf when never.
    members, last_seen : list of tuple
        Per slot, for the outputs: ``(camera, bound local id)`` and ``(camera, last detection
        stamp)`` pairs, in order of first contact; remade only when they change.
    uuid : list
        Per slot, the global id's UUID (set by the caller when it starts the track).

    """

    def __init__(self) -> None:
        self.feature_dim: Optional[int] = None
        self.num_cameras = INITIAL_CAMERAS
        self._allocate(INITIAL_CAPACITY)

    def _allocate(self, capacity: int) -> None:
        self.capacity = capacity
        self.alive = np.zeros(capacity, dtype=bool)
        self.global_id = np.zeros(capacity, dtype=np.int64)
        self.mean = np.zeros((capacity, 4))
        self.covariance = np.tile(np.eye(4), (capacity, 1, 1))
        self.has_position = np.zeros(capacity, dtype=bool)
        self.first_time = np.zeros(capacity)
        self.last_detected_time = np.zeros(capacity)
        self.last_xy = np.full((capacity, 2), np.nan)
        self.last_xy_time = np.zeros(capacity)
        self.last_velocity = np.zeros((capacity, 2))
        self.appearance = np.zeros((capacity, self.feature_dim or 0), dtype=np.float32)
        self.has_appearance = np.zeros(capacity, dtype=bool)
        self.member_local = np.zeros((capacity, self.num_cameras), dtype=np.int64)
        self.member_seen = np.full((capacity, self.num_cameras), -np.inf)
        self.members: List[Tuple[Tuple[str, int], ...]] = [()] * capacity
        self.last_seen: List[Tuple[Tuple[str, float], ...]] = [()] * capacity
        self.uuid: List[Optional[uuid.UUID]] = [None] * capacity

    def ensure_cameras(self, count: int) -> None:
        """Make room for ``count`` camera columns."""
        if count <= self.num_cameras:
            return
        extra = max(count, 2 * self.num_cameras) - self.num_cameras
        self.member_local = np.concatenate(
            [self.member_local, np.zeros((self.capacity, extra), dtype=np.int64)], axis=1)
        self.member_seen = np.concatenate(
            [self.member_seen, np.full((self.capacity, extra), -np.inf)], axis=1)
        self.num_cameras += extra

    def set_feature_dim(self, dim: int) -> None:
        """Fix the feature length on first use (the caller refuses other lengths)."""
        if self.feature_dim is None:
            self.feature_dim = int(dim)
            self.appearance = np.zeros((self.capacity, dim), dtype=np.float32)

    def _clear(self, slots: IntArray) -> None:
        self.has_position[slots] = False
        self.has_appearance[slots] = False
        self.last_xy[slots] = np.nan
        self.last_velocity[slots] = 0.0
        self.member_local[slots] = NO_LOCAL_ID
        self.member_seen[slots] = -np.inf
        for slot in slots.tolist():
            self.members[slot] = ()
            self.last_seen[slot] = ()

    def bind(self, slot: int, camera: str, column: int, local_id: int) -> None:
        """Record that camera ``camera`` (column ``column``) sees ``slot`` as ``local_id``."""
        self.member_local[slot, column] = local_id
        self.members[slot] = _with(self.members[slot], camera, local_id)

    def unbind(self, slot: int, camera: str, column: int) -> None:
        """Forget camera ``camera``'s local track of ``slot`` (its last detection stays)."""
        self.member_local[slot, column] = NO_LOCAL_ID
        self.members[slot] = tuple(pair for pair in self.members[slot] if pair[0] != camera)

    def seen(self, slot: int, camera: str, stamp: float) -> None:
        """Record that ``camera`` detected ``slot`` at ``stamp`` (for the outputs)."""
        self.last_seen[slot] = _with(self.last_seen[slot], camera, stamp)

    def add_features(self, slots: IntArray, features: npt.NDArray[np.float32],
                     alpha: float) -> None:
        """
        Blend one unit feature per distinct slot into the appearances.

        Parameters
        ----------
        slots : ndarray of int, shape (M,)
            Distinct slots.
        features : ndarray of float32, shape (M, D)
            Unit features, row i for slot i.
        alpha : float
            Weight of the old appearance; a slot without one takes the feature.

        """
        if len(slots) == 0:
            return
        fresh = ~self.has_appearance[slots]
        blended = alpha * self.appearance[slots] + (1.0 - alpha) * features
        blended = np.where(fresh[:, None], features, blended)
        norms = np.linalg.norm(blended.astype(np.float64), axis=1, keepdims=True)
        self.appearance[slots] = (blended / np.maximum(norms, 1e-12)).astype(np.float32)
        self.has_appearance[slots] = True


def _with(pairs: Tuple[Tuple[str, Any], ...], key: str, value: Any) -> Tuple[Tuple[str, Any], ...]:
    """Return ``pairs`` with ``key`` set to ``value`` (in place if present, else appended)."""
    for i, (name, _) in enumerate(pairs):
        if name == key:
            return pairs[:i] + ((key, value),) + pairs[i + 1:]
    return pairs + ((key, value),)
