"""States of a global track, and the per-track output of a fusion update."""

import enum
from typing import List, NamedTuple, Tuple
import uuid

from deepsort_ros.fusion.global_table import GlobalTable
import numpy as np
import numpy.typing as npt


class GlobalState(enum.Enum):
    """Where a global track is in its life cycle."""

    TRACKED = 1
    """Detected in the latest update of at least one live camera."""
    COASTING = 2
    """Not detected now, last detected within ``coast_max_age``: predicted on the ground."""
    HANDOVER = 3
    """Unseen for longer: not reported, remembered for handover until ``handover_window``."""


class GlobalTrackOutput(NamedTuple):
    """
    One global identity as reported by a fusion update (immutable).

    Attributes
    ----------
    global_id : int
        Identity across all cameras, never reused by one fusion instance.
    uuid : uuid.UUID
        RFC 4122 UUID of the same identity (``uuid5`` of the fusion's namespace and the id).
    state : GlobalState
        TRACKED or COASTING.
    stamp_s : float
        Fusion time the state is predicted to, seconds.
    position_xy : ndarray, shape (2,)
        World ground position, m; NaN when ``world_valid`` is False.
    velocity_xy : ndarray, shape (2,)
        m/s; NaN when ``world_valid`` is False.
    covariance : ndarray, shape (4, 4)
        Of ``(x, y, vx, vy)``, m^2, m^2/s and m^2/s^2.
    world_valid : bool
        Some camera placed this identity on the ground; False for appearance-only identities.
    members : tuple of (str, int)
        ``(camera, local id)`` of the local tracks bound to this identity now.
    last_seen_s : tuple of (str, float)
        ``(camera, stamp)`` of each camera's last detection of this identity.

    """

    global_id: int
    uuid: uuid.UUID
    state: GlobalState
    stamp_s: float
    position_xy: npt.NDArray[np.float64]
    velocity_xy: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]
    world_valid: bool
    members: Tuple[Tuple[str, int], ...]
    last_seen_s: Tuple[Tuple[str, float], ...]


def identity_uuid(namespace: uuid.UUID, global_id: int) -> uuid.UUID:
    """Return the UUID of a global id, stable within one fusion run (``uuid5``)."""
    return uuid.uuid5(namespace, str(int(global_id)))


def report_globals(table: GlobalTable, latest: npt.NDArray[np.float64], now: float,
                   coast_max_age: float) -> List[GlobalTrackOutput]:
    """
    Return the TRACKED and COASTING global tracks, by global id.

    Parameters
    ----------
    table : GlobalTable
        Predicted to ``now``.
    latest : ndarray, shape (C,)
        Per camera column, the stamp of its latest update (NaN for a stale or silent camera):
        a global track detected in it is TRACKED.
    now : float
        Fusion time, seconds.
    coast_max_age : float
        Seconds since the last detection after which a global track is no longer reported.

    Returns
    -------
    list of GlobalTrackOutput

    """
    slots = table.active
    slots = slots[now - table.last_detected_time[slots] <= coast_max_age]
    if len(slots) == 0:
        return []
    slots = slots[np.argsort(table.global_id[slots])]
    tracked = np.any(table.member_seen[slots] == latest[None, :], axis=1)
    mean = table.mean[slots]
    covariance = table.covariance[slots]
    has_position = table.has_position[slots]
    nan2 = np.full(2, np.nan)
    uuids = table.uuid
    return [GlobalTrackOutput(
        global_id, uuids[slot],
        GlobalState.TRACKED if is_tracked else GlobalState.COASTING, now,
        mean[i, :2] if located else nan2, mean[i, 2:] if located else nan2,
        covariance[i], located, table.members[slot], table.last_seen[slot])
        for i, (slot, global_id, is_tracked, located) in enumerate(zip(
            slots.tolist(), table.global_id[slots].tolist(), tracked.tolist(),
            has_position.tolist()))]
