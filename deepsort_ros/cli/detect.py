"""
``deepsort-ros detect``: run the stand-in HOG people detector over a video into a MOT folder.

The folder (``seqinfo.ini``, the frames, ``det/det.txt``) is what ``track --sequence`` and
``bag-from-sequence --sequence`` read, so a fresh clone can track the demo's video offline
without any detector of its own. The detector is the ``hog_detector`` package built beside
this one; for real work use your own detector's output in the same det.txt format.
"""

import argparse
from pathlib import Path
import shutil
import sys
import tempfile
from typing import Optional

JPEG_QUALITY = 95  # lower costs identity: jpeg 90 lost 6 IDF1 points on PETS09


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``detect`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    parser.add_argument('--video', type=Path, required=True, metavar='FILE',
                        help='the video to detect people in (e.g. .cache/data/vtest.avi, '
                        'which ./dev.sh demo downloads)')
    parser.add_argument('--out', type=Path, required=True, metavar='DIR',
                        help='MOTChallenge-style folder to create')
    parser.add_argument('--start', type=int, default=1, metavar='N',
                        help='first video frame to use (1-based)')
    parser.add_argument('--frames', type=int, default=0, metavar='N',
                        help='frames to use (0: to the end of the video)')
    parser.add_argument('--fps', type=float,
                        help='frame rate (default: a seqinfo.ini beside the video naming it '
                        "as imDir, else the video's header)")
    parser.add_argument('--overwrite', action='store_true', help='replace an existing folder')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros detect``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 on success, 2 on bad input (nothing is left behind then).

    """
    try:
        frames = _detect(args)
    except (OSError, ValueError) as error:
        print(f'deepsort-ros detect: {error}', file=sys.stderr)
        return 2
    print(f'wrote {args.out}: {frames} frames with det/det.txt; track it with: deepsort-ros '
          f'track --sequence {args.out} --out {args.out / "tracks.txt"}')
    return 0


def _recorded_frame_rate(video: Path) -> Optional[float]:
    """Return the frameRate of a seqinfo.ini beside ``video`` that names it, else None."""
    # A container's header can be wrong: vtest.avi says 10 fps, PETS09-S2L1 was recorded at
    # 7 (its seqinfo.ini), and a tracker's time is seconds, so the rate matters.
    from deepsort_ros.recordings.mot import read_sequence_info

    if not (video.parent / 'seqinfo.ini').is_file():
        return None
    info = read_sequence_info(video.parent)
    same = info.image_source is not None and info.image_source.resolve() == video.resolve()
    return info.frame_rate if same else None


def _detect(args: argparse.Namespace) -> int:
    """Write the MOT folder; return the number of frames."""
    if args.start < 1 or args.frames < 0:
        raise ValueError('--start must be >= 1 and --frames >= 0')
    if not args.video.is_file():
        raise ValueError(f'{args.video}: no such video (./dev.sh demo downloads PETS09-S2L1 '
                         'to .cache/data/vtest.avi)')
    if args.out.exists() and not args.overwrite:
        raise ValueError(f'{args.out} exists already; pass --overwrite to replace it')
    try:
        from hog_detector.detector import HogPeopleDetector
    except ImportError:
        raise ValueError('the stand-in detector (package hog_detector) is not installed: run '
                         './dev.sh setup, then source scripts/env.sh') from None
    import cv2
    from deepsort_ros.recordings.mot import write_mot_rows
    from tqdm import tqdm

    capture = cv2.VideoCapture(str(args.video))
    if not capture.isOpened():
        raise ValueError(f'{args.video}: OpenCV cannot open the video')
    fps = args.fps or _recorded_frame_rate(args.video) or capture.get(cv2.CAP_PROP_FPS) or 30.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = args.frames or max(total - args.start + 1, 0)
    detector = HogPeopleDetector()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Made in a temporary folder beside the target and renamed at the end: nothing half-made.
    work = Path(tempfile.mkdtemp(prefix=f'.{args.out.name}.', dir=args.out.parent))
    try:
        (work / 'img1').mkdir()
        (work / 'det').mkdir()
        written, height, width = 0, 0, 0
        with open(work / 'det' / 'det.txt', 'w') as det, tqdm(
                total=wanted or None, desc='detect', unit='frame',
                disable=args.no_progress) as bar:
            number = 0
            while not wanted or written < wanted:
                ok, image = capture.read()
                if not ok:
                    break
                number += 1
                if number < args.start:
                    continue
                written += 1
                height, width = image.shape[:2]
                cv2.imwrite(str(work / 'img1' / f'{written:06d}.jpg'), image,
                            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                boxes_tlwh, scores = detector.detect(image)
                write_mot_rows(det, written, [-1] * len(boxes_tlwh), boxes_tlwh, scores)
                bar.update(1)
        if written == 0:
            raise ValueError(f'{args.video} has no frame from {args.start} on')
        (work / 'seqinfo.ini').write_text(
            f'[Sequence]\nname={args.out.name}\nimDir=img1\nframeRate={fps:g}\n'
            f'seqLength={written}\nimWidth={width}\nimHeight={height}\nimExt=.jpg\n'
            f'; frames {args.start}-{args.start + written - 1} of {args.video.name}, '
            'detections by the stand-in hog_detector\n')
        if args.out.exists():
            shutil.rmtree(args.out)
        work.rename(args.out)
    finally:
        capture.release()
        shutil.rmtree(work, ignore_errors=True)
    return written
