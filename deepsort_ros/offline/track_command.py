"""
``deepsort-ros track``: track a MOTChallenge-style sequence or a ROS 2 bag, offline.

``--sequence DIR`` runs the tracker core on det.txt. Appearance comes from the Re-ID encoder
(``--reid-weights``, imported only then, frames read from img1/ or the video) or from a .npy
of per-detection features (``--features``, row i for row i of det.txt); without either the
tracker runs on motion and IoU alone.

``--bag BAG`` runs the node's whole pipeline (pairing, ego-motion, encoder, tracker) on the
bag's messages, with the node's parameters file (``--params-file``): see
:mod:`deepsort_ros.bag.track_bag`.
"""

import argparse
from dataclasses import fields
from pathlib import Path
import sys
import time
from typing import Any, Dict, Optional, Tuple

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
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument('--sequence', type=Path, metavar='DIR',
                        help='MOTChallenge-style folder: seqinfo.ini, det/det.txt, img1/ or a '
                        'video named by imDir')
    inputs.add_argument('--bag', type=Path, metavar='BAG',
                        help='a ROS 2 bag (mcap or sqlite3) with images and detections: runs '
                        "the node's pipeline on it")
    parser.add_argument('--out', type=Path, metavar='FILE',
                        help='MOTChallenge results file to write (frames from 1, image order)')
    parser.add_argument('--out-bag', type=Path, metavar='BAG',
                        help='with --bag: also write TrackArray/TargetStatus into a new bag')
    parser.add_argument('--params-file', type=Path, metavar='YAML',
                        help="the node's parameters file (config/deepsort.yaml format); "
                        'with --sequence only its tracker.* settings are used')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (they are never replaced otherwise)')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--reid-weights', metavar='PATH',
                        help="Re-ID weights (.pth/.onnx/TorchScript) or 'default' for the "
                        'built-in model; with --bag it overrides encoder_weights')
    source.add_argument('--features', type=Path, metavar='NPY',
                        help='with --sequence: (N, D) per-detection features, row i = row i '
                        'of det.txt')
    parser.add_argument('--reid-device', default=None, help='auto | cpu | cuda | cuda:N')
    parser.add_argument('--reid-backend', default=None,
                        help='auto | torch | torchscript | onnx (fastest on a CPU)')
    parser.add_argument('--no-appearance', action='store_true',
                        help='with --bag: track on motion and IoU only (use_appearance false)')
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


def _configs(args: argparse.Namespace) -> Tuple[Any, TrackerConfig]:
    """Return (NodeConfig, TrackerConfig) from --params-file, --set and the encoder options."""
    from dataclasses import replace

    from deepsort_ros import node_config as nc

    values = nc.load_params_file(args.params_file) if args.params_file else {}
    for name, value in parse_overrides(args.set).items():
        values[nc.TRACKER_PREFIX + name] = value
    node, tracker = nc.split_parameters(values)
    encoder_overrides = {'encoder_weights': '' if args.reid_weights == 'default'
                         else args.reid_weights, 'encoder_device': args.reid_device,
                         'encoder_backend': args.reid_backend}
    node = replace(node, **{k: v for k, v in encoder_overrides.items() if v is not None})
    if args.no_appearance:
        node = replace(node, use_appearance=False)
    return node, tracker


def _main_bag(args: argparse.Namespace) -> int:
    from deepsort_ros.bag.track_bag import track_bag
    from deepsort_ros.pipeline import load_encoder

    if args.features is not None:
        raise ValueError('--features needs --sequence (a bag carries its own detections)')
    if args.out is None and args.out_bag is None:
        raise ValueError('give --out FILE and/or --out-bag BAG')
    node, tracker = _configs(args)
    encoder, name, device = load_encoder(node)
    print(f'deepsort-ros track: Re-ID encoder {name} on {device}' if encoder is not None
          else 'deepsort-ros track: motion and IoU only (use_appearance false)', file=sys.stderr)
    result = track_bag(args.bag, node, tracker, encoder, args.out, args.out_bag,
                       args.overwrite, not args.no_progress)
    print(result.describe())
    if result.frames == 0:
        print('deepsort-ros track: no frame was tracked (see the topics above)', file=sys.stderr)
        return 1
    return 0


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
        0 on success, 1 when a bag held nothing to track, 2 on bad input.

    """
    from deepsort_ros.bag.writer import BagExistsError

    try:
        if args.bag is not None:
            return _main_bag(args)
        if args.out is None:
            raise ValueError('--sequence needs --out FILE')
        if args.out.exists() and not args.overwrite:
            raise ValueError(f'{args.out} exists already; pass --overwrite to replace it')
        _, config = _configs(args) if args.params_file else (None, TrackerConfig(
            **parse_overrides(args.set)))
        encoder = (_create_encoder(args.reid_weights, args.reid_device or 'auto',
                                   args.reid_backend or 'auto')
                   if args.reid_weights else None)
        summary = run_sequence(args.sequence, args.out, config, args.features, encoder,
                               args.boxes, not args.no_progress)
    except (OSError, ValueError, RuntimeError, BagExistsError) as error:
        print(f'deepsort-ros track: {error}', file=sys.stderr)
        return 2
    print(f'wrote {int(summary["rows"])} rows, {int(summary["tracks"])} identities over '
          f'{int(summary["frames"])} frames to {args.out} (median update '
          f'{summary["median_update_ms"]:.2f} ms/frame)')
    return 0
