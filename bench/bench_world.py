"""
Benchmark the world estimates of published tracks against ground truth in the world.

What a navigation stack reads from ``TrackArray``: each track's ground position, velocity and
their covariances. PETS09-S2L1 and TUD-Stadtmitte carry the world position of every gt box on
the ground plane (gt columns 8-9, m). A camera is fitted to those positions
(:func:`deepsort_ros.sim.ground_camera.fit_ground_camera`, as for PETS09_CAMERA), and
each sequence is replayed as a robot would publish it (odometry, camera info, image, SORT
detections; :func:`deepsort_ros.recordings.sequence_to_bag.iter_sequence_messages`) through
the node's own :class:`~deepsort_ros.pipeline.tracking.TrackingPipeline` (appearance off, so
that a loaded 2-core machine runs it in a minute; the world estimate does not depend on it). Two
cameras per sequence: the recorded one, still, and a virtual camera of the full frame that
rotates like the multi-camera rig's left camera (``--profile rig``:
:data:`deepsort_ros.sim.camera_rig.LEFT_PROFILE`, 2-4 deg/s, 1-2 deg) or a drone (``--profile
drone``: :data:`deepsort_ros.sim.virtual_camera.DRONE_PROFILE`, 3-8 deg/s, 3-10 deg); its
odometry drives the node's ego-motion. Its boxes are the axis-aligned boxes of the warped
ones, so a rolled view moves box bottoms below the feet: a range bias that a camera at head
height (TUD-Stadtmitte, 1.7 m) turns into metres.

Every published confirmed or coasting track is paired with a gt person by image IoU >= 0.5
(Hungarian). Errors are split across / along the line of sight from the camera; coverage is
the share of errors inside 2 sigma of the published covariance on that axis (1-D: 0.954 for a
calibrated Gaussian), standardised RMS is the RMS of error / sigma (1 when calibrated). gt
velocity is the central difference of gt world positions over +-0.5 s. Three estimates of
the same tracks are scored side by side:

``published``
    the TrackArray's pose and twist (what the node sends).
``image KF``
    the image Kalman state carried to the ground through the ray Jacobian
    (:func:`deepsort_ros.geometry.ground_projection.ground_tracks`: main's published estimate
    before issue 24), recomputed from the message's image fields.
``detection``
    the matched detection's box bottom projected alone (matched tracks only; no covariance).

``limit`` (still cameras)
    what smoothing these detections could give at best: SORT's detections paired with gt
    boxes (IoU >= 0.5, Hungarian per frame; perfect identities), their box bottoms projected,
    and a straight line fitted per person over a window of 0.5-4 s, centred (offline: it sees
    the future) or ending at the frame (causal, as a live filter must). The best window of
    each is reported: a published estimate better than the offline limit would need a range
    cue other than the box bottom.

Writes bench/results/world.md and world.png. Run: ``python bench/bench_world.py``.
"""

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Tuple

from common import cpu_model, one_blas_thread, REPO, SHARED, use_checkout  # noqa: I100

one_blas_thread()
use_checkout()

from deepsort_ros.core.track_state import TrackOutput, TrackState  # noqa: E402
from deepsort_ros.geometry.ground_projection import (ground_tracks,  # noqa: E402
                                                     image_to_ground)
from deepsort_ros.recordings.mot import load_mot_rows, read_sequence_info  # noqa: E402
from deepsort_ros.recordings.sequence_to_bag import (iter_sequence_messages,  # noqa: E402
                                                     MessageOptions, SequenceSource)
from deepsort_ros.sim.camera_rig import LEFT_PROFILE, RigCamera, RigView  # noqa: E402
from deepsort_ros.sim.ground_camera import (fit_ground_camera, GroundCamera,  # noqa: E402
                                            PETS09_CAMERA)
from deepsort_ros.sim.virtual_camera import DRONE_PROFILE, RotationProfile  # noqa: E402

PROFILES = {'rig': LEFT_PROFILE, 'drone': DRONE_PROFILE}
import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

DATA = SHARED / 'data'
# Starting points of the camera fits (a rough guess suffices; the fit is robust).
INITIAL_CAMERAS = {
    'PETS09-S2L1': PETS09_CAMERA,
    'TUD-Stadtmitte': GroundCamera(focal_px=800.0, width=640, height=480,
                                   position_xy=(0.0, 0.0), height_m=1.5, heading_deg=30.0,
                                   pitch_deg=5.0, roll_deg=0.0),
}
BANDS_M = (0.0, 10.0, 20.0, 30.0, np.inf)
MIN_IOU = 0.5
VELOCITY_HALF_WINDOW_S = 0.5
YOUNG_FRAMES = 10
# Track.STATE_CONFIRMED and STATE_COASTING, the states scored.
SHOWN_STATES = {1: 'CONFIRMED', 2: 'COASTING'}
ESTIMATES = ('published', 'image KF', 'detection')
LIMIT_WINDOWS_S = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


@dataclass
class Pairs:
    """Paired rows of one run, one entry per (frame, track matched to gt)."""

    columns: Dict[str, List[Any]]

    def array(self, name: str) -> np.ndarray:
        """Return one column as an array."""
        return np.asarray(self.columns[name])


def fitted_camera(sequence: str) -> Tuple[GroundCamera, np.ndarray]:
    """Fit the sequence's camera to its gt world positions; return it and residuals (px)."""
    info = read_sequence_info(DATA / sequence)
    gt = load_mot_rows(DATA / sequence / 'gt' / 'gt.txt')
    gt = gt[gt[:, 6] > 0]
    foot = np.column_stack([gt[:, 2] + gt[:, 4] / 2.0, gt[:, 3] + gt[:, 5]])
    return fit_ground_camera(foot, gt[:, 7:9], info.width, info.height,
                             INITIAL_CAMERAS[sequence])


def gt_velocities(gt: np.ndarray, fps: float) -> np.ndarray:
    """Return gt world velocity (N, 2) by central differences over +-0.5 s (NaN at ends)."""
    half = max(1, int(round(VELOCITY_HALF_WINDOW_S * fps)))
    out = np.full((len(gt), 2), np.nan)
    for person in np.unique(gt[:, 1]):
        rows = np.flatnonzero(gt[:, 1] == person)
        by_frame = {int(gt[r, 0]): r for r in rows}
        for r in rows:
            before, after = by_frame.get(int(gt[r, 0]) - half), by_frame.get(int(gt[r, 0]) + half)
            if before is not None and after is not None:
                out[r] = (gt[after, 7:9] - gt[before, 7:9]) * fps / (2 * half)
    return out


def iou_tlwh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the IoU matrix (len(a), len(b)) of two sets of tlwh boxes."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0.0, None), axis=2)
    union = np.prod(a[:, 2:], axis=1)[:, None] + np.prod(b[:, 2:], axis=1)[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def _outputs(tracks: List[Any]) -> List[TrackOutput]:
    # The image fields of published confirmed / coasting tracks, as the core reported them.
    out = []
    for t in tracks:
        box = np.array([t.center_x, t.center_y, t.size_x, t.size_y])
        tlwh = np.array([box[0] - box[2] / 2, box[1] - box[3] / 2, box[2], box[3]])
        out.append(TrackOutput(int(t.id), TrackState[SHOWN_STATES[int(t.state)]], 0, t.score,
                               t.age, t.hits, t.time_since_update, box, tlwh,
                               np.array([t.velocity_x, t.velocity_y, t.velocity_size_x,
                                         t.velocity_size_y]),
                               np.asarray(t.image_covariance).reshape(8, 8),
                               int(t.detection_index), bool(t.is_occluded)))
    return out


def run_case(sequence: str, camera: GroundCamera, moving: bool,
             max_frames: Optional[int] = None, overrides: Optional[Dict[str, Any]] = None,
             profile_name: str = 'rig') -> Pairs:
    """Replay one sequence through the node's pipeline; pair its tracks with gt."""
    from deepsort_ros.settings.tracker import split_parameters
    from deepsort_ros.pipeline.tracking import TrackingPipeline

    info = read_sequence_info(DATA / sequence)
    profile = PROFILES[profile_name] if moving else RotationProfile()
    view = RigView(RigCamera('moving' if moving else 'still', info.width, info.width / 2.0,
                             profile), camera)
    gt = load_mot_rows(DATA / sequence / 'gt' / 'gt.txt')
    gt = gt[gt[:, 6] > 0]
    gt_velocity = gt_velocities(gt, info.frame_rate)
    gt = np.column_stack([gt, gt_velocity])
    gt = view.warp_rows(gt, info.frame_rate)
    node, tracker = split_parameters(dict(overrides or {}))
    node = replace(node, use_appearance=False, ego_motion_mode='odometry',
                   base_to_camera_xyz=[0.0, 0.0, 0.0],
                   base_to_camera_rpy=list(view.base_to_camera_rpy))
    pipeline = TrackingPipeline(node, tracker)
    source = SequenceSource.from_sequence(DATA / sequence)
    options = MessageOptions.for_view(view, max_frames=max_frames)
    columns: Dict[str, List[Any]] = {k: [] for k in (
        'frame', 'distance', 'state', 'hits', 'age', 'error', 'axes', 'position_cov',
        'velocity_error', 'velocity_cov', 'kf_error', 'kf_cov', 'kf_velocity_error',
        'kf_velocity_cov', 'detection_error')}
    detections: Dict[int, Any] = {}
    for frame, stamp_ns, messages in iter_sequence_messages(source, options):
        ready = []
        for topic, msg in messages:
            if topic == options.topics.odometry:
                pipeline.add_odometry(msg)
            elif topic == options.topics.camera_info:
                pipeline.add_camera_info(msg)
            elif topic == options.topics.detections:
                detections[stamp_ns] = msg
                ready += pipeline.add_detections(msg)
            else:
                ready += pipeline.add_image(msg)
        for result in pipeline.track(ready):
            _pair(result, detections.pop(result.stamp_ns, None), view, gt, info.frame_rate,
                  columns)
    return Pairs(columns)


def _pair(result: Any, detections: Any, view: RigView, gt: np.ndarray, fps: float,
          columns: Dict[str, List[Any]]) -> None:
    frame = int(round((result.stamp_ns - 1_700_000_000 * 1_000_000_000) * 1e-9 * fps)) + 1
    shown = [t for t in result.tracks.tracks if t.state in SHOWN_STATES and t.world_valid]
    rows = gt[gt[:, 0] == frame]
    if not shown or not len(rows):
        return
    boxes = np.array([[t.center_x - t.size_x / 2, t.center_y - t.size_y / 2, t.size_x,
                       t.size_y] for t in shown])
    iou = iou_tlwh(boxes, rows[:, 2:6])
    track_rows, gt_rows = linear_sum_assignment(-iou)
    ok = iou[track_rows, gt_rows] >= MIN_IOU
    track_rows, gt_rows = track_rows[ok], gt_rows[ok]
    if not len(track_rows):
        return
    t_s = (frame - 1) / fps
    pose = view.camera_pose_at(t_s)
    # The image Kalman state carried to the ground, as main published it.
    outputs = _outputs([shown[i] for i in track_rows])
    kf = ground_tracks(outputs, view.camera, pose)
    for k, (i, j) in enumerate(zip(track_rows, gt_rows)):
        track, truth = shown[i], rows[j]
        world = truth[7:9]
        line = world - pose.translation[:2]
        distance = float(np.linalg.norm(line))
        along = line / distance
        axes = np.array([[-along[1], along[0]], along])  # rows: across, along
        position = np.array([track.pose.pose.position.x, track.pose.pose.position.y])
        covariance = np.asarray(track.pose.covariance).reshape(6, 6)[:2, :2]
        velocity = np.array([track.twist.twist.linear.x, track.twist.twist.linear.y])
        velocity_cov = np.asarray(track.twist.covariance).reshape(6, 6)[:2, :2]
        truth_velocity = truth[10:12]
        columns['frame'].append(frame)
        columns['distance'].append(distance)
        columns['state'].append(int(track.state))
        columns['hits'].append(int(track.hits))
        columns['age'].append(int(track.age))
        columns['axes'].append(axes)
        columns['error'].append(position - world)
        columns['position_cov'].append(covariance)
        columns['velocity_error'].append(velocity - truth_velocity)
        columns['velocity_cov'].append(velocity_cov)
        columns['kf_error'].append(kf.position_xy[k] - world)
        columns['kf_cov'].append(kf.position_cov[k])
        columns['kf_velocity_error'].append(kf.velocity_xy[k] - truth_velocity)
        columns['kf_velocity_cov'].append(kf.velocity_cov[k])
        detection_error = np.full(2, np.nan)
        index = int(track.detection_index)
        if detections is not None and 0 <= index < len(detections.detections):
            box = detections.detections[index].bbox
            foot = np.array([[box.center.position.x, box.center.position.y + box.size_y / 2]])
            xy, _, valid = image_to_ground(view.intrinsics, pose, 0.0, foot)
            if valid[0]:
                detection_error = xy[0] - world
        columns['detection_error'].append(detection_error)


def axis_stats(error: np.ndarray, covariance: np.ndarray, axes: np.ndarray
               ) -> Dict[str, np.ndarray]:
    """Return per-axis (across, along) standardised errors (N, 2) and sigmas (N, 2)."""
    along_error = np.einsum('nij,nj->ni', axes, error)
    variance = np.einsum('nij,njk,nik->ni', axes, covariance, axes)
    sigma = np.sqrt(np.maximum(variance, 1e-12))
    return {'z': along_error / sigma, 'sigma': sigma}


def summarise(pairs: Pairs, prefix: str, select: np.ndarray) -> Dict[str, float]:
    """Return the medians, coverages and standardised RMS of one estimate over ``select``."""
    names = {'published': ('error', 'position_cov', 'velocity_error', 'velocity_cov'),
             'image KF': ('kf_error', 'kf_cov', 'kf_velocity_error', 'kf_velocity_cov'),
             'detection': ('detection_error', None, None, None)}[prefix]
    error = pairs.array(names[0])[select]
    ok = np.all(np.isfinite(error), axis=1)
    out: Dict[str, float] = {'n': int(ok.sum())}
    if not ok.any():
        return out
    norm = np.linalg.norm(error[ok], axis=1)
    out.update(median=float(np.median(norm)), p90=float(np.percentile(norm, 90)))
    if names[1] is None:
        return out
    axes = pairs.array('axes')[select][ok]
    position = axis_stats(error[ok], pairs.array(names[1])[select][ok], axes)
    z = position['z']
    out.update(cover_across=float(np.mean(np.abs(z[:, 0]) <= 2)),
               cover_along=float(np.mean(np.abs(z[:, 1]) <= 2)),
               srms_across=float(np.sqrt(np.mean(z[:, 0] ** 2))),
               srms_along=float(np.sqrt(np.mean(z[:, 1] ** 2))))
    velocity_error = pairs.array(names[2])[select][ok]
    vok = np.all(np.isfinite(velocity_error), axis=1)
    if vok.any():
        v = axis_stats(velocity_error[vok], pairs.array(names[3])[select][ok][vok], axes[vok])
        vz = v['z']
        out.update(v_median=float(np.median(np.linalg.norm(velocity_error[vok], axis=1))),
                   v_sigma=float(np.median(v['sigma'])),
                   v_cover=float(np.mean(np.abs(vz) <= 2)),
                   v_srms=float(np.sqrt(np.mean(vz ** 2))))
    return out


def table(name: str, pairs: Pairs) -> List[str]:
    """Return the markdown lines of one run."""
    distance, state = pairs.array('distance'), pairs.array('state')
    young = pairs.array('hits') < YOUNG_FRAMES
    lines = [f'### {name}', '',
             '| estimate | tracks | n | pos median / p90 m | 2σ across / along | '
             'sRMS across / along | vel median m/s | vel 2σ | vel sRMS | vel σ median |',
             '|---|---|---|---|---|---|---|---|---|---|']
    groups = [('matched', state == 1), ('coasting', state == 2),
              ('matched, < 10 frames', (state == 1) & young)]
    groups += [(f'matched, {lo:g}-{hi:g} m', (state == 1) & (distance >= lo) & (distance < hi))
               for lo, hi in zip(BANDS_M[:-1], BANDS_M[1:])]
    for label, select in groups:
        for estimate in ESTIMATES:
            s = summarise(pairs, estimate, select)
            if s['n'] == 0 or (estimate == 'detection' and label.startswith('coasting')):
                continue
            cells = [estimate, label, str(s['n']),
                     f"{s['median']:.2f} / {s['p90']:.2f}"]
            if 'cover_across' in s:
                cells += [f"{s['cover_across']:.2f} / {s['cover_along']:.2f}",
                          f"{s['srms_across']:.2f} / {s['srms_along']:.2f}"]
            else:
                cells += ['', '']
            if 'v_median' in s:
                cells += [f"{s['v_median']:.2f}", f"{s['v_cover']:.2f}", f"{s['v_srms']:.2f}",
                          f"{s['v_sigma']:.2f}"]
            else:
                cells += ['', '', '', '']
            lines.append('| ' + ' | '.join(cells) + ' |')
    return lines + ['']


def headline(pairs: Pairs) -> Dict[str, float]:
    """Return the issue-24 numbers of the published estimate."""
    distance, state = pairs.array('distance'), pairs.array('state')
    matched = state == 1
    band = matched & (distance >= 10.0) & (distance < 30.0)
    out = {'pos_median_10_30': summarise(pairs, 'published', band).get('median', np.nan),
           'det_median_10_30': summarise(pairs, 'detection', band).get('median', np.nan),
           'vel_median': summarise(pairs, 'published', matched).get('v_median', np.nan),
           'vel_srms': summarise(pairs, 'published', matched).get('v_srms', np.nan)}
    covers = []
    for lo, hi in zip(BANDS_M[:-1], BANDS_M[1:]):
        s = summarise(pairs, 'published', matched & (distance >= lo) & (distance < hi))
        if s['n'] >= 50:
            covers += [s['cover_across'], s['cover_along']]
    out['cover_min'] = min(covers) if covers else np.nan
    out['cover_max'] = max(covers) if covers else np.nan
    return out


def detection_limit(sequence: str, camera: GroundCamera) -> List[Dict[str, float]]:
    """
    Return what line fits to the matched detections' ground points give, per window and mode.

    Parameters
    ----------
    sequence : str
        A sequence under ``DATA`` with gt world positions and ``det/det.txt``.
    camera : GroundCamera
        Its fitted camera (still).

    Returns
    -------
    list of dict
        One per (mode, window): ``mode`` ('offline' or 'causal'), ``window_s``,
        ``pos_median_10_30`` (m, gt 10-30 m from the camera) and ``vel_median`` (m/s, every
        distance, where gt velocity exists), as the headline measures the published estimate.

    """
    info = read_sequence_info(DATA / sequence)
    gt = load_mot_rows(DATA / sequence / 'gt' / 'gt.txt')
    gt = gt[gt[:, 6] > 0]
    det = load_mot_rows(DATA / sequence / 'det' / 'det.txt')
    pairs = []
    for frame in np.unique(gt[:, 0]):
        g, d = np.flatnonzero(gt[:, 0] == frame), np.flatnonzero(det[:, 0] == frame)
        if not len(d):
            continue
        iou = iou_tlwh(gt[g, 2:6], det[d, 2:6])
        rows, cols = linear_sum_assignment(-iou)
        keep = iou[rows, cols] >= MIN_IOU
        pairs += list(zip(g[rows[keep]], d[cols[keep]]))
    gi, di = np.array(pairs).T
    foot = np.column_stack([det[di, 2] + det[di, 4] / 2.0, det[di, 3] + det[di, 5]])
    xy, _, valid = image_to_ground(camera.intrinsics, camera.pose, 0.0, foot)
    truth, person = gt[gi, 7:9], gt[gi, 1]
    t_s = (gt[gi, 0] - 1) / info.frame_rate
    truth_velocity = gt_velocities(gt, info.frame_rate)[gi]
    distance = np.linalg.norm(truth - np.asarray(camera.position_xy), axis=1)
    band = valid & (distance >= 10.0) & (distance < 30.0)
    out = []
    for mode in ('offline', 'causal'):
        for window in LIMIT_WINDOWS_S:
            position, velocity = xy.copy(), np.full_like(xy, np.nan)
            for who in np.unique(person):
                rows = np.flatnonzero((person == who) & valid)
                for r in rows:
                    lag = t_s[rows] - t_s[r]
                    near = (np.abs(lag) <= window / 2 if mode == 'offline'
                            else (lag <= 0) & (lag >= -window))
                    if near.sum() < 3:
                        continue
                    design = np.column_stack([np.ones(near.sum()), lag[near]])
                    fit = np.linalg.lstsq(design, xy[rows[near]], rcond=None)[0]
                    position[r], velocity[r] = fit[0], fit[1]
            error = np.linalg.norm(position - truth, axis=1)
            velocity_error = np.linalg.norm(velocity - truth_velocity, axis=1)
            out.append({'mode': mode, 'window_s': window,
                        'pos_median_10_30': float(np.median(error[band])),
                        'vel_median': float(np.nanmedian(velocity_error[valid]))})
    return out


def picture(runs: Dict[str, Pairs], path: Path) -> None:
    """Plot position error and 2-sigma coverage by distance, per run."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax_error, ax_cover) = plt.subplots(1, 2, figsize=(11, 4.2))
    edges = np.arange(0.0, 42.0, 4.0)
    for name, pairs in runs.items():
        distance, matched = pairs.array('distance'), pairs.array('state') == 1
        mid, medians, across, along = [], [], [], []
        for lo, hi in zip(edges[:-1], edges[1:]):
            select = matched & (distance >= lo) & (distance < hi)
            s = summarise(pairs, 'published', select)
            if s['n'] < 30:
                continue
            mid.append((lo + hi) / 2)
            medians.append(s['median'])
            across.append(s['cover_across'])
            along.append(s['cover_along'])
        line, = ax_error.plot(mid, medians, 'o-', label=name)
        ax_cover.plot(mid, across, 'o-', color=line.get_color(), label=f'{name} across')
        ax_cover.plot(mid, along, 's--', color=line.get_color(), label=f'{name} along')
    ax_error.set_xlabel('distance from camera, m')
    ax_error.set_ylabel('median position error, m (matched tracks)')
    ax_error.grid(alpha=0.3)
    ax_error.legend(fontsize=7)
    ax_cover.axhspan(0.80, 0.92, color='green', alpha=0.1)
    ax_cover.set_xlabel('distance from camera, m')
    ax_cover.set_ylabel('share inside 2 sigma (per axis)')
    ax_cover.set_ylim(0.3, 1.02)
    ax_cover.grid(alpha=0.3)
    ax_cover.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def limit_lines(sequence: str, rows: List[Dict[str, float]]) -> List[str]:
    """Return the markdown rows of one sequence's detection limit, best windows in bold."""
    lines = []
    for mode in ('offline', 'causal'):
        mine = [r for r in rows if r['mode'] == mode]
        best_pos = min(r['pos_median_10_30'] for r in mine)
        best_vel = min(r['vel_median'] for r in mine)
        cells = []
        for r in mine:
            pos, vel = f"{r['pos_median_10_30']:.2f}", f"{r['vel_median']:.2f}"
            pos = f'**{pos}**' if r['pos_median_10_30'] == best_pos else pos
            vel = f'**{vel}**' if r['vel_median'] == best_vel else vel
            cells.append(f'{pos} / {vel}')
        lines.append(f'| {sequence} | {mode} | ' + ' | '.join(cells) + ' |')
        print(lines[-1], flush=True)
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    """Run every sequence and camera; write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sequences', default='PETS09-S2L1,TUD-Stadtmitte')
    parser.add_argument('--cameras', default='still,moving')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='rig',
                        help='rotation of the moving camera')
    parser.add_argument('--max-frames', type=int, default=None)
    parser.add_argument('--set', action='append', default=[], metavar='NAME=YAML',
                        help='a node parameter (e.g. world_std_acceleration=0.5)')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results' / 'world.md')
    args = parser.parse_args(argv)
    import yaml

    overrides = {k: yaml.safe_load(v) for k, v in (s.split('=', 1) for s in args.set)}
    missing = [s for s in args.sequences.split(',') if not (DATA / s / 'gt').is_dir()]
    if missing:
        print(f'skipped: {", ".join(missing)} not under {DATA}')
        return 0
    runs: Dict[str, Pairs] = {}
    limits: List[str] = []
    lines = ['# World estimates of published tracks against gt world positions', '',
             f'`python bench/bench_world.py` on {cpu_model()} (accuracy does not depend on '
             'load). See the module docstring for the method.', '']
    summary = ['| run | pos median 10-30 m (detection alone) | vel median m/s | '
               '2σ coverage min / max per axis and band | vel sRMS |', '|---|---|---|---|---|']
    for sequence in args.sequences.split(','):
        camera, residual = fitted_camera(sequence)
        lines.append(f'- {sequence} fitted camera: focal {camera.focal_px:.1f} px, centre '
                     f'({camera.position_xy[0]:.2f}, {camera.position_xy[1]:.2f}) m, '
                     f'{camera.height_m:.2f} m up, heading {camera.heading_deg:.1f}, pitch '
                     f'{camera.pitch_deg:.1f}, roll {camera.roll_deg:.1f} deg; gt foot points '
                     f'reproject with median {np.median(residual):.2f} px')
        if (DATA / sequence / 'det' / 'det.txt').is_file():
            limits += limit_lines(sequence, detection_limit(sequence, camera))
        for moving in [c == 'moving' for c in args.cameras.split(',')]:
            name = f'{sequence} {"moving (" + args.profile + ")" if moving else "still"}'
            pairs = run_case(sequence, camera, moving, args.max_frames, overrides, args.profile)
            runs[name] = pairs
            h = headline(pairs)
            summary.append(f"| {name} | {h['pos_median_10_30']:.2f} ({h['det_median_10_30']:.2f})"
                           f" | {h['vel_median']:.2f} | {h['cover_min']:.2f} / "
                           f"{h['cover_max']:.2f} | {h['vel_srms']:.2f} |")
            print(summary[-1], flush=True)
    lines += ['', '## Published estimate, headline (matched tracks)', ''] + summary + ['']
    if limits:
        lines += ['## What these detections allow (still cameras)', '',
                  "Line fits per gt person to the matched detections' box bottoms (perfect "
                  'identities; see `limit` in the module docstring). Position median at 10-30 m '
                  '/ velocity median, m and m/s; the best window in bold.', '',
                  '| sequence | fit | ' + ' | '.join(f'{w:g} s' for w in LIMIT_WINDOWS_S) + ' |',
                  '|---|---|' + '---|' * len(LIMIT_WINDOWS_S)] + limits + ['']
    lines += ['## By group', '', 'Groups: tracks matched in the frame, coasting tracks, young '
              '(fewer than 10 hits), and matched tracks by distance from the camera.', '']
    for name, pairs in runs.items():
        lines += table(name, pairs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text('\n'.join(lines) + '\n')
    picture(runs, args.out.with_suffix('.png'))
    print('\n'.join(summary))
    print(f'wrote {args.out} and {args.out.with_suffix(".png")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
