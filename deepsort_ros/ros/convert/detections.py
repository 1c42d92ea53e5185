"""
Detections: ``vision_msgs/Detection2DArray`` (and yolo_ros's array) to the core's arrays and back.

Reading drops and counts what the core must not see (boxes that are not finite or not of
positive size, detections beyond the frame's bound) and turns labels into class ids through
the core's :class:`~deepsort_ros.core.labels.ClassRegistry`; building serves the detectors
(``hog_detector``) and the recorders.
"""

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

from deepsort_ros.core.labels import ClassRegistry
import numpy as np
import numpy.typing as npt
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose


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
