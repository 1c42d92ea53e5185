"""
Benchmark our tracker core against the trackers people use, on the same detections.

Runs deepsort_ros.core and the peers (deep_sort_realtime fed the same embeddings, BoxMOT
ByteTrack / OC-SORT / BoT-SORT, norfair) on synthetic scenes with 10, 50 and 200 objects and
on PETS09-S2L1 (SORT public detections, OSNet x0.25 embeddings) and its moving-camera variant
(the drone-like virtual camera of deepsort_ros.sim.virtual_camera: frames, detections and
gt warped; "ours + camera motion" gets the homographies the node computes from the odometry),
and prints one table: HOTA, IDF1, MOTA, ID switches, median update ms/frame (embedding
excluded) and each tracker's time divided by ours. It writes the table as markdown and the
plots as PNG into --out (bench/results). A peer that is not installed is reported and
skipped. See bench/README.md.
"""

import argparse
import functools
import os
from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from common import (cpu_model, odometry_homographies, one_blas_thread, REPO,  # noqa: I100
                    SHARED, use_checkout)

one_blas_thread()
use_checkout()

from deepsort_ros.core import Tracker, TrackerConfig, TrackState  # noqa: E402
from deepsort_ros.evaluation.mot_metrics import evaluate_mot  # noqa: E402
from deepsort_ros.recordings.mot import (load_mot_rows, read_detections,  # noqa: E402
                                         read_sequence_info)
from deepsort_ros.sim.synthetic import make_scene  # noqa: E402
import numpy as np  # noqa: E402

# One frame in: boxes tlwh (N, 4), scores (N,), classes (N,), features (N, D), time s.
# One frame out: (ids (M,), boxes tlwh (M, 4)) of the tracks matched in this frame.
FrameOut = Tuple[List[int], List[np.ndarray]]


class Dataset:
    """Detections, features and ground truth of one sequence."""

    def __init__(self, name: str, gt_rows: np.ndarray, frames: np.ndarray, boxes_tlwh: np.ndarray,
                 scores: np.ndarray, classes: np.ndarray, features: np.ndarray, fps: float,
                 num_frames: int, width: int, height: int,
                 camera_motion: Optional[np.ndarray] = None,
                 images: Optional[List[np.ndarray]] = None) -> None:
        self.name, self.gt_rows, self.fps = name, gt_rows, fps
        self.num_frames, self.width, self.height = num_frames, width, height
        self.camera_motion = camera_motion
        self.images = images  # real frames, for peers that estimate camera motion from them
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


def _encode_frames(info: Any, boxes_by_frame: Dict[int, np.ndarray], rows_total: int,
                   rows_by_frame: Dict[int, np.ndarray],
                   warp: Optional[Callable[[np.ndarray, int], np.ndarray]] = None
                   ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Encode every frame's boxes with OSNet x0.25; return features and the (warped) frames."""
    from deepsort_ros.recordings.mot import iter_frames
    from deepsort_ros.reid import create_encoder

    encoder = create_encoder(str(SHARED / 'models' / 'osnet_x0_25_msmt17.pth'), device='cpu',
                             backend='onnx')
    features = None
    images = []
    for frame, image in iter_frames(info):
        if warp is not None:
            image = warp(image, frame)
        images.append(image)
        rows = rows_by_frame.get(frame)
        if rows is None or len(rows) == 0:
            continue
        out = encoder(image, boxes_by_frame[frame])
        if features is None:
            features = np.zeros((rows_total, out.shape[1]), np.float32)
        features[rows] = out
    return features, images


REAL_SEQUENCES = ('PETS09-S2L1', 'TUD-Campus', 'TUD-Stadtmitte')


def _feature_cache(cache: Path, name: str) -> Path:
    return cache / f'{name.lower()}_osnet_x0_25_msmt17.npy'


def real_sequence(name: str, cache: Path) -> Optional[Dataset]:
    """Return a MOTChallenge sequence of ../shared/data with OSNet features (cached), or None."""
    sequence = SHARED / 'data' / name
    if not sequence.is_dir():
        print(f'{name} skipped: {sequence} is absent', file=sys.stderr)
        return None
    info = read_sequence_info(sequence)
    det = read_detections(sequence / 'det' / 'det.txt')
    cache_file = _feature_cache(cache, name)
    if cache_file.is_file():
        features = np.load(cache_file)
    else:
        print(f'encoding {name} detections with OSNet x0.25 (once)...', file=sys.stderr)
        by_frame = det.rows_by_frame()
        features, _ = _encode_frames(info, {f: det.boxes_tlwh[r] for f, r in by_frame.items()},
                                     len(det.frames), by_frame)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, features)
    return Dataset(name, load_mot_rows(sequence / 'gt' / 'gt.txt'), det.frames,
                   det.boxes_tlwh, det.scores, det.class_ids, features, info.frame_rate,
                   info.length, info.width, info.height)


def moving_sequence(name: str, cache: Path) -> Optional[Dataset]:
    """Return a real sequence seen by the drone-like virtual camera (``<name>-drone``), or None."""
    from deepsort_ros.geometry import PinholeCamera
    from deepsort_ros.recordings.mot import iter_frames
    from deepsort_ros.sim.virtual_camera import DRONE_PROFILE, VirtualCamera, warp_mot_rows

    sequence = SHARED / 'data' / name
    if not sequence.is_dir():
        return None
    info = read_sequence_info(sequence)
    camera = VirtualCamera(PinholeCamera.plausible(info.width, info.height).matrix,
                           DRONE_PROFILE)
    det = warp_mot_rows(load_mot_rows(sequence / 'det' / 'det.txt'), camera, info.frame_rate,
                        info.width, info.height)
    gt = warp_mot_rows(load_mot_rows(sequence / 'gt' / 'gt.txt'), camera, info.frame_rate,
                       info.width, info.height)
    frames = det[:, 0].astype(int)
    by_frame = {f: np.flatnonzero(frames == f) for f in np.unique(frames).tolist()}
    cache_file = _feature_cache(cache, f'{name}-drone')
    print(f'warping {name} frames for the moving camera...', file=sys.stderr)
    if cache_file.is_file():
        features = np.load(cache_file)
        images = [camera.warp_image(image, (f - 1) / info.frame_rate)
                  for f, image in iter_frames(info)]
    else:
        features, images = _encode_frames(
            info, {f: det[r, 2:6] for f, r in by_frame.items()}, len(det), by_frame,
            lambda image, f: camera.warp_image(image, (f - 1) / info.frame_rate))
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, features)
    return Dataset(f'{name}-drone', gt, frames, det[:, 2:6], det[:, 6],
                   np.zeros(len(det), dtype=np.int64), features, info.frame_rate, info.length,
                   info.width, info.height,
                   odometry_homographies(camera, info.length, info.frame_rate), images)


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


def boxmot_tracker(kind: str, cmc: bool = False, embeddings: bool = True) -> Callable:
    """
    Return a BoxMOT tracker's adapter (library defaults, the sequence's frame rate).

    BoT-SORT gets our embeddings unless ``embeddings`` is False (its motion-only form). With
    ``cmc``, BoT-SORT estimates camera motion from the real frames (its default ECC), which
    only datasets with images have.
    """
    def make(data: Dataset):
        import boxmot

        blank = np.zeros((data.height or 1080, data.width or 1920, 3), np.uint8)
        fps = int(round(data.fps))
        if kind == 'ByteTrack':
            tracker = boxmot.ByteTrack(frame_rate=fps)
        elif kind == 'OcSort':
            tracker = boxmot.OcSort()
        else:
            tracker = boxmot.BotSort(reid_weights=None, use_cmc=cmc, frame_rate=fps,
                                     use_embeddings=embeddings)

        def prepare(frame):
            f, boxes, scores, classes, feats, _ = frame
            image = data.images[f - 1] if cmc else blank
            dets = np.concatenate([_xyxy(boxes), scores[:, None], classes[:, None]], axis=1)
            if kind != 'BotSort':
                return dets, image
            import torch
            from boxmot.structures.detections import Detections
            from boxmot.structures.geometry import Boxes

            return Detections(geometry=Boxes(torch.as_tensor(_xyxy(boxes), dtype=torch.float32)),
                              scores=torch.as_tensor(scores, dtype=torch.float32),
                              class_ids=torch.as_tensor(classes, dtype=torch.int64),
                              sample_id=str(f),
                              embeddings=(torch.as_tensor(feats, dtype=torch.float32)
                                          if embeddings else None)), image

        def step(args):
            dets, image = args
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
    'BoxMOT BoT-SORT + CMC': boxmot_tracker('BotSort', cmc=True),
    'BoxMOT BoT-SORT motion': boxmot_tracker('BotSort', embeddings=False),
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


MOTION_PEERS = ('BoxMOT ByteTrack', 'BoxMOT OC-SORT', 'BoxMOT BoT-SORT motion', 'norfair IoU')


CEILING = 'ours, gt identities (ceiling)'


def identity_ceiling(result: np.ndarray, gt_rows: np.ndarray) -> np.ndarray:
    """
    Give our boxes the identities of the gt boxes they cover: the best association can do.

    Parameters
    ----------
    result : ndarray, shape (N, 10)
        MOT rows (frame, id, box tlwh, ...) of a run.
    gt_rows : ndarray, shape (G, >=6)
        Ground truth MOT rows of the same frames.

    Returns
    -------
    ndarray, shape (N, 10)
        The same rows; in every frame each box takes the id of the gt box it is assigned to
        (Hungarian, largest IoU, any overlap), and a box that covers nobody a fresh id. What
        this scores above a tracker's run is all that better association could add with
        these detections and boxes.

    """
    from scipy.optimize import linear_sum_assignment

    from deepsort_ros.core.boxes import iou_matrix_tlwh

    relabelled = result.copy()
    fresh = int(max(gt_rows[:, 1].max(initial=0), result[:, 1].max(initial=0))) + 1
    for frame in np.unique(result[:, 0]):
        rows = np.flatnonzero(result[:, 0] == frame)
        truth = gt_rows[gt_rows[:, 0] == frame]
        ids = np.arange(fresh, fresh + len(rows), dtype=float)
        fresh += len(rows)
        if len(truth):
            iou = iou_matrix_tlwh(truth[:, 2:6], result[rows, 2:6])
            gt_index, box_index = linear_sum_assignment(-iou)
            overlapping = iou[gt_index, box_index] > 0.0
            ids[box_index[overlapping]] = truth[gt_index[overlapping], 1]
        relabelled[rows, 1] = ids
    return relabelled


def _ours_rows(sequence: str) -> Tuple[str, str]:
    """Return our (appearance, motion-only) rows: with the camera motion when it moves."""
    if sequence.endswith('-drone'):
        return 'ours + camera motion', 'ours motion + camera'
    return 'ours', 'ours (motion only)'


def plot(results: List[Dict[str, Any]], path: Path) -> None:
    """Draw HOTA/IDF1 per tracker on every real sequence and ms/frame against objects."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    real = list(dict.fromkeys(r['sequence'] for r in results
                              if not r['sequence'].startswith('synthetic-')))
    columns = min(4, len(real) + 1)
    lines = -(-(len(real) + 1) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(6.0 * columns, 5.2 * lines),
                                squeeze=False)
    axes = axes.ravel()
    for axis, sequence in zip(axes, real):
        rows = [r for r in results if r['sequence'] == sequence]
        y = np.arange(len(rows))
        axis.barh(y - 0.2, [r['hota'] for r in rows], 0.4, label='HOTA', color='#4c72b0')
        axis.barh(y + 0.2, [r['idf1'] for r in rows], 0.4, label='IDF1', color='#dd8452')
        axis.set_yticks(y, [r['tracker'] for r in rows])
        axis.invert_yaxis()
        axis.set_xlim(0, 1)
        axis.set_title(sequence + (' (moving camera)' if 'drone' in sequence else ''))
        axis.legend(loc='lower right')
        axis.grid(axis='x', alpha=0.3)
    axis = axes[len(real)]
    synthetic_rows = [r for r in results if r['sequence'].startswith('synthetic-')
                      and r['sequence'].split('-')[-1].isdigit()]
    for tracker in dict.fromkeys(r['tracker'] for r in synthetic_rows):
        points = sorted((int(r['sequence'].split('-')[-1]), r['ms']) for r in synthetic_rows
                        if r['tracker'] == tracker)
        axis.plot(*zip(*points), marker='o', label=tracker,
                  linewidth=3 if tracker == 'ours' else 1.5)
    axis.set_xscale('log')
    axis.set_yscale('log')
    axis.set_xlabel('objects in the scene')
    axis.set_ylabel('median update time, ms/frame (embedding excluded)')
    axis.set_title('speed (synthetic scenes)')
    axis.grid(alpha=0.3, which='both')
    axis.legend(fontsize=8)
    for axis in axes[len(real) + 1:]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def cross_scene(results: List[Dict[str, Any]]) -> List[str]:
    """Return markdown lines: HOTA / IDF1 / IDSW of every tracker on every real sequence."""
    real = list(dict.fromkeys(r['sequence'] for r in results
                              if not r['sequence'].startswith('synthetic-')))
    if not real:
        return []
    score = {(r['sequence'], r['tracker']): r for r in results}
    lines = ['## Cross-scene table (real sequences; HOTA / IDF1 / IDSW)', '',
             '| tracker | ' + ' | '.join(real) + ' |', '|---|' + '---|' * len(real)]
    for tracker in dict.fromkeys(r['tracker'] for r in results if r['sequence'] in real):
        cells = []
        for sequence in real:
            r = score.get((sequence, tracker))
            cells.append(f'{r["hota"]:.3f} / {r["idf1"]:.3f} / {r["idsw"]}' if r else '-')
        lines.append(f'| {tracker} | ' + ' | '.join(cells) + ' |')
    lines += ['', 'HOTA margins: ours (camera motion given on the moving "-drone" cameras) '
              'minus the best peer; motion only against the motion-only peers '
              f'({", ".join(MOTION_PEERS)}), with OSNet features against every peer.', '',
              '| sequence | ours, motion only | best motion-only peer | margin | '
              'ours + OSNet | best peer | margin | ceiling |',
              '|---|---|---|---|---|---|---|---|']
    for sequence in real:
        with_appearance, motion = _ours_rows(sequence)
        peers = [r for (s, t), r in score.items() if s == sequence and not t.startswith('ours')]
        cells = []
        for ours_name, candidates in ((motion, [r for r in peers
                                                if r['tracker'] in MOTION_PEERS]),
                                      (with_appearance, peers)):
            best = max(candidates, key=lambda r: r['hota'], default=None)
            mine = score.get((sequence, ours_name))
            if best is None or mine is None:
                cells += ['-', '-', '-']
                continue
            cells += [f'{mine["hota"]:.3f}', f'{best["hota"]:.3f} ({best["tracker"]})',
                      f'{100 * (mine["hota"] - best["hota"]):+.1f}']
        ceiling = score.get((sequence, CEILING))
        cells.append(f'{ceiling["hota"]:.3f}' if ceiling else '-')
        lines.append(f'| {sequence} | ' + ' | '.join(cells) + ' |')
    return lines + ['', "Ceiling: HOTA of our OSNet run's boxes given the identities of the gt "
                    'boxes they cover (bench_tracker.identity_ceiling): the most better '
                    'association could score with these detections; a margin over the best '
                    'peer larger than ceiling minus that peer cannot be reached by '
                    'association.', '']


def markdown(results: List[Dict[str, Any]], machine: str) -> str:
    """Return the results as markdown: the cross-scene tables, then every row."""
    lines = [f'Measured {time.strftime("%Y-%m-%d")} on {machine}.', '']
    lines += cross_scene(results)
    lines += ['## Every row', '',
              '| sequence | tracker | HOTA | IDF1 | MOTA | IDSW | ms/frame | x ours |',
              '|---|---|---|---|---|---|---|---|']
    for r in results:
        ratio = f'{r["ratio"]:.1f}' if r['ratio'] is not None else '-'
        lines.append(f'| {r["sequence"]} | {r["tracker"]} | {r["hota"]:.3f} | '
                     f'{r["idf1"]:.3f} | {r["mota"]:.3f} | {r["idsw"]} | {r["ms"]:.2f} | '
                     f'{ratio} |')
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark, print the table and write it with its plots."""
    import platform

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--objects', type=int, nargs='*', default=[10, 50, 200])
    parser.add_argument('--frames', type=int, default=200, help='frames per synthetic scene')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--shake', type=float, default=6.0,
                        help='camera shake (px per frame and axis) of the extra 50-object '
                        'scene; 0 leaves it out')
    parser.add_argument('--sequences', nargs='*', default=list(REAL_SEQUENCES),
                        help='real sequences of ../shared/data (default: '
                        f'{" ".join(REAL_SEQUENCES)})')
    parser.add_argument('--no-pets', action='store_true',
                        help='skip the real sequences (static and moving)')
    parser.add_argument('--no-moving', action='store_true',
                        help='skip the moving-camera views of the real sequences')
    parser.add_argument('--trackers', nargs='*', default=list(TRACKERS),
                        help=f'subset of: {", ".join(TRACKERS)}')
    parser.add_argument('--cache', type=Path, default=REPO / '.cache' / 'bench',
                        help='where the OSNet features of the real sequences are cached')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results',
                        help='folder for tracker.md and tracker.png')
    args = parser.parse_args(argv)
    # Loaded one at a time: a moving camera's warped frames (for BoT-SORT's CMC) are large.
    loaders: List[Callable[[], Optional[Dataset]]] = [
        functools.partial(synthetic, n, args.frames, args.seed) for n in args.objects]
    if args.shake > 0:
        loaders.append(functools.partial(synthetic, 50, args.frames, args.seed, args.shake))
    if not args.no_pets:
        for name in args.sequences:
            loaders.append(functools.partial(real_sequence, name, args.cache))
        if not args.no_moving:
            for name in args.sequences:
                loaders.append(functools.partial(moving_sequence, name, args.cache))
    header = (f'| {"sequence":<22} | {"tracker":<22} | HOTA  | IDF1  | MOTA  | IDSW | '
              'ms/frame | x ours |')
    print(header)
    print('|' + '|'.join('-' * (len(c) + 0) for c in header.split('|')[1:-1]) + '|')
    failures: Dict[str, str] = {}
    results: List[Dict[str, Any]] = []
    for load in loaders:
        data = load()
        if data is None:
            continue
        ours_ms = None
        for name in args.trackers:
            if name in failures or ('camera' in name and data.camera_motion is None) or (
                    'CMC' in name and data.images is None):
                continue
            try:
                result, ms = run(TRACKERS[name], data)
            except Exception as error:  # noqa: B902 - a peer failing must not stop the bench
                failures[name] = f'{type(error).__name__}: {error}'
                print(f'| {data.name:<22} | {name:<22} | failed: {failures[name][:60]}')
                continue
            if name == 'ours':
                ours_ms = ms
            scores = evaluate_mot(data.gt_rows, result)
            ratio = ms / ours_ms if ours_ms else None
            results.append({'sequence': data.name, 'tracker': name, 'hota': scores.hota,
                            'idf1': scores.idf1, 'mota': scores.mota,
                            'idsw': int(scores.id_switches), 'ms': ms, 'ratio': ratio})
            ratio_text = f'{ratio:6.1f}' if ratio else '     -'
            print(f'| {data.name:<22} | {name:<22} | {scores.hota:.3f} | {scores.idf1:.3f} | '
                  f'{scores.mota:.3f} | {scores.id_switches:4d} | {ms:8.2f} | {ratio_text} |',
                  flush=True)
            if name == _ours_rows(data.name)[0] and not data.name.startswith('synthetic-'):
                ceiling = evaluate_mot(data.gt_rows, identity_ceiling(result, data.gt_rows))
                results.append({'sequence': data.name, 'tracker': CEILING,
                                'hota': ceiling.hota, 'idf1': ceiling.idf1,
                                'mota': ceiling.mota, 'idsw': int(ceiling.id_switches),
                                'ms': ms, 'ratio': 1.0})
                print(f'| {data.name:<22} | {CEILING:<22} | {ceiling.hota:.3f} | '
                      f'{ceiling.idf1:.3f} | (our boxes with gt identities)', flush=True)
        del data
    for name, why in failures.items():
        print(f'{name} failed: {why}', file=sys.stderr)
    machine = (f'{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, '
               f'Python {platform.python_version()}, one thread for BLAS')
    print('\n'.join(cross_scene(results)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'tracker.md').write_text(markdown(results, machine))
    plot(results, args.out / 'tracker.png')
    print(f'wrote {args.out / "tracker.md"} and {args.out / "tracker.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
