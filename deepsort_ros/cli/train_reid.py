"""
``deepsort-ros train-reid``: train or fine-tune OSNet on identities cut from MOT sequences.

The training is :func:`deepsort_ros.reid.training.train`.
"""

import argparse
import logging
from pathlib import Path

LOGGER = logging.getLogger('deepsort_ros.reid.training')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Declare the sub-command's arguments.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command parser.

    """
    parser.add_argument('sequences', nargs='+', type=Path,
                        help='MOTChallenge-style sequence folders (gt/gt.txt + img1/ or video)')
    parser.add_argument('--output', '-o', type=Path, required=True,
                        help='weights file to write (.pth state dict)')
    parser.add_argument('--init', type=Path, default=None,
                        help='OSNet state dict to start from (e.g. osnet_x0_25_msmt17.pth); '
                        'default: random OSNet x0.25')
    parser.add_argument('--steps', type=int, default=2000, help='optimiser steps')
    parser.add_argument('--identities-per-batch', type=int, default=8,
                        help='people in each training batch (P of a PK batch): the triplet '
                        'loss compares crops of different people within a batch')
    parser.add_argument('--crops-per-identity', type=int, default=4,
                        help='crops of each of those people per batch (K of a PK batch): the '
                        'same person seen in K different frames; a batch holds P x K crops')
    parser.add_argument('--lr', type=float, default=3e-4, help='Adam learning rate')
    parser.add_argument('--triplet-margin', type=float, default=0.3,
                        help='how much farther (in feature distance) the nearest other person '
                        'must be than the farthest crop of the same person')
    parser.add_argument('--input-hw', type=int, nargs=2, default=(256, 128),
                        metavar=('H', 'W'), help='crop size, pixels')
    parser.add_argument('--frame-step', type=int, default=3,
                        help='use every n-th frame (neighbouring frames are near duplicates)')
    parser.add_argument('--max-per-identity', type=int, default=60,
                        help='most crops kept per identity')
    parser.add_argument('--min-height', type=float, default=32.0,
                        help='smallest gt box height used, pixels')
    parser.add_argument('--device', default='auto', help="'auto', 'cpu' or 'cuda[:N]'")
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of the batches and the initial weights')
    parser.add_argument('--log-every', type=int, default=50,
                        help='log the loss every this many steps')


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros train-reid``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments.

    Returns
    -------
    int
        Exit status: 0 on success, 1 on bad input.

    """
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    from dataclasses import fields

    from deepsort_ros.reid.base import EncoderLoadError
    from deepsort_ros.reid.training import train, TrainingOptions

    options = TrainingOptions(**{f.name: getattr(args, f.name) for f in fields(TrainingOptions)})
    try:
        output = train(options)
    except (ValueError, FileNotFoundError, EncoderLoadError) as error:
        LOGGER.error('train-reid: %s', error)
        return 1
    print(f'wrote {output}; use it with weights: {output}')
    return 0
