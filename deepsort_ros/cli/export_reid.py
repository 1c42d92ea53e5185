"""
``deepsort-ros export-reid``: Re-ID weights to ONNX, optionally quantised to int8.

The export is :mod:`deepsort_ros.reid.export`; onnxruntime then runs the model
(``encoder_weights: OUT.onnx``).
"""

import argparse
import logging
from pathlib import Path
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``export-reid`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    parser.add_argument('weights', type=Path, help='.pth state dict (OSNet or MobileNetV2)')
    parser.add_argument('output', type=Path, help='.onnx file to write')
    parser.add_argument('--input-hw', type=int, nargs=2, default=(256, 128),
                        metavar=('H', 'W'), help='crop size the model takes, pixels')
    parser.add_argument('--int8', nargs='+', type=Path, metavar='SEQUENCE',
                        help='quantise to int8 (static, per-channel), calibrated on the gt people '
                        'of these MOTChallenge sequences (default: none, fp32)')


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros export-reid``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 on success, 2 when the weights cannot be read or no calibration crop was found.

    """
    from deepsort_ros.reid.base import EncoderLoadError
    from deepsort_ros.reid.export import export_int8, export_onnx

    logging.basicConfig(level=logging.INFO, format='%(message)s')
    try:
        if not args.int8:
            export_onnx(args.weights, args.output, tuple(args.input_hw))
        else:
            export_int8(args.weights, args.output, args.int8, tuple(args.input_hw))
    except (EncoderLoadError, OSError, ValueError) as error:
        print(f'deepsort-ros export-reid: {error}', file=sys.stderr)
        return 2
    print(f'wrote {args.output}; use it with encoder_weights: {args.output}')
    return 0
