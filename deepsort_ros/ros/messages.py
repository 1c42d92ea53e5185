"""
The one place where ROS messages meet arrays: every conversion, reading and building.

Reading takes any object with the fields of the ROS messages (rclpy classes, and rosbags'
deserialised messages for the offline tools); building makes rclpy messages. Stamps, camera
models, detections, odometry, transforms, tracks, the target, RViz markers, MOTChallenge rows,
diagnostics, and the multi-camera fusion's appearances and global tracks cross here; pixels
cross in :mod:`deepsort_ros.ros.images`.
"""

import array
from collections import OrderedDict
from dataclasses import dataclass
import math
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, Union
import uuid

from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.pipeline.diagnostics import DiagnosticReport
from deepsort_ros.ros.visualization import track_colour_bgr
from deepsort_ros_msgs.msg import (GlobalTrack, GlobalTrackArray, GlobalTrackMember, TargetStatus,
                                   Track, TrackAppearance, TrackAppearanceArray, TrackArray)
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose
from nav_msgs.msg import Odometry
import numpy as np
import numpy.typing as npt
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker, MarkerArray

# ---- stamps and headers ---------------------------------------------------------------------


def stamp_to_ns(stamp: Any) -> int:
    """Return a ``builtin_interfaces/Time`` as integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def make_header(stamp_ns: int, frame_id: str) -> Header:
    """Return a ``std_msgs/Header`` of a stamp (integer nanoseconds) and a frame."""
    header = Header(frame_id=frame_id)
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return header


# ---- camera model ---------------------------------------------------------------------------


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


# ---- transforms and odometry ----------------------------------------------------------------


def transform_to_xyz_quaternion(transform: Any) -> Tuple[npt.NDArray[np.float64],
                                                         npt.NDArray[np.float64]]:
    """
    Return a ``geometry_msgs/Transform`` (or ``TransformStamped``) as arrays.

    Returns
    -------
    translation : ndarray, shape (3,)
        Metres.
    quaternion_xyzw : ndarray, shape (4,)
        Unit quaternion.

    Raises
    ------
    ValueError
        When a value is not finite or the quaternion is zero.

    """
    transform = getattr(transform, 'transform', transform)
    t, q = transform.translation, transform.rotation
    return _checked_pose([t.x, t.y, t.z], [q.x, q.y, q.z, q.w], 'transform')


@dataclass(frozen=True, eq=False)
class OdometryPose:
    """
    The pose of a ``nav_msgs/Odometry``: the base in the odometry frame at a stamp.

    Attributes
    ----------
    stamp_ns : int
    frame_id : str
        The odometry (world) frame.
    child_frame_id : str
        The base frame.
    position_xyz : ndarray, shape (3,)
        Metres.
    orientation_xyzw : ndarray, shape (4,)
        Unit quaternion.

    """

    stamp_ns: int
    frame_id: str
    child_frame_id: str
    position_xyz: npt.NDArray[np.float64]
    orientation_xyzw: npt.NDArray[np.float64]


def odometry_to_pose(msg: Any) -> OdometryPose:
    """
    Read the pose of a ``nav_msgs/Odometry``.

    Raises
    ------
    ValueError
        When the pose is not finite or its quaternion is zero.

    """
    pose = msg.pose.pose
    p, q = pose.position, pose.orientation
    position, orientation = _checked_pose([p.x, p.y, p.z], [q.x, q.y, q.z, q.w], 'odometry')
    return OdometryPose(stamp_to_ns(msg.header.stamp), msg.header.frame_id,
                        getattr(msg, 'child_frame_id', ''), position, orientation)


def pose_to_odometry(header: Any, child_frame_id: str, position_xyz: npt.ArrayLike,
                     orientation_xyzw: npt.ArrayLike,
                     angular_velocity_xyz: npt.ArrayLike = (0.0, 0.0, 0.0)) -> Odometry:
    """
    Build a ``nav_msgs/Odometry`` of a base pose (covariances left zero: unknown).

    Parameters
    ----------
    header : std_msgs/Header
        Stamp and odometry frame.
    child_frame_id : str
        The base frame.
    position_xyz : array_like, shape (3,)
        Metres.
    orientation_xyzw : array_like, shape (4,)
        Quaternion.
    angular_velocity_xyz : array_like, shape (3,)
        Rad/s, in the base frame.

    """
    msg = Odometry(header=header, child_frame_id=child_frame_id)
    position, orientation = msg.pose.pose.position, msg.pose.pose.orientation
    position.x, position.y, position.z = (float(v) for v in position_xyz)
    orientation.x, orientation.y, orientation.z, orientation.w = (
        float(v) for v in orientation_xyzw)
    angular = msg.twist.twist.angular
    angular.x, angular.y, angular.z = (float(v) for v in angular_velocity_xyz)
    return msg


def _checked_pose(position: Sequence[float], quaternion: Sequence[float], what: str
                  ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    translation = np.array(position, dtype=np.float64)
    rotation = np.array(quaternion, dtype=np.float64)
    if not (np.isfinite(translation).all() and np.isfinite(rotation).all()) or \
            np.linalg.norm(rotation) < 1e-9:
        raise ValueError(f'{what} is not finite or has a zero quaternion: {translation}, '
                         f'{rotation}')
    return translation, rotation / np.linalg.norm(rotation)


# ---- detections -----------------------------------------------------------------------------


# Bounds of the label table: detectors name a few classes (COCO 80, LVIS 1203), each in a few
# characters; these defaults leave room for any of them and stop a stream of made-up labels.
DEFAULT_MAX_LABEL_LENGTH = 128
DEFAULT_MAX_CLASSES = 4096
# The class of a label that could not be given one of its own (the table is full of live ones).
OVERFLOW_LABEL = ''


@dataclass
class ClassCounters:
    """What the label table had to cut or refuse, for diagnostics."""

    labels_truncated: int = 0
    labels_forgotten: int = 0
    labels_overflowed: int = 0


class ClassRegistry:
    """
    Map detector class labels (strings in vision_msgs) to the core's integer class ids.

    The table is bounded: labels are cut to ``max_label_length`` characters, and at most
    ``max_classes`` are remembered. When a new label finds the table full, the least recently
    seen label that no live track uses (:meth:`mark_in_use`) is forgotten; when every label is
    in use, the new one gets the class of ``''`` (counted). Ids are never reused, so a
    forgotten label's id never names another class.

    Parameters
    ----------
    max_label_length : int
        Characters kept of a label.
    max_classes : int
        Labels remembered at once.

    """

    def __init__(self, max_label_length: int = DEFAULT_MAX_LABEL_LENGTH,
                 max_classes: int = DEFAULT_MAX_CLASSES) -> None:
        if max_label_length < 1 or max_classes < 1:
            raise ValueError(f'max_label_length and max_classes must be >= 1, got '
                             f'{max_label_length} and {max_classes}')
        self.max_label_length = int(max_label_length)
        self.max_classes = int(max_classes)
        self.counters = ClassCounters()
        # Least recently seen first; id -> label for reading back.
        self._ids: 'OrderedDict[str, int]' = OrderedDict()
        self._labels: Dict[int, str] = {}
        self._in_use: Set[int] = set()
        self._next_id = 0
        self._overflow_id = self._add(OVERFLOW_LABEL)

    def __len__(self) -> int:
        """Return the number of labels remembered."""
        return len(self._ids)

    def _cut(self, label: str) -> str:
        label = str(label)
        if len(label) > self.max_label_length:
            self.counters.labels_truncated += 1
            return label[:self.max_label_length]
        return label

    def _add(self, label: str) -> int:
        class_id = self._next_id
        self._next_id += 1
        self._ids[label] = class_id
        self._labels[class_id] = label
        return class_id

    def to_id(self, label: str) -> int:
        """Return the id of ``label``, assigning the next free one on first sight."""
        label = self._cut(label)
        class_id = self._ids.get(label)
        if class_id is not None:
            self._ids.move_to_end(label)
            return class_id
        if len(self._ids) >= self.max_classes and not self._forget_one():
            self.counters.labels_overflowed += 1
            return self._overflow_id
        return self._add(label)

    def find(self, label: str) -> Optional[int]:
        """Return the id of a known label, or None (nothing is added: a query, not a label)."""
        label = str(label)
        if len(label) > self.max_label_length:
            return None  # no label that long was ever kept
        return self._ids.get(label)

    def mark_in_use(self, class_ids: Iterable[int]) -> None:
        """Name the ids that live tracks hold now; only the others may be forgotten."""
        self._in_use = {int(c) for c in class_ids}

    def _forget_one(self) -> bool:
        for label, class_id in self._ids.items():
            if class_id != self._overflow_id and class_id not in self._in_use:
                del self._ids[label]
                del self._labels[class_id]
                self.counters.labels_forgotten += 1
                return True
        return False

    def to_label(self, class_id: int) -> str:
        """Return the label of a known id (or the id as text for an unknown one)."""
        label = self._labels.get(int(class_id))
        return str(class_id) if label is None else label


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
    truncated : int
        Good detections dropped because the frame had more than ``max_detections`` (the
        lowest scores go).

    """

    boxes_tlwh: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]
    class_ids: npt.NDArray[np.int64]
    message_indices: npt.NDArray[np.int64]
    rejected: int
    truncated: int = 0


@dataclass
class TrimmedDetections:
    """
    The best detections of an array that had too many, as the pairer holds them.

    Read like a ``Detection2DArray`` (``header``, ``detections``); ``source_indices`` keeps
    each detection's index in the array that was received, so that tracks still name it.

    Attributes
    ----------
    header : std_msgs/Header
    detections : list of vision_msgs/Detection2D
    source_indices : ndarray, shape (N,), int
    dropped : int
        Detections left out.

    """

    header: Any
    detections: List[Any]
    source_indices: npt.NDArray[np.int64]
    dropped: int


def _best_hypothesis(detection: Any) -> Tuple[float, str]:
    # A detection without hypotheses is an unlabelled object the detector is sure of.
    if not detection.results:
        return 1.0, ''
    best = max(detection.results, key=lambda r: r.hypothesis.score)
    return best.hypothesis.score, best.hypothesis.class_id


def _box_tlwh(detection: Any) -> Tuple[float, float, float, float]:
    bbox = detection.bbox
    return (bbox.center.position.x - bbox.size_x / 2.0,
            bbox.center.position.y - bbox.size_y / 2.0, bbox.size_x, bbox.size_y)


def _usable(boxes_tlwh: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]
            ) -> npt.NDArray[np.bool_]:
    return np.isfinite(boxes_tlwh).all(axis=1) & np.isfinite(scores) & \
        (boxes_tlwh[:, 2] > 0) & (boxes_tlwh[:, 3] > 0)


def _highest(scores: npt.NDArray[np.float64], count: int) -> npt.NDArray[np.int64]:
    """Return the indices of the ``count`` highest scores, in their original order."""
    order = np.argsort(-scores, kind='stable')[:count]
    return np.sort(order).astype(np.int64)


def limit_detections(msg: Any, max_detections: int) -> Any:
    """
    Keep at most ``max_detections`` of a ``Detection2DArray``: the usable ones, best first.

    Parameters
    ----------
    msg : vision_msgs/Detection2DArray
        Any object with ``header`` and ``detections``.
    max_detections : int
        Most detections kept.

    Returns
    -------
    Detection2DArray or TrimmedDetections
        ``msg`` itself when it is small enough; else the kept detections (boxes that are not
        finite or not of positive size go first, then the lowest scores), which frees the
        others.

    """
    detections = msg.detections
    if len(detections) <= max_detections:
        return msg
    best = [_best_hypothesis(d)[0] for d in detections]
    boxes = np.array([_box_tlwh(d) for d in detections], dtype=np.float64)
    scores = np.array(best, dtype=np.float64)
    ranking = np.where(_usable(boxes, scores), scores, -np.inf)
    keep = _highest(ranking, max_detections)
    return TrimmedDetections(msg.header, [detections[i] for i in keep.tolist()], keep,
                             len(detections) - len(keep))


def detections_to_batch(msg: Any, classes: ClassRegistry, min_score: float = 0.0,
                        max_detections: Optional[int] = None) -> DetectionBatch:
    """
    Convert a ``vision_msgs/Detection2DArray`` (4.x fields) into arrays.

    Class and score come from the best-scoring hypothesis; a detection without hypotheses has
    class ``''`` and score 1. Boxes that are NaN, infinite or not of positive size are dropped
    and counted, never passed on. Beyond ``max_detections`` good detections, the lowest
    scores are dropped and counted (also those :func:`limit_detections` left out before).
    """
    count = len(msg.detections)
    boxes = np.empty((count, 4), dtype=np.float64)
    scores = np.empty(count, dtype=np.float64)
    labels: List[str] = []
    for i, detection in enumerate(msg.detections):
        boxes[i] = _box_tlwh(detection)
        scores[i], label = _best_hypothesis(detection)
        labels.append(label)
    good = _usable(boxes, scores)
    rejected = int(count - good.sum())
    good &= scores >= min_score
    indices = np.flatnonzero(good)
    truncated = int(getattr(msg, 'dropped', 0))
    if max_detections is not None and len(indices) > max_detections:
        truncated += len(indices) - max_detections
        indices = indices[_highest(scores[indices], max_detections)]
    class_ids = np.array([classes.to_id(labels[i]) for i in indices], dtype=np.int64)
    source = getattr(msg, 'source_indices', None)
    message_indices = indices if source is None else np.asarray(source)[indices]
    return DetectionBatch(boxes[indices], scores[indices], class_ids,
                          message_indices.astype(np.int64), rejected, truncated)


def yolo_to_detection_array(msg: Any) -> Detection2DArray:
    """
    Convert yolo_ros's ``yolo_msgs/DetectionArray`` into a ``vision_msgs/Detection2DArray``.

    Each detection keeps its box (centre and size, pixels), its ``class_name`` as the class and
    its ``score``, in the same order, so that tracks name the index in the received array; the
    rest (masks, keypoints, 3D boxes, yolo_ros's own tracker id) is not used by the tracker.

    Parameters
    ----------
    msg : yolo_msgs/DetectionArray
        Any object with ``header`` and ``detections`` of yolo_msgs' fields.

    Returns
    -------
    vision_msgs/Detection2DArray

    """
    out = Detection2DArray(header=msg.header)
    for detection in msg.detections:
        converted = Detection2D(header=msg.header)
        converted.bbox.center.position.x = float(detection.bbox.center.position.x)
        converted.bbox.center.position.y = float(detection.bbox.center.position.y)
        converted.bbox.center.theta = float(detection.bbox.center.theta)
        converted.bbox.size_x = float(detection.bbox.size.x)
        converted.bbox.size_y = float(detection.bbox.size.y)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = str(detection.class_name)
        hypothesis.hypothesis.score = float(detection.score)
        converted.results.append(hypothesis)
        out.detections.append(converted)
    return out


def detections_to_msg(header: Any, boxes_tlwh: npt.ArrayLike, scores: npt.ArrayLike,
                      labels: Union[str, Sequence[str]]) -> Detection2DArray:
    """
    Build a ``vision_msgs/Detection2DArray``, one hypothesis per detection.

    Parameters
    ----------
    header : std_msgs/Header
        The header of the image the detector ran on (stamp and optical frame), carried by the
        array and by each detection.
    boxes_tlwh : array_like, shape (N, 4)
        Boxes, pixels.
    scores : array_like, shape (N,)
        Confidences in [0, 1].
    labels : str or sequence of N str
        Class label of every detection, or of each.

    """
    boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
    confidences = np.asarray(scores, dtype=np.float64).reshape(-1)
    names = [labels] * len(boxes) if isinstance(labels, str) else list(labels)
    if not len(confidences) == len(names) == len(boxes):
        raise ValueError(f'{len(boxes)} boxes, {len(confidences)} scores and {len(names)} '
                         'labels')
    msg = Detection2DArray(header=header)
    for (x, y, w, h), score, label in zip(boxes.tolist(), confidences.tolist(), names):
        detection = Detection2D(header=header)
        detection.bbox.center.position.x = x + w / 2.0
        detection.bbox.center.position.y = y + h / 2.0
        detection.bbox.size_x, detection.bbox.size_y = w, h
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.class_id = label
        hypothesis.hypothesis.score = score
        detection.results.append(hypothesis)
        msg.detections.append(detection)
    return msg


# ---- tracks ---------------------------------------------------------------------------------


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


# ---- RViz markers ---------------------------------------------------------------------------

# Markers per track: a body, its id as text, its velocity as an arrow, the 2-sigma ellipse of
# its position on the ground (what a planner inflates obstacles by).
MARKERS_PER_TRACK = 4
ELLIPSE_SIGMAS = 2.0
ELLIPSE_THICKNESS_M = 0.02
ELLIPSE_ALPHA = 0.35
BODY_DIAMETER_M = 0.5
BODY_HEIGHT_M = 1.7
LABEL_HEIGHT_M = 2.0
LABEL_SIZE_M = 0.4
ARROW_SHAFT_M, ARROW_HEAD_M = 0.08, 0.15
MARKER_ALPHA = 0.9
# Tracks that are no longer estimated have no marker (and their old ones are deleted).
UNSHOWN_STATES = (Track.STATE_LOST, Track.STATE_DELETED)


class MarkerBuilder:
    """
    Build RViz markers for world-frame tracks and delete those of tracks that ended.

    Parameters
    ----------
    namespace : str
        Marker namespace.

    """

    def __init__(self, namespace: str = 'deepsort') -> None:
        self._namespace = namespace
        self._shown: Set[int] = set()

    def build(self, track_array: Any) -> MarkerArray:
        """Return a ``MarkerArray`` for the world-valid tracks of ``track_array``."""
        out = MarkerArray()
        shown: Set[int] = set()
        for track in track_array.tracks:
            if not track.world_valid or track.state in UNSHOWN_STATES:
                continue
            shown.add(track.id)
            out.markers += self._track_markers(track_array, track)
        out.markers += self._deletions(track_array, sorted(self._shown - shown))
        self._shown = shown
        return out

    def _marker(self, track_array: Any, track_id: int, offset: int, action: int) -> Marker:
        # A header of its own: the TrackArray's keeps naming the camera frame.
        header = Header(stamp=track_array.header.stamp, frame_id=track_array.world_frame_id)
        return Marker(header=header, ns=self._namespace, action=action,
                      id=int(track_id) * MARKERS_PER_TRACK + offset)

    def _track_markers(self, track_array: Any, track: Any) -> List[Marker]:
        b, g, r = track_colour_bgr(track.id)
        ground = track.pose.pose.position
        body, text, arrow, ellipse = (self._marker(track_array, track.id, offset, Marker.ADD)
                                      for offset in range(MARKERS_PER_TRACK))
        for marker in (body, text, arrow, ellipse):
            marker.pose = Pose()
            marker.pose.orientation.w = 1.0
            marker.color.r, marker.color.g, marker.color.b = r / 255.0, g / 255.0, b / 255.0
            marker.color.a = MARKER_ALPHA
        body.type = Marker.CYLINDER
        body.scale.x = body.scale.y = BODY_DIAMETER_M
        body.scale.z = BODY_HEIGHT_M
        body.pose.position = Point(x=ground.x, y=ground.y, z=ground.z + BODY_HEIGHT_M / 2.0)
        text.type = Marker.TEXT_VIEW_FACING
        text.text = f'{track.id} {track.class_id}'
        text.scale.z = LABEL_SIZE_M
        text.pose.position = Point(x=ground.x, y=ground.y, z=ground.z + LABEL_HEIGHT_M)
        arrow.type = Marker.ARROW
        arrow.scale.x, arrow.scale.y, arrow.scale.z = ARROW_SHAFT_M, ARROW_HEAD_M, ARROW_HEAD_M
        velocity = track.twist.twist.linear
        arrow.points = [Point(x=ground.x, y=ground.y, z=ground.z),
                        Point(x=ground.x + velocity.x, y=ground.y + velocity.y, z=ground.z)]
        ellipse.type = Marker.CYLINDER
        ellipse.color.a = ELLIPSE_ALPHA
        covariance = np.nan_to_num(np.asarray(track.pose.covariance).reshape(6, 6)[:2, :2])
        variances, axes = np.linalg.eigh(0.5 * (covariance + covariance.T))
        # A cylinder's x and y scales are its diameters: twice ELLIPSE_SIGMAS sigmas.
        ellipse.scale.x, ellipse.scale.y = (
            float(2.0 * ELLIPSE_SIGMAS * np.sqrt(max(v, 0.0))) for v in variances[::-1])
        ellipse.scale.z = ELLIPSE_THICKNESS_M
        yaw = float(np.arctan2(axes[1, 1], axes[0, 1]))  # of the major axis
        ellipse.pose.orientation.z, ellipse.pose.orientation.w = np.sin(yaw / 2), np.cos(yaw / 2)
        ellipse.pose.position = Point(x=ground.x, y=ground.y,
                                      z=ground.z + ELLIPSE_THICKNESS_M / 2.0)
        return [body, text, arrow, ellipse]

    def _deletions(self, track_array: Any, track_ids: Iterable[int]) -> List[Marker]:
        return [self._marker(track_array, track_id, offset, Marker.DELETE)
                for track_id in track_ids for offset in range(MARKERS_PER_TRACK)]


# ---- diagnostics ----------------------------------------------------------------------------


def diagnostics_to_msg(name: str, report: DiagnosticReport, stamp_ns: int) -> DiagnosticArray:
    """
    Build a ``diagnostic_msgs/DiagnosticArray`` of one status.

    Parameters
    ----------
    name : str
        The status name (``'<node>: tracking'``).
    report : DiagnosticReport
        Level, message, hardware id and key/value pairs.
    stamp_ns : int
        Stamp of the array, integer nanoseconds.

    """
    status = DiagnosticStatus(name=name, message=report.message,
                              hardware_id=report.hardware_id,
                              level=getattr(DiagnosticStatus, report.level.name))
    status.values = [KeyValue(key=key, value=value) for key, value in report.values]
    return DiagnosticArray(header=make_header(stamp_ns, ''), status=[status])


# ---- multi-camera fusion: appearances, camera tracks in, global tracks out ------------------


def uuid_bytes(msg_uuid: Any) -> bytes:
    """Return the 16 bytes of a ``unique_identifier_msgs/UUID`` (or of its ``uuid`` array)."""
    return bytes(np.asarray(getattr(msg_uuid, 'uuid', msg_uuid), dtype=np.uint8).reshape(-1))


def appearances_to_msg(header: Any, source_id: uuid.UUID, encoder: str, encoder_digest: str,
                       track_ids: Sequence[int], features: Sequence[npt.ArrayLike]
                       ) -> TrackAppearanceArray:
    """
    Build a ``deepsort_ros_msgs/TrackAppearanceArray`` of some tracks' features.

    Parameters
    ----------
    header : std_msgs/Header
        The header of the frame's ``TrackArray`` (stamp and optical frame).
    source_id : uuid.UUID
        The tracker run: the namespace of its track UUIDs.
    encoder : str
        The encoder's description.
    encoder_digest : str
        SHA-256 of its weights file, hex ('' unknown).
    track_ids : sequence of int
        N track ids; their UUIDs are those of ``TrackArray`` (:func:`identity_uuid`).
    features : sequence of array_like
        N features, (D,) each.

    """
    msg = TrackAppearanceArray(header=header, encoder=str(encoder),
                               encoder_digest=str(encoder_digest))
    msg.source_id.uuid = list(source_id.bytes)
    for track_id, feature in zip(track_ids, features):
        entry = TrackAppearance(id=int(track_id))
        entry.uuid.uuid = identity_uuid(source_id, track_id)
        values = array.array('f')
        values.frombytes(np.ascontiguousarray(feature, dtype=np.float32).reshape(-1).tobytes())
        entry.feature = values
        msg.appearances.append(entry)
    return msg


class TrackAppearances(NamedTuple):
    """
    The content of a ``TrackAppearanceArray``.

    Attributes
    ----------
    stamp_ns : int
    source_id : str
        The sending tracker run's UUID, hex.
    encoder : str
        What the fusion compares (:func:`deepsort_ros.fusion.appearance_feed.encoder_identity`).
    encoder_name : str
        The encoder's description, for logs.
    keys : list of bytes
        The tracks' UUIDs, N.
    features : list of ndarray of float32
        N features (of any lengths: checked by the fusion).

    """

    stamp_ns: int
    source_id: str
    encoder: str
    encoder_name: str
    keys: List[bytes]
    features: List[npt.NDArray[np.float32]]


def appearance_msg_to_arrays(msg: Any) -> TrackAppearances:
    """Read a ``deepsort_ros_msgs/TrackAppearanceArray``."""
    from deepsort_ros.fusion.appearance_feed import encoder_identity

    return TrackAppearances(
        stamp_to_ns(msg.header.stamp), uuid_bytes(msg.source_id).hex(),
        encoder_identity(msg.encoder, msg.encoder_digest), str(msg.encoder),
        [uuid_bytes(a.uuid) for a in msg.appearances],
        [np.asarray(a.feature, dtype=np.float32).reshape(-1) for a in msg.appearances])


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
            msg.pose.covariance = _covariance_6x6(covariance[:2, :2])
            msg.twist.twist.linear.x = float(track.velocity_xy[0])
            msg.twist.twist.linear.y = float(track.velocity_xy[1])
            msg.twist.covariance = _covariance_6x6(covariance[2:, 2:])
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


class GlobalMarkerBuilder:
    """
    RViz markers of global tracks (bodies, ids with their cameras, velocity arrows).

    The same markers as a camera's (:class:`MarkerBuilder`), labelled with the cameras whose
    tracks make up each identity; those of identities that ended are deleted.

    Parameters
    ----------
    namespace : str
        Marker namespace.

    """

    def __init__(self, namespace: str = 'track_fusion') -> None:
        self._builder = MarkerBuilder(namespace)

    def build(self, global_tracks: Any) -> MarkerArray:
        """Return a ``MarkerArray`` for the world-valid tracks of a ``GlobalTrackArray``."""
        view = _MarkerArrayView(global_tracks.header, global_tracks.header.frame_id, [
            _MarkerTrackView(t.id, t.world_valid, Track.STATE_CONFIRMED, t.pose, t.twist,
                             '+'.join(m.camera for m in t.members if m.local_id))
            for t in global_tracks.tracks])
        return self._builder.build(view)


class _MarkerTrackView(NamedTuple):
    # What MarkerBuilder reads of a Track.
    id: int  # noqa: A003 - the message field's name
    world_valid: bool
    state: int
    pose: Any
    twist: Any
    class_id: str


class _MarkerArrayView(NamedTuple):
    # What MarkerBuilder reads of a TrackArray.
    header: Any
    world_frame_id: str
    tracks: List[_MarkerTrackView]
