"""
The multi-camera fusion's messages: camera ``TrackArray`` in, ``GlobalTrackArray`` out.

A camera's tracks are read into the fusion's :class:`~deepsort_ros.fusion.CameraBatch`
(values as sent: the fusion flags bad ones); its global tracks are written with the camera
tracks that make up each identity (its members).
"""

from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros.ros.convert.tracks import covariance_6x6, uuid_bytes
from deepsort_ros_msgs.msg import GlobalTrack, GlobalTrackArray, GlobalTrackMember, Track
import numpy as np


class CameraTracks(NamedTuple):
    """
    A ``TrackArray`` as the fusion takes it.

    Attributes
    ----------
    stamp_ns : int
    camera_frame : str
        The optical frame (``header.frame_id``).
    batch : deepsort_ros.fusion.CameraBatch
        CONFIRMED (detected) and COASTING tracks with their world estimates, without features;
        ``world_frame`` is the array's ``world_frame_id``.
    uuids : list of bytes
        The batch rows' track UUIDs.
    left_out : int
        Tracks of other states (TENTATIVE, LOST, DELETED), not for the fusion.

    """

    stamp_ns: int
    camera_frame: str
    batch: Any
    uuids: List[bytes]
    left_out: int


# Largest id a CameraBatch holds (int64); larger uint64 ids read as 0, which it refuses.
_MAX_LOCAL_ID = 2 ** 63 - 1


def track_array_to_camera_batch(msg: Any, source_id: str = '') -> CameraTracks:
    """
    Read a ``deepsort_ros_msgs/TrackArray`` into the fusion's input.

    Parameters
    ----------
    msg : TrackArray
        One camera frame's tracks.
    source_id : str
        Who sent it (the publisher), for :class:`~deepsort_ros.fusion.CameraBatch`.

    Returns
    -------
    CameraTracks
        Values as sent: the fusion flags and counts bad ones (NaN poses and the like).

    """
    from deepsort_ros.fusion.inputs import CameraBatch

    kept = [t for t in msg.tracks if t.state in (Track.STATE_CONFIRMED, Track.STATE_COASTING)]
    n = len(kept)
    position, velocity = np.full((n, 2), np.nan), np.full((n, 2), np.nan)
    position_cov, velocity_cov = np.full((n, 2, 2), np.nan), np.full((n, 2, 2), np.nan)
    valid = np.zeros(n, dtype=bool)
    for i, track in enumerate(kept):
        if not track.world_valid:
            continue
        valid[i] = True
        position[i] = track.pose.pose.position.x, track.pose.pose.position.y
        velocity[i] = track.twist.twist.linear.x, track.twist.twist.linear.y
        position_cov[i] = np.asarray(track.pose.covariance, dtype=np.float64)[[0, 1, 6, 7]] \
            .reshape(2, 2)
        velocity_cov[i] = np.asarray(track.twist.covariance, dtype=np.float64)[[0, 1, 6, 7]] \
            .reshape(2, 2)
    ids = np.array([int(t.id) if int(t.id) <= _MAX_LOCAL_ID else 0 for t in kept],
                   dtype=np.int64)
    batch = CameraBatch(ids, np.array([t.state == Track.STATE_CONFIRMED for t in kept],
                                      dtype=bool),
                        position, position_cov, velocity, velocity_cov, valid, None, '',
                        str(source_id), str(msg.world_frame_id))
    return CameraTracks(stamp_to_ns(msg.header.stamp), str(msg.header.frame_id), batch,
                        [uuid_bytes(t.uuid) for t in kept], len(msg.tracks) - n)


def global_tracks_to_msg(tracks: Sequence[Any], stamp_ns: int, world_frame_id: str,
                         local_uuids: Optional[Dict[Tuple[str, int], bytes]] = None,
                         ground_height: float = 0.0) -> GlobalTrackArray:
    """
    Build a ``deepsort_ros_msgs/GlobalTrackArray`` from a fusion update's output.

    Parameters
    ----------
    tracks : sequence of deepsort_ros.fusion.GlobalTrackOutput
        The reported global tracks.
    stamp_ns : int
        The fusion's time they are predicted to.
    world_frame_id : str
        Their frame.
    local_uuids : dict of (str, int) to bytes, optional
        ``(camera, local id) -> Track.uuid`` of the camera tracks, for the members.
    ground_height : float
        z of the poses, m.

    """
    local_uuids = local_uuids or {}
    out = GlobalTrackArray(header=make_header(stamp_ns, world_frame_id))
    for track in tracks:
        msg = GlobalTrack(id=int(track.global_id))
        msg.uuid.uuid = list(track.uuid.bytes)
        msg.state = GlobalTrack.STATE_TRACKED if track.state.name == 'TRACKED' \
            else GlobalTrack.STATE_COASTING
        covariance = np.asarray(track.covariance, dtype=np.float64)
        if track.world_valid:
            msg.world_valid = True
            msg.pose.pose.position.x = float(track.position_xy[0])
            msg.pose.pose.position.y = float(track.position_xy[1])
            msg.pose.pose.position.z = float(ground_height)
            msg.pose.covariance = covariance_6x6(covariance[:2, :2])
            msg.twist.twist.linear.x = float(track.velocity_xy[0])
            msg.twist.twist.linear.y = float(track.velocity_xy[1])
            msg.twist.covariance = covariance_6x6(covariance[2:, 2:])
        msg.pose.pose.orientation.w = 1.0
        bound = dict(track.members)
        last_seen = dict(track.last_seen_s)
        for camera in list(last_seen) + [c for c in bound if c not in last_seen]:
            member = GlobalTrackMember(camera=camera, local_id=int(bound.get(camera, 0)))
            key = local_uuids.get((camera, member.local_id))
            if member.local_id and key is not None:
                member.local_uuid.uuid = list(key)
            seen_ns = int(round(last_seen.get(camera, stamp_ns * 1e-9) * 1e9))
            member.last_seen.sec, member.last_seen.nanosec = divmod(max(seen_ns, 0),
                                                                    1_000_000_000)
            msg.members.append(member)
        out.tracks.append(msg)
    return out


def global_track_members(msg: Any) -> Dict[Tuple[str, int], int]:
    """Return ``(camera, local id) -> global id`` of a ``GlobalTrackArray``'s bound members."""
    return {(m.camera, int(m.local_id)): int(t.id) for t in msg.tracks for m in t.members
            if m.local_id}
