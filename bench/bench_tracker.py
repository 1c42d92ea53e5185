"""
Benchmark our tracker core against the trackers people use, on the same detections.

Runs deepsort_ros.core and the peers (deep_sort_realtime fed the same embeddings, BoxMOT
ByteTrack / OC-SORT / BoT-SORT, norfair) on synthetic scenes with 10, 50 and 200 objects and
on PETS09-S2L1 (SORT public detections, OSNet x0.25 embeddings), and prints one table: HOTA,
IDF1, MOTA, ID switches, median update ms/frame (embedding excluded) and each tracker's time
divided by ours. A peer that is not installed is reported and skipped. See bench/README.md.
"""

import argparse
import os
from pathlib import Path
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'

if os.environ.get('OPENBLAS_NUM_THREADS') != '1':
    # Multi-threaded BLAS fights for the cores and makes timings meaningless (peers.md).
    os.environ.update(OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, str(REPO))

from deepsort_ros.core import Tracker, TrackerConfig, TrackState  # noqa: E402
from deepsort_ros.offline.evaluation import evaluate_mot  # noqa: E402
from deepsort_ros.offline.mot_sequence import (load_mot_rows, read_detections,  # noqa: E402
                                               read_sequence_info)
from deepsort_ros.offline.synthetic import make_scene  # noqa: E402
import numpy as np  # noqa: E402

# One frame in: boxes tlwh (N, 4), scores (N,), classes (N,), features (N, D), time s.
# One frame out: (ids (M,), boxes tlwh (M, 4)) of the tracks matched in this frame.
FrameOut = Tuple[List[int], List[np.ndarray]]


class Dataset:
    """Detections, features and ground truth of one sequence."""

    def __init__(self, name: str, gt_rows: np.ndarray, frames: np.ndarray, boxes_tlwh: np.ndarray,
                 scores: np.ndarray, classes: np.ndarray, features: np.ndarray, fps: float,
                 num_frames: int, width: int, height: int,
                 camera_motion: Optional[np.ndarray] = None) -> None:
        self.name, self.gt_rows, self.fps = name, gt_rows, fps
        self.num_frames, self.width, self.height = num_frames, width, height
        self.camera_motion = camera_motion
        self.frames = []
        for f in range(1, num_frames + 1):
            rows = np.flatnonzero(frames == f)
            self.frames.append((f, boxes_tlwh[rows], scores[rows], classes[rows],
                                features[rows], (f - 1) / fps))


def synthetic(num_objects: int, num_frames: int, seed: int, shake_px: float = 0.0) -> Dataset:
    """Return a synthetic scene as a dataset (with a shaking camera when shake_px > 0)."""
    scene = make_scene(num_objects, num_frames, camera_shake_px=shake_px, seed=seed)
    d = scene.det_rows
    name = f'synthetic-{num_objects}' + ('-shake' if shake_px > 0 else '')
    return Dataset(name, scene.gt_rows, d[:, 0].astype(int), d[:, 2:6], d[:, 6],
                   scene.det_class_ids, scene.det_features, scene.frame_rate, scene.num_frames,
                   scene.width, scene.height, scene.camera_motion if shake_px > 0 else None)


def pets09(cache: Path) -> Optional[Dataset]:
    """Return PETS09-S2L1 with OSNet features (computed once and cached), or None."""
    sequence = SHARED / 'data' / 'PETS09-S2L1'
    weights = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
    if not sequence.is_dir():
        print(f'PETS09-S2L1 skipped: {sequence} is absent', file=sys.stderr)
        return None
    info = read_sequence_info(sequence)
    det = read_detections(sequence / 'det' / 'det.txt')
    cache_file = cache / 'pets09_osnet_x0_25_msmt17.npy'
    if cache_file.is_file():
        features = np.load(cache_file)
    else:
        from deepsort_ros.offline.mot_sequence import iter_frames
        from deepsort_ros.reid import create_encoder

        print('encoding PETS09 detections with OSNet x0.25 (once)...', file=sys.stderr)
        encoder = create_encoder(str(weights), device='cpu', backend='onnx')
        by_frame = det.rows_by_frame()
        features = None
        for frame, image in iter_frames(info):
            rows = by_frame.get(frame)
            if rows is None:
                continue
            out = encoder(image, det.boxes_tlwh[rows])
            if features is None:
                features = np.zeros((len(det.frames), out.shape[1]), np.float32)
            features[rows] = out
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, features)
    return Dataset('PETS09-S2L1', load_mot_rows(sequence / 'gt' / 'gt.txt'), det.frames,
                   det.boxes_tlwh, det.scores, det.class_ids, features, info.frame_rate,
                   info.length, info.width, info.height)


# ---- adapters: make(dataset) -> (prepare(frame) -> args, step(args) -> FrameOut) -------------


def ours(use_features: bool = True, use_camera_motion: bool = False) -> Callable:
    """Return our core's adapter (optionally given the true camera motion, like odometry)."""
    def make(data: Dataset):
        tracker = Tracker(TrackerConfig())

        def prepare(frame):
            f, boxes, scores, classes, feats, t = frame
            motion = data.camera_motion[f - 1] if use_camera_motion else None
            return boxes, scores, classes, feats if use_features else None, t, motion

        def step(args):
            tracks = tracker.update(*args)
            shown = [t for t in tracks if t.state is TrackState.CONFIRMED]
            return [t.track_id for t in shown], [t.box_tlwh for t in shown]
        return prepare, step
    return make


def deep_sort_realtime(data: Dataset):
    """Return the DeepSort adapter: its defaults, nn_budget 100 like ours, our embeddings."""
    from deep_sort_realtime.deepsort_tracker import DeepSort

    tracker = DeepSort(max_age=30, n_init=3, max_cosine_distance=0.2, nn_budget=100,
                       embedder=None)

    def prepare(frame):
        _, boxes, scores, classes, feats, _ = frame
        raw = [(list(b), float(s), int(c)) for b, s, c in zip(boxes, scores, classes)]
        return raw, list(feats)

    def step(args):
        tracks = tracker.update_tracks(args[0], embeds=args[1])
        shown = [t for t in tracks if t.is_confirmed() and t.time_since_update == 0]
        return [int(t.track_id) for t in shown], [t.to_ltwh() for t in shown]
    return prepare, step


def _xyxy(boxes_tlwh):
    return np.concatenate([boxes_tlwh[:, :2], boxes_tlwh[:, :2] + boxes_tlwh[:, 2:]], axis=1)


def boxmot_tracker(kind: str) -> Callable:
    """Return a BoxMOT tracker's adapter (library defaults; BoT-SORT gets our embeddings)."""
    def make(data: Dataset):
        import boxmot

        image = np.zeros((data.height or 1080, data.width or 1920, 3), np.uint8)
        fps = int(round(data.fps))
        if kind == 'ByteTrack':
            tracker = boxmot.ByteTrack(frame_rate=fps)
        elif kind == 'OcSort':
            tracker = boxmot.OcSort()
        else:
            tracker = boxmot.BotSort(reid_weights=None, use_cmc=False, frame_rate=fps)

        def prepare(frame):
            f, boxes, scores, classes, feats, _ = frame
            dets = np.concatenate([_xyxy(boxes), scores[:, None], classes[:, None]], axis=1)
            if kind != 'BotSort':
                return dets
            import torch
            from boxmot.structures.detections import Detections
            from boxmot.structures.geometry import Boxes

            return Detections(geometry=Boxes(torch.as_tensor(_xyxy(boxes), dtype=torch.float32)),
                              scores=torch.as_tensor(scores, dtype=torch.float32),
                              class_ids=torch.as_tensor(classes, dtype=torch.int64),
                              sample_id=str(f),
                              embeddings=torch.as_tensor(feats, dtype=torch.float32))

        def step(dets):
            out = tracker.update(dets, image)
            if kind == 'BotSort':
                xyxy = out.geometry.values.numpy()
                ids = out.track_ids.numpy()
            else:
                out = np.asarray(out).reshape(-1, 8)
                xyxy, ids = out[:, :4], out[:, 4]
            tlwh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
            return [int(i) + 1 for i in ids], list(tlwh)
        return prepare, step
    return make


def norfair_iou(data: Dataset):
    """Return norfair with its IoU distance (library defaults otherwise)."""
    import norfair

    tracker = norfair.Tracker(distance_function='iou', distance_threshold=0.7)

    def prepare(frame):
        f, boxes, scores, _, _, _ = frame
        return f, [norfair.Detection(np.stack([b[:2], b[:2] + b[2:]]), scores=np.array([s, s]),
                                     data=f) for b, s in zip(boxes, scores)]

    def step(args):
        f, detections = args
        objects = tracker.update(detections)
        shown = [o for o in objects if o.last_detection is not None and
                 o.last_detection.data == f]
        boxes = [np.concatenate([o.estimate[0], o.estimate[1] - o.estimate[0]]) for o in shown]
        return [int(o.id) for o in shown], boxes
    return prepare, step


TRACKERS: Dict[str, Callable] = {
    'ours': ours(True),
    'ours (motion only)': ours(False),
    'ours + camera motion': ours(True, True),
    'ours motion + camera': ours(False, True),
    'deep_sort_realtime': deep_sort_realtime,
    'BoxMOT ByteTrack': boxmot_tracker('ByteTrack'),
    'BoxMOT OC-SORT': boxmot_tracker('OcSort'),
    'BoxMOT BoT-SORT': boxmot_tracker('BotSort'),
    'norfair IoU': norfair_iou,
}


def run(make: Callable, data: Dataset) -> Tuple[np.ndarray, float]:
    """Track a dataset; return MOT result rows and the median update time in ms."""
    prepare, step = make(data)
    rows: List[List[float]] = []
    times = []
    for frame in data.frames:
        args = prepare(frame)
        start = time.perf_counter()
        ids, boxes = step(args)
        times.append(time.perf_counter() - start)
        for track_id, box in zip(ids, boxes):
            rows.append([frame[0], track_id, *np.asarray(box, dtype=float), 1.0, -1, -1, -1])
    result = np.array(rows) if rows else np.zeros((0, 10))
    return result, float(np.median(times) * 1e3)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--objects', type=int, nargs='*', default=[10, 50, 200])
    parser.add_argument('--frames', type=int, default=200, help='frames per synthetic scene')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--shake', type=float, default=6.0,
                        help='camera shake (px per frame and axis) of the extra 50-object '
                        'scene; 0 leaves it out')
    parser.add_argument('--no-pets', action='store_true', help='skip PETS09-S2L1')
    parser.add_argument('--trackers', nargs='*', default=list(TRACKERS),
                        help=f'subset of: {", ".join(TRACKERS)}')
    parser.add_argument('--cache', type=Path, default=REPO / '.cache' / 'bench',
                        help='where PETS09 OSNet features are cached')
    args = parser.parse_args(argv)
    datasets = [synthetic(n, args.frames, args.seed) for n in args.objects]
    if args.shake > 0:
        datasets.append(synthetic(50, args.frames, args.seed, args.shake))
    if not args.no_pets:
        pets = pets09(args.cache)
        if pets is not None:
            datasets.append(pets)
    header = (f'| {"sequence":<18} | {"tracker":<20} | HOTA  | IDF1  | MOTA  | IDSW | '
              'ms/frame | x ours |')
    print(header)
    print('|' + '|'.join('-' * (len(c) + 0) for c in header.split('|')[1:-1]) + '|')
    failures: Dict[str, str] = {}
    for data in datasets:
        ours_ms = None
        for name in args.trackers:
            if name in failures or ('camera' in name and data.camera_motion is None):
                continue
            try:
                result, ms = run(TRACKERS[name], data)
            except Exception as error:  # noqa: B902 - a peer failing must not stop the bench
                failures[name] = f'{type(error).__name__}: {error}'
                print(f'| {data.name:<18} | {name:<20} | failed: {failures[name][:60]}')
                continue
            if name == 'ours':
                ours_ms = ms
            scores = evaluate_mot(data.gt_rows, result)
            ratio = f'{ms / ours_ms:6.1f}' if ours_ms else '     -'
            print(f'| {data.name:<18} | {name:<20} | {scores.hota:.3f} | {scores.idf1:.3f} | '
                  f'{scores.mota:.3f} | {scores.id_switches:4d} | {ms:8.2f} | {ratio} |',
                  flush=True)
    for name, why in failures.items():
        print(f'{name} failed: {why}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
