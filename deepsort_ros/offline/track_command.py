"""
``deepsort-ros track``: track a MOTChallenge-style sequence and write MOTChallenge results.

Appearance comes from the Re-ID encoder (``--reid-weights``, imported only then, frames read
from img1/ or the video) or from a .npy of per-detection features (``--features``, row i for
row i of det.txt); without either the tracker runs on motion and IoU alone.
"""

import argparse
from dataclasses import fields
from pathlib import Path
import sys
import time
from typing import Any, Dict, Optional

from deepsort_ros.core import Tracker, TrackerConfig, TrackState
from deepsort_ros.offline.mot_sequence import (iter_frames, read_detections,
                                               read_sequence_info, write_mot_rows)
import numpy as np
import numpy.typing as npt

BOX_SOURCES = ('filtered', 'detection')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``track`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    parser.add_argument('--sequence', required=True, type=Path,
                        help='MOTChallenge-style folder: seqinfo.ini, det/det.txt, img1/ or a '
                        'video named by imDir')
    parser.add_argument('--out', required=True, type=Path, help='results file to write')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--reid-weights', metavar='PATH',
                        help="Re-ID weights (.pth/.onnx/TorchScript) or 'default' for the "
                        'built-in model; frames are read and encoded')
    source.add_argument('--features', type=Path, metavar='NPY',
                        help='(N, D) per-detection features, row i = row i of det.txt')
    parser.add_argument('--reid-device', default='auto', help='auto | cpu | cuda | cuda:N')
    parser.add_argument('--reid-backend', default='auto',
                        help='auto | torch | torchscript | onnx (fastest on a CPU)')
    parser.add_argument('--boxes', choices=BOX_SOURCES, default='filtered',
                        help='write the Kalman-filtered box or the matched detection box')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                        help='override a TrackerConfig setting (repeatable)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')


def parse_overrides(items: Any) -> Dict[str, Any]:
    """
    Turn ``NAME=VALUE`` strings into TrackerConfig keyword arguments.

    Parameters
    ----------
    items : iterable of str
        Each ``name=value``; the value is parsed as the field's type.

    Returns
    -------
    dict

    """
    types = {f.name: f.type for f in fields(TrackerConfig)}
    out: Dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition('=')
        if not sep or name not in types:
            raise ValueError(f'--set {item!r}: expected NAME=VALUE with NAME one of '
                             f'{", ".join(sorted(types))}')
        kind = types[name]
        if kind is bool:
            if text.lower() not in ('true', 'false', '1', '0'):
                raise ValueError(f'--set {name}: expected true or false, got {text!r}')
            out[name] = text.lower() in ('true', '1')
        else:
            try:
                out[name] = int(text) if kind is int else float(text)
            except ValueError:
                raise ValueError(f'--set {name}: not a number: {text!r}') from None
    return out


def _load_features(path: Path, rows: int) -> npt.NDArray[np.float32]:
    features = np.load(path)
    if features.ndim != 2 or len(features) != rows:
        raise ValueError(f'{path}: expected ({rows}, D) features (one row per det.txt row), '
                         f'got {features.shape}')
    return features.astype(np.float32)


def _create_encoder(weights: str, device: str, backend: str = 'auto') -> Any:
    try:
        from deepsort_ros.reid import create_encoder
    except ImportError as error:
        raise RuntimeError(f'--reid-weights needs the Re-ID encoder (deepsort_ros.reid): '
                           f'{error}') from None
    kwargs = {} if backend == 'auto' else {'backend': backend}
    return create_encoder(None if weights == 'default' else weights, device=device, **kwargs)


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
    length = max([info.length] + list(by_frame))
    frames = (iter_frames(info) if encoder is not None
              else ((f, None) for f in range(1, length + 1)))
    tracker = Tracker(config)
    update_ms = []
    identities = set()
    written = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, 'w') as stream:
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
    return {'frames': float(length), 'rows': float(written), 'tracks': float(len(identities)),
            'median_update_ms': float(np.median(update_ms)) if update_ms else 0.0,
            'dropped': float(tracker.dropped_detections)}


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros track``.

    Parameters
    ----------
    args : argparse.Namespace
        From a parser prepared by :func:`add_arguments`.

    Returns
    -------
    int
        0 on success, 2 on bad input.

    """
    try:
        config = TrackerConfig(**parse_overrides(args.set))
        encoder = (_create_encoder(args.reid_weights, args.reid_device, args.reid_backend)
                   if args.reid_weights else None)
        summary = run_sequence(args.sequence, args.out, config, args.features, encoder,
                               args.boxes, not args.no_progress)
    except (OSError, ValueError, RuntimeError) as error:
        print(f'deepsort-ros track: {error}', file=sys.stderr)
        return 2
    print(f'wrote {int(summary["rows"])} rows, {int(summary["tracks"])} identities over '
          f'{int(summary["frames"])} frames to {args.out} (median update '
          f'{summary["median_update_ms"]:.2f} ms/frame)')
    return 0
