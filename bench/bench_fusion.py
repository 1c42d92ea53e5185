"""
Benchmark the multi-camera fusion on PETS09-S2L1 cut into a camera rig, and its cost.

For each layout of deepsort_ros.sim.camera_rig (``overlap``: two moving cameras sharing the
middle of the scene; ``gap``: two cameras with an unseen strip between them), each virtual
camera runs the core Tracker on its warped SORT detections with OSNet x0.25 features of its
warped frames (cached in .cache/bench), compensates its motion by the homography the node
computes from odometry, and places its tracks on the ground as the node's pipeline publishes
them: the world filter (deepsort_ros.world.GroundTrackFilter, the node's default settings) fed
by each track's detection, read into the fusion's input by
deepsort_ros.fusion.from_tracker. For comparison each layout is fused once more from the
image Kalman boxes projected to the ground (what the node published before the world filter;
the "image KF projected" row). The two cameras' updates reach one TrackFusion at their
own rates (7 and 4.7 fps) and with different latencies (the right camera's arrive after the
left's next frame, so they are fused late). Rows of each camera's confirmed tracks, labelled
with their global ids, are scored: per-camera IDF1 (local and global ids), multi-camera IDF1
over the union, and camera-to-camera transitions that keep the global id
(deepsort_ros.evaluation.multicamera). Then the cost of one fused update at 8 cameras x 50
tracks on a synthetic scene (median ms, one BLAS thread). Writes bench/results/fusion.md and
fusion.png.
"""

import argparse
from dataclasses import dataclass, replace
import functools
import hashlib
import os
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from common import cpu_model, one_blas_thread, REPO, SHARED, use_checkout  # noqa: I100

one_blas_thread()
use_checkout()

from deepsort_ros.core import Tracker, TrackerConfig, TrackState  # noqa: E402
from deepsort_ros.ego_motion import EgoMotionConfig, EgoMotionEstimator  # noqa: E402
from deepsort_ros.evaluation.mot_metrics import evaluate_mot  # noqa: E402
from deepsort_ros.evaluation.multicamera import (camera_transitions,  # noqa: E402
                                                 evaluate_multicamera, keep_rate,
                                                 match_identities)
from deepsort_ros.fusion import CameraBatch, FusionConfig, TrackFusion  # noqa: E402
from deepsort_ros.fusion.appearance_feed import AppearanceSchedule  # noqa: E402
from deepsort_ros.fusion.from_tracker import batch_from_tracker  # noqa: E402
from deepsort_ros.recordings.mot import (iter_frames, load_mot_rows,  # noqa: E402
                                         read_sequence_info)
from deepsort_ros.settings.tracker import NodeConfig  # noqa: E402
from deepsort_ros.sim.camera_rig import (CameraRig, gap_rig, LATENCY_S, overlap_rig,  # noqa: E402
                                         RigView)
from deepsort_ros.world import GroundTrackFilter  # noqa: E402
import numpy as np  # noqa: E402

SEQUENCE = SHARED / 'data' / 'PETS09-S2L1'
WEIGHTS = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
LAYOUTS = {'overlap': overlap_rig, 'gap': gap_rig}
PICTURE_FRAME = 200
# The fusion's inputs compared: the node's world fields (the main results) and the image
# Kalman estimate projected to the ground.
NODE_PATH, IMAGE_PATH = 'node world fields', 'image KF projected'


@dataclass
class CameraFrame:
    """One camera update: its fusion input and the rows of its confirmed tracks."""

    frame: int
    stamp: float
    batch: CameraBatch
    local_rows: List[Tuple[int, np.ndarray]]  # (local id, box tlwh)


def encoder_id(weights: Path) -> str:
    """Return the encoder's name and weights digest, as a camera would announce it."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return f'{weights.stem}:sha256:{digest}'


def _view_key(view: RigView) -> str:
    """Return a short digest of what the view's footage depends on (for the feature cache)."""
    samples = np.concatenate([view.homography_at(t).ravel() for t in (0.0, 10.0, 50.0, 100.0)])
    text = f'{view.width}x{view.height}/{view.drop_every}/' + ','.join(
        f'{v:.6g}' for v in samples)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def camera_inputs(rig: CameraRig, info: Any, gt: np.ndarray, det: np.ndarray, cache: Path
                  ) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Return per camera (gt rows, det rows, OSNet features of the det rows), cached."""
    out: Dict[str, Any] = {}
    todo: Dict[str, Path] = {}
    for name, view in rig.views.items():
        gt_c = view.warp_rows(gt, info.frame_rate)
        det_c = view.warp_rows(det, info.frame_rate)
        path = cache / f'fusion_{name}_{_view_key(view)}_osnet_x0_25_msmt17.npy'
        features = np.load(path) if path.is_file() else None
        if features is not None and len(features) != len(det_c):
            features = None
        out[name] = [gt_c, det_c, features]
        if features is None:
            todo[name] = path
    if todo:
        from deepsort_ros.reid import create_encoder

        print(f'encoding warped detections of {", ".join(todo)} with OSNet x0.25 (once)...',
              file=sys.stderr, flush=True)
        encoder = create_encoder(str(WEIGHTS), device='cpu', backend='onnx')
        by_frame = {name: {f: np.flatnonzero(out[name][1][:, 0] == f)
                           for f in np.unique(out[name][1][:, 0]).astype(int).tolist()}
                    for name in todo}
        features = dict.fromkeys(todo)
        for frame, image in iter_frames(info):
            for name in todo:
                rows = by_frame[name].get(frame)
                if rows is None or len(rows) == 0:
                    continue
                view = rig.views[name]
                warped = view.warp_image(image, (frame - 1) / info.frame_rate)
                encoded = encoder(warped, out[name][1][rows, 2:6])
                if features[name] is None:
                    features[name] = np.zeros((len(out[name][1]), encoded.shape[1]), np.float32)
                features[name][rows] = encoded
        cache.mkdir(parents=True, exist_ok=True)
        for name, path in todo.items():
            np.save(path, features[name])
            out[name][2] = features[name]
    return {name: tuple(value) for name, value in out.items()}


def track_camera(view: RigView, det: np.ndarray, features: np.ndarray, info: Any,
                 encoder: str) -> Dict[str, List[CameraFrame]]:
    """
    Run the core tracker over one camera's frames, as the node would; return its updates.

    The same tracks with two ground estimates: by fusion input (``NODE_PATH``: the world
    filter the node's pipeline runs, ``IMAGE_PATH``: the image estimate projected).
    """
    tracker = Tracker(TrackerConfig())
    world_filter = GroundTrackFilter(NodeConfig().ground_filter())
    ego = EgoMotionEstimator(EgoMotionConfig(mode='odometry'))
    ego.set_extrinsic(view.base_to_camera)
    ego.set_camera(view.camera)
    frames = det[:, 0].astype(int)
    updates: Dict[str, List[CameraFrame]] = {NODE_PATH: [], IMAGE_PATH: []}
    previous: Optional[float] = None
    for frame in range(1, info.length + 1):
        if not view.keeps(frame):
            continue
        t = (frame - 1) / info.frame_rate
        base = view.base_pose_at(t)
        ego.add_odometry(t, base.translation, view.quaternion_xyzw_at(t))
        motion = ego.estimate(previous, t).homography if previous is not None else None
        rows = np.flatnonzero(frames == frame)
        tracks = tracker.update(det[rows, 2:6], det[rows, 6], None, features[rows], t, motion)
        previous = t
        pose = ego.camera_pose_at(t)
        shown = [(tr.track_id, tr.box_tlwh) for tr in tracks if tr.state is TrackState.CONFIRMED]
        # As the pipeline's publish stage does: no tracks or no pose, no world estimate.
        world = (world_filter.update(t, tracks, det[rows, 2:6], view.camera, pose, 0.0)
                 if tracks and pose is not None else None)
        node = batch_from_tracker(tracks, None, None, 0.0, encoder, view.name, 'odom',
                                  world=world)
        image = batch_from_tracker(tracks, view.camera, pose, 0.0, encoder, view.name, 'odom')
        updates[NODE_PATH].append(CameraFrame(frame, t, node, shown))
        updates[IMAGE_PATH].append(CameraFrame(frame, t, image, shown))
    return updates


def fuse(runs: Dict[str, List[CameraFrame]], config: FusionConfig
         ) -> Tuple[Dict[str, np.ndarray], TrackFusion, List[float]]:
    """Feed the cameras' updates to one fusion in arrival order; return rows with global ids."""
    events = sorted((u.stamp + LATENCY_S.get(name, 0.0), i, name, u)
                    for i, (name, updates) in enumerate(runs.items()) for u in updates)
    fusion = TrackFusion(config)
    rows: Dict[str, List[List[float]]] = {name: [] for name in runs}
    times = []
    for received, _, name, update in events:
        start = time.perf_counter()
        fusion.update(name, update.stamp, update.batch, received_s=received)
        times.append(time.perf_counter() - start)
        for local_id, box in update.local_rows:
            global_id = fusion.global_id_of(name, local_id)
            if global_id is not None:
                rows[name].append([update.frame, global_id, *box, 1.0, -1, -1, -1])
    return ({name: np.array(r) if r else np.zeros((0, 10)) for name, r in rows.items()},
            fusion, times)


def local_rows(updates: List[CameraFrame], offset: int = 0) -> np.ndarray:
    """Return a camera's confirmed-track rows with its local ids (+ offset)."""
    rows = [[u.frame, local_id + offset, *box, 1.0, -1, -1, -1]
            for u in updates for local_id, box in u.local_rows]
    return np.array(rows) if rows else np.zeros((0, 10))


def oracle_rows(updates: List[CameraFrame], gt: np.ndarray) -> np.ndarray:
    """Return a camera's rows with each local track named by the gt id it matches most."""
    rows = local_rows(updates)
    votes: Dict[int, Dict[int, int]] = {}
    for pairs in match_identities(gt, rows).values():
        for gt_id, local_id in pairs.items():
            votes.setdefault(local_id, {}).setdefault(gt_id, 0)
            votes[local_id][gt_id] += 1
    label = {local_id: max(v, key=v.get) for local_id, v in votes.items()}
    if len(rows):
        rows[:, 1] = [label.get(int(i), 1_000_000 + int(i)) for i in rows[:, 1]]
    return rows


def run_layout(layout: str, info: Any, gt: np.ndarray, det: np.ndarray, cache: Path,
               config: FusionConfig, encoder: str) -> Dict[str, Any]:
    """Track, fuse and score one layout."""
    rig = LAYOUTS[layout]()
    inputs = camera_inputs(rig, info, gt, det, cache)
    by_path = {name: track_camera(rig.views[name], inputs[name][1], inputs[name][2], info,
                                  encoder) for name in rig.names}
    runs = {name: paths[NODE_PATH] for name, paths in by_path.items()}
    results, fusion, times = fuse(runs, config)
    gt_by_camera = {name: inputs[name][0] for name in rig.names}
    scores = evaluate_multicamera(gt_by_camera, results)
    local = {name: evaluate_mot(gt_by_camera[name], local_rows(runs[name]))
             for name in rig.names}
    unfused = evaluate_multicamera(gt_by_camera, {name: local_rows(runs[name], 100000 * i)
                                                  for i, name in enumerate(rig.names)})
    transitions = camera_transitions(gt_by_camera, results, info.frame_rate)
    oracle = {name: oracle_rows(runs[name], gt_by_camera[name]) for name in rig.names}
    oracle_keep = keep_rate(camera_transitions(gt_by_camera, oracle, info.frame_rate), 10.0)
    paths = {NODE_PATH: (results, fusion)}
    image_results, image_fusion, _ = fuse({name: p[IMAGE_PATH] for name, p in by_path.items()},
                                          config)
    paths[IMAGE_PATH] = (image_results, image_fusion)
    path_rows = []
    for label, (rows, fused) in paths.items():
        path_scores = evaluate_multicamera(gt_by_camera, rows)
        path_transitions = camera_transitions(gt_by_camera, rows, info.frame_rate)
        path_rows.append({'label': label, 'scores': path_scores,
                          'keep': keep_rate(path_transitions),
                          'keep10': keep_rate(path_transitions, 10.0),
                          'associations': dict(fused.counters.associations),
                          'merges': fused.counters.merges})
    return {'layout': layout, 'rig': rig, 'paths': path_rows,
            'oracle': evaluate_multicamera(gt_by_camera, oracle).union.idf1,
            'oracle_keep': oracle_keep, 'scores': scores, 'local': local,
            'unfused': unfused, 'transitions': transitions, 'fusion': fusion,
            'results': results, 'gt': gt_by_camera, 'ms': float(np.median(times) * 1e3),
            'updates': {name: len(u) for name, u in runs.items()}, 'runs': runs}


# ---- appearance traffic: what ~/appearances costs, and what the schedule changes ------------


def scheduled_runs(runs: Dict[str, List[CameraFrame]]
                   ) -> Tuple[Dict[str, List[CameraFrame]], Dict[str, List[Tuple[int, int]]]]:
    """
    Return the runs as the fusion node sees them, and what each camera frame would send.

    Each camera's tracker sends a track's feature only when the AppearanceSchedule says so;
    the fusion uses the last feature it was sent for each track (AppearanceCache), so a
    batch's features are those. The second value: per camera and frame, (tracks with a
    feature, features sent).
    """
    out: Dict[str, List[CameraFrame]] = {}
    counts: Dict[str, List[Tuple[int, int]]] = {}
    for name, updates in runs.items():
        schedule = AppearanceSchedule()
        last: Dict[int, np.ndarray] = {}
        frames, sent = [], []
        for update in updates:
            batch = update.batch
            ids = batch.local_ids.tolist()
            rows = [None if batch.features is None or not np.any(batch.features[i])
                    else batch.features[i] for i in range(len(ids))]
            due = schedule.due(ids, rows, update.stamp)
            for i in due:
                last[ids[i]] = rows[i]
            features = None
            if batch.features is not None:
                features = np.zeros_like(batch.features)
                for i, local_id in enumerate(ids):
                    if local_id in last:
                        features[i] = last[local_id]
            frames.append(CameraFrame(update.frame, update.stamp,
                                      replace(batch, features=features), update.local_rows))
            sent.append((sum(r is not None for r in rows), len(due)))
        out[name], counts[name] = frames, sent
    return out, counts


@functools.lru_cache(maxsize=None)
def message_bytes(features: int, dim: int = 512) -> int:
    """Return the serialised size of a TrackAppearanceArray of ``features`` (rclpy's CDR)."""
    import uuid

    from deepsort_ros.ros.convert.appearances import appearances_to_msg
    from deepsort_ros.ros.convert.stamps import make_header
    from rclpy.serialization import serialize_message

    msg = appearances_to_msg(make_header(0, 'right/camera_optical_frame'), uuid.uuid4(),
                             'OSNet x0.25 osnet_x0_25_msmt17.pth (512-d, onnxruntime)', 'a' * 64,
                             list(range(1, features + 1)), np.ones((features, dim), np.float32))
    return len(serialize_message(msg))


def traffic(result: Dict[str, Any], frame_rate: float) -> Dict[str, Any]:
    """Fuse a layout again with scheduled features; return the bytes and the scores."""
    runs, counts = scheduled_runs(result['runs'])
    results, _, _ = fuse(runs, FusionConfig())
    scores = evaluate_multicamera(result['gt'], results)
    mean_local = float(np.mean([s.idf1 for s in result['local'].values()]))
    per_camera = {}
    for name, frames in counts.items():
        offered = np.array([c[0] for c in frames], dtype=float)
        sent = np.array([c[1] for c in frames], dtype=float)
        every = np.mean([message_bytes(int(n)) for n in offered])
        scheduled = np.mean([message_bytes(int(n)) if n else 0 for n in sent])
        updates = result['runs'][name]
        duration = max(updates[-1].stamp - updates[0].stamp, 1e-9)
        per_camera[name] = {'tracks': float(offered.mean()), 'every_bytes': float(every),
                            'scheduled_bytes': float(scheduled),
                            'features_per_s': float(sent.sum() / duration)}
    return {'per_camera': per_camera, 'idf1': scores.union.idf1,
            'diff': scores.union.idf1 - mean_local,
            'keep': keep_rate(camera_transitions(result['gt'], results, frame_rate), 10.0),
            'purity': scores.purity, 'ten_tracks': message_bytes(10)}


# Settings whose effect the report shows: (label, FusionConfig arguments).
SENSITIVITY = [('defaults', {}),
               ('handover_max_cosine 0.15', {'handover_max_cosine': 0.15}),
               ('handover_max_cosine 0.25', {'handover_max_cosine': 0.25}),
               ('merge_after 0 (no merging)', {'merge_after': 0.0}),
               ('overlap_max_gap 2 s', {'overlap_max_gap': 2.0}),
               ('feature_ema_alpha 0.7', {'feature_ema_alpha': 0.7})]


def sensitivity(result: Dict[str, Any], frame_rate: float) -> List[Dict[str, Any]]:
    """Fuse one layout's camera updates again under other settings; return their scores."""
    mean_local = float(np.mean([s.idf1 for s in result['local'].values()]))
    rows = []
    for label, overrides in SENSITIVITY:
        results, _, _ = fuse(result['runs'], FusionConfig(**overrides))
        scores = evaluate_multicamera(result['gt'], results)
        kept = keep_rate(camera_transitions(result['gt'], results, frame_rate), 10.0)
        rows.append({'layout': result['layout'], 'label': label, 'idf1': scores.union.idf1,
                     'diff': scores.union.idf1 - mean_local, 'keep': kept,
                     'purity': scores.purity})
    return rows


# ---- the cost at 8 cameras x 50 tracks ---------------------------------------------------------


def synthetic_cost(cameras: int = 8, per_camera: int = 50, people: int = 200, dim: int = 512,
                   rounds: int = 60, warmup: int = 10, seed: int = 0) -> Dict[str, float]:
    """
    Time fused updates on a synthetic scene; return median and p90 ms and the id purity.

    ``people`` walk at 1.2 m/s in a 60 m square; camera i sees the 50 people
    ``25 i .. 25 i + 49`` (mod ``people``), so everyone is seen by two cameras. Cameras report
    at 10 Hz, staggered by 1/80 s, with 0.2 m position noise, published covariances and
    512-d features (each person's own direction plus per-camera noise).
    """
    rng = np.random.default_rng(seed)
    position = rng.uniform(0, 60, (people, 2))
    heading = rng.uniform(0, 2 * np.pi, people)
    velocity = 1.2 * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    identity = rng.normal(size=(people, dim))
    seen = [(per_camera // 2 * i + np.arange(per_camera)) % people for i in range(cameras)]
    features = []
    for members in seen:
        f = identity[members] + 0.25 * rng.normal(size=(len(members), dim))
        features.append((f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32))
    fusion = TrackFusion(FusionConfig())
    times = []
    period = 0.1
    for k in range(rounds):
        for c in range(cameras):
            t = k * period + c * period / cameras
            now_position = position + velocity * t
            members = seen[c]
            n = len(members)
            batch = CameraBatch(members + 1, np.ones(n, bool),
                                now_position[members] + 0.2 * rng.normal(size=(n, 2)),
                                np.tile(0.04 * np.eye(2), (n, 1, 1)),
                                velocity[members] + 0.1 * rng.normal(size=(n, 2)),
                                np.tile(0.05 * np.eye(2), (n, 1, 1)), np.ones(n, bool),
                                features[c], 'synthetic:0', f'cam{c}')
            start = time.perf_counter()
            fusion.update(f'cam{c}', t, batch)
            if k >= warmup:
                times.append(time.perf_counter() - start)
    # Purity: people whose two cameras' local tracks share one global id.
    same = 0
    for p in range(people):
        ids = {fusion.global_id_of(f'cam{c}', p + 1) for c in range(cameras) if p in seen[c]}
        same += len(ids) == 1 and None not in ids
    return {'median_ms': float(np.median(times) * 1e3),
            'p90_ms': float(np.percentile(times, 90) * 1e3),
            'globals': float(len(fusion.tracks)), 'purity': same / people,
            'updates': float(len(times))}


# ---- report -------------------------------------------------------------------------------------


def layout_lines(result: Dict[str, Any]) -> List[str]:
    """Return the markdown lines of one layout."""
    scores, rig = result['scores'], result['rig']
    transitions = result['transitions']
    kept, total, rate = keep_rate(transitions)
    kept10, total10, rate10 = keep_rate(transitions, 10.0)
    counters = result['fusion'].counters
    lines = [f'### {result["layout"]}', '',
             '| camera | width px | yaw offset deg | fps | updates | IDF1 local ids | '
             'IDF1 global ids |', '|---|---|---|---|---|---|---|']
    for name in rig.names:
        view = rig.views[name]
        fps = 7.0 * (1.0 - (1.0 / view.drop_every if view.drop_every else 0.0))
        lines.append(f'| {name} | {view.width} | {view.yaw_offset_deg:+.2f} | {fps:.2f} | '
                     f'{result["updates"][name]} | {result["local"][name].idf1:.3f} | '
                     f'{scores.per_camera[name].idf1:.3f} |')
    mean_local = float(np.mean([s.idf1 for s in result['local'].values()]))
    lines += ['', f'- multi-camera IDF1 (union, global ids): **{scores.union.idf1:.3f}** '
              f'(HOTA {scores.union.hota:.3f}, ID switches {scores.union.id_switches}); mean '
              f'per-camera IDF1 {mean_local:.3f} (local ids); difference '
              f'{100 * (scores.union.idf1 - mean_local):+.1f} points',
              f'- without fusion (local ids, never shared across cameras): multi-camera IDF1 '
              f'{result["unfused"].union.idf1:.3f}; ceiling of fusing these local tracks (each '
              f'named by the gt id it matches most): {result["oracle"]:.3f}, transitions kept '
              f'{100 * result["oracle_keep"][2]:.0f}%',
              f'- transitions keeping the global id: **{kept}/{total} = {100 * rate:.0f}%** '
              f'(gap <= 10 s: {kept10}/{total10} = {100 * rate10:.0f}%); id purity '
              f'{scores.purity:.3f} (share of matched rows whose global id is mostly their '
              f"person's: merging people would raise the keep rate and lower this), "
              f'completeness {scores.completeness:.3f}']
    gaps = np.array([t.gap_s for t in transitions if t.gap_s > 0])
    if len(gaps):
        lines.append(f'- transitions after a gap: {len(gaps)}, crossing time median '
                     f'{np.median(gaps):.1f} s (min {gaps.min():.1f}, max {gaps.max():.1f})')
        for low, high in ((0.0, 2.0), (2.0, 5.0), (5.0, 10.0), (10.0, 30.0)):
            chosen = [t for t in transitions if low < t.gap_s <= high]
            if chosen:
                lines.append(f'  - gap in ({low:.0f}, {high:.0f}] s: '
                             f'{sum(t.kept for t in chosen)}/{len(chosen)} kept')
    lines.append(f'- fusion counters: associations {counters.associations}, new global ids '
                 f'{counters.new_globals}, merges {counters.merges}, delayed updates '
                 f'{ {n: c.delayed for n, c in counters.cameras.items()} }, refused '
                 f'{ {n: c.refused for n, c in counters.cameras.items()} }')
    lines.append(f'- fusion update median {result["ms"]:.2f} ms at this scene\'s size')
    lines += ['', 'The same tracks, fused from each ground estimate:', '',
              '| fusion input | multi-camera IDF1 | vs per-camera mean | transitions kept | '
              'gap <= 10 s | id purity | associations | merges |',
              '|---|---|---|---|---|---|---|---|']
    for row in result['paths']:
        kept, total, rate = row['keep']
        kept10, total10, rate10 = row['keep10']
        lines.append(f'| {row["label"]} | {row["scores"].union.idf1:.3f} | '
                     f'{100 * (row["scores"].union.idf1 - mean_local):+.1f} | '
                     f'{kept}/{total} = {100 * rate:.0f}% | {kept10}/{total10} = '
                     f'{100 * rate10:.0f}% | {row["scores"].purity:.3f} | '
                     f'{row["associations"]} | {row["merges"]} |')
    return lines + ['']


def markdown(results: List[Dict[str, Any]], cost: Dict[str, float], machine: str,
             seconds: float, sensitivity_rows: List[Dict[str, Any]]) -> str:
    """Return the whole report as markdown."""
    lines = [f'Measured {time.strftime("%Y-%m-%d")} on {machine}; the run took '
             f'{seconds:.0f} s. Command: `python bench/bench_fusion.py`.', '',
             'PETS09-S2L1 cut into two virtual moving cameras (deepsort_ros/sim/camera_rig.py); '
             'per camera the core tracker with OSNet x0.25 features and odometry camera-motion '
             "compensation, its tracks placed on the ground by the node's world filter (the "
             'world fields the node publishes; last table of each layout: fused from the image '
             'Kalman boxes projected instead); one TrackFusion with default FusionConfig. Left '
             'camera 7 fps, '
             f'delivered {LATENCY_S["left"]} s late; right camera 4.67 fps (every 3rd frame '
             f'dropped), delivered {LATENCY_S["right"]} s late (after the left camera\'s next '
             'frame: fused late, predicted forward).', '']
    for result in results:
        lines += layout_lines(result)
    if sensitivity_rows:
        lines += ['### sensitivity', '',
                  'The same camera updates fused under other settings (one change each). '
                  'Few people and transitions: differences of a few points are within what '
                  'any setting change moves.', '',
                  '| layout | setting | multi-camera IDF1 | vs per-camera mean | '
                  'transitions kept (gap <= 10 s) | id purity |', '|---|---|---|---|---|---|']
        for row in sensitivity_rows:
            kept, total, rate = row['keep']
            lines.append(f'| {row["layout"]} | {row["label"]} | {row["idf1"]:.3f} | '
                         f'{100 * row["diff"]:+.1f} | {kept}/{total} = {100 * rate:.0f}% | '
                         f'{row["purity"]:.3f} |')
        lines.append('')
    traffic_rows = [(r['layout'], r['traffic']) for r in results if r.get('traffic')]
    if traffic_rows:
        ten = traffic_rows[0][1]['ten_tracks']
        lines += ['### appearance traffic (~/appearances)', '',
                  'Bytes a camera frame of `TrackAppearanceArray` (rclpy CDR, 512-d float32 '
                  'features, 2076 B each) if every confirmed track sent its feature every frame, '
                  'and as the tracker sends them (AppearanceSchedule: at confirmation, then at '
                  'most once a second and only when it moved by 0.02 in cosine distance, and '
                  'unchanged every 5 s); the fusion then uses the last feature each track sent '
                  f'(AppearanceCache). At 10 tracks a frame every frame would be {ten} B.', '',
                  '| layout | camera | tracks a frame | every frame B | scheduled B | '
                  'features/s |', '|---|---|---|---|---|---|']
        for layout, t in traffic_rows:
            for name, c in t['per_camera'].items():
                lines.append(f'| {layout} | {name} | {c["tracks"]:.1f} | {c["every_bytes"]:.0f} '
                             f'| {c["scheduled_bytes"]:.0f} | {c["features_per_s"]:.2f} |')
        lines += ['', '| layout | features | multi-camera IDF1 | vs per-camera mean | '
                  'transitions kept (gap <= 10 s) | id purity |', '|---|---|---|---|---|---|']
        for layout, t in traffic_rows:
            result = next(r for r in results if r['layout'] == layout)
            mean_local = float(np.mean([v.idf1 for v in result['local'].values()]))
            kept, total, rate = keep_rate(result['transitions'], 10.0)
            lines.append(f'| {layout} | every frame | {result["scores"].union.idf1:.3f} | '
                         f'{100 * (result["scores"].union.idf1 - mean_local):+.1f} | '
                         f'{kept}/{total} = {100 * rate:.0f}% | {result["scores"].purity:.3f} |')
            kept, total, rate = t['keep']
            lines.append(f'| {layout} | scheduled | {t["idf1"]:.3f} | {100 * t["diff"]:+.1f} | '
                         f'{kept}/{total} = {100 * rate:.0f}% | {t["purity"]:.3f} |')
        lines.append('')
    lines += ['### cost', '',
              f'8 cameras x 50 tracks (200 people, each seen by two cameras, 512-d features, '
              f'10 Hz per camera): **median {cost["median_ms"]:.2f} ms** per fused update '
              f'(p90 {cost["p90_ms"]:.2f} ms, {int(cost["updates"])} updates after warm-up); '
              f'{int(cost["globals"])} global tracks reported, '
              f'{100 * cost["purity"]:.0f}% of people with one global id over both cameras.',
              '']
    return '\n'.join(lines)


def picture(results: List[Dict[str, Any]], info: Any, path: Path) -> None:
    """Draw both cameras of each layout at one frame, boxes labelled with global ids."""
    import cv2

    image = next(img for f, img in iter_frames(info, frames=[PICTURE_FRAME]))
    t = (PICTURE_FRAME - 1) / info.frame_rate
    rows_out = []
    for result in results:
        tiles = []
        for name in result['rig'].names:
            view = result['rig'].views[name]
            frame = PICTURE_FRAME if view.keeps(PICTURE_FRAME) else PICTURE_FRAME - 1
            tile = view.warp_image(image, t).copy()
            rows = result['results'][name]
            for row in rows[rows[:, 0] == frame]:
                x, y, w, h = (int(v) for v in row[2:6])
                colour = tuple(int(c) for c in
                               np.random.default_rng(int(row[1])).integers(60, 255, 3))
                cv2.rectangle(tile, (x, y), (x + w, y + h), colour, 2)
                label = str(int(row[1]))
                (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
                top = max(0, y - th - 6)
                cv2.rectangle(tile, (x, top), (x + tw + 4, top + th + 6), colour, -1)
                cv2.putText(tile, label, (x + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                            (0, 0, 0), 2)
            cv2.putText(tile, f'{result["layout"]}: {name}', (8, 24), cv2.FONT_HERSHEY_SIMPLEX,
                        0.7, (255, 255, 255), 2)
            tiles += [tile, np.zeros((tile.shape[0], 12, 3), np.uint8)]
        rows_out.append(np.hstack(tiles))
    width = max(r.shape[1] for r in rows_out)
    sheet = np.vstack([np.pad(r, ((0, 12), (0, width - r.shape[1]), (0, 0)))
                       for r in rows_out])
    cv2.imwrite(str(path), cv2.resize(sheet, None, fx=0.7, fy=0.7))


def main(argv: Optional[List[str]] = None) -> int:
    """Run both layouts and the cost benchmark; print and write the report."""
    import platform

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--layouts', nargs='*', default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument('--no-cost', action='store_true', help='skip the 8 x 50 cost run')
    parser.add_argument('--no-sensitivity', action='store_true',
                        help='skip fusing again under other settings')
    parser.add_argument('--cache', type=Path, default=REPO / '.cache' / 'bench')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results')
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = []
    sensitivity_rows: List[Dict[str, Any]] = []
    if SEQUENCE.is_dir() and WEIGHTS.is_file():
        info = read_sequence_info(SEQUENCE)
        gt = load_mot_rows(SEQUENCE / 'gt' / 'gt.txt')
        det = load_mot_rows(SEQUENCE / 'det' / 'det.txt')
        encoder = encoder_id(WEIGHTS)
        for layout in args.layouts:
            result = run_layout(layout, info, gt, det, args.cache, FusionConfig(), encoder)
            results.append(result)
            print('\n'.join(layout_lines(result)), flush=True)
            if not args.no_sensitivity:
                sensitivity_rows += sensitivity(result, info.frame_rate)
            result['traffic'] = traffic(result, info.frame_rate)
    else:
        print(f'PETS09-S2L1 or the OSNet weights are absent under {SHARED}: layouts skipped',
              file=sys.stderr)
    cost = synthetic_cost() if not args.no_cost else {
        'median_ms': float('nan'), 'p90_ms': float('nan'), 'globals': 0.0, 'purity': 0.0,
        'updates': 0.0}
    print(f'cost at 8 cameras x 50 tracks: median {cost["median_ms"]:.2f} ms, p90 '
          f'{cost["p90_ms"]:.2f} ms, purity {cost["purity"]:.2f}', flush=True)
    machine = (f'{cpu_model()} ({platform.machine()}), {os.cpu_count()} cores, '
               f'Python {platform.python_version()}, one thread for BLAS')
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'fusion.md').write_text(
        markdown(results, cost, machine, time.perf_counter() - start, sensitivity_rows))
    if results:
        picture(results, info, args.out / 'fusion.png')
    print(f'wrote {args.out / "fusion.md"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
