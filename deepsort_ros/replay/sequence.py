"""
Run the tracker core over a MOTChallenge-style sequence and write MOTChallenge results.

Appearance comes from a Re-ID encoder (frames are then read from img1/ or the video) or from
precomputed per-detection features; without either the tracker runs on motion and IoU alone.
``deepsort-ros track --sequence`` (:mod:`deepsort_ros.cli.track`) is its command line.
"""

from pathlib import Path
import sys
import time
from typing import Any, Dict, Optional, Set

from deepsort_ros.core import Tracker, TrackerConfig, TrackState
from deepsort_ros.recordings.mot import (available_frames, iter_frames, line_of_frame,
                                         read_detections, read_sequence_info, SequenceInfo,
                                         write_mot_rows)
import numpy as np
import numpy.typing as npt

BOX_SOURCES = ('filtered', 'detection')


def _load_features(path: Path, rows: int) -> npt.NDArray[np.float32]:
    features = np.load(path)
    if features.ndim != 2 or len(features) != rows:
        raise ValueError(f'{path}: expected ({rows}, D) features (one row per det.txt row), '
                         f'got {features.shape}')
    return features.astype(np.float32)


def run_sequence(sequence: Path, out: Path, config: Optional[TrackerConfig] = None,
                 features_path: Optional[Path] = None, encoder: Any = None,
                 boxes: str = 'filtered', progress: bool = True) -> Dict[str, float]:
    """
    Track a sequence and write its results.

    Parameters
    ----------
    sequence : Path
        The sequence folder.
    out : Path
        Results file (parent folders are created).
    config : TrackerConfig, optional
        Tracker settings.
    features_path : Path, optional
        Per-detection features (.npy).
    encoder : callable, optional
        ``encoder(image_bgr, boxes_tlwh) -> (N, D)``; frames are then read.
    boxes : str
        'filtered' or 'detection'.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    dict
        ``frames``, ``rows`` written, ``tracks`` (identities), ``median_update_ms``,
        ``dropped`` detections.

    """
    from tqdm import tqdm

    if boxes not in BOX_SOURCES:
        raise ValueError(f'boxes must be one of {BOX_SOURCES}, got {boxes!r}')
    info = read_sequence_info(sequence)
    det_path = Path(sequence) / 'det' / 'det.txt'
    if not det_path.is_file():
        raise FileNotFoundError(f'{det_path} not found')
    detections = read_detections(det_path)
    all_features = (_load_features(features_path, len(detections.frames))
                    if features_path is not None else None)
    by_frame = detections.rows_by_frame()
    length = _checked_length(info, det_path, detections.frames)
    frames = (iter_frames(info) if encoder is not None
              else ((f, None) for f in range(1, length + 1)))
    tracker = Tracker(config)
    update_ms: list = []
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed at the end: a run that fails leaves nothing.
    partial = out.with_name(f'.{out.name}.partial')
    identities: Set[int] = set()
    written = 0
    try:
        with open(partial, 'w') as stream:
            for frame, image in tqdm(frames, total=length, desc=info.name, unit='frame',
                                     disable=not progress, file=sys.stderr):
                rows = by_frame.get(frame, np.zeros(0, dtype=np.int64))
                boxes_tlwh = detections.boxes_tlwh[rows]
                features = None
                if all_features is not None:
                    features = all_features[rows]
                elif encoder is not None and len(rows):
                    features = np.asarray(encoder(image, boxes_tlwh), dtype=np.float32)
                start = time.perf_counter()
                tracks = tracker.update(boxes_tlwh, detections.scores[rows],
                                        detections.class_ids[rows], features,
                                        info.timestamp(frame))
                update_ms.append((time.perf_counter() - start) * 1e3)
                shown = [t for t in tracks if t.state is TrackState.CONFIRMED]
                if boxes == 'detection':
                    out_boxes = [boxes_tlwh[t.detection_index] for t in shown]
                else:
                    out_boxes = [t.box_tlwh for t in shown]
                written += write_mot_rows(stream, frame, [t.track_id for t in shown], out_boxes,
                                          [t.score for t in shown])
                identities.update(t.track_id for t in shown)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return {'frames': float(length), 'rows': float(written), 'tracks': float(len(identities)),
            'median_update_ms': float(np.median(update_ms)) if update_ms else 0.0,
            'dropped': float(tracker.counters.dropped_detections)}


def _checked_length(info: SequenceInfo, det_path: Path, frames: npt.NDArray[np.int64]) -> int:
    """
    Return the number of frames to track; refuse detections outside the sequence.

    A det.txt row for frame 100000000 would otherwise make the run walk a hundred million
    empty frames without a word.
    """
    declared = info.length if (info.directory / 'seqinfo.ini').is_file() else 0
    limit = declared or available_frames(info) or 0
    if len(frames) == 0:
        return max(limit, 0)
    if limit > 0:
        bad = frames[(frames < 1) | (frames > limit)]
    else:
        bad = frames[frames < 1]
    if len(bad):
        frame = int(bad[0])
        line = line_of_frame(det_path, frame)
        raise ValueError(f'{det_path}:{line}: frame {frame} is outside the sequence, which '
                         f'has frames 1..{limit or "N"} (seqinfo.ini seqLength or its images); '
                         'fix the frame column or the sequence length')
    return max(limit, int(frames.max()))
