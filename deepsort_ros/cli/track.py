"""
``deepsort-ros track``: track a MOTChallenge-style sequence or a ROS 2 bag, offline.

``--sequence DIR`` runs the tracker core on det.txt (:mod:`deepsort_ros.replay.sequence`).
Appearance comes from the Re-ID encoder (``--reid-weights``, frames read from img1/ or the
video) or from a .npy of per-detection features (``--features``, row i for row i of det.txt);
without either the tracker runs on motion and IoU alone.

``--bag BAG`` runs the node's whole pipeline (pairing, ego-motion, encoder, tracker) on the
bag's messages, with the node's parameters file (``--params-file``): see
:mod:`deepsort_ros.replay.bag`.
"""

import argparse
from pathlib import Path
import sys
from typing import Any, Dict, Tuple

from deepsort_ros.cli.options import add_encoder_options, node_configs

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
                        help='MOTChallenge results file to write (frames from 1, image order; '
                        'default: none, then --bag needs --out-bag)')
    parser.add_argument('--out-bag', type=Path, metavar='BAG',
                        help='with --bag: also write TrackArray/TargetStatus into a new bag '
                        '(default: none)')
    parser.add_argument('--params-file', type=Path, metavar='YAML',
                        help="the node's parameters file (config/deepsort.yaml format); "
                        'with --sequence only its tracker.* settings are used (default: the '
                        "node's defaults)")
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing outputs (they are never replaced otherwise)')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--reid-weights', metavar='PATH',
                        help="Re-ID weights (.pth/.onnx/TorchScript) or 'default' for the "
                        'built-in model (the default when the sequence has frames); with '
                        '--bag it overrides encoder_weights')
    source.add_argument('--features', type=Path, metavar='NPY',
                        help='with --sequence: (N, D) per-detection features, row i = row i '
                        'of det.txt (default: none, the frames are encoded)')
    add_encoder_options(parser)
    parser.add_argument('--no-appearance', action='store_true',
                        help='track on motion and IoU only (no encoder; with --bag: '
                        'use_appearance false)')
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
    from dataclasses import fields

    from deepsort_ros.core import TrackerConfig

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


def _create_encoder(weights: str, device: str, backend: str = 'auto') -> Any:
    if weights != 'default' and not Path(weights).is_file():
        raise ValueError(f'--reid-weights {weights}: no such file. Give a torchreid OSNet .pth '
                         'state dict, a TorchScript file or an .onnx model, or leave it out '
                         'for the built-in model')
    from deepsort_ros.reid import create_encoder

    kwargs = {} if backend == 'auto' else {'backend': backend}
    return create_encoder(None if weights == 'default' else weights, device=device, **kwargs)


def _sequence_encoder(args: argparse.Namespace) -> Tuple[Any, str]:
    """Return the encoder ``track --sequence`` uses, and a sentence saying which and why."""
    from deepsort_ros.recordings.mot import read_sequence_info

    if args.features is not None:
        return None, f'appearance from {args.features}'
    if args.no_appearance:
        return None, 'motion and IoU only (--no-appearance)'
    weights = args.reid_weights or 'default'
    if weights != 'default' and not Path(weights).is_file():
        _create_encoder(weights, 'cpu')  # raises, saying what is accepted
    if read_sequence_info(args.sequence).image_source is None:
        if args.reid_weights:
            raise ValueError(f'--reid-weights needs the frames of {args.sequence} (img1/ or a '
                             'video named by imDir in seqinfo.ini)')
        return None, ('motion and IoU only: the sequence has no frames to encode (give '
                      '--features NPY for appearance)')
    encoder = _create_encoder(weights, args.reid_device or 'auto', args.reid_backend or 'auto')
    what = (f'Re-ID encoder {getattr(encoder, "name", type(encoder).__name__)} on '
            f'{getattr(encoder, "device", "cpu")}')
    if weights == 'default':
        what += (' (the built-in model, as the node uses; --reid-weights FILE for OSNet '
                 'weights, --no-appearance for motion and IoU only)')
    return encoder, what


def _configs(args: argparse.Namespace) -> Tuple[Any, Any]:
    """Return (NodeConfig, TrackerConfig) from --params-file, --set and the encoder options."""
    return node_configs(args, parse_overrides(args.set))


def _main_bag(args: argparse.Namespace) -> int:
    from deepsort_ros.replay.bag import track_bag
    from deepsort_ros.pipeline.encoder import load_encoder

    if args.features is not None:
        raise ValueError('--features needs --sequence (a bag carries its own detections)')
    if args.out is None and args.out_bag is None:
        raise ValueError('give --out FILE and/or --out-bag BAG')
    node, tracker = _configs(args)
    encoder, name, device = load_encoder(node, live=False)
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
    from deepsort_ros.core import TrackerConfig
    from deepsort_ros.replay.sequence import run_sequence

    try:
        if args.bag is not None:
            return _main_bag(args)
        if args.out is None:
            raise ValueError('--sequence needs --out FILE')
        if args.out.exists() and not args.overwrite:
            raise ValueError(f'{args.out} exists already; pass --overwrite to replace it')
        _, config = _configs(args) if args.params_file else (None, TrackerConfig(
            **parse_overrides(args.set)))
        encoder, what = _sequence_encoder(args)
        print(f'deepsort-ros track: {what}', file=sys.stderr)
        summary = run_sequence(args.sequence, args.out, config, args.features, encoder,
                               args.boxes, not args.no_progress)
    except (OSError, ValueError, RuntimeError) as error:  # an existing bag is an OSError
        print(f'deepsort-ros track: {error}', file=sys.stderr)
        return 2
    print(f'wrote {int(summary["rows"])} rows, {int(summary["tracks"])} identities over '
          f'{int(summary["frames"])} frames to {args.out} (median update '
          f'{summary["median_update_ms"]:.2f} ms/frame)')
    return 0
