"""
Single-object mode: one chosen target followed through occlusion and re-acquired.

:class:`TargetFollower` is the one owner of the target's identity and status. The target keeps
its identity while its track lives (through occlusion it is SEARCHING, then LOST); when a new
track appears after the target was last seen and looks like it, the new track takes the
target's identity (re-acquisition), a stricter rule than re-identification in general.
"""

import enum
from typing import Optional

from deepsort_ros.core.lost_gallery import LostGallery
from deepsort_ros.core.matching import cosine_distance
from deepsort_ros.core.track_table import TrackTable
import numpy as np
import numpy.typing as npt


class TargetStatus(enum.Enum):
    """Status of the single followed target, reported every update."""

    NONE = 0
    """No target selected."""
    TRACKED = 1
    """The target's track was matched to a detection in this update."""
    SEARCHING = 2
    """Not seen now, for at most ``target_search_time``: predicted and searched for."""
    LOST = 3
    """Not seen for longer; the selection is kept and re-acquired by appearance."""


class TargetFollower:
    """
    The followed target: its identity, class, appearance and status.

    Attributes
    ----------
    track_id : int or None
        Identity of the target; None when none is selected.
    status : TargetStatus
        After the last update (or selection).

    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the target and when it was last seen (the tracker's clock restarted)."""
        self.clear()
        self._last_seen = 0.0

    def clear(self) -> None:
        """Stop following a target."""
        self.track_id: Optional[int] = None
        self.status = TargetStatus.NONE
        self._class_id: Optional[int] = None
        self._feature: Optional[npt.NDArray[np.float32]] = None

    def select(self, table: TrackTable, track_id: Optional[int] = None,
               class_id: Optional[int] = None,
               point_xy: Optional[npt.ArrayLike] = None) -> Optional[int]:
        """
        Choose the target among the tracks; exactly one criterion must be given.

        Parameters
        ----------
        table : TrackTable
            The active tracks.
        track_id : int, optional
            This confirmed track (seen now or coasting).
        class_id : int, optional
            The confirmed track of this class with the best last detection score (tracks seen
            in the last update first).
        point_xy : array_like, shape (2,), optional
            The confirmed track whose box contains the point, nearest centre first; if none
            contains it, the one with the nearest centre.

        Returns
        -------
        int or None
            The chosen identity; None when nothing fits (the selection is then cleared).

        Raises
        ------
        ValueError
            When not exactly one criterion is given, or the point is not finite.

        """
        given = [v is not None for v in (track_id, class_id, point_xy)]
        if sum(given) != 1:
            raise ValueError('select_target needs exactly one of track_id, class_id, point_xy')
        slots = table.active
        chosen = -1
        if track_id is not None:
            # Tentative tracks have no identity (0) yet: they cannot be chosen by one.
            hit = slots[(table.track_id[slots] == int(track_id)) & table.confirmed[slots]]
            chosen = int(hit[0]) if len(hit) else -1
        else:
            slots = slots[table.confirmed[slots]]
            if class_id is not None:
                slots = slots[table.class_id[slots] == int(class_id)]
                if len(slots):
                    fresh = table.misses[slots] == 0
                    key = table.score[slots] + np.where(fresh, 1.0, 0.0)
                    chosen = int(slots[np.argmax(key)])
            elif len(slots):
                point = np.asarray(point_xy, dtype=np.float64).reshape(2)
                if not np.isfinite(point).all():
                    raise ValueError(f'point_xy must be finite, got {point}')
                boxes = table.mean[slots, :4]
                distance = np.linalg.norm(boxes[:, :2] - point, axis=1)
                inside = np.all(np.abs(boxes[:, :2] - point) <= boxes[:, 2:] / 2.0, axis=1)
                chosen = int(slots[np.argmin(distance + np.where(inside, 0.0, 1e9))])
        if chosen < 0:
            self.clear()
            return None
        self.track_id = int(table.track_id[chosen])
        self._class_id = int(table.class_id[chosen])
        self._last_seen = float(table.last_update_time[chosen])
        self._feature = (table.representative[chosen].copy()
                         if table.has_feature[chosen] else None)
        self.status = (TargetStatus.TRACKED if table.misses[chosen] == 0
                       else TargetStatus.SEARCHING)
        return self.track_id

    def reacquire(self, table: TrackTable, lost: LostGallery, class_aware: bool,
                  max_cosine_distance: float) -> int:
        """
        Hand the target's identity to a new look-alike while the target is unseen.

        Parameters
        ----------
        table : TrackTable
            The tracks.
        lost : LostGallery
            The target's identity is removed from it when re-acquired.
        class_aware : bool
            Only a track of the target's class may take its identity.
        max_cosine_distance : float
            Largest appearance distance to the target's last feature.

        Returns
        -------
        int
            1 when a track took the target's identity, else 0.

        """
        if self.track_id is None or self._feature is None:
            return 0
        active = table.active
        own = active[table.track_id[active] == self.track_id]
        if len(own) and table.misses[own[0]] == 0:
            return 0
        candidates = active[(table.first_time[active] > self._last_seen)
                            & table.has_feature[active]
                            & (table.track_id[active] != self.track_id)]
        if class_aware and self._class_id is not None:
            candidates = candidates[table.class_id[candidates] == self._class_id]
        candidates = candidates[table.misses[candidates] == 0]
        if len(candidates) == 0:
            return 0
        distance = cosine_distance(table.representative[candidates],
                                   self._feature[None, :])[:, 0]
        best = int(np.argmin(distance))
        if distance[best] > max_cosine_distance:
            return 0
        slot = candidates[best]
        if len(own):
            table.release(own)
        found = lost.find(self.track_id)
        if found >= 0:
            lost.remove(np.array([found]))
        table.track_id[slot] = self.track_id
        table.confirmed[slot] = True
        table.add_features(np.array([slot]), self._feature[None, :])
        return 1

    def update_status(self, table: TrackTable, now: float, search_time: float) -> None:
        """
        Set the status after an update, and remember how the target looks when seen.

        Parameters
        ----------
        table : TrackTable
            The tracks.
        now : float
            Seconds.
        search_time : float
            How long an unseen target is SEARCHING before it is LOST, seconds.

        """
        if self.track_id is None:
            self.status = TargetStatus.NONE
            return
        active = table.active
        own = active[table.track_id[active] == self.track_id]
        if len(own) and table.misses[own[0]] == 0:
            slot = own[0]
            self.status = TargetStatus.TRACKED
            self._last_seen = now
            self._class_id = int(table.class_id[slot])
            if table.has_feature[slot]:
                self._feature = table.representative[slot].copy()
        elif now - self._last_seen <= search_time:
            self.status = TargetStatus.SEARCHING
        else:
            self.status = TargetStatus.LOST
