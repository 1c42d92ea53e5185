#!/usr/bin/env python3
"""
Benchmark the node's pipeline per frame against the number of people, beside deep_sort_realtime.

Feeds bags made by ``bag-from-sequence`` (``write_sequence_bag``, raw bgr8 images) to the
node's ``TrackingPipeline`` (convert -> ego-motion -> encode -> track -> message), as
``track --bag`` does, one pipeline per configuration, interleaved in blocks of 20 frames so
that other work on the machine weighs on every configuration alike. The scenes:

- PETS09-S2L1, real frames and its public detections (about 7 people a frame);
- synthetic crowds of 5, 10, 30 and 60 people: PETS09's empty background (the median of its
  frames) with people cut from PETS09's ground truth pasted on it, each with its own tint,
  size and straight path at 10 Hz, nearer ones drawn over further ones; the detections are
  the pasted boxes at least 40% visible, jittered by 1.5 px.

Every configuration runs on the same bags in one run, with OSNet x0.25 MSMT17 weights:
'main before' (the encoder as it was: strided normalisation, onnxruntime's spinning threads,
every detection encoded), 'fp32, no reuse' (today's fp32 encoder, every detection encoded),
'fp32 + reuse' (``reuse_features``: ``deepsort_ros.reid.planner.EncodePlanner`` decides which
detections need encoding), these three on onnxruntime; 'defaults' (nothing configured but
the weights: onnxruntime, reuse, ``encode_budget`` 12 and the int8 model where this CPU runs
it faster, ``deepsort_ros.reid.int8``), 'defaults, encode_budget 0' (the same without the
budget that staggers refreshes in crowds), 'encoder_runtime openvino' (the same on OpenVINO, which
compiles every batch size up to 8 in the background at load: waited for); each int8 one-off
calibration is done before timing, as a node's second start finds it cached, and how long
the first start runs fp32 is printed) and deep_sort_realtime's full pipeline (its MobileNetV2
embedder inside ``update_tracks``, CPU, its defaults otherwise; torchvision's two transforms
stubbed as in bench_reid.py). It prints
and writes bench/results/pipeline.md and pipeline.png, and scores HOTA/IDF1 of what the
pipeline published on PETS09 and the 30-people crowd. Usage:
``.venv/bin/python bench/bench_pipeline.py [--people 5 10 30 60] [--quick]``.
"""

import argparse
import json
import os
from pathlib import Path
import sys
import time
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'
PETS = SHARED / 'data' / 'PETS09-S2L1'
OSNET = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
THREADS = 2

if os.environ.get('OPENBLAS_NUM_THREADS') != '1':
    # Multi-threaded BLAS fights for the 2 cores and makes timings meaningless (peers.md); it
    # is read when numpy loads, so restart with it set.
    os.environ['OPENBLAS_NUM_THREADS'] = '1'
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, str(REPO))  # the source tree, not a stale install/
sys.path.insert(0, str(REPO / 'bench'))

from common import cpu_model  # noqa: E402,I100

import numpy as np  # noqa: E402,I100

STAGES = ('convert', 'ego_motion', 'encode', 'track', 'publish')
WARM_UP_FRAMES = 3


# ---- inputs: bags ---------------------------------------------------------------------------


def _cut_sprites(max_per_identity: int = 40) -> List[List[np.ndarray]]:
    """Return, per PETS09 identity, its ground-truth crops in time order."""
    from deepsort_ros.recordings.mot import iter_frames, read_sequence_info
    from deepsort_ros.reid.mot_data import read_gt_boxes

    boxes = [b for b in read_gt_boxes(PETS, min_height_px=70.0) if b.tlwh[0] >= 0
             and b.tlwh[1] >= 0 and b.tlwh[0] + b.tlwh[2] <= 768 and b.tlwh[1] + b.tlwh[3] <= 576]
    by_identity: Dict[int, List[Any]] = {}
    for box in boxes:
        by_identity.setdefault(box.identity, []).append(box)
    wanted: Dict[int, List[Tuple[int, Any]]] = {}
    for number, (identity, rows) in enumerate(sorted(by_identity.items())):
        if len(rows) < 20:
            continue
        step = max(1, len(rows) // max_per_identity)
        for row in rows[::step][:max_per_identity]:
            wanted.setdefault(row.frame, []).append((number, row))
    sprites: Dict[int, List[np.ndarray]] = {}
    for frame, image in iter_frames(read_sequence_info(PETS), sorted(wanted)):
        for number, row in wanted[frame]:
            x, y, w, h = (int(round(v)) for v in row.tlwh)
            sprites.setdefault(number, []).append(image[y:y + h, x:x + w].copy())
    return [sprites[k] for k in sorted(sprites)]


def _background() -> np.ndarray:
    """Return PETS09 without its people: the per-pixel median of frames far apart."""
    from deepsort_ros.recordings.mot import iter_frames, read_sequence_info

    frames = [image for _, image in iter_frames(read_sequence_info(PETS), range(1, 796, 30))]
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def make_crowd(folder: Path, people: int, frames: int, seed: int, fps: float = 10.0,
               sprites: Optional[List[List[np.ndarray]]] = None,
               background: Optional[np.ndarray] = None) -> None:
    """
    Write a MOTChallenge folder (img1/, det/det.txt, gt/gt.txt) of a synthetic crowd.

    Parameters
    ----------
    folder : Path
        Where to write.
    people : int
        People in every frame.
    frames : int
        Frames to make.
    seed : int
        Paths, sizes and tints.
    fps : float
        Frame rate (for speeds in px/s).
    sprites, background : optional
        From :func:`_cut_sprites` and :func:`_background` (made when not given).

    """
    import cv2

    rng = np.random.default_rng(seed)
    sprites = sprites if sprites is not None else _cut_sprites()
    background = background if background is not None else _background()
    height_px, width_px = background.shape[:2]
    identity = np.arange(people) % len(sprites)
    tint = rng.uniform(0.65, 1.35, (people, 3))
    size_h = rng.uniform(85.0, 150.0, people)
    position = np.stack([rng.uniform(0, width_px - 60, people),
                         rng.uniform(0, height_px - size_h)], axis=1)
    angle = rng.uniform(0, 2 * np.pi, people)
    speed = rng.uniform(15, 45, people)
    velocity = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
    phase = rng.integers(0, 1000, people)
    for sub in ('img1', 'det', 'gt'):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    det_lines: List[str] = []
    gt_lines: List[str] = []
    for frame in range(1, frames + 1):
        image = background.copy()
        crops, boxes = [], []
        for p in range(people):
            series = sprites[identity[p]]
            crop = series[(phase[p] + frame // 2) % len(series)]
            h = int(size_h[p])
            w = max(8, int(round(h * crop.shape[1] / crop.shape[0])))
            crops.append(np.clip(cv2.resize(crop, (w, h)) * tint[p], 0, 255).astype(np.uint8))
            boxes.append((position[p, 0], position[p, 1], w, h))
        order = np.argsort([b[1] + b[3] for b in boxes])  # far (high in the image) first
        covered = np.zeros((height_px, width_px), bool)
        visibility = np.zeros(people)
        for p in order[::-1]:  # nearest first: what it covers hides those behind
            x, y, w, h = (int(round(v)) for v in boxes[p])
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width_px), min(y + h, height_px)
            if x1 <= x0 or y1 <= y0:
                continue
            region = covered[y0:y1, x0:x1]
            visibility[p] = (~region).sum() / float(w * h)
            region[:] = True
        for p in order:
            x, y, w, h = (int(round(v)) for v in boxes[p])
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width_px), min(y + h, height_px)
            if x1 > x0 and y1 > y0:
                image[y0:y1, x0:x1] = crops[p][y0 - y:y1 - y, x0 - x:x1 - x]
        cv2.imwrite(str(folder / 'img1' / f'{frame:06d}.jpg'), image,
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        for p in range(people):
            x, y, w, h = boxes[p]
            gt_lines.append(f'{frame},{p + 1},{x:.2f},{y:.2f},{w},{h},1,1,{visibility[p]:.3f}')
            if visibility[p] >= 0.4:
                jitter = rng.normal(0.0, 1.5, 4)
                score = 0.6 + 0.4 * visibility[p]
                det_lines.append(f'{frame},-1,{x + jitter[0]:.2f},{y + jitter[1]:.2f},'
                                 f'{w + jitter[2]:.2f},{h + jitter[3]:.2f},{score:.3f},-1,-1,-1')
        position += velocity / fps
        # bounce off the image borders
        for axis, limit in ((0, width_px - 40), (1, height_px - 60)):
            out = (position[:, axis] < -20) | (position[:, axis] > limit)
            velocity[out, axis] *= -1
    (folder / 'det' / 'det.txt').write_text('\n'.join(det_lines) + '\n')
    (folder / 'gt' / 'gt.txt').write_text('\n'.join(gt_lines) + '\n')
    (folder / 'seqinfo.ini').write_text(
        f'[Sequence]\nname=crowd-{people}\nimDir=img1\nframeRate={fps:g}\nseqLength={frames}\n'
        f'imWidth={width_px}\nimHeight={height_px}\nimExt=.jpg\n')


def make_bag(sequence: Path, bag: Path, max_frames: Optional[int]) -> Path:
    """Write a sequence's bag as ``deepsort-ros bag-from-sequence`` does (once; cached)."""
    from deepsort_ros.recordings.sequence_to_bag import (MessageOptions, SequenceSource,
                                                         write_sequence_bag)

    if not bag.exists():
        partial = bag.with_name(bag.name + '.partial')
        if partial.exists():
            import shutil

            shutil.rmtree(partial)
        write_sequence_bag(SequenceSource.from_sequence(sequence),
                           MessageOptions(max_frames=max_frames), partial, progress=False)
        partial.rename(bag)
    return bag


# ---- our pipeline ---------------------------------------------------------------------------


class CountingEncoder:
    """Forward to an encoder and count the crops it was given."""

    def __init__(self, encoder: Any) -> None:
        self.encoder, self.crops, self.name = encoder, 0, encoder.name
        self.device, self.feature_dim = encoder.device, encoder.feature_dim

    def __call__(self, image_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        """Encode and count."""
        self.crops += len(boxes_tlwh)
        return self.encoder(image_bgr, boxes_tlwh)


def legacy_encoder(weights: Path) -> Any:
    """Return the encoder as main had it: strided normalisation, spinning onnxruntime threads."""
    from deepsort_ros.reid import create_encoder
    from deepsort_ros.reid.backends.onnx_encoder import crop_batch_cv2

    encoder = create_encoder(str(weights), spin_wait=True, int8='off', runtime='onnxruntime')

    def preprocess(self: Any, image_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        crops = crop_batch_cv2(image_bgr, boxes_tlwh, self.input_hw)[..., ::-1]
        crops = crops.astype(np.float32) * self._scale + self._shift
        return np.ascontiguousarray(crops.transpose(0, 3, 1, 2))

    encoder.preprocess = types.MethodType(preprocess, encoder)
    return encoder


def prime_int8(input_hw: Tuple[int, int] = (256, 128), runtime: str = 'onnxruntime') -> None:
    """
    Make the default encoder's one-off int8 verdict as a node's first start would.

    Feeds PETS09 frames (every 3rd, its ground-truth people) to a fresh default encoder until
    it has calibrated, checked and timed int8, and prints after how many frames it switched
    and how long that took; a cached verdict is reused (as by a second start).
    """
    import numpy as np

    from deepsort_ros.reid import create_encoder
    from deepsort_ros.reid.mot_data import group_by_frame, iter_frames, read_gt_boxes

    started = time.perf_counter()
    encoder = create_encoder(str(OSNET), int8_background=False, input_hw=input_hw,
                             runtime=runtime)
    if getattr(encoder, 'state', 'cached') != 'collecting':
        print(f'int8 verdict cached: {encoder.name}', file=sys.stderr)
        return
    grouped = group_by_frame(read_gt_boxes(PETS))
    frames = 0
    for number, image in iter_frames(PETS, sorted(grouped)[::3]):
        encoder(image, np.array([box.tlwh for box in grouped[number]]))
        frames += 1
        if encoder.state != 'collecting':
            break
    print(f'int8 first start: {encoder.state} after {frames} frames, '
          f'{time.perf_counter() - started:.1f} s: {encoder.name}', file=sys.stderr)


class Run:
    """One pipeline's state and measurements on one bag."""

    def __init__(self, pipeline: Any, encoder: CountingEncoder) -> None:
        self.pipeline, self.encoder = pipeline, encoder
        self.stage_ms: Dict[str, List[float]] = {s: [] for s in STAGES}
        self.frame_ms: List[float] = []
        self.rows: List[List[float]] = []

    def feed(self, role: str, msg: Any, frame_of_stamp: Dict[int, int]) -> None:
        """Give the pipeline one message; record every frame it tracks."""
        pipeline = self.pipeline
        if role == 'image':
            ready = pipeline.add_image(msg)
        elif role == 'detections':
            ready = pipeline.add_detections(msg)
        elif role == 'camera_info':
            ready = pipeline.add_camera_info(msg) or []
        else:
            ready = pipeline.add_odometry(msg) or []
        self.record(ready, frame_of_stamp)

    def record(self, ready: List[Any], frame_of_stamp: Dict[int, int]) -> None:
        """Track released frames (if the pipeline returns them untracked) and keep results."""
        if ready and not hasattr(ready[0], 'stage_ms'):
            ready = self.pipeline.track(ready)  # the pipeline API that pairs, then tracks
        for result in ready:
            self.frame_ms.append(sum(result.stage_ms.values()))
            for stage in STAGES:
                self.stage_ms[stage].append(result.stage_ms.get(stage, 0.0))
            frame = frame_of_stamp.get(result.stamp_ns, 0)
            for t in result.tracks.tracks:
                if frame and t.state == t.STATE_CONFIRMED and t.detection_index >= 0:
                    self.rows.append([frame, t.id, t.center_x - t.size_x / 2,
                                      t.center_y - t.size_y / 2, t.size_x, t.size_y, t.score,
                                      -1, -1, -1])

    def summary(self) -> Dict[str, Any]:
        """Return the measurements without the warm-up frames."""
        planner = getattr(self.pipeline, 'planner', None)
        return {'frame_ms': np.asarray(self.frame_ms[WARM_UP_FRAMES:]),
                'stage_ms': {s: np.asarray(v[WARM_UP_FRAMES:]) for s, v in self.stage_ms.items()},
                'crops': self.encoder.crops, 'frames': len(self.frame_ms),
                'detections': planner.planned if planner is not None else None,
                'mot_rows': np.array(self.rows) if self.rows else np.zeros((0, 10))}


def run_ours(bag: Path, variants: Dict[str, Tuple[Any, Any]], block_frames: int = 20
             ) -> Dict[str, Dict[str, Any]]:
    """
    Run every pipeline on a bag, interleaved in blocks of frames; return their measurements.

    The bag is read once; each block of ``block_frames`` frames is fed to every pipeline in
    turn (the first one rotates), so that load from other work on the machine falls on all of
    them alike, while a pipeline's own threads only ever disturb it at a block's start.
    """
    from deepsort_ros.core import TrackerConfig
    from deepsort_ros.recordings.bag_reader import bag_topics, read_messages
    from deepsort_ros.replay.bag import resolve_topics
    from deepsort_ros.settings.tracker import NodeConfig
    from deepsort_ros.pipeline.tracking import TrackingPipeline

    available, _ = bag_topics(bag)
    topics, _ = resolve_topics(available, NodeConfig(encoder_weights=str(OSNET)))
    role_of = {topic: role for role, topic in topics.items()}
    runs: Dict[str, Run] = {}
    for name, (encoder, overrides) in variants.items():
        counting = CountingEncoder(encoder)
        node = NodeConfig(encoder_weights=str(OSNET), **overrides)
        runs[name] = Run(TrackingPipeline(node, TrackerConfig(), counting), counting)
    frame_of_stamp: Dict[int, int] = {}
    names = list(runs)
    buffer: List[Tuple[str, Any]] = []
    stamps: List[int] = []
    blocks = 0

    def run_block() -> None:
        nonlocal blocks
        order = names[blocks % len(names):] + names[:blocks % len(names)]
        for name in order:
            for role, msg in buffer:
                runs[name].feed(role, msg, frame_of_stamp)
        buffer.clear()
        blocks += 1

    for topic, _, _, msg in read_messages(bag, topics=list(role_of)):
        role = role_of[topic]
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        if not stamps or stamp != stamps[-1]:
            if len(stamps) >= block_frames:
                run_block()
                stamps.clear()
            stamps.append(stamp)
        if role == 'image':
            frame_of_stamp.setdefault(stamp, len(frame_of_stamp) + 1)
        buffer.append((role, msg))
    run_block()
    for run in runs.values():
        run.record(run.pipeline.flush(), frame_of_stamp)
    return {name: run.summary() for name, run in runs.items()}


# ---- deep_sort_realtime ---------------------------------------------------------------------


def bag_frames(bag: Path, limit: int) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return the first ``limit`` (image_bgr, boxes_tlwh, scores) of a bag, decoded."""
    from deepsort_ros.recordings.bag_reader import read_messages
    from deepsort_ros.ros.convert.images import image_msg_to_bgr

    images: Dict[int, np.ndarray] = {}
    detections: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    for topic, _, _, msg in read_messages(bag):
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        if topic.endswith('image_raw'):
            images[stamp] = image_msg_to_bgr(msg)
        elif topic.endswith('detections'):
            boxes = np.array([[d.bbox.center.position.x - d.bbox.size_x / 2,
                               d.bbox.center.position.y - d.bbox.size_y / 2,
                               d.bbox.size_x, d.bbox.size_y] for d in msg.detections])
            scores = np.array([d.results[0].hypothesis.score if d.results else 1.0
                               for d in msg.detections])
            detections[stamp] = (boxes.reshape(-1, 4), scores)
        if len(images) >= limit and len(detections) >= limit:
            break
    stamps = sorted(set(images) & set(detections))[:limit]
    return [(images[s], *detections[s]) for s in stamps]


def run_deep_sort_realtime(frames: List[Tuple[np.ndarray, np.ndarray, np.ndarray]]
                           ) -> Dict[str, Any]:
    """Time deep_sort_realtime's update_tracks (its embedder + tracker) per frame."""
    from bench_reid import _stub_torchvision_transforms
    import torch

    try:
        import torchvision  # noqa: F401
    except ImportError:
        _stub_torchvision_transforms()
    from deep_sort_realtime.deepsort_tracker import DeepSort

    torch.set_num_threads(THREADS)
    tracker = DeepSort(max_age=30, n_init=3, max_cosine_distance=0.2, nn_budget=100,
                       embedder='mobilenet', half=False, bgr=True, embedder_gpu=False)
    times = []
    for image, boxes, scores in frames:
        raw = [(list(map(float, b)), float(s), 'person') for b, s in zip(boxes, scores)]
        start = time.perf_counter()
        tracker.update_tracks(raw, frame=image)
        times.append((time.perf_counter() - start) * 1e3)
    return {'frame_ms': np.asarray(times[WARM_UP_FRAMES:]), 'crops': None}


# ---- report ---------------------------------------------------------------------------------


def _p(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float('nan')


def markdown(rows: List[Dict[str, Any]], accuracy: List[Dict[str, Any]], machine: str,
             command: str) -> str:
    """Return the results as markdown."""
    lines = [f'Measured {time.strftime("%Y-%m-%d %H:%M")} on {machine}; load average at the '
             f'start/end {rows[0]["load"]:.1f}/{rows[-1]["load"]:.1f} (other work on the '
             'machine inflates the times).', '', f'`{command}`', '',
             '| scene | people/frame | pipeline | frames | p50 ms | p99 ms | convert | '
             'ego-motion | encode | track | message | crops encoded |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        stages = ' | '.join(f'{_p(r["stage_ms"][s], 50):.1f}' for s in STAGES) \
            if 'stage_ms' in r else ' | '.join(['-'] * len(STAGES))
        encoded = (f'{r["crops"] / max(r["detections_total"], 1):.0%}'
                   if r.get('crops') is not None and r.get('detections_total') else '-')
        lines.append(f'| {r["scene"]} | {r["people"]:.1f} | {r["pipeline"]} | '
                     f'{len(r["frame_ms"])} | {_p(r["frame_ms"], 50):.1f} | '
                     f'{_p(r["frame_ms"], 99):.1f} | {stages} | {encoded} |')
    if accuracy:
        lines += ['', 'What the pipeline published, scored against the ground truth '
                  '(HOTA, IDF1; evaluate_mot with distractors removed):', '',
                  '| scene | pipeline | HOTA | IDF1 | IDSW | crops encoded |',
                  '|---|---|---|---|---|---|']
        for a in accuracy:
            lines.append(f'| {a["scene"]} | {a["pipeline"]} | {a["hota"]:.3f} | '
                         f'{a["idf1"]:.3f} | {a["idsw"]} | {a["encoded"]} |')
    return '\n'.join(lines) + '\n'


def plot(rows: List[Dict[str, Any]], path: Path) -> None:
    """Draw p50 (and p99) ms/frame against people per frame, and our stages."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    crowd = [r for r in rows if r['scene'].startswith('crowd')]
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    for pipeline in dict.fromkeys(r['pipeline'] for r in crowd):
        points = sorted((r['people'], _p(r['frame_ms'], 50), _p(r['frame_ms'], 99))
                        for r in crowd if r['pipeline'] == pipeline)
        x, p50, p99 = (np.array(v) for v in zip(*points))
        line, = left.plot(x, p50, marker='o', label=f'{pipeline} p50',
                          linewidth=3 if pipeline == 'defaults' else 1.5)
        if pipeline == 'defaults' or pipeline == 'deep_sort_realtime':
            left.plot(x, p99, linestyle='--', color=line.get_color(), alpha=0.7,
                      label=f'{pipeline} p99')
    left.plot([10, 30], [15, 33], 'kx', markersize=9, label='targets p50 (10: 15 ms, 30: 33 ms)')
    left.plot([10], [30], 'k+', markersize=11, label='target p99 (10: 30 ms)')
    left.axhline(33.3, color='grey', linewidth=0.8)
    left.text(5, 35, '30 Hz', color='grey')
    left.set_xscale('log')
    left.set_yscale('log')
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_xticks([5, 10, 30, 60], ['5', '10', '30', '60'])
    left.set_xlabel('people per frame (synthetic crowd on PETS09 frames)')
    left.set_ylabel('ms per frame (whole pipeline)')
    left.set_title('whole pipeline per frame (one run, interleaved)')
    left.grid(alpha=0.3, which='both')
    left.legend(fontsize=7)
    ours = [r for r in crowd if r['pipeline'] == 'defaults']
    ours.sort(key=lambda r: r['people'])
    bottom = np.zeros(len(ours))
    for stage in STAGES:
        values = np.array([_p(r['stage_ms'][stage], 50) for r in ours])
        right.bar([f'{r["people"]:.0f}' for r in ours], values, bottom=bottom, label=stage)
        bottom += values
    right.set_xlabel('people per frame')
    right.set_ylabel('p50 ms per stage')
    right.set_title(ours[0]['pipeline'] if ours else '')
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _score(gt: Path, result: Any) -> Dict[str, Any]:
    from deepsort_ros.evaluation.mot_metrics import evaluate_mot

    scores = evaluate_mot(gt, result)
    return {'hota': scores.hota, 'idf1': scores.idf1, 'idsw': int(scores.id_switches)}


def main(argv: Optional[List[str]] = None) -> int:
    """Make the bags, run every pipeline on them, print and write the results."""
    import platform

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--people', type=int, nargs='+', default=[5, 10, 30, 60])
    parser.add_argument('--frames', type=int, default=150, help='frames per synthetic crowd')
    parser.add_argument('--pets-frames', type=int, default=795,
                        help='PETS09 frames (795: all, and scored)')
    parser.add_argument('--dsr-frames', type=int, default=60,
                        help='frames of each bag for deep_sort_realtime (it is slow)')
    parser.add_argument('--block', type=int, default=20,
                        help='frames each pipeline runs before the next takes over')
    parser.add_argument('--ablation', action='store_true',
                        help='also OpenVINO without int8, the defaults with one thread and '
                        'with encode_batch_size 32')
    parser.add_argument('--quick', action='store_true',
                        help='40 crowd frames, 100 PETS09 frames, 20 for deep_sort_realtime')
    parser.add_argument('--replot', action='store_true',
                        help='only redraw pipeline.md and .png from the last run (in --cache)')
    parser.add_argument('--cache', type=Path, default=REPO / '.cache' / 'bench' / 'pipeline')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results')
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.pets_frames, args.dsr_frames = 40, 100, 20
    last_run = args.cache / 'last_run.json'
    if args.replot:
        saved = json.loads(last_run.read_text())
        rows = [_arrays(r) for r in saved['rows']]
        write_results(rows, saved['accuracy'], saved['machine'], saved['command'], args.out)
        return 0
    if not OSNET.is_file() or not PETS.is_dir():
        print(f'needs {OSNET} and {PETS}', file=sys.stderr)
        return 2
    from deepsort_ros.reid import create_encoder

    started = time.perf_counter()
    args.cache.mkdir(parents=True, exist_ok=True)
    scenes: List[Tuple[str, Path, Path]] = []  # name, bag, gt
    pets_bag = make_bag(PETS, args.cache / f'pets09-{args.pets_frames}', args.pets_frames)
    scenes.append(('PETS09-S2L1', pets_bag, PETS / 'gt' / 'gt.txt'))
    sprites = background = None
    for people in args.people:
        folder = args.cache / f'crowd-{people}-{args.frames}'
        if not (folder / 'seqinfo.ini').is_file():
            if sprites is None:
                sprites, background = _cut_sprites(), _background()
            make_crowd(folder, people, args.frames, seed=people, sprites=sprites,
                       background=background)
        scenes.append((f'crowd-{people}', make_bag(folder, args.cache / f'crowd-{people}-'
                                                   f'{args.frames}.bag', None),
                       folder / 'gt' / 'gt.txt'))
    print(f'bags ready in {time.perf_counter() - started:.0f} s', file=sys.stderr)
    off = {'reuse_features': False}
    ov = {'runtime': 'openvino'}
    prime_int8(runtime='openvino')
    prime_int8(runtime='onnxruntime')
    ort = {'runtime': 'onnxruntime'}

    def fp32(**options: Any) -> Any:
        return create_encoder(str(OSNET), int8='off', **ort, **options)

    pipelines: Dict[str, Callable[[], Tuple[Any, Dict[str, Any]]]] = {
        'main before': lambda: (legacy_encoder(OSNET), off),
        'fp32, no reuse': lambda: (fp32(), off),
        'fp32 + reuse': lambda: (fp32(), {}),
        'defaults, encode_budget 0': lambda: (create_encoder(str(OSNET)), {'encode_budget': 0}),
        'defaults': lambda: (create_encoder(str(OSNET)), {}),
        'encoder_runtime openvino': lambda: (create_encoder(str(OSNET), **ov), {}),
    }
    if args.ablation:
        pipelines.update({
            'openvino without int8': lambda: (create_encoder(str(OSNET), int8='off', **ov), {}),
            'defaults, 1 thread': lambda: (create_encoder(str(OSNET), num_threads=1), {}),
            'defaults, encode_batch_size 32': lambda: (create_encoder(str(OSNET)),
                                                       {'encode_batch_size': 32})})
    encoders = {name: make() for name, make in pipelines.items()}
    from deepsort_ros.reid.backends.openvino import wait_for_warm_ups

    wait_for_warm_ups(120)  # OpenVINO compiles every batch size once at load: not timed
    rows: List[Dict[str, Any]] = []
    accuracy: List[Dict[str, Any]] = []
    for scene, bag, gt in scenes:
        results = run_ours(bag, encoders, args.block)
        first = next(iter(results.values()))  # encodes every detection: people per frame
        people = first['crops'] / max(first['frames'], 1)
        load = os.getloadavg()[0]
        for name, result in results.items():
            total = result['detections'] if result['detections'] is not None else result['crops']
            rows.append({'scene': scene, 'people': people, 'pipeline': name, 'load': load,
                         'detections_total': total, **result})
            scored = scene == 'crowd-30' or (scene == 'PETS09-S2L1' and args.pets_frames >= 795)
            if scored:
                accuracy.append({'scene': scene, 'pipeline': name,
                                 **_score(gt, result['mot_rows']),
                                 'encoded': f'{result["crops"] / max(total, 1):.0%}'})
            print(f'{scene} {name}: p50 {_p(result["frame_ms"], 50):.1f} ms, p99 '
                  f'{_p(result["frame_ms"], 99):.1f} ms', file=sys.stderr, flush=True)
        # deep_sort_realtime takes seconds a frame in crowds: fewer frames there
        count = max(WARM_UP_FRAMES + 12, int(args.dsr_frames * 10 / max(people, 10)))
        dsr = run_deep_sort_realtime(bag_frames(bag, min(count, args.dsr_frames)))
        rows.append({'scene': scene, 'people': people, 'pipeline': 'deep_sort_realtime',
                     'load': os.getloadavg()[0], **dsr})
        print(f'{scene} deep_sort_realtime: p50 {_p(dsr["frame_ms"], 50):.1f} ms',
              file=sys.stderr, flush=True)
    machine = (f'{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, Python '
               f'{platform.python_version()}, onnxruntime, OpenVINO and torch {THREADS} '
               'threads')
    command = 'bench/bench_pipeline.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    saved_rows = [{k: v for k, v in r.items() if k != 'mot_rows'} for r in rows]
    last_run.write_text(json.dumps({'rows': saved_rows, 'accuracy': accuracy, 'machine': machine,
                                    'command': command.strip()}, default=_listed))
    write_results(rows, accuracy, machine, command.strip(), args.out)
    print(f'done in {time.perf_counter() - started:.0f} s', file=sys.stderr)
    return 0


def write_results(rows: List[Dict[str, Any]], accuracy: List[Dict[str, Any]], machine: str,
                  command: str, out: Path) -> None:
    """Print the table and write pipeline.md and pipeline.png into ``out``."""
    text = markdown(rows, accuracy, machine, command)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'pipeline.md').write_text(text)
    plot(rows, out / 'pipeline.png')
    print(f'wrote {out / "pipeline.md"} and pipeline.png', file=sys.stderr)


def _listed(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else str(value)


def _arrays(row: Dict[str, Any]) -> Dict[str, Any]:
    row = dict(row, frame_ms=np.asarray(row['frame_ms']))
    if 'stage_ms' in row:
        row['stage_ms'] = {s: np.asarray(v) for s, v in row['stage_ms'].items()}
    return row


if __name__ == '__main__':
    sys.exit(main())
