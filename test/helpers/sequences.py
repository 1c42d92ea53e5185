"""A tiny MOTChallenge sequence on disk, and bag-from-sequence run as its command runs."""

import argparse
from pathlib import Path
from typing import List

import cv2
from deepsort_ros.cli import bag_from_sequence as bag_cli
import numpy as np

N_FRAMES = 10
FPS = 10.0
WIDTH, HEIGHT = 64, 48
# frame -> [(left, top, width, height, conf)]; frame 5 has no detection.
DETECTIONS = {f: [(2.0 + f, 3.0, 10.0, 20.0, 0.9), (30.0, 10.5 + f, 12.5, 25.0, 0.4)]
              for f in range(1, N_FRAMES + 1) if f != 5}


def make_sequence(root: Path, n_frames: int = N_FRAMES) -> Path:
    """Write a tiny MOTChallenge folder of noise frames (png: lossless) and a det.txt."""
    rng = np.random.default_rng(0)
    seq = root / 'SYNTH-01'
    (seq / 'img1').mkdir(parents=True)
    (seq / 'det').mkdir()
    for f in range(1, n_frames + 1):
        image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        cv2.imwrite(str(seq / 'img1' / f'{f:06d}.png'), image)
    (seq / 'seqinfo.ini').write_text(
        f'[Sequence]\nname=SYNTH-01\nimDir=img1\nframeRate={FPS:g}\nseqLength={n_frames}\n'
        f'imWidth={WIDTH}\nimHeight={HEIGHT}\nimExt=.png\n')
    rows = [f'{f},-1,{x},{y},{w},{h},{c},-1,-1,-1'
            for f, dets in DETECTIONS.items() if f <= n_frames for x, y, w, h, c in dets]
    (seq / 'det' / 'det.txt').write_text('\n'.join(rows) + '\n')
    return seq


def run_bag_from_sequence(argv: List[str]) -> int:
    """Parse ``argv`` as the sub-command would and run it."""
    parser = argparse.ArgumentParser()
    bag_cli.add_arguments(parser)
    return bag_cli.main(parser.parse_args(argv))
