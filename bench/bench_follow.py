"""
Follow-me benchmark: does the single followed target stay on the chosen person.

For every pedestrian seen for at least --min-frames frames of a sequence, an app selects them
once, by the image point at the centre of their gt box, at the first frame a confirmed track
covers them (IoU >= 0.5), and every later frame is judged: *correct* (the person is visible
and the target, status TRACKED, has IoU >= 0.5 with their box), *wrong* (the TRACKED target
has IoU >= 0.5 with another person), else missed. The tracker runs once per sequence; at a
selection frame a copy of it continues with the selection, so every person is followed on the
same detections and features. The baseline is a plain MOT user who keeps the selected id: the
track with that id, matched in the frame, from the tracker run without a target.

Sequences: PETS09-S2L1, TUD-Campus and TUD-Stadtmitte (SORT public detections, OSNet x0.25
MSMT17 features, cached in .cache/bench) and PETS09-S2L1 through two rotating virtual cameras
(drone-like jitter, aggressive yaw; frames, detections and gt warped, the camera motion given
as the node computes it from odometry). The tracker's MOT output with a target selected is
compared with the run without one: the target logic must not change the other tracks.

``--core DIR`` imports deepsort_ros from another checkout (main, for the "before" numbers) and
``--json`` saves the results; ``--before FILE`` puts such a file's rows into the table.
"""

import argparse
import copy
import json
import os
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'
CACHE = REPO / '.cache' / 'bench'

if os.environ.get('OPENBLAS_NUM_THREADS') != '1':
    # Multi-threaded BLAS fights for the cores (see bench_tracker.py).
    os.environ.update(OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    os.execv(sys.executable, [sys.executable] + sys.argv)


def _core_path(argv: List[str]) -> Path:
    """Return the checkout whose deepsort_ros is benchmarked (``--core``, else this one)."""
    for i, arg in enumerate(argv):
        if arg == '--core' and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith('--core='):
            return Path(arg.split('=', 1)[1]).resolve()
    return REPO


sys.path.insert(0, str(_core_path(sys.argv[1:])))

from deepsort_ros.core import Tracker, TrackerConfig, TrackState  # noqa: E402
from deepsort_ros.core.target import TargetStatus  # noqa: E402
from deepsort_ros.evaluation.mot_metrics import evaluate_mot  # noqa: E402
from deepsort_ros.recordings.mot import (load_mot_rows, read_detections,  # noqa: E402
                                         read_sequence_info)
from deepsort_ros.sim.virtual_camera import (DRONE_PROFILE, RotationProfile,  # noqa: E402
                                             VirtualCamera, warp_mot_rows)
import numpy as np  # noqa: E402

IOU_MATCH = 0.5
# A robot turning on the spot: yaw sweeping at 20 deg/s to +-15 deg (~30 px a frame at
# PETS09's 7 fps and 60-degree field of view), with the drone's small roll and pitch.
AGGRESSIVE_YAW = RotationProfile(rates_deg_s=(3.0, 4.0, 20.0), amplitudes_deg=(3.0, 4.0, 15.0))
CAMERAS = {'drone': DRONE_PROFILE, 'yaw': AGGRESSIVE_YAW}
# Re-acquisition window used to judge "wrong long after the person left" when the core has no
# such setting (main): the new follower's default.
DEFAULT_WINDOW_S = 5.0


class Sequence:
    """Detections (with features), gt and camera motion of one sequence."""

    def __init__(self, name: str, fps: float, length: int, det: Tuple[np.ndarray, ...],
                 gt_rows: np.ndarray, motion: Optional[np.ndarray]) -> None:
        frames, boxes, scores, classes, features = det
        self.name, self.fps, self.length, self.gt_rows = name, fps, length, gt_rows
        self.inputs = []
        for f in range(1, length + 1):
            rows = np.flatnonzero(frames == f)
            self.inputs.append((boxes[rows], scores[rows], classes[rows], features[rows],
                                (f - 1) / fps, None if motion is None else motion[f - 1]))
        self.gt: List[Dict[int, np.ndarray]] = [{} for _ in range(length + 1)]
        for row in gt_rows:
            self.gt[int(row[0])][int(row[1])] = row[2:6]


def _encode(info: Any, det_frames: np.ndarray, det_boxes: np.ndarray,
            camera: Optional[VirtualCamera]) -> np.ndarray:
    """Return OSNet x0.25 MSMT17 features of every detection (frames warped by ``camera``)."""
    from deepsort_ros.recordings.mot import iter_frames
    from deepsort_ros.reid import create_encoder

    encoder = create_encoder(str(SHARED / 'models' / 'osnet_x0_25_msmt17.pth'), device='cpu',
                             backend='onnx')
    features = None
    for frame, image in iter_frames(info):
        rows = np.flatnonzero(det_frames == frame)
        if len(rows) == 0:
            continue
        if camera is not None:
            image = camera.warp_image(image, (frame - 1) / info.frame_rate)
        out = encoder(image, det_boxes[rows])
        if features is None:
            features = np.zeros((len(det_frames), out.shape[1]), np.float32)
        features[rows] = out
    return features


def odometry_homographies(camera: VirtualCamera, num_frames: int, fps: float) -> np.ndarray:
    """Return what the node's ego-motion computes from odometry: frame f-1 -> f, (F, 3, 3)."""
    from deepsort_ros import ego_motion  # noqa: I100
    from deepsort_ros.geometry import PinholeCamera
    from deepsort_ros.settings.tracker import NodeConfig

    node = NodeConfig()
    estimator = ego_motion.EgoMotionEstimator(ego_motion.EgoMotionConfig(mode='odometry'))
    estimator.set_extrinsic(np.asarray(node.base_to_camera_xyz),
                            np.asarray(node.base_to_camera_rpy))
    estimator.set_camera(PinholeCamera(camera.intrinsics))
    motion = np.tile(np.eye(3), (num_frames, 1, 1))
    for frame in range(1, num_frames + 1):
        t = (frame - 1) / fps
        estimator.add_odometry(t, np.zeros(3), camera.profile.quaternion_xyzw_at(t))
        if frame > 1:
            motion[frame - 1] = estimator.estimate(t - 1 / fps, t).homography
    return motion


def load(sequence_name: str, camera_name: Optional[str]) -> Optional[Sequence]:
    """Return a sequence (seen by a virtual camera when named), or None when absent."""
    from deepsort_ros.geometry import PinholeCamera

    directory = SHARED / 'data' / sequence_name
    if not directory.is_dir():
        print(f'{sequence_name} skipped: {directory} is absent', file=sys.stderr)
        return None
    info = read_sequence_info(directory)
    gt = load_mot_rows(directory / 'gt' / 'gt.txt')
    slug = sequence_name.split('-')[0].lower() if sequence_name.startswith('PETS09') \
        else sequence_name.lower()
    camera = motion = None
    if camera_name is None:
        det = read_detections(directory / 'det' / 'det.txt')
        frames, boxes, scores, classes = (det.frames, det.boxes_tlwh, det.scores,
                                          det.class_ids)
    else:
        slug += '_' + camera_name
        camera = VirtualCamera(PinholeCamera.plausible(info.width, info.height).matrix,
                               CAMERAS[camera_name])
        rows = warp_mot_rows(load_mot_rows(directory / 'det' / 'det.txt'), camera,
                             info.frame_rate, info.width, info.height)
        gt = warp_mot_rows(gt, camera, info.frame_rate, info.width, info.height)
        frames, boxes, scores = rows[:, 0].astype(int), rows[:, 2:6], rows[:, 6]
        classes = np.zeros(len(rows), dtype=np.int64)
        motion = odometry_homographies(camera, info.length, info.frame_rate)
    cache_file = CACHE / f'{slug}_osnet_x0_25_msmt17.npy'
    if cache_file.is_file():
        features = np.load(cache_file)
    else:
        print(f'encoding {slug} detections with OSNet x0.25 (once)...', file=sys.stderr)
        features = _encode(info, frames, boxes, camera)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, features)
    name = sequence_name + ('' if camera_name is None else f' ({camera_name})')
    return Sequence(name, info.frame_rate, info.length,
                    (frames, boxes, scores, classes, features), gt, motion)


def iou_tlwh(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Return the IoU of one box (4,) with boxes (N, 4), all tlwh."""
    if len(boxes) == 0:
        return np.zeros(0)
    tl = np.maximum(box[:2], boxes[:, :2])
    br = np.minimum(box[:2] + box[2:], boxes[:, :2] + boxes[:, 2:])
    inter = np.prod(np.maximum(br - tl, 0.0), axis=1)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def shown(tracks: List[Any]) -> Dict[int, np.ndarray]:
    """Return id -> box tlwh of the confirmed tracks matched in the frame."""
    return {t.track_id: t.box_tlwh for t in tracks if t.state is TrackState.CONFIRMED}


def judge(seq: Sequence, person: int, frame: int, box_tlwh: Optional[np.ndarray]) -> str:
    """Return 'correct', 'wrong', 'other' (on nobody) or 'none' (not TRACKED) for a frame."""
    if box_tlwh is None:
        return 'none'
    gt = seq.gt[frame]
    if person in gt and iou_tlwh(box_tlwh, gt[person][None, :])[0] >= IOU_MATCH:
        return 'correct'
    others = np.array([b for i, b in gt.items() if i != person]).reshape(-1, 4)
    return 'wrong' if (iou_tlwh(box_tlwh, others) >= IOU_MATCH).any() else 'other'


def score_run(seq: Sequence, person: int, start: int, boxes: List[Optional[np.ndarray]],
              window_s: float) -> Dict[str, Any]:
    """
    Count one followed person's frames after the selection frame ``start``.

    ``boxes[k]`` is the TRACKED target's box at frame start + 1 + k, or None.
    """
    last_seen = max(f for f in range(1, seq.length + 1) if person in seq.gt[f])
    out: Dict[str, Any] = {'visible': 0, 'correct': 0, 'tracked': 0, 'wrong': 0,
                           'wrong_after_left': 0, 'wrong_after_window': 0, 'reacq_right': 0,
                           'reacq_wrong': 0, 'reacq_s': []}
    previous_tracked = True
    gap_start = None
    for k, box in enumerate(boxes):
        f = start + 1 + k
        verdict = judge(seq, person, f, box)
        out['visible'] += person in seq.gt[f]
        out['correct'] += verdict == 'correct'
        out['tracked'] += verdict != 'none'
        if verdict == 'wrong':
            out['wrong'] += 1
            out['wrong_after_left'] += f > last_seen
            out['wrong_after_window'] += (f - last_seen) / seq.fps > window_s
        if verdict != 'none' and not previous_tracked:
            if verdict == 'correct':
                out['reacq_right'] += 1
                out['reacq_s'].append((f - gap_start) / seq.fps)
            else:
                out['reacq_wrong'] += 1
        if verdict == 'none' and previous_tracked:
            gap_start = f
        previous_tracked = verdict != 'none'
    return out


def selection_frames(seq: Sequence, base_shown: List[Dict[int, np.ndarray]],
                     min_frames: int) -> Dict[int, int]:
    """Return person -> the first frame a confirmed track covers them (IoU >= 0.5)."""
    seen: Dict[int, int] = {}
    for f in range(1, seq.length + 1):
        for person in seq.gt[f]:
            seen[person] = seen.get(person, 0) + 1
    chosen: Dict[int, int] = {}
    for f in range(1, seq.length + 1):
        boxes = np.array(list(base_shown[f].values())).reshape(-1, 4)
        for person, gt_box in seq.gt[f].items():
            if (person in chosen or seen[person] < min_frames or
                    not (iou_tlwh(gt_box, boxes) >= IOU_MATCH).any()):
                continue
            chosen[person] = f
    return chosen


def target_box(tracker: Tracker, tracks: List[Any]) -> Optional[np.ndarray]:
    """Return the followed target's box when its status is TRACKED, else None."""
    if tracker.target_status is not TargetStatus.TRACKED:
        return None
    target = tracker.target_id
    for t in tracks:
        if t.track_id == target and t.state is TrackState.CONFIRMED:
            return t.box_tlwh
    return None


def _sum(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    total: Dict[str, Any] = {k: 0 for k in runs[0] if k != 'reacq_s'}
    total['reacq_s'] = []
    for run in runs:
        for k, v in run.items():
            total[k] = total[k] + v
    return total


def bench_sequence(seq: Sequence, min_frames: int, window_s: float,
                   settings: Dict[str, Any]) -> Dict[str, Any]:
    """Follow every long-seen person of a sequence; return follower and baseline totals."""
    base = Tracker(TrackerConfig(**settings))
    base_shown: List[Dict[int, np.ndarray]] = [{}]
    base_rows = []
    for f, args in enumerate(seq.inputs, start=1):
        base_shown.append(shown(base.update(*args)))
        base_rows += [[f, i, *b, 1, -1, -1, -1] for i, b in base_shown[f].items()]
    mot = evaluate_mot(seq.gt_rows, np.array(base_rows))
    pending = selection_frames(seq, base_shown, min_frames)
    # Run again, copying the tracker when a person is selected (same inputs, same result).
    base = Tracker(TrackerConfig(**settings))
    follower_runs, baseline_runs = [], []
    mot_changed = 0
    ms: List[float] = []
    for f, args in enumerate(seq.inputs, start=1):
        base.update(*args)
        for person in [p for p, at in pending.items() if at <= f and p in seq.gt[f]]:
            centre = seq.gt[f][person][:2] + seq.gt[f][person][2:] / 2.0
            # An app shows the chosen box: a point that picks a box on a neighbour more than
            # on the person is tried again on a later frame.
            selected = base.select_target(point_xy=centre)
            base.clear_target()
            box = base_shown[f].get(selected)
            if box is None:
                continue
            people = list(seq.gt[f])
            overlap = iou_tlwh(box, np.array([seq.gt[f][p] for p in people]))
            if overlap.max() < IOU_MATCH or people[int(np.argmax(overlap))] != person:
                continue
            del pending[person]
            tracker = copy.deepcopy(base)
            tracker.select_target(point_xy=centre)
            boxes, kept = [], []
            changed = False
            for g in range(f + 1, seq.length + 1):
                start = time.perf_counter()
                tracks = tracker.update(*seq.inputs[g - 1])
                ms.append((time.perf_counter() - start) * 1e3)
                boxes.append(target_box(tracker, tracks))
                kept.append(base_shown[g].get(selected))
                changed |= {i: b.tolist() for i, b in shown(tracks).items()} != \
                    {i: b.tolist() for i, b in base_shown[g].items()}
            mot_changed += changed
            follower_runs.append(score_run(seq, person, f, boxes, window_s))
            baseline_runs.append(score_run(seq, person, f, kept, window_s))
    return {'sequence': seq.name, 'people': len(follower_runs), 'hota': mot.hota,
            'idf1': mot.idf1, 'follower': _sum(follower_runs), 'baseline': _sum(baseline_runs),
            'mot_changed': mot_changed, 'ms': float(np.median(ms)) if ms else float('nan')}


def _row(sequence: str, who: str, total: Dict[str, Any]) -> str:
    tracked = max(total['tracked'], 1)
    reacq = np.median(total['reacq_s']) if total['reacq_s'] else float('nan')
    return (f'| {sequence} | {who} | {100.0 * total["wrong"] / tracked:.1f} % '
            f'({total["wrong"]}/{total["tracked"]}) | {total["wrong_after_left"]} | '
            f'{total["wrong_after_window"]} | {total["correct"] / max(total["visible"], 1):.3f} '
            f'| {total["reacq_right"]} / {total["reacq_wrong"]} | {reacq:.1f} |')


def markdown(results: List[Dict[str, Any]], before: List[Dict[str, Any]], machine: str,
             window_s: float, label: str) -> str:
    """Return the results table as markdown."""
    lines = [f'Measured {time.strftime("%Y-%m-%d")} on a loaded 2-core {machine}: the '
             'ms/frame column moves with load, the rest does not.', '',
             f'Wrong frames long after: more than the re-acquisition window ({window_s:g} s) '
             'after the person left for good. Re-acquisitions: the target TRACKED again after '
             'frames it was not, on the right person / not; time: median seconds from losing '
             'the person to TRACKED on them again.', '',
             '| sequence | follower | wrong-person frames (of TRACKED) | wrong after left | '
             'wrong long after | recall | re-acquisitions right / wrong | re-acquire s |',
             '|---|---|---|---|---|---|---|---|']
    before_of = {r['sequence']: r for r in before}
    for r in results:
        name = f'{r["sequence"]} ({r["people"]} people)'
        if r['sequence'] in before_of:
            lines.append(_row(name, before_of[r['sequence']].get('label', 'before'),
                              before_of[r['sequence']]['follower']))
        lines.append(_row(name, label, r['follower']))
        lines.append(_row(name, 'keep the selected id (baseline)', r['baseline']))
    lines += ['', 'MOT scores of the tracker without a target, and how many of the followed '
              'runs changed any other track (ids or boxes of the confirmed tracks matched in a '
              'frame) against the run without a target:', '',
              '| sequence | MOT HOTA | MOT IDF1 | runs whose other tracks changed | update '
              'ms/frame (median, with a target) |', '|---|---|---|---|---|']
    for r in results:
        changed = f'{label}: {r["mot_changed"]} of {r["people"]}'
        if r['sequence'] in before_of:
            old = before_of[r['sequence']]
            changed = (f'{old.get("label", "before")}: {old["mot_changed"]} of '
                       f'{old["people"]}; ' + changed)
        lines.append(f'| {r["sequence"]} | {r["hota"]:.3f} | {r["idf1"]:.3f} | {changed} | '
                     f'{r["ms"]:.2f} |')
    return '\n'.join(lines) + '\n'


def plot(results: List[Dict[str, Any]], before: List[Dict[str, Any]], path: Path,
         label: str) -> None:
    """Draw wrong-person share and recall per sequence for each follower."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    before_of = {r['sequence']: r for r in before}
    series = [('keep the selected id', 'baseline', results, '#999999')]
    if before:
        series.insert(0, (before[0].get('label', 'before'), 'follower',
                          [before_of.get(r['sequence'], r) for r in results], '#c44e52'))
    series.append((label, 'follower', results, '#4c72b0'))
    names = [r['sequence'] for r in results]
    y = np.arange(len(names))
    figure, axes = plt.subplots(1, 2, figsize=(13, 0.6 * len(names) + 2.5))
    width = 0.8 / len(series)
    for k, (who, key, rows, colour) in enumerate(series):
        wrong = [100.0 * r[key]['wrong'] / max(r[key]['tracked'], 1) for r in rows]
        recall = [r[key]['correct'] / max(r[key]['visible'], 1) for r in rows]
        axes[0].barh(y + (k - 1) * width, wrong, width, label=who, color=colour)
        axes[1].barh(y + (k - 1) * width, recall, width, label=who, color=colour)
    axes[0].axvline(1.0, color='k', linestyle='--', linewidth=1)
    axes[0].set_xlabel('frames TRACKED on another person, % of TRACKED frames (goal <= 1 %)')
    axes[1].set_xlabel('recall: frames TRACKED on the person / frames they are visible')
    for axis in axes:
        axis.set_yticks(y, names)
        axis.invert_yaxis()
        axis.grid(axis='x', alpha=0.3)
    axes[1].set_xlim(0, 1)
    axes[1].legend(loc='lower right', fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cpu_model() -> str:
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return 'unknown CPU'


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark, print the table and write it with its plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--core', type=Path, help='checkout whose deepsort_ros to benchmark')
    parser.add_argument('--label', default='this branch', help='name of the follower measured')
    parser.add_argument('--json', type=Path, help='save the results here')
    parser.add_argument('--before', type=Path, help='results (--json) of an earlier run to show')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results',
                        help='folder for follow.md and follow.png; "-" writes nothing')
    parser.add_argument('--min-frames', type=int, default=40,
                        help='people seen in fewer gt frames are not followed')
    parser.add_argument('--sequences', nargs='*',
                        default=['PETS09-S2L1', 'PETS09-S2L1:drone', 'PETS09-S2L1:yaw',
                                 'TUD-Campus', 'TUD-Stadtmitte'],
                        help='SEQUENCE or SEQUENCE:CAMERA (drone, yaw)')
    parser.add_argument('--set', nargs='*', default=[], metavar='NAME=VALUE',
                        help='TrackerConfig settings to change (measure their effect)')
    args = parser.parse_args(argv)
    settings = {k: type(getattr(TrackerConfig(), k))(v)
                for k, _, v in (item.partition('=') for item in args.set)}
    window_s = getattr(TrackerConfig(**settings), 'target_reacquire_window', DEFAULT_WINDOW_S)
    results = []
    for spec in args.sequences:
        name, _, camera = spec.partition(':')
        seq = load(name, camera or None)
        if seq is None:
            continue
        result = bench_sequence(seq, args.min_frames, window_s, settings)
        result['label'] = args.label
        results.append(result)
        print(_row(seq.name, args.label, result['follower']))
        print(_row(seq.name, 'baseline', result['baseline']))
    if not results:
        print('no sequence found under ../shared/data', file=sys.stderr)
        return 1
    before = json.loads(args.before.read_text()) if args.before else []
    text = markdown(results, before, _cpu_model(), window_s, args.label)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    if str(args.out) != '-':
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / 'follow.md').write_text('# Follow-me benchmark (bench/bench_follow.py)\n\n'
                                            + text)
        plot(results, before, args.out / 'follow.png', args.label)
    return 0


if __name__ == '__main__':
    sys.exit(main())
