"""
Score MOTChallenge results against ground truth: HOTA (TrackEval), IDF1, MOTA, ID switches.

Both libraries see the same preprocessed frames: ground-truth rows with flag 0 (or a
distractor class in MOT16/17 files) are distractors, and result boxes matched to them at IoU
>= 0.5 are removed, so distractors are neither rewarded nor punished. trackeval and motmetrics
are imported when scoring.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

from deepsort_ros.core.boxes import iou_matrix_tlwh
from deepsort_ros.recordings.mot import load_mot_rows
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

# MOT16/17 gt classes: 1 pedestrian is scored; these are distractors (person on vehicle,
# static person, distractor, reflection); other classes are ignored entirely.
DISTRACTOR_CLASSES = (2, 7, 8, 12)
PEDESTRIAN_CLASS = 1


@dataclass(frozen=True)
class MotScores:
    """
    Tracking scores of one sequence.

    Attributes
    ----------
    hota, deta, assa : float
        HOTA and its detection and association parts (TrackEval), in [0, 1].
    idf1, mota : float
        py-motmetrics, IDF1 in [0, 1], MOTA <= 1.
    id_switches : int
    num_frames : int

    """

    hota: float
    deta: float
    assa: float
    idf1: float
    mota: float
    id_switches: int
    num_frames: int


FrameData = Tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64],
                  npt.NDArray[np.float64]]


def _preprocess(gt_rows: npt.NDArray[np.float64], result_rows: npt.NDArray[np.float64],
                iou_threshold: float) -> Dict[int, FrameData]:
    """Return ``frame -> (gt ids, gt boxes tlwh, result ids, result boxes tlwh)``."""
    flag = gt_rows[:, 6] if gt_rows.shape[1] > 6 else np.ones(len(gt_rows))
    classes = (gt_rows[:, 7].astype(np.int64) if gt_rows.shape[1] > 8
               else np.full(len(gt_rows), PEDESTRIAN_CLASS))
    # MOT15 gt stores world coordinates in columns 7-9: only trust classes that look like ones.
    if gt_rows.shape[1] > 8 and not np.all(np.isin(classes, np.arange(1, 14))):
        classes = np.full(len(gt_rows), PEDESTRIAN_CLASS)
    scored = (flag != 0) & (classes == PEDESTRIAN_CLASS)
    distractor = ~scored & ((flag == 0) | np.isin(classes, DISTRACTOR_CLASSES))
    frames = np.union1d(gt_rows[:, 0], result_rows[:, 0]).astype(np.int64)
    out: Dict[int, FrameData] = {}
    for frame in frames.tolist():
        g = gt_rows[:, 0] == frame
        r = result_rows[result_rows[:, 0] == frame]
        keep = np.ones(len(r), dtype=bool)
        distractor_boxes = gt_rows[g & distractor, 2:6]
        if len(distractor_boxes) and len(r):
            iou = iou_matrix_tlwh(distractor_boxes, r[:, 2:6])
            rows, cols = linear_sum_assignment(-iou)
            keep[cols[iou[rows, cols] >= iou_threshold]] = False
        scored_rows = gt_rows[g & scored]
        out[frame] = (scored_rows[:, 1].astype(np.int64), scored_rows[:, 2:6],
                      r[keep, 1].astype(np.int64), r[keep, 2:6])
    return out


def _hota(data: Dict[int, FrameData]) -> Tuple[float, float, float]:
    from trackeval.metrics import HOTA

    gt_ids_all = np.unique(np.concatenate([d[0] for d in data.values()] + [np.zeros(0, int)]))
    tr_ids_all = np.unique(np.concatenate([d[2] for d in data.values()] + [np.zeros(0, int)]))
    gt_map = {v: i for i, v in enumerate(gt_ids_all.tolist())}
    tr_map = {v: i for i, v in enumerate(tr_ids_all.tolist())}
    gt_ids: List[npt.NDArray[np.int64]] = []
    tr_ids: List[npt.NDArray[np.int64]] = []
    similarity: List[npt.NDArray[np.float64]] = []
    for frame in sorted(data):
        g_ids, g_boxes, t_ids, t_boxes = data[frame]
        gt_ids.append(np.array([gt_map[v] for v in g_ids.tolist()], dtype=int))
        tr_ids.append(np.array([tr_map[v] for v in t_ids.tolist()], dtype=int))
        similarity.append(iou_matrix_tlwh(g_boxes, t_boxes))
    sequence = {
        'num_timesteps': len(data), 'num_gt_ids': len(gt_ids_all),
        'num_tracker_ids': len(tr_ids_all),
        'num_gt_dets': int(sum(len(x) for x in gt_ids)),
        'num_tracker_dets': int(sum(len(x) for x in tr_ids)),
        'gt_ids': gt_ids, 'tracker_ids': tr_ids, 'similarity_scores': similarity,
    }
    metric = HOTA()
    res = metric.eval_sequence(sequence)
    return float(np.mean(res['HOTA'])), float(np.mean(res['DetA'])), float(np.mean(res['AssA']))


def _clear_identity(data: Dict[int, FrameData], iou_threshold: float) -> Tuple[float, float, int]:
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=True)
    for frame in sorted(data):
        g_ids, g_boxes, t_ids, t_boxes = data[frame]
        iou = iou_matrix_tlwh(g_boxes, t_boxes)
        distance = np.where(iou >= iou_threshold, 1.0 - iou, np.nan)
        accumulator.update(g_ids.tolist(), t_ids.tolist(), distance)
    host = mm.metrics.create()
    summary = host.compute(accumulator, metrics=['idf1', 'mota', 'num_switches'], name='seq')
    return (float(summary['idf1'].iloc[0]), float(summary['mota'].iloc[0]),
            int(summary['num_switches'].iloc[0]))


def evaluate_mot(gt: Union[Path, npt.NDArray[np.float64]],
                 results: Union[Path, npt.NDArray[np.float64]],
                 iou_threshold: float = 0.5) -> MotScores:
    """
    Score one sequence's results.

    Parameters
    ----------
    gt : Path or ndarray, shape (G, >=7)
        gt.txt, or its rows.
    results : Path or ndarray, shape (R, >=6)
        MOTChallenge results, or their rows.
    iou_threshold : float
        Match threshold of IDF1, MOTA and distractor removal (HOTA averages its own).

    Returns
    -------
    MotScores

    """
    gt_rows = gt if isinstance(gt, np.ndarray) else load_mot_rows(Path(gt))
    result_rows = results if isinstance(results, np.ndarray) else load_mot_rows(Path(results))
    if len(result_rows) == 0:
        result_rows = np.zeros((0, 10))
    data = _preprocess(gt_rows, result_rows, iou_threshold)
    hota, deta, assa = _hota(data)
    idf1, mota, switches = _clear_identity(data, iou_threshold)
    return MotScores(hota, deta, assa, idf1, mota, switches, len(data))
