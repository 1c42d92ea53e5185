"""
Which camera's local track is bound to which global track.

A binding is kept in three mirrors that must agree: the camera's map from local ids to global
ids (:attr:`CameraStatus.bindings`), the global table's per-camera columns
(``member_local``, ``members``) and the map from global ids to table slots. :class:`Bindings`
is the only code that changes them.
"""

from typing import Dict, Iterable, Optional

from deepsort_ros.fusion.cameras import CameraStatus
from deepsort_ros.fusion.global_table import GlobalTable, NO_LOCAL_ID
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class Bindings:
    """
    The bindings of every camera to the global tracks of one table.

    Parameters
    ----------
    table : GlobalTable
        The global tracks.

    """

    def __init__(self, table: GlobalTable) -> None:
        self.table = table
        self._slot_of: Dict[int, int] = {}

    def slot_of(self, global_id: int) -> Optional[int]:
        """Return the slot of a live global id, or None."""
        return self._slot_of.get(global_id)

    def slots_of_rows(self, status: CameraStatus, local_ids: IntArray) -> IntArray:
        """Return the slot each local track is bound to, -1 where none; shape (N,)."""
        return np.array([self._slot_of.get(status.bindings.get(lid, 0), -1)
                         for lid in local_ids.tolist()], dtype=np.int64)

    def start(self, status: CameraStatus, slot: int, local_id: int) -> None:
        """Bind a local track to a new global track (its id already in the table)."""
        self._slot_of[int(self.table.global_id[slot])] = slot
        self.bind(status, slot, local_id)

    def bind(self, status: CameraStatus, slot: int, local_id: int) -> None:
        """Bind a local track to a global track, replacing this camera's previous one."""
        previous = int(self.table.member_local[slot, status.index])
        if previous != NO_LOCAL_ID:
            status.bindings.pop(previous, None)
        self.table.bind(slot, status.name, status.index, local_id)
        status.bindings[local_id] = int(self.table.global_id[slot])

    def unbind(self, status: CameraStatus, slot: int, local_id: int) -> None:
        """Unbind a local track from a global track."""
        status.bindings.pop(local_id, None)
        if int(self.table.member_local[slot, status.index]) == local_id:
            self.table.unbind(slot, status.name, status.index)

    def drop_absent(self, status: CameraStatus, local_ids: IntArray) -> None:
        """Unbind the camera's local tracks that its update no longer reports."""
        present = set(local_ids.tolist())
        for local_id in [lid for lid in status.bindings if lid not in present]:
            slot = self._slot_of.get(status.bindings[local_id])
            if slot is None:
                status.bindings.pop(local_id)
            else:
                self.unbind(status, slot, local_id)

    def release_camera(self, status: CameraStatus) -> None:
        """Unbind every local track of a camera."""
        for global_id in status.bindings.values():
            slot = self._slot_of.get(global_id)
            if slot is not None:
                self.table.unbind(slot, status.name, status.index)
        status.bindings.clear()

    def move(self, cameras: Iterable[CameraStatus], older: int, younger: int) -> None:
        """Bind every local track of ``younger`` to ``older``; forget ``younger``'s id."""
        for status in cameras:
            local_id = int(self.table.member_local[younger, status.index])
            if local_id != NO_LOCAL_ID:
                self.unbind(status, younger, local_id)
                self.bind(status, older, local_id)
        self._slot_of.pop(int(self.table.global_id[younger]), None)

    def forget(self, cameras: Iterable[CameraStatus], slots: IntArray) -> None:
        """Unbind every local track of ``slots`` and forget their ids (before release)."""
        table = self.table
        for status in cameras:
            column = table.member_local[slots, status.index]
            for slot, local_id in zip(slots[column != NO_LOCAL_ID].tolist(),
                                      column[column != NO_LOCAL_ID].tolist()):
                status.bindings.pop(local_id, None)
                table.unbind(slot, status.name, status.index)
        for slot in slots.tolist():
            self._slot_of.pop(int(table.global_id[slot]), None)
