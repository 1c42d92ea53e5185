"""
Slots in preallocated arrays, grown by doubling: the storage both track tables are made of.

A subclass (:class:`~deepsort_ros.core.track_table.TrackTable`,
:class:`~deepsort_ros.fusion.global_table.GlobalTable`) makes all its per-slot arrays (and
per-slot lists) in ``_allocate`` and says in ``_clear`` what a fresh slot is reset to; this
base reserves and frees slots and, when they run out, reallocates every such attribute at a
larger capacity and copies the old rows in, so adding or deleting one track never copies the
others.
"""

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

INITIAL_CAPACITY = 64


class GrowableTable:
    """
    Slot bookkeeping of a structure-of-arrays table.

    Attributes
    ----------
    capacity : int
        Slots allocated.
    alive : ndarray of bool, shape (capacity,)
        Which slots hold a track.

    """

    capacity: int
    alive: npt.NDArray[np.bool_]

    def _allocate(self, capacity: int) -> None:
        """Make every per-slot array and list at ``capacity`` rows (subclasses)."""
        raise NotImplementedError

    def _grow(self, needed: int) -> None:
        old = {name: value for name, value in vars(self).items()
               if isinstance(value, (np.ndarray, list))}
        capacity = self.capacity
        while capacity < needed:
            capacity *= 2
        self._allocate(capacity)
        for name, value in old.items():
            getattr(self, name)[:len(value)] = value

    @property
    def active(self) -> IntArray:
        """Slots in use, ascending (creation order within reused slots)."""
        return np.flatnonzero(self.alive)

    def _clear(self, slots: IntArray) -> None:
        """Reset what a fresh slot must not inherit from a released one (subclasses)."""
        raise NotImplementedError

    def allocate(self, count: int) -> IntArray:
        """
        Reserve slots for new tracks, cleared; the caller fills their state.

        Parameters
        ----------
        count : int
            Number of slots wanted; the table grows when too few are free.

        Returns
        -------
        ndarray of int, shape (count,)

        """
        free = np.flatnonzero(~self.alive)
        if len(free) < count:
            self._grow(self.capacity + count)
            free = np.flatnonzero(~self.alive)
        slots = free[:count]
        self.alive[slots] = True
        self._clear(slots)
        return slots

    def release(self, slots: IntArray) -> None:
        """Free the slots of deleted tracks (their bindings, if any, must be gone already)."""
        self.alive[slots] = False
