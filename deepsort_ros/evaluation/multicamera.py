"""
Scores of multi-camera tracking with global identities: MTMC IDF1, transitions, per camera.

Input is, per camera, MOTChallenge rows in that camera's image: gt rows whose ids are shared
by all cameras, and result rows whose ids are the global ids.

- **Multi-camera IDF1** (the usual MTMC IDF1): IDF1 over the union of all cameras' (camera,
  frame, box) rows, identities matched once over the union. It is computed by
  :func:`~deepsort_ros.evaluation.mot_metrics.evaluate_mot` on rows whose frame numbers are
  offset per camera (camera i's frame f becomes ``i * stride + f``), so one gt identity seen
  by two cameras must carry one predicted id in both to score fully.
- **Camera transitions** (:func:`camera_transitions`): per camera and frame, gt and result
  boxes are matched one-to-one at IoU >= 0.5 (Hungarian on IoU). A gt identity *enters*
  camera B at frame f when it is matched in B at f, was not matched in B during the
  ``min_absence_s`` before f, and was matched in another camera A after its last match in B
  (or ever, if it never was in B): at the latest such frame f' <= f (f' = f in overlapping
  views, f' < f after a gap). The transition is *kept* when the predicted id in B at f is one
  of the predicted ids the identity had in the other cameras at f'. Its gap is
  ``(f - f') / frame_rate``. (An identity first seen by two cameras in one frame makes one
  transition into each.)
"""

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from deepsort_ros.core.boxes import iou_matrix_tlwh
from deepsort_ros.evaluation.mot_metrics import evaluate_mot, MotScores
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

FloatArray = npt.NDArray[np.float64]
Rows = Mapping[str, FloatArray]


@dataclass(frozen=True)
class Transition:
    """
    One camera-to-camera transition of a gt identity.

    Attributes
    ----------
    gt_id : int
    to_camera : str
    frame : int
        Frame of the entry into ``to_camera``.
    from_cameras : tuple of str
        Cameras that matched the identity at ``from_frame``.
    from_frame : int
    gap_s : float
        ``(frame - from_frame) / frame_rate``; 0 in overlapping views.
    predicted_id : int
        Result id in ``to_camera`` at ``frame``.
    from_ids : tuple of int
        Result ids in ``from_cameras`` at ``from_frame``.
    kept : bool
        ``predicted_id in from_ids``.

    """

    gt_id: int
    to_camera: str
    frame: int
    from_cameras: Tuple[str, ...]
    from_frame: int
    gap_s: float
    predicted_id: int
    from_ids: Tuple[int, ...]
    kept: bool


@dataclass(frozen=True)
class MultiCameraScores:
    """
    Scores of one multi-camera run.

    Attributes
    ----------
    union : MotScores
        Over the union of all cameras' rows (``union.idf1`` is the multi-camera IDF1).
    per_camera : dict of str to MotScores
        Each camera alone, with the ids of the results given.
    mean_camera_idf1 : float
        Mean of the per-camera IDF1.
    purity : float
        Over all cameras, the share of matched result rows whose id's most frequent gt
        identity is theirs: 1 when no result id covers two people (merging people raises
        transition keep rates; this shows it).
    completeness : float
        The share of matched gt rows whose identity's most frequent result id is theirs.

    """

    union: MotScores
    per_camera: Dict[str, MotScores]
    mean_camera_idf1: float
    purity: float
    completeness: float


def offset_rows(rows_by_camera: Rows, cameras: Sequence[str], stride: int) -> FloatArray:
    """
    Stack cameras' rows, moving camera i's frames to ``i * stride + frame``.

    Parameters
    ----------
    rows_by_camera : mapping of str to ndarray, shape (N_c, >= 6)
        Each camera's rows.
    cameras : sequence of str
        Order of the cameras (the offsets).
    stride : int
        Larger than every frame number.

    Returns
    -------
    ndarray, shape (sum N_c, columns)
        Columns: the fewest any camera has.

    """
    parts = [np.asarray(rows_by_camera.get(c, np.zeros((0, 10))), dtype=np.float64)
             for c in cameras]
    columns = min((p.shape[1] for p in parts if len(p)), default=10)
    stacked = []
    for i, part in enumerate(parts):
        part = part[:, :columns].copy() if len(part) else np.zeros((0, columns))
        part[:, 0] += i * stride
        stacked.append(part)
    return np.concatenate(stacked, axis=0)


def evaluate_multicamera(gt_by_camera: Rows, results_by_camera: Rows,
                         iou_threshold: float = 0.5) -> MultiCameraScores:
    """
    Score the union of the cameras and each camera alone.

    Parameters
    ----------
    gt_by_camera : mapping of str to ndarray, shape (G_c, >= 7)
        Each camera's gt rows (ids shared by all cameras).
    results_by_camera : mapping of str to ndarray, shape (R_c, >= 6)
        Each camera's result rows with global ids (a camera missing has no results).
    iou_threshold : float
        Match threshold of the scores.

    Returns
    -------
    MultiCameraScores

    """
    cameras = list(gt_by_camera)
    last = [np.max(np.asarray(r)[:, 0]) for r in list(gt_by_camera.values())
            + list(results_by_camera.values()) if len(r)]
    stride = int(max(last, default=0)) + 1
    empty = np.zeros((0, 10))
    per_camera = {c: evaluate_mot(np.asarray(gt_by_camera[c], dtype=np.float64),
                                  np.asarray(results_by_camera.get(c, empty), dtype=np.float64),
                                  iou_threshold) for c in cameras}
    gt_columns = min(np.asarray(r).shape[1] for r in gt_by_camera.values())
    gt = offset_rows({c: np.asarray(r)[:, :gt_columns] for c, r in gt_by_camera.items()},
                     cameras, stride)
    results = offset_rows(results_by_camera, cameras, stride)
    union = evaluate_mot(gt, results, iou_threshold)
    mean = float(np.mean([s.idf1 for s in per_camera.values()])) if per_camera else 0.0
    pairs = [(g, r) for matched in match_identities(gt, results, iou_threshold).values()
             for g, r in matched.items()]
    return MultiCameraScores(union, per_camera, mean, _majority_share([r for _, r in pairs],
                                                                      [g for g, _ in pairs]),
                             _majority_share([g for g, _ in pairs], [r for _, r in pairs]))


def _majority_share(keys: List[int], values: List[int]) -> float:
    """Return the share of pairs whose value is its key's most frequent value (NaN if none)."""
    if not keys:
        return float('nan')
    counts: Dict[int, Dict[int, int]] = {}
    for key, value in zip(keys, values):
        counts.setdefault(key, {}).setdefault(value, 0)
        counts[key][value] += 1
    return sum(max(c.values()) for c in counts.values()) / len(keys)


def match_identities(gt_rows: FloatArray, result_rows: FloatArray,
                     iou_threshold: float = 0.5) -> Dict[int, Dict[int, int]]:
    """
    Match gt and result boxes frame by frame (Hungarian on IoU, pairs at >= the threshold).

    Parameters
    ----------
    gt_rows : ndarray, shape (G, >= 6)
        Rows with a flag column (7th) of 0 are not scored and left out.
    result_rows : ndarray, shape (R, >= 6)
        Result rows.
    iou_threshold : float
        Smallest IoU of a match.

    Returns
    -------
    dict of int to dict of int to int
        ``frame -> {gt id: result id}``.

    """
    gt_rows = np.asarray(gt_rows, dtype=np.float64)
    result_rows = np.asarray(result_rows, dtype=np.float64)
    if gt_rows.shape[1] > 6:
        gt_rows = gt_rows[gt_rows[:, 6] != 0]
    matched: Dict[int, Dict[int, int]] = {}
    if len(gt_rows) == 0 or len(result_rows) == 0:
        return matched
    result_frames = result_rows[:, 0].astype(np.int64)
    gt_frames = gt_rows[:, 0].astype(np.int64)
    for frame in np.intersect1d(gt_frames, result_frames).tolist():
        g = gt_rows[gt_frames == frame]
        r = result_rows[result_frames == frame]
        iou = iou_matrix_tlwh(g[:, 2:6], r[:, 2:6])
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= iou_threshold
        if np.any(good):
            matched[frame] = {int(g[i, 1]): int(r[j, 1])
                              for i, j in zip(rows[good].tolist(), cols[good].tolist())}
    return matched


def camera_transitions(gt_by_camera: Rows, results_by_camera: Rows, frame_rate: float,
                       min_absence_s: float = 1.0,
                       iou_threshold: float = 0.5) -> List[Transition]:
    """
    Every camera-to-camera transition of every gt identity (see the module docstring).

    Parameters
    ----------
    gt_by_camera : mapping of str to ndarray
        Each camera's gt rows.
    results_by_camera : mapping of str to ndarray
        Each camera's result rows with global ids.
    frame_rate : float
        Frames per second (frame numbers are shared by all cameras).
    min_absence_s : float
        An identity re-matched in a camera sooner than this after its last match there has not
        left it (missed detections, dropped frames).
    iou_threshold : float
        Smallest IoU of a match.

    Returns
    -------
    list of Transition
        Ordered by frame, then gt id.

    """
    empty = np.zeros((0, 10))
    cameras = list(gt_by_camera)
    # observations[gt id][frame][camera] = result id
    observations: Dict[int, Dict[int, Dict[str, int]]] = {}
    for camera in cameras:
        matched = match_identities(gt_by_camera[camera], results_by_camera.get(camera, empty),
                                   iou_threshold)
        for frame, pairs in matched.items():
            for gt_id, result_id in pairs.items():
                observations.setdefault(gt_id, {}).setdefault(frame, {})[camera] = result_id
    absence_frames = min_absence_s * frame_rate
    transitions: List[Transition] = []
    for gt_id, by_frame in observations.items():
        frames = sorted(by_frame)
        last_in: Dict[str, Optional[int]] = dict.fromkeys(cameras)
        last_other: Dict[str, Optional[int]] = dict.fromkeys(cameras)
        for frame in frames:
            seen = by_frame[frame]
            # Latest frame <= this one with a match in a camera other than c.
            for camera in cameras:
                if any(other != camera for other in seen):
                    last_other[camera] = frame
            for camera, predicted in seen.items():
                previous = last_in[camera]
                source = last_other[camera]
                entering = previous is None or frame - previous >= absence_frames
                if entering and source is not None and (previous is None or source > previous):
                    from_cameras = tuple(c for c in cameras
                                         if c != camera and c in by_frame[source])
                    from_ids = tuple(by_frame[source][c] for c in from_cameras)
                    transitions.append(Transition(
                        int(gt_id), camera, int(frame), from_cameras, int(source),
                        (frame - source) / frame_rate, int(predicted), from_ids,
                        predicted in from_ids))
                last_in[camera] = frame
    transitions.sort(key=lambda t: (t.frame, t.gt_id, t.to_camera))
    return transitions


def keep_rate(transitions: Sequence[Transition],
              max_gap_s: Optional[float] = None) -> Tuple[int, int, float]:
    """
    Return (kept, total, kept / total) of the transitions with a gap up to ``max_gap_s``.

    Parameters
    ----------
    transitions : sequence of Transition
        From :func:`camera_transitions`.
    max_gap_s : float, optional
        None counts every transition.

    Returns
    -------
    kept, total : int
    rate : float
        NaN when there is none.

    """
    chosen = [t for t in transitions if max_gap_s is None or t.gap_s <= max_gap_s]
    kept = sum(t.kept for t in chosen)
    return kept, len(chosen), (kept / len(chosen) if chosen else float('nan'))
