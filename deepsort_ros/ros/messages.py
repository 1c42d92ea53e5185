"""
The one place where ROS messages meet the tracker core's arrays.

Reads any object with the fields of the ROS messages (rclpy classes, and rosbags' deserialised
messages for the offline tools); builds rclpy messages for output.
"""

from dataclasses import dataclass
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple
import uuid

from deepsort_ros.geometry.camera_model import PinholeCamera
import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import CameraInfo


def stamp_to_ns(stamp: Any) -> int:
    """Return a ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(stamp_ns: int, stamp_type: Any) -> Any:
    """Return integer nanoseconds as a message of ``stamp_type`` (builtin_interfaces/Time)."""
    stamp = stamp_type()
    stamp.sec, stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return stamp


def transform_to_xyz_quaternion(transform: Any) -> Tuple[npt.NDArray[np.float64],
                                                         npt.NDArray[np.float64]]:
    """
    Return a ``geometry_msgs/Transform`` (or ``TransformStamped``) as arrays.

    Returns
    -------
    translation : ndarray, shape (3,)
        Metres.
    quaternion_xyzw : ndarray, shape (4,)

    Raises
    ------
    ValueError
        When a value is not finite or the quaternion is zero.

    """
    transform = getattr(transform, 'transform', transform)
    t, q = transform.translation, transform.rotation
    translation = np.array([t.x, t.y, t.z], dtype=np.float64)
    quaternion = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if not (np.isfinite(translation).all() and np.isfinite(quaternion).all()) or \
            np.linalg.norm(quaternion) < 1e-9:
        raise ValueError(f'transform is not finite or has a zero quaternion: {translation}, '
                         f'{quaternion}')
    return translation, quaternion / np.linalg.norm(quaternion)


def camera_info_to_camera(msg: Any) -> PinholeCamera:
    """
    Return the camera model of a ``sensor_msgs/CameraInfo``: K, D, P and the image size.

    Raises
    ------
    ValueError
        Saying why the message cannot be used: an all-zero K (an uncalibrated camera), focal
        lengths that are zero, negative or NaN, non-finite values, an unknown lens model.

    """
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if not k.any():
        raise ValueError('camera_info k is all zero (an uncalibrated camera)')
    try:
        return PinholeCamera(k, int(msg.width), int(msg.height),
                             np.asarray(msg.d, dtype=np.float64), str(msg.distortion_model),
                             np.asarray(msg.p, dtype=np.float64).reshape(3, 4))
    except ValueError as error:
        raise ValueError(f'camera_info: {error}') from None


def camera_to_camera_info(camera: PinholeCamera, header: Any) -> CameraInfo:
    """
    Build a ``sensor_msgs/CameraInfo`` of a camera model (R is the identity: one camera).

    Parameters
    ----------
    camera : PinholeCamera
        K, D, P and the image size.
    header : std_msgs/Header
        Stamp and optical frame of the images the camera took.

    """
    msg = CameraInfo()
    msg.header = header
    msg.width, msg.height = camera.width, camera.height
    msg.distortion_model = camera.distortion_model
    msg.d = camera.distortion.tolist()
    msg.k = camera.matrix.reshape(9).tolist()
    msg.r = np.eye(3).reshape(9).tolist()
    msg.p = camera.projection.reshape(12).tolist()
    return msg


class ClassRegistry:
    """Map detector class labels (strings in vision_msgs) to the core's integer class ids."""

    def __init__(self) -> None:
        self._ids: Dict[str, int] = {}
        self._labels: List[str] = []

    def to_id(self, label: str) -> int:
        """Return the id of ``label``, assigning the next free one on first sight."""
        class_id = self._ids.get(label)
        if class_id is None:
            class_id = len(self._labels)
            self._ids[label] = class_id
            self._labels.append(label)
        return class_id

    def to_label(self, class_id: int) -> str:
        """Return the label of a known id (or the id as text for an unknown one)."""
        if 0 <= class_id < len(self._labels):
            return self._labels[class_id]
        return str(class_id)


@dataclass
class DetectionBatch:
    """
    One detection array as the core's inputs.

    Attributes
    ----------
    boxes_tlwh : ndarray, shape (N, 4)
        Top-left x, y, width, height in pixels.
    scores : ndarray, shape (N,)
    class_ids : ndarray, shape (N,), int
    message_indices : ndarray, shape (N,), int
        Index of each kept row in the message's ``detections`` (rows with bad boxes are
        dropped; these indices map the core's detection index back to the message).
    rejected : int
        Detections dropped for a non-finite or non-positive box.

    """

    boxes_tlwh: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]
    class_ids: npt.NDArray[np.int64]
    message_indices: npt.NDArray[np.int64]
    rejected: int


def detections_to_batch(msg: Any, classes: ClassRegistry, min_score: float = 0.0
                        ) -> DetectionBatch:
    """
    Convert a ``vision_msgs/Detection2DArray`` (4.x fields) into arrays.

    Class and score come from the best-scoring hypothesis; a detection without hypotheses has
    class ``''`` and score 1. Boxes that are NaN, infinite or not of positive size are dropped
    and counted, never passed on.
    """
    count = len(msg.detections)
    boxes = np.empty((count, 4), dtype=np.float64)
    scores = np.empty(count, dtype=np.float64)
    labels: List[str] = []
    for i, detection in enumerate(msg.detections):
        bbox = detection.bbox
        boxes[i] = (bbox.center.position.x - bbox.size_x / 2.0,
                    bbox.center.position.y - bbox.size_y / 2.0, bbox.size_x, bbox.size_y)
        if detection.results:
            best = max(detection.results, key=lambda r: r.hypothesis.score)
            scores[i] = best.hypothesis.score
            labels.append(best.hypothesis.class_id)
        else:
            scores[i] = 1.0
            labels.append('')
    good = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & \
        (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    rejected = int(count - good.sum())
    good &= scores >= min_score
    indices = np.flatnonzero(good)
    class_ids = np.array([classes.to_id(labels[i]) for i in indices], dtype=np.int64)
    return DetectionBatch(boxes[indices], scores[indices], class_ids, indices.astype(np.int64),
                          rejected)


def identity_uuid(namespace: uuid.UUID, track_id: int) -> List[int]:
    """Return the 16 bytes of a UUID for a track id, stable within one tracker run."""
    return list(uuid.uuid5(namespace, str(int(track_id))).bytes)


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

    """

    position_xy: npt.NDArray[np.float64]
    position_cov: npt.NDArray[np.float64]
    velocity_xy: npt.NDArray[np.float64]
    velocity_cov: npt.NDArray[np.float64]
    valid: npt.NDArray[np.bool_]
    height: float = 0.0


STATE_NAMES = ('TENTATIVE', 'CONFIRMED', 'COASTING', 'LOST', 'DELETED')


def state_constant(track_msg_type: Any, state: Any) -> int:
    """Return the ``Track.STATE_*`` constant for a core track state (an Enum or its name)."""
    name = getattr(state, 'name', str(state)).upper()
    if name not in STATE_NAMES:
        name = 'COASTING'
    return int(getattr(track_msg_type, 'STATE_' + name))


def tracks_to_msg(tracks: Sequence[Any], header: Any, msg_types: Any, classes: ClassRegistry,
                  namespace: uuid.UUID, message_indices: Optional[npt.NDArray] = None,
                  world: Optional[WorldEstimate] = None, world_frame_id: str = '',
                  target_id: Optional[int] = None) -> Any:
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
    msg_types : module
        ``deepsort_ros_msgs.msg`` (passed in so this module imports no message package).
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
    out = msg_types.TrackArray()
    out.header = header
    out.world_frame_id = world_frame_id if world is not None and bool(np.any(world.valid)) else ''
    out.target_index = -1
    track_type = msg_types.Track
    for i, track in enumerate(tracks):
        msg = track_type()
        msg.id = int(track.track_id)
        msg.uuid.uuid = identity_uuid(namespace, track.track_id)
        msg.class_id = classes.to_label(int(track.class_id))
        msg.score = float(track.score) if math.isfinite(track.score) else 0.0
        msg.existence_probability = float(getattr(track, 'existence_probability', msg.score))
        msg.state = state_constant(track_type, track.state)
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
            msg.pose.pose.position.x = float(world.position_xy[i, 0])
            msg.pose.pose.position.y = float(world.position_xy[i, 1])
            msg.pose.pose.position.z = float(world.height)
            msg.pose.pose.orientation.w = 1.0
            msg.pose.covariance = _covariance_6x6(world.position_cov[i])
            msg.twist.twist.linear.x = float(world.velocity_xy[i, 0])
            msg.twist.twist.linear.y = float(world.velocity_xy[i, 1])
            msg.twist.covariance = _covariance_6x6(world.velocity_cov[i])
        if target_id is not None and msg.id == target_id:
            out.target_index = i
        out.tracks.append(msg)
    return out


def _covariance_6x6(cov_xy: npt.NDArray[np.float64]) -> List[float]:
    # x and y from the estimate; z and the rotations are not observed: a large variance says so.
    full = np.zeros((6, 6))
    full[:2, :2] = cov_xy
    full[2, 2] = full[3, 3] = full[4, 4] = full[5, 5] = 1e6
    return full.reshape(36).tolist()


def track_colour_bgr(track_id: int) -> Tuple[int, int, int]:
    """Return a stable, well-separated BGR colour for a track id."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    h6 = hue * 6.0
    x = 1.0 - abs(h6 % 2.0 - 1.0)
    sector = int(h6)
    rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)][sector % 6]
    return int(60 + 195 * rgb[2]), int(60 + 195 * rgb[1]), int(60 + 195 * rgb[0])
