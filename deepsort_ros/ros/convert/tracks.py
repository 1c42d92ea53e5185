"""
Tracks: the core's track outputs as ``deepsort_ros_msgs/TrackArray`` and ``TargetStatus``.

Also what reads a ``TrackArray`` back (MOTChallenge rows for scoring) and the identity of a
track on the wire: its UUID, stable within one tracker run (:func:`identity_uuid`), read back
as bytes by :func:`uuid_bytes`.
"""

from dataclasses import dataclass
import math
from typing import Any, List, NamedTuple, Optional, Sequence
import uuid

from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros_msgs.msg import TargetStatus, Track, TrackArray
import numpy as np
import numpy.typing as npt


def identity_uuid(namespace: uuid.UUID, track_id: int) -> List[int]:
    """Return the 16 bytes of a UUID for a track id, stable within one tracker run."""
    return list(uuid.uuid5(namespace, str(int(track_id))).bytes)


def uuid_bytes(msg_uuid: Any) -> bytes:
    """Return the 16 bytes of a ``unique_identifier_msgs/UUID`` (or of its ``uuid`` array)."""
    return bytes(np.asarray(getattr(msg_uuid, 'uuid', msg_uuid), dtype=np.uint8).reshape(-1))


@dataclass
class WorldEstimate:
    """
    Ground-plane positions and velocities of tracks, in the world frame.

    Attributes
    ----------
    position_xy : ndarray, shape (N, 2), m
    position_cov : ndarray, shape (N, 2, 2), m^2
    velocity_xy : ndarray, shape (N, 2), m/s
    velocity_cov : ndarray, shape (N, 2, 2), m^2/s^2
    valid : ndarray, shape (N,), bool
    height : float
        z of the ground plane, m.
    from_depth : ndarray, shape (N,), bool, optional
        Rows whose position was corrected by depth in this frame (None: none were).

    """

    position_xy: npt.NDArray[np.float64]
    position_cov: npt.NDArray[np.float64]
    velocity_xy: npt.NDArray[np.float64]
    velocity_cov: npt.NDArray[np.float64]
    valid: npt.NDArray[np.bool_]
    height: float = 0.0
    from_depth: Optional[npt.NDArray[np.bool_]] = None


def state_constant(state: Any) -> int:
    """Return the ``Track.STATE_*`` constant of a core track state (an Enum or its name)."""
    name = getattr(state, 'name', str(state)).upper()
    return int(getattr(Track, 'STATE_' + name, Track.STATE_COASTING))


def tracks_to_msg(tracks: Sequence[Any], header: Any, classes: ClassRegistry,
                  namespace: uuid.UUID, message_indices: Optional[npt.NDArray] = None,
                  world: Optional[WorldEstimate] = None, world_frame_id: str = '',
                  target_id: Optional[int] = None) -> TrackArray:
    """
    Build a ``deepsort_ros_msgs/TrackArray`` from the core's track outputs.

    Parameters
    ----------
    tracks : sequence of core track outputs
        Each with ``track_id``, ``state``, ``class_id``, ``score``, ``age``, ``hits``,
        ``time_since_update``, ``box_cxcywh`` (4,), ``velocity_cxcywh`` (4,), ``covariance``
        (8, 8), ``detection_index`` and ``is_occluded``.
    header : std_msgs/Header
        Stamp of the image; frame of the camera.
    classes : ClassRegistry
        Turns the core's class ids back into the detector's labels.
    namespace : uuid.UUID
        Namespace of this run's track UUIDs.
    message_indices : ndarray, optional
        Maps the core's detection index to the index in the input Detection2DArray.
    world : WorldEstimate, optional
        Rows aligned with ``tracks``.
    world_frame_id : str
        Frame of the world estimates.
    target_id : int, optional
        Id of the followed target, whose index is stored in ``target_index``.

    """
    out = TrackArray()
    out.header = header
    out.world_frame_id = world_frame_id if world is not None and bool(np.any(world.valid)) else ''
    out.target_index = -1
    for i, track in enumerate(tracks):
        msg = Track()
        msg.id = int(track.track_id)
        msg.uuid.uuid = identity_uuid(namespace, track.track_id)
        msg.class_id = classes.to_label(int(track.class_id))
        msg.score = float(track.score) if math.isfinite(track.score) else 0.0
        msg.existence_probability = float(getattr(track, 'existence_probability', msg.score))
        msg.state = state_constant(track.state)
        msg.age = int(track.age)
        msg.hits = int(track.hits)
        msg.time_since_update = float(track.time_since_update)
        box = np.asarray(track.box_cxcywh, dtype=np.float64)
        velocity = np.asarray(track.velocity_cxcywh, dtype=np.float64)
        msg.center_x, msg.center_y, msg.size_x, msg.size_y = (float(v) for v in box)
        (msg.velocity_x, msg.velocity_y, msg.velocity_size_x,
         msg.velocity_size_y) = (float(v) for v in velocity)
        msg.image_covariance = np.asarray(track.covariance, dtype=np.float64).reshape(64).tolist()
        index = int(track.detection_index)
        if index >= 0 and message_indices is not None:
            index = int(message_indices[index])
        msg.detection_index = index
        msg.is_occluded = bool(track.is_occluded)
        if world is not None and world.valid[i]:
            msg.world_valid = True
            depth = world.from_depth is not None and bool(world.from_depth[i])
            msg.position_source = Track.POSITION_DEPTH if depth else Track.POSITION_GROUND_PLANE
            msg.pose.pose.position.x = float(world.position_xy[i, 0])
            msg.pose.pose.position.y = float(world.position_xy[i, 1])
            msg.pose.pose.position.z = float(world.height)
            msg.pose.pose.orientation.w = 1.0
            msg.pose.covariance = covariance_6x6(world.position_cov[i])
            msg.twist.twist.linear.x = float(world.velocity_xy[i, 0])
            msg.twist.twist.linear.y = float(world.velocity_xy[i, 1])
            msg.twist.covariance = covariance_6x6(world.velocity_cov[i])
        if target_id is not None and msg.id == target_id:
            out.target_index = i
        out.tracks.append(msg)
    return out


def covariance_6x6(cov_xy: npt.NDArray[np.float64]) -> List[float]:
    """
    Return the row-major 6x6 pose (or twist) covariance of an (2, 2) x-y covariance.

    x and y come from the estimate; z and the rotations are not observed: a large variance
    says so.
    """
    full = np.zeros((6, 6))
    full[:2, :2] = cov_xy
    full[2, 2] = full[3, 3] = full[4, 4] = full[5, 5] = 1e6
    return full.reshape(36).tolist()


def target_status_to_msg(header: Any, status: Any, target_id: Optional[int],
                         track_array: TrackArray, confidence: float = 0.0,
                         candidate_id: Optional[int] = None) -> TargetStatus:
    """
    Build a ``deepsort_ros_msgs/TargetStatus`` of the followed target.

    Parameters
    ----------
    header : std_msgs/Header
        Stamp and optical frame of the image.
    status : core TargetStatus
        An Enum (or None) named NONE, TRACKED, SEARCHING, LOST or CANDIDATE.
    target_id : int, optional
        The followed identity; None when no target is selected (status NONE then).
    track_array : TrackArray
        This frame's tracks: the target's own, at ``target_index``, is copied in.
    confidence : float
        How sure the follower is (core ``Tracker.target_confidence``), [0, 1].
    candidate_id : int, optional
        The track being confirmed as the target (status CANDIDATE).

    """
    name = getattr(status, 'name', 'NONE').upper() if target_id is not None else 'NONE'
    msg = TargetStatus(header=header)
    msg.status = int(getattr(TargetStatus, 'STATUS_' + name, TargetStatus.STATUS_NONE))
    if target_id is not None:
        msg.target_id = int(target_id)
        msg.confidence = float(confidence)
        msg.candidate_id = int(candidate_id or 0)
    if track_array.target_index >= 0:
        msg.has_track = True
        msg.track = track_array.tracks[track_array.target_index]
    return msg


class MotTracks(NamedTuple):
    """
    One frame's tracks as MOTChallenge scores them: confirmed and matched in that frame.

    Attributes
    ----------
    track_ids : ndarray of int64, shape (N,)
    boxes_tlwh : ndarray, shape (N, 4)
        Filtered boxes, pixels.
    scores : ndarray, shape (N,)

    """

    track_ids: npt.NDArray[np.int64]
    boxes_tlwh: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]


def track_array_to_mot(msg: Any) -> MotTracks:
    """Return the tracks of a ``TrackArray`` that a MOTChallenge result file holds."""
    shown = [t for t in msg.tracks if t.state == Track.STATE_CONFIRMED and t.detection_index >= 0]
    return MotTracks(
        np.array([t.id for t in shown], dtype=np.int64),
        np.array([(t.center_x - t.size_x / 2, t.center_y - t.size_y / 2, t.size_x, t.size_y)
                  for t in shown], dtype=np.float64).reshape(-1, 4),
        np.array([t.score for t in shown], dtype=np.float64))
