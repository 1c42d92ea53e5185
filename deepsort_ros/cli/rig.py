"""
``deepsort-ros rig``: a multi-camera rig cut out of PETS09-S2L1, one bag per camera, with gt.

The rig is :mod:`deepsort_ros.sim.camera_rig`'s (``overlap``: two moving cameras sharing the
middle of the scene; ``gap``: an unseen strip between them); the files are written by
:func:`deepsort_ros.recordings.rig.write_rig`. This module only reads the options.
"""

import argparse
from pathlib import Path
import sys

LAYOUTS = ('overlap', 'gap')  # deepsort_ros.recordings.rig.LAYOUTS, without importing it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``rig`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    parser.add_argument('--sequence', type=Path, required=True, metavar='DIR',
                        help='PETS09-S2L1 (MOTChallenge folder: seqinfo.ini, img1/ or the '
                        'video, det/det.txt, gt/gt.txt); the rig camera is fitted to it')
    parser.add_argument('--layout', choices=LAYOUTS, default='overlap',
                        help='overlap: views sharing columns 308-460 of the real image; gap: '
                        'columns 284-484 seen by neither')
    parser.add_argument('--out', type=Path, required=True, metavar='DIR',
                        help='folder for rig.yaml, one bag per camera and gt/<camera>.txt')
    parser.add_argument('--max-frames', type=int, metavar='N',
                        help='the first N frames only (default: all)')
    parser.add_argument('--compressed', action='store_true',
                        help='jpeg images (CompressedImage): ~10x smaller bags')
    parser.add_argument('--jpeg-quality', type=int, default=95,
                        help='with --compressed: jpeg quality, 1-100')
    parser.add_argument('--still', action='store_true',
                        help='cameras do not move (no rotation profiles)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing bags')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bars')


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros rig``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 on success, 1 when the rig cannot be written (the reason is printed).

    """
    if args.max_frames is not None and args.max_frames <= 0:
        print('rig: --max-frames must be positive', file=sys.stderr)
        return 1
    from deepsort_ros.recordings.bag_writer import BagExistsError
    from deepsort_ros.recordings.rig import write_rig

    try:
        manifest = write_rig(args.sequence, args.layout, args.out, args.compressed,
                             args.jpeg_quality, args.max_frames, args.overwrite,
                             not args.no_progress, not args.still)
    except (BagExistsError, FileNotFoundError, ValueError) as error:
        print(f'rig: {error}', file=sys.stderr)
        return 1
    for camera in manifest.cameras:
        dropped = f'1 frame in {camera.drop_every} dropped' if camera.drop_every \
            else 'every frame'
        print(f'{camera.name}: {args.out / camera.bag} ({camera.width}x{camera.height}, '
              f'{dropped}, {camera.latency_s:g} s late; topics '
              f'{", ".join(camera.topics.values())})')
    print(f'wrote {args.out / "rig.yaml"}; fuse it offline with: deepsort-ros fuse --rig '
          f'{args.out} --out OUT')
    return 0
