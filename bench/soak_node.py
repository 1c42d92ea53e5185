#!/usr/bin/env python3
"""
The long soak: 20,000 frames through the tracker node over DDS, its memory sampled.

The node runs as users start it (its own process, the default parameters file, the Re-ID
encoder unless ``--no-appearance``) on a private ROS domain on loopback; the frames are those
of ``test/helpers/soak.py`` (people coming and going, odometry, camera info, a NaN box, an
unsupported encoding and a detection array an hour ahead now and then), in lock-step. Every
``--sample-every`` frames the node's VmRSS is read from /proc. It writes
``bench/results/soak.md`` (the table) and ``soak.png`` (the curve). Slow (about 5.5 minutes on
2 cores with the encoder): not part of the test suite, which soaks 3000 frames
(``test/ros/test_hostile_soak.py``); ``pytest -m slow`` runs this through
``test_the_long_soak``. Usage: ``.venv/bin/python bench/soak_node.py [--frames 20000]``.
"""

import argparse
import os
from pathlib import Path
import random
import sys
import time

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the source tree, not a stale install/
sys.path.insert(0, str(REPO / 'test'))

from helpers.soak import growth_mb_per_10k, run_soak, Sample  # noqa: E402

WARM_UP = 2000


def write_results(samples, out_dir: Path, appearance: bool, seconds: float) -> str:
    """Write soak.md and soak.png; return the table's text."""
    warm = next((s for s in samples if s.frame >= WARM_UP), samples[0])
    after = [s for s in samples if s.frame >= warm.frame]
    lines = [
        '# Soak of the tracker node over DDS',
        '',
        f'{samples[-1].frame} frames in lock-step in {seconds:.0f} s '
        f'({samples[-1].frame / seconds:.0f} frames/s), Re-ID encoder '
        f'{"on (the default MobileNetV2)" if appearance else "off"}; written by '
        '`bench/soak_node.py`.',
        '',
        f'After the warm-up (frame {warm.frame}): RSS {warm.rss_mb:.1f} MB, then between '
        f'{min(s.rss_mb for s in after):.1f} and {max(s.rss_mb for s in after):.1f} MB; '
        f'least-squares growth {growth_mb_per_10k(samples, WARM_UP):+.2f} MB per 10,000 frames.',
        '',
        '| frame | VmRSS (MB) | elapsed (s) | tracks in the frame |',
        '|---:|---:|---:|---:|',
    ]
    lines += [f'| {s.frame} | {s.rss_mb:.1f} | {s.elapsed_s:.0f} | {s.tracks} |' for s in samples]
    text = '\n'.join(lines) + '\n'
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'soak.md').write_text(text)
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return text
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.plot([s.frame for s in samples], [s.rss_mb for s in samples], marker='.')
    axis.axvline(warm.frame, color='grey', linestyle='--', linewidth=1)
    axis.set_xlabel('frame')
    axis.set_ylabel('node VmRSS (MB)')
    axis.set_title('tracker node memory over a soak')
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out_dir / 'soak.png', dpi=120)
    return text


def main() -> int:
    """Run the soak and write its results."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=20_000)
    parser.add_argument('--sample-every', type=int, default=500)
    parser.add_argument('--no-appearance', action='store_true', help='track on motion only')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results')
    args = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(10, 100)))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE',
                          str(REPO / 'config' / 'fastdds_large_data.xml'))

    def progress(sample: Sample) -> None:
        print(f'frame {sample.frame:6d}  VmRSS {sample.rss_mb:7.1f} MB  '
              f'{sample.elapsed_s:6.0f} s', flush=True)

    overrides = ['use_appearance:=false'] if args.no_appearance else []
    start = time.monotonic()
    samples = run_soak(int(os.environ['ROS_DOMAIN_ID']), args.frames, args.sample_every,
                       overrides, on_sample=progress)
    print(write_results(samples, args.out, not args.no_appearance, time.monotonic() - start))
    return 0


if __name__ == '__main__':
    sys.exit(main())
