"""
The main job of ``./dev.sh demo``: real pedestrian footage through the real ROS 2 processes.

PETS09-S2L1 (from ``../shared`` or Debian's ``opencv-doc``) becomes a bag (jpeg images and
camera info); ``deepsort-ros play`` publishes it, the stand-in ``hog_detector`` detects people
and ``tracker_node`` tracks them, each its own process on a private ROS domain on loopback.
This process records the tracks and the node's annotated images and writes, into one output
folder: an annotated MP4, a PNG contact sheet, MOTChallenge text, a bag of ``TrackArray``,
and a report with per-stage latency (p50/p99), the same pipeline timed offline for
comparison, and HOTA/IDF1/MOTA when ground truth is there. It also follows one person, as a
person-following robot would: the first confirmed track near the image centre is selected
through the tracker's ``~/select_target``, drawn unmistakably on the annotated images, and
judged against ground truth in the report when it is there. Ctrl-C stops every process and
still writes what was collected.

The player runs in lockstep with the tracker (each image waits for its tracks), so the slow
stand-in detector sees every frame; latency is measured per frame, without queueing.
"""

import argparse
from dataclasses import dataclass, field
import os
from pathlib import Path
import random
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from demo.fetch import DataFetchError, ensure_pets09_video, REPO_ROOT

SHARED = REPO_ROOT.parent / 'shared'
SHARED_SEQUENCE = SHARED / 'data' / 'PETS09-S2L1'
SHARED_WEIGHTS = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
CACHE = REPO_ROOT / '.cache'
FPS = 7.0  # PETS09-S2L1's frame rate (its seqinfo.ini; vtest.avi's header says 10)
JPEG_QUALITY = 95
IMAGE_TOPIC = '/camera/image_raw'
DETECTIONS_TOPIC = '/detections'
CAMERA_INFO_TOPIC = '/camera/camera_info'
TRACKS_TOPIC = '/deepsort_tracker/tracks'
ANNOTATED_TOPIC = '/deepsort_tracker/image_annotated'
TARGET_TOPIC = '/deepsort_tracker/target'
SELECT_SERVICE = '/deepsort_tracker/select_target'
# The followed person is picked among confirmed tracks matched in a frame whose box centre is
# within this share of the image diagonal from the image centre (else the nearest is waited
# for: a person at the border is about to leave).
SELECT_NEAR_CENTRE = 0.25
FOLLOW_IOU = 0.5  # a target frame is on a person when the boxes overlap this much
SHEET_FRAMES = 6
OFFLINE_FRAMES = 100  # frames of the in-process comparison run
HELD_OUT_FROM = 401  # hog_detector was trained on PETS09-S2L1 frames 1-400
VIDEO_FRAMES = 795
STOP_TIMEOUT_S = 15.0
START_TIMEOUT_S = 120.0
LATENCY_TARGET = 1.25  # end-to-end p99 / offline pipeline p99 (issue: the main job)
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to a parser."""
    parser.add_argument('--out', type=Path, default=REPO_ROOT / 'out' / 'demo',
                        help='output folder (default: out/demo); never silently overwritten')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the output folder when it exists')
    parser.add_argument('--first-frame', type=int, default=HELD_OUT_FROM,
                        help=f'first PETS09-S2L1 frame to run (default {HELD_OUT_FROM}: the '
                        'stand-in detector was trained on frames 1-400, so the demo tracks '
                        'frames it never saw)')
    parser.add_argument('--frames', type=int, default=300,
                        help='frames to run from there (default 300 = 43 s of video; 0 = to '
                        'the end; the stand-in detector needs ~0.6 s a frame)')
    parser.add_argument('--detector', choices=('hog', 'public'), default='hog',
                        help="hog: the stand-in detector node; public: SORT's published "
                        'detections from ../shared, put in the bag (no detector process)')
    parser.add_argument('--reid-weights', default=None,
                        help='Re-ID weights for the tracker (default: the shared OSNet when '
                        'present, else the built-in model)')
    parser.add_argument('--no-progress', action='store_true', help='hide the progress bar')


@dataclass
class Collected:
    """What the demo's own node received, with wall-clock arrival times (ns)."""

    tracks: Dict[int, Any] = field(default_factory=dict)
    tracks_at: Dict[int, int] = field(default_factory=dict)
    detections_at: Dict[int, int] = field(default_factory=dict)
    annotated: Dict[int, Any] = field(default_factory=dict)
    diagnostics: Optional[Any] = None
    target: Dict[int, Any] = field(default_factory=dict)
    selected_id: Optional[int] = None
    selected_stamp: Optional[int] = None
    selecting: Optional[Any] = None


def _stamp_ns(header: Any) -> int:
    from deepsort_ros.ros.convert.stamps import stamp_to_ns

    return stamp_to_ns(header.stamp)


def _make_bag(video: Path, first: int, frames: int, detector: str) -> Path:
    """Write (once, cached) the demo's input bag of ``frames`` from ``first`` on."""
    from deepsort_ros.recordings.bag_writer import BagWriter
    from deepsort_ros.recordings.sequence_to_bag import (iter_sequence_messages, MessageOptions,
                                                         SequenceSource)
    from tqdm import tqdm

    det = SHARED_SEQUENCE / 'det' / 'det.txt' if detector == 'public' else None
    name = f'pets09-{first}-{frames}-{detector}-q{JPEG_QUALITY}'
    bag = CACHE / 'demo' / name
    if (bag / 'metadata.yaml').is_file():
        return bag
    partial = bag.with_name(name + '.partial')
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    options = MessageOptions(compressed=True, jpeg_quality=JPEG_QUALITY,
                             max_frames=first + frames - 1)
    with BagWriter(partial) as writer, tqdm(total=frames, desc='demo: making the input bag',
                                            unit='frame') as bar:
        for frame, stamp_ns, messages in iter_sequence_messages(
                SequenceSource.from_video(video, det, FPS), options):
            if frame < first:
                continue
            for topic, msg in messages:
                writer.write(topic, msg, stamp_ns)
            bar.update(1)
    partial.rename(bag)  # a bag interrupted while written is never taken for a whole one
    return bag


def guidance_notes(weights: Optional[str], scores: Dict[str, Any]) -> List[str]:
    """
    Return what a user should know about this run's accuracy, and what to do about it.

    Parameters
    ----------
    weights : str or None
        The Re-ID weights the tracker ran with; None for the built-in model.
    scores : dict
        The accuracy scores; empty when there was no ground truth.

    """
    notes = []
    if not scores:
        notes.append('no ground truth for this video here, so accuracy is not scored: the '
                     'figures measured on sequences with ground truth are in '
                     'docs/performance.md')
    if weights is None:
        notes.append('the tracker ran with the built-in appearance model, which is weak '
                     '(identities break more often): get OSNet weights as docs/encoder.md '
                     'says and run ./dev.sh demo --reid-weights PATH')
    return notes


def _write_params(path: Path, weights: Optional[str]) -> None:
    lines = ['deepsort_tracker:', '  ros__parameters:',
             f'    image_topic: {IMAGE_TOPIC}', '    image_transport: compressed',
             '    image_qos: reliable', f'    detections_topic: {DETECTIONS_TOPIC}',
             f'    camera_info_topic: {CAMERA_INFO_TOPIC}', '    annotated_image: always',
             '    diagnostics_period: 0.5']
    if weights:
        lines += [f"    encoder_weights: '{weights}'", '    encoder_backend: onnx']
    path.write_text('\n'.join(lines) + '\n')


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM when the demo dies, even by SIGKILL, so nothing is left.
    try:
        import ctypes

        ctypes.CDLL('libc.so.6', use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _start(command: List[str], log: Path, env: Dict[str, str]) -> subprocess.Popen:
    # Own session: a Ctrl-C reaches only the demo, which then stops the others in order.
    return subprocess.Popen(command, stdout=open(log, 'w'), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, preexec_fn=_die_with_parent)


def _stop(process: Optional[subprocess.Popen]) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _near_centre_id(msg: Any, width: int, height: int) -> Optional[int]:
    """Return the confirmed, matched track nearest the image centre, if near enough."""
    from deepsort_ros_msgs.msg import Track

    shown = [t for t in msg.tracks if t.state == Track.STATE_CONFIRMED and t.detection_index >= 0]
    if not shown or width <= 0 or height <= 0:
        return None
    distance = [((t.center_x - width / 2) ** 2 + (t.center_y - height / 2) ** 2) ** 0.5
                for t in shown]
    best = min(range(len(shown)), key=distance.__getitem__)
    limit = SELECT_NEAR_CENTRE * (width ** 2 + height ** 2) ** 0.5
    return int(shown[best].id) if distance[best] <= limit else None


def _collector(collected: Collected, context: Any, image_size: Tuple[int, int]) -> Any:
    import rclpy
    from deepsort_ros_msgs.msg import TargetStatus, TrackArray
    from deepsort_ros_msgs.srv import SelectTarget
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    node = rclpy.create_node('deepsort_demo_recorder', context=context)
    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)

    select = node.create_client(SelectTarget, SELECT_SERVICE)

    def on_selected(future: Any) -> None:
        response = future.result()
        if response is not None and response.success:
            collected.selected_id = int(response.target_id)
        else:
            collected.selecting = None  # refused (the track just ended): pick again

    def on_tracks(msg: Any) -> None:
        stamp = _stamp_ns(msg.header)
        collected.tracks_at.setdefault(stamp, time.time_ns())
        collected.tracks[stamp] = msg
        # Like an app: once, the first confirmed person near the centre of the image.
        if collected.selecting is None and select.service_is_ready():
            chosen = _near_centre_id(msg, *image_size)
            if chosen is not None:
                request = SelectTarget.Request(mode=SelectTarget.Request.BY_TRACK_ID,
                                               track_id=chosen)
                collected.selected_stamp = stamp
                collected.selecting = select.call_async(request)
                collected.selecting.add_done_callback(on_selected)

    def on_target(msg: Any) -> None:
        collected.target[_stamp_ns(msg.header)] = msg

    def on_detections(msg: Any) -> None:
        collected.detections_at.setdefault(_stamp_ns(msg.header), time.time_ns())

    def on_annotated(msg: Any) -> None:
        collected.annotated[_stamp_ns(msg.header)] = msg

    def on_diagnostics(msg: Any) -> None:
        if any('deepsort_tracker' in s.name for s in msg.status):
            collected.diagnostics = msg

    node.create_subscription(TrackArray, TRACKS_TOPIC, on_tracks, reliable)
    node.create_subscription(Detection2DArray, DETECTIONS_TOPIC, on_detections, reliable)
    node.create_subscription(Image, ANNOTATED_TOPIC, on_annotated, qos_profile_sensor_data)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    node.create_subscription(TargetStatus, TARGET_TOPIC, on_target, reliable)
    return node


def _offline_ms(bag: Path, params: Path, detector: str, frames: int,
                progress: bool) -> Dict[int, float]:
    """Time the same work in one process (detector + pipeline, no DDS): stamp -> ms."""
    from deepsort_ros.settings import tracker as nc
    from deepsort_ros.recordings.bag_reader import read_messages
    from hog_detector.detector import HogPeopleDetector
    from deepsort_ros.ros.convert.images import compressed_msg_to_bgr
    from deepsort_ros.ros.convert.detections import detections_to_msg
    from deepsort_ros.pipeline.encoder import load_encoder
    from deepsort_ros.pipeline.tracking import TrackingPipeline
    from tqdm import tqdm

    node_config, tracker_config = nc.split_parameters(nc.load_params_file(params))
    encoder, _, _ = load_encoder(node_config, live=False)
    pipeline = TrackingPipeline(node_config, tracker_config, encoder)
    hog = HogPeopleDetector() if detector == 'hog' else None
    per_frame: Dict[int, float] = {}
    bar = tqdm(total=frames, desc='demo: the same frames in one process, for comparison',
               unit='frame', disable=not progress)
    for topic, _, _, msg in read_messages(bag):
        stamp = _stamp_ns(msg.header)
        if stamp not in per_frame:
            if len(per_frame) >= frames:
                break
            bar.update(1)
        start = time.perf_counter()
        if topic == CAMERA_INFO_TOPIC:
            pipeline.add_camera_info(msg)
        elif topic == DETECTIONS_TOPIC:
            pipeline.track(pipeline.add_detections(msg))
        elif topic.startswith(IMAGE_TOPIC):
            pipeline.track(pipeline.add_image(msg))
            if hog is not None:
                boxes, scores = hog.detect(compressed_msg_to_bgr(msg))
                pipeline.track(pipeline.add_detections(
                    detections_to_msg(msg.header, boxes, scores, 'person')))
        else:
            continue
        per_frame[stamp] = per_frame.get(stamp, 0.0) + (time.perf_counter() - start) * 1e3
    bar.close()
    return per_frame


def _scores(mot_path: Path, first: int, frames: int) -> Dict[str, float]:
    gt_path = SHARED_SEQUENCE / 'gt' / 'gt.txt'
    if not gt_path.is_file() or not mot_path.is_file() or mot_path.stat().st_size == 0:
        return {}
    from deepsort_ros.evaluation.mot_metrics import evaluate_mot
    from deepsort_ros.recordings.mot import load_mot_rows
    import numpy as np

    gt = load_mot_rows(gt_path)
    gt = gt[(gt[:, 0] >= first) & (gt[:, 0] < first + frames)]  # same numbers as tracks.txt
    results = load_mot_rows(mot_path)
    scores = evaluate_mot(gt, results)
    return {'HOTA': scores.hota, 'IDF1': scores.idf1, 'MOTA': scores.mota,
            'ID switches': int(scores.id_switches),
            'people in ground truth': int(len(np.unique(gt[:, 1])))}


def _iou_tlwh(box: Any, boxes: Any) -> Any:
    import numpy as np

    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[:2] + box[2:], boxes[:, :2] + boxes[:, 2:])
    inter = np.prod(np.maximum(bottom_right - top_left, 0.0), axis=1)
    return inter / (box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter)


def _follow_figures(collected: Collected, first: int, frames: int) -> Dict[str, Any]:
    """
    Judge the followed target frame by frame (bench/bench_follow.py's protocol).

    The selected person is the one whose gt box the selected track's box overlaps most at the
    selection frame; a later frame's TRACKED target is on them (IoU >= 0.5), on someone else,
    or on nobody. Without ground truth only the states are counted.
    """
    import numpy as np
    from deepsort_ros.recordings.mot import load_mot_rows
    from deepsort_ros.recordings.sequence_to_bag import frame_of_stamp
    from deepsort_ros_msgs.msg import TargetStatus

    if collected.selected_id is None or collected.selected_stamp is None:
        return {'selected': 'nobody (no confirmed track came near the image centre)'}
    start = collected.selected_stamp
    states = [collected.target[s] for s in sorted(collected.target) if s > start]
    tracked = [m for m in states if m.status == TargetStatus.STATUS_TRACKED and m.has_track]
    # A re-acquisition: TRACKED again after frames it was not.
    reacquired = sum(1 for before, now in zip(states, states[1:])
                     if now.status == TargetStatus.STATUS_TRACKED
                     and before.status != TargetStatus.STATUS_TRACKED)
    out: Dict[str, Any] = {
        'selected': f'track {collected.selected_id} at frame {frame_of_stamp(start, FPS)}',
        'frames after the selection': len(states),
        'frames TRACKED': len(tracked),
        'frames CANDIDATE': sum(m.status == TargetStatus.STATUS_CANDIDATE for m in states),
        're-acquisitions': reacquired}
    gt_path = SHARED_SEQUENCE / 'gt' / 'gt.txt'
    selected = [t for t in collected.tracks[start].tracks if t.id == collected.selected_id]
    if not gt_path.is_file() or not selected:
        return out
    gt = load_mot_rows(gt_path)
    gt = gt[(gt[:, 0] >= first) & (gt[:, 0] < first + frames)]

    def tlwh(track: Any) -> Any:
        return np.array([track.center_x - track.size_x / 2, track.center_y - track.size_y / 2,
                         track.size_x, track.size_y])

    at = gt[gt[:, 0] == frame_of_stamp(start, FPS)]
    overlap = _iou_tlwh(tlwh(selected[0]), at[:, 2:6]) if len(at) else np.zeros(0)
    if not len(overlap) or overlap.max() < FOLLOW_IOU:
        out['person'] = 'the selected track covers no gt person'
        return out
    person = int(at[np.argmax(overlap), 1])
    visible = on_person = on_other = 0
    for message in states:
        rows = gt[gt[:, 0] == frame_of_stamp(_stamp_ns(message.header), FPS)]
        visible += bool((rows[:, 1] == person).any())
        if message.status != TargetStatus.STATUS_TRACKED or not message.has_track:
            continue
        iou = _iou_tlwh(tlwh(message.track), rows[:, 2:6]) if len(rows) else np.zeros(0)
        mine = rows[:, 1] == person
        on_person += bool((iou[mine] >= FOLLOW_IOU).any())
        on_other += bool((iou[~mine] >= FOLLOW_IOU).any() and not (iou[mine] >= FOLLOW_IOU).any())
    out.update({
        'person': f'gt {person}',
        'share of TRACKED frames on the selected person':
            round(on_person / len(tracked), 3) if tracked else None,
        'frames TRACKED on someone else': on_other,
        'recall (TRACKED on the person / frames they are visible)':
            round(on_person / visible, 3) if visible else None})
    return out


def _diagnostic_latency(diagnostics: Any) -> Dict[str, Any]:
    from demo.report import LatencyStats

    out: Dict[str, Any] = {}
    if diagnostics is None:
        return out
    for status in diagnostics.status:
        for kv in status.values:
            if kv.key.startswith('latency ') and ' p50/p99' in kv.key:
                stage = kv.key[len('latency '):kv.key.index(' p50/p99')]
                p50, p99 = (float(v) for v in kv.value.split('/'))
                out[f'tracker: {stage} (node, last 500)'] = LatencyStats(
                    0, p50, float('nan'), p99, float('nan'))
    return out


def _write_outputs(out: Path, collected: Collected, frame_times: List[Tuple[int, int]],
                   report: Any) -> None:
    """MOT text, tracks bag, annotated MP4 and contact sheet from what was collected."""
    import cv2
    from deepsort_ros.recordings.bag_writer import TrackBagWriter
    import numpy as np
    from deepsort_ros.ros.convert.images import image_msg_to_bgr
    from deepsort_ros.recordings.mot import write_mot_rows
    from deepsort_ros.ros.convert.tracks import track_array_to_mot
    from demo.report import contact_sheet

    from deepsort_ros.recordings.sequence_to_bag import frame_of_stamp

    # The sequence's own frame numbers (401-700 by default), as the report and the ground
    # truth name them, in tracks.txt and on the contact sheet alike.
    frame_of = {stamp: frame_of_stamp(stamp, FPS) for stamp, _ in frame_times}
    stamps = [s for s in sorted(collected.tracks) if s in frame_of]
    identities = set()
    with open(out / 'tracks.txt', 'w') as stream, TrackBagWriter(out / 'tracks_bag') as bag:
        for stamp in stamps:
            msg = collected.tracks[stamp]
            bag.write_tracks(msg)
            rows = track_array_to_mot(msg)
            identities.update(rows.track_ids.tolist())
            write_mot_rows(stream, frame_of[stamp], *rows)
    # Identities are handed out on confirmation: this counts objects, not false alarms.
    report.facts['identities'] = (f'{len(identities)} confirmed (ids 1..'
                                  f'{max(identities, default=0)})')
    report.files['tracks.txt'] = 'MOTChallenge results (confirmed tracks matched in a frame)'
    report.files['tracks_bag/'] = 'rosbag2 (mcap) of every deepsort_ros_msgs/TrackArray'
    annotated = [s for s in sorted(collected.annotated) if s in frame_of]
    if not annotated:
        report.notes.append('no annotated image arrived: no video or contact sheet')
        return
    first = image_msg_to_bgr(collected.annotated[annotated[0]])
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(out / 'annotated.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), FPS,
                             (width, height))
    picks = {annotated[int(i)] for i in
             np.linspace(0, len(annotated) - 1, min(SHEET_FRAMES, len(annotated)))}
    tiles, labels = [], []
    for stamp in annotated:
        image = image_msg_to_bgr(collected.annotated[stamp])
        writer.write(image)
        if stamp in picks:
            tiles.append(image)
            labels.append(f'frame {frame_of[stamp]}  t = {(frame_of[stamp] - 1) / FPS:.1f} s')
    writer.release()
    cv2.imwrite(str(out / 'contact_sheet.png'), contact_sheet(tiles, labels))
    report.files['annotated.mp4'] = (f'{len(annotated)} frames with boxes, ids and trails '
                                     '(the followed target in thick red on a white halo, its '
                                     'state on its tag)')
    report.files['contact_sheet.png'] = f'{len(tiles)} frames across the run'
    missing = len(stamps) - len(annotated)
    if missing > 0:
        report.notes.append(f'{missing} annotated images were lost on the way (best effort)')


def run(args: argparse.Namespace) -> int:
    """Run the demo; return the exit status."""
    from demo.report import LatencyStats, latencies_ms, RunReport
    from tqdm import tqdm

    out = args.out
    if out.exists() and any(out.iterdir()):
        if not args.overwrite:
            print(f'demo: {out} exists and is not empty; pass --overwrite or --out DIR',
                  file=sys.stderr)
            return 2
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'logs').mkdir()
    if args.frames < 0 or not 1 <= args.first_frame <= VIDEO_FRAMES:
        print(f'demo: --frames must be >= 0 and --first-frame in 1..{VIDEO_FRAMES}',
              file=sys.stderr)
        return 2
    if args.detector == 'public' and not (SHARED_SEQUENCE / 'det' / 'det.txt').is_file():
        print(f'demo: --detector public needs {SHARED_SEQUENCE}/det/det.txt', file=sys.stderr)
        return 2
    try:
        video = ensure_pets09_video(CACHE / 'data')
    except DataFetchError as error:
        print(f'demo: {error}', file=sys.stderr)
        return 1
    first = args.first_frame
    frames = min(args.frames or VIDEO_FRAMES, VIDEO_FRAMES - first + 1)
    bag = _make_bag(video, first, frames, args.detector)
    weights = args.reid_weights or (str(SHARED_WEIGHTS) if SHARED_WEIGHTS.is_file() else None)
    params = out / 'params.yaml'
    _write_params(params, weights)
    report = RunReport('deepsort_ros demo: PETS09-S2L1 through player, detector and tracker')
    report.facts.update({
        'input': f'{video}: frames {first}-{first + frames - 1} ({frames} frames, {FPS:g} '
                 f'fps, jpeg q{JPEG_QUALITY} in {bag.name})',
        'detector': 'hog_detector (the stand-in HOG people detector node)'
        if args.detector == 'hog' else "SORT's public detections, from the bag",
        'Re-ID encoder': weights or 'the built-in default model',
        'processes': 'deepsort-ros play --lockstep, ' + (
            'hog_detector, ' if args.detector == 'hog' else '') + 'tracker_node, this recorder',
        'machine': f'{os.cpu_count()} CPUs, {sys.platform}',
    })
    if args.detector == 'hog' and first < HELD_OUT_FROM:
        report.notes.append('the stand-in detector was trained on PETS09-S2L1 frames 1-400 (and '
                            'MOT17-mini): scores on those frames are in-sample for it')
    elif args.detector == 'hog':
        report.facts['held out'] = ('the stand-in detector never saw these frames (it was '
                                    'trained on PETS09-S2L1 frames 1-400 and MOT17-mini)')
    domain = random.Random(os.getpid() ^ time.time_ns()).randint(10, 100)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1')
    os.environ.update(ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    from ament_index_python.packages import get_package_prefix
    import cv2
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from rclpy.signals import SignalHandlerOptions

    lib = Path(get_package_prefix('deepsort_ros')) / 'lib' / 'deepsort_ros'
    detector_lib = Path(get_package_prefix('hog_detector')) / 'lib' / 'hog_detector'
    context = rclpy.Context()
    # Our own handlers: rclpy's would shut the context down quietly instead of stopping us.
    rclpy.init(context=context, domain_id=domain,
               signal_handler_options=SignalHandlerOptions.NO)
    stop_requested: List[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        stop_requested.append(signum)

    previous_handlers = {sig: signal.signal(sig, request_stop)
                         for sig in (signal.SIGINT, signal.SIGTERM)}
    collected = Collected()
    capture = cv2.VideoCapture(str(video))
    image_size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                  int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    node = _collector(collected, context, image_size)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    processes: Dict[str, Optional[subprocess.Popen]] = dict.fromkeys(
        ('player', 'detector', 'tracker'))
    interrupted = False
    timing = out / 'logs' / 'frame_times.csv'
    print(f'demo: ROS domain {domain}; logs in {out / "logs"}', flush=True)
    try:
        processes['tracker'] = _start([str(lib / 'tracker_node'), '--ros-args',
                                       '--params-file', str(params)],
                                      out / 'logs' / 'tracker_node.log', env)
        if args.detector == 'hog':
            processes['detector'] = _start(
                [str(detector_lib / 'hog_detector'), '--ros-args', '-p',
                 f'image_topic:={IMAGE_TOPIC}', '-p', 'image_transport:=compressed', '-p',
                 f'detections_topic:={DETECTIONS_TOPIC}'], out / 'logs' / 'hog_detector.log',
                env)
        # Start playing only once every process listens: the player's own wait is satisfied
        # by the first subscriber, and a frame the tracker misses would never be answered.
        listeners = 2 if args.detector == 'hog' else 1
        deadline = time.monotonic() + START_TIMEOUT_S
        while node.count_subscribers(IMAGE_TOPIC + '/compressed') < listeners or \
                node.count_publishers(TRACKS_TOPIC) < 1:
            if time.monotonic() > deadline or stop_requested:
                raise RuntimeError(f'the detector and tracker did not come up within '
                                   f'{START_TIMEOUT_S:.0f} s; see {out / "logs"}')
            executor.spin_once(timeout_sec=0.1)
        processes['player'] = _start(
            [str(lib / 'deepsort-ros'), 'play', str(bag), '--lockstep', TRACKS_TOPIC,
             '--lockstep-timeout', '10', '--wait-for-subscribers', str(START_TIMEOUT_S),
             '--frame-subscribers', str(listeners),
             '--timing-log', str(timing)], out / 'logs' / 'player.log', env)
        with tqdm(total=frames, desc='demo: tracking', unit='frame',
                  disable=args.no_progress) as bar:
            while processes['player'].poll() is None:
                if stop_requested:
                    raise KeyboardInterrupt
                executor.spin_once(timeout_sec=0.05)
                bar.update(len(collected.tracks) - bar.n)
                for name in ('tracker', 'detector'):
                    process = processes[name]
                    if process is not None and process.poll() is not None:
                        raise RuntimeError(f'{name} exited with {process.returncode}; see '
                                           f'{out / "logs"}')
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and len(collected.tracks) < frames \
                    and not stop_requested:
                executor.spin_once(timeout_sec=0.05)
            bar.update(len(collected.tracks) - bar.n)
    except KeyboardInterrupt:
        interrupted = True
    except RuntimeError as error:
        report.notes.append(str(error))
        print(f'demo: {error}', file=sys.stderr)
    finally:
        for name in ('player', 'detector', 'tracker'):
            _stop(processes[name])
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    interrupted = interrupted or bool(stop_requested)
    if interrupted:
        report.notes.append('interrupted by Ctrl-C: the outputs hold what was tracked so far')

    frame_times = [tuple(int(v) for v in line.split(','))
                   for line in timing.read_text().split()] if timing.is_file() else []
    published = dict(frame_times)
    report.frames_published = len(frame_times)
    report.frames_tracked = len(collected.tracks)
    _write_outputs(out, collected, frame_times, report)
    report.latency['detector: image published -> detections received'] = LatencyStats.of(
        latencies_ms(published, collected.detections_at))
    report.latency['tracker: detections received -> tracks received'] = LatencyStats.of(
        latencies_ms(collected.detections_at, collected.tracks_at))
    report.latency.update(_diagnostic_latency(collected.diagnostics))
    end_to_end = LatencyStats.of(latencies_ms(published, collected.tracks_at))
    report.latency['end to end: image published -> tracks received'] = end_to_end
    if not interrupted and report.frames_tracked:
        offline_ms = _offline_ms(bag, params, args.detector, min(OFFLINE_FRAMES, frames),
                                 not args.no_progress)
        offline = LatencyStats.of(list(offline_ms.values()))
        # Like for like: the live frames that were also timed offline.
        same = LatencyStats.of(latencies_ms({k: v for k, v in published.items()
                                             if k in offline_ms}, collected.tracks_at))
        report.latency[f'end to end, first {same.count} frames'] = same
        report.latency[f'offline: same detector + pipeline in one process, first '
                       f'{offline.count} frames'] = offline
        ratio = same.p99 / offline.p99
        verdict = 'met' if ratio <= LATENCY_TARGET else 'missed'
        report.checks.append(
            f'end-to-end p99 through DDS {same.p99:.1f} ms = {ratio:.2f}x the offline '
            f'pipeline p99 {offline.p99:.1f} ms on the same {same.count} frames (target <= '
            f'{LATENCY_TARGET}x: {verdict}); p50 {same.p50 / offline.p50:.2f}x')
    report.scores = _scores(out / 'tracks.txt', first, frames)
    report.follow = _follow_figures(collected, first, frames)
    report.notes.extend(guidance_notes(weights, report.scores))
    report.files['report.md'] = 'this report (report.json: the same as data)'
    report.files['params.yaml'] = "the tracker node's parameters"
    report.files['logs/'] = 'what each process printed'
    path = report.write(out)
    print(report.markdown())
    print(f'demo: wrote {path.parent}')
    return 130 if interrupted else 0


def main(argv: Optional[List[str]] = None) -> int:
    """Parse the options and run the demo."""
    parser = argparse.ArgumentParser(prog='./dev.sh demo', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
