"""
Several cameras, one identity each person: trackers and the fusion node as separate processes.

- ``ros2 launch deepsort_ros multi_camera.launch.py`` with a rig YAML of two cameras: both
  trackers and the fusion node start, two cameras seeing one person give one global identity
  made of both cameras' tracks, and Ctrl-C stops every process cleanly.
- PETS09-S2L1 seen through the two-camera rig (``overlap``: views sharing the middle of the
  scene), its first frames played into two tracker nodes (OSNet weights) and the fusion node
  over real DDS on loopback, each camera at its own rate and latency (the right camera drops
  every third frame and arrives 0.2 s late, on a /clock the test publishes). The global ids
  are scored as the benchmark scores them (``bench/bench_fusion.py``), with targets a little
  below its numbers: multi-camera IDF1 within 7 points of the per-camera mean, at least 70% of
  camera-to-camera transitions keeping their global id. Never timing.
- ``deepsort-ros rig`` and ``deepsort-ros fuse`` on the whole sequence, offline, to the same
  targets.

The PETS09 tests need ``../shared``; they skip without it.
"""

import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List
import uuid

from deepsort_ros.geometry import PinholeCamera
from deepsort_ros.ros.convert.camera import camera_to_camera_info
from deepsort_ros.ros.convert.global_tracks import global_track_members
from deepsort_ros.ros.convert.odometry import pose_to_odometry
from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros.ros.convert.tracks import track_array_to_mot
from deepsort_ros_msgs.msg import GlobalTrackArray, TrackArray
from helpers.node_harness import (Harness, scene_frame, source_tree_env, stop_node)
from helpers.paths import SHARED
from helpers.processes import alive, descendants
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
import yaml

pytestmark = pytest.mark.dds

ROS2 = shutil.which('ros2')
SEQUENCE = SHARED / 'data' / 'PETS09-S2L1'
WEIGHTS = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
FRAMES = 300              # of 795: 43 s of the scene, 300 + 200 camera frames
WAIT_S = 60.0
FRAME_WAIT_S = 30.0
# The benchmark (bench/results/fusion.md, overlap): multi-camera IDF1 0.9 points below the
# per-camera mean, 84% of transitions kept. Targets a little below it.
MAX_IDF1_DROP = 0.07
MIN_KEPT = 0.70


def _require_shared() -> None:
    for path in (SEQUENCE, WEIGHTS):
        if not path.exists():
            pytest.skip(f"{path} is absent (../shared is on the developers' machines only)")


# ---- ros2 launch ---------------------------------------------------------------------------


def test_multi_camera_launch_fuses_two_trackers_and_stops_cleanly_on_ctrl_c(
        ros_domain_id, tmp_path):
    if ROS2 is None:
        pytest.skip('ros2cli is not installed here (a ROS install has it)')
    tag = uuid.uuid4().hex[:6]
    cameras = [f'l{tag}', f'r{tag}']
    camera = PinholeCamera.from_intrinsics(300.0, 300.0, 160.0, 120.0, 320, 240)
    rig: Dict[str, Any] = {'/**/track_fusion': {'ros__parameters': {
        'cameras': cameras, 'world_frame_id': 'odom', 'diagnostics_period': 0.5}}}
    for name in cameras:
        # Remapped inputs (no default names), motion only: a quick start.
        rig[f'/{name}/deepsort_tracker'] = {'ros__parameters': {
            'image_topic': f'/{name}/cam/image', 'detections_topic': f'/{name}/people',
            'camera_info_topic': f'/{name}/cam/info', 'odom_topic': f'/{name}/pose',
            'use_appearance': False, 'image_qos': 'reliable'}}
    rig_file = tmp_path / 'rig.yaml'
    rig_file.write_text(yaml.safe_dump(rig))
    launch = subprocess.Popen(
        [ROS2, 'launch', 'deepsort_ros', 'multi_camera.launch.py', f'rig_config:={rig_file}',
         f'fusion_namespace:=/f{tag}'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    harnesses = [Harness(ros_domain_id, f'/{name}', topics={
        'image': f'/{name}/cam/image', 'detections': f'/{name}/people',
        'camera_info': f'/{name}/cam/info', 'odom': f'/{name}/pose'}) for name in cameras]
    received: List[GlobalTrackArray] = []
    fused = harnesses[0].node.create_subscription(
        GlobalTrackArray, f'/f{tag}/track_fusion/global_tracks', received.append, 50)
    try:
        for harness in harnesses:
            assert harness.wait_for_tracker(WAIT_S), 'a launched tracker never subscribed'
        # The fusion publishes on each camera update only: be matched before the first.
        assert harnesses[0].spin_until(lambda: fused.get_publisher_count() > 0, WAIT_S), \
            'the launched fusion node never published ~/global_tracks'

        def pose(stamp: int) -> Any:
            return pose_to_odometry(make_header(stamp, 'odom'), 'base', [0.0, 0.0, 0.0],
                                    [0.0, 0.0, 0.0, 1.0])

        for harness in harnesses:  # odometry and calibration before the first frame
            harness.odom_pub.publish(pose(time.time_ns()))
            harness.camera_info_pub.publish(camera_to_camera_info(
                camera, make_header(time.time_ns(), 'camera_optical_frame')))
            harness.spin_until(lambda: False, 0.3)
        for frame in range(15):
            # Both cameras on one base: the same person at the same ground point.
            stamp = time.time_ns()
            boxes = np.array([[140.0 + 3 * frame, 100.0, 30.0, 70.0]])
            for harness in harnesses:
                count = len(harness.received['tracks'])
                header = make_header(stamp, 'camera_optical_frame')
                harness.odom_pub.publish(pose(stamp))
                harness.camera_info_pub.publish(camera_to_camera_info(camera, header))
                harness.publish_frame(stamp, scene_frame(320, 240, boxes, frame), boxes)
                harness.spin_until(lambda: len(harness.received['tracks']) > count, 10.0)
            harnesses[0].spin_until(lambda: False, 0.1)
        harnesses[0].spin_until(lambda: received and len(global_track_members(received[-1]))
                                == 2, 10.0)
        node_pids = descendants(launch.pid)
    finally:
        for harness in harnesses:
            harness.close()
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGINT)
        try:
            output = launch.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(launch.pid, signal.SIGKILL)
            output = launch.communicate()[0]
    assert received, f'no GlobalTrackArray arrived:\n{output[-4000:]}'
    members = global_track_members(received[-1])
    assert {camera for camera, _ in members} == set(cameras), (members, output[-4000:])
    assert len(set(members.values())) == 1, ('one person, one global identity',
                                             received[-1], output[-4000:])
    assert received[-1].header.frame_id == 'odom'
    assert launch.returncode == 0, f'ros2 launch exited {launch.returncode}:\n{output}'
    assert 'Traceback' not in output, output
    assert len(node_pids) >= 3 and not [pid for pid in node_pids if alive(pid)], 'orphans'


# ---- PETS09 through the rig, over DDS --------------------------------------------------------


def _start(module: str, namespace: str, params: Dict[str, Any], node: str,
           tmp_path: Path) -> subprocess.Popen:
    path = tmp_path / f'{node}_{namespace.strip("/") or "root"}.yaml'
    path.write_text(yaml.safe_dump({f'/**/{node}': {'ros__parameters': params}}))
    return subprocess.Popen([sys.executable, '-m', module, '--ros-args', '--params-file',
                             str(path), '-r', f'__ns:={namespace}'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=source_tree_env())


def _events(rig: Any, frames: int) -> List[Any]:
    """Every camera frame's messages, in the order they reach the fusion (stamp + latency)."""
    from deepsort_ros.recordings.sequence_to_bag import (iter_sequence_messages, MessageOptions,
                                                         SequenceSource)

    source = SequenceSource.from_sequence(SEQUENCE)
    events = []
    for index, (name, view) in enumerate(rig.views.items()):
        stream = iter_sequence_messages(source, MessageOptions.for_view(view, max_frames=frames))
        for frame, stamp_ns, messages in stream:
            events.append((stamp_ns + int(view.latency_s * 1e9), index, name, frame, stamp_ns,
                           messages))
    return sorted(events, key=lambda e: e[:2])


def test_pets09_rig_over_dds_keeps_one_identity_across_cameras(ros_domain_id, tmp_path):
    _require_shared()
    from builtin_interfaces.msg import Time
    from deepsort_ros.evaluation.mot_metrics import evaluate_mot
    from deepsort_ros.evaluation.multicamera import (camera_transitions, evaluate_multicamera,
                                                     keep_rate)
    from deepsort_ros.recordings.mot import load_mot_rows, read_sequence_info
    from deepsort_ros.sim.camera_rig import overlap_rig
    from nav_msgs.msg import Odometry
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray

    rig = overlap_rig()
    info = read_sequence_info(SEQUENCE)
    tag = uuid.uuid4().hex[:6]
    names = {name: f'{name}{tag}' for name in rig.names}  # camera -> its namespace
    trackers = {}
    for name, view in rig.views.items():
        ns = names[name]
        trackers[name] = _start('deepsort_ros.ros.tracker.node', f'/{ns}', {
            'image_topic': f'/{ns}/camera/image_raw', 'camera_info_topic': f'/{ns}/camera/info',
            'detections_topic': f'/{ns}/detections', 'odom_topic': f'/{ns}/odom',
            'image_qos': 'reliable', 'ego_motion_mode': 'odometry',
            'encoder_weights': str(WEIGHTS), 'encoder_backend': 'onnx',
            'base_to_camera_xyz': [0.0, 0.0, 0.0],
            'base_to_camera_rpy': list(view.base_to_camera_rpy)}, 'deepsort_tracker', tmp_path)
    fusion = _start('deepsort_ros.ros.track_fusion.node', f'/f{tag}', {
        'cameras': list(rig.names), 'world_frame_id': 'map', 'use_sim_time': True,
        'camera': {name: {'tracks_topic': f'/{ns}/deepsort_tracker/tracks'}
                   for name, ns in names.items()}}, 'track_fusion', tmp_path)
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('rig_player', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    reliable = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    publishers = {name: {Image: node.create_publisher(Image, f'/{ns}/camera/image_raw',
                                                      reliable),
                         CameraInfo: node.create_publisher(CameraInfo, f'/{ns}/camera/info', 10),
                         Detection2DArray: node.create_publisher(Detection2DArray,
                                                                 f'/{ns}/detections', 10),
                         Odometry: node.create_publisher(Odometry, f'/{ns}/odom', 50)}
                  for name, ns in names.items()}
    clock = node.create_publisher(Clock, '/clock', 10)
    tracks: Dict[str, List[TrackArray]] = {name: [] for name in names}
    for name, ns in names.items():
        node.create_subscription(TrackArray, f'/{ns}/deepsort_tracker/tracks',
                                 tracks[name].append, 50)
    global_arrays: List[GlobalTrackArray] = []
    global_sub = node.create_subscription(GlobalTrackArray, f'/f{tag}/track_fusion/global_tracks',
                                          global_arrays.append, 50)

    def spin(until, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until():
            executor.spin_once(timeout_sec=0.01)
        return until()

    rows: Dict[str, List[List[float]]] = {name: [] for name in names}
    local: Dict[str, List[List[float]]] = {name: [] for name in names}
    mapping: Dict[Any, int] = {}
    try:
        ready = spin(lambda: all(p[Image].get_subscription_count() and
                                 p[Detection2DArray].get_subscription_count()
                                 for p in publishers.values())
                     and global_sub.get_publisher_count() > 0, WAIT_S)
        assert ready, 'a node never subscribed'
        spin(lambda: False, 2.0)  # the fusion's own subscriptions match the trackers' too
        events = _events(rig, FRAMES)
        # Odometry one frame ahead of the images, as a robot's is; calibration before them.
        odometry = {name: [m for e in events if e[2] == name for _, m in e[5]
                           if isinstance(m, Odometry)] for name in names}
        sent = dict.fromkeys(names, 0)
        for name in names:
            first = next(e for e in events if e[2] == name)
            publishers[name][CameraInfo].publish(next(m for _, m in first[5]
                                                      if isinstance(m, CameraInfo)))
        spin(lambda: False, 0.5)
        for arrival_ns, _, name, frame, stamp_ns, messages in events:
            sec, nanosec = divmod(arrival_ns, 1_000_000_000)
            clock.publish(Clock(clock=Time(sec=sec, nanosec=nanosec)))
            ahead = min(len(tracks[name]) + 2, len(odometry[name]))  # this frame's and next
            for msg in odometry[name][sent[name]:ahead]:
                publishers[name][Odometry].publish(msg)
            sent[name] = max(sent[name], ahead)
            count, fused = len(tracks[name]), len(global_arrays)
            for _, msg in messages:
                if not isinstance(msg, Odometry):
                    publishers[name][type(msg)].publish(msg)
            assert spin(lambda: len(tracks[name]) > count, FRAME_WAIT_S), \
                f'{name} frame {frame}: no TrackArray'
            spin(lambda: len(global_arrays) > fused, 5.0)
            if len(global_arrays) > fused:
                mapping = global_track_members(global_arrays[-1])
            array = next(a for a in reversed(tracks[name])
                         if stamp_to_ns(a.header.stamp) == stamp_ns)
            shown = track_array_to_mot(array)
            for local_id, box in zip(shown.track_ids.tolist(), shown.boxes_tlwh.tolist()):
                local[name].append([frame, local_id, *box, 1.0, -1, -1, -1])
                if (name, local_id) in mapping:
                    rows[name].append([frame, mapping[(name, local_id)], *box, 1.0, -1, -1, -1])
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        outputs = {name: stop_node(p) for name, p in trackers.items()}
        outputs['fusion'] = stop_node(fusion)
    gt_all = load_mot_rows(SEQUENCE / 'gt' / 'gt.txt')
    gt = {name: view.warp_rows(gt_all[gt_all[:, 0] <= FRAMES], info.frame_rate)
          for name, view in rig.views.items()}
    results = {name: np.array(r) for name, r in rows.items()}
    scores = evaluate_multicamera(gt, results)
    per_camera = {name: evaluate_mot(gt[name], np.array(local[name])).idf1 for name in names}
    mean_local = float(np.mean(list(per_camera.values())))
    kept, total, rate = keep_rate(camera_transitions(gt, results, info.frame_rate), 10.0)
    report = {'frames': FRAMES, 'per_camera_idf1': per_camera, 'mean_local_idf1': mean_local,
              'multi_camera_idf1': scores.union.idf1, 'transitions_kept': [kept, total, rate],
              'purity': scores.purity}
    print('PETS09 rig over DDS: ' + json.dumps(report))
    fusion_log = outputs['fusion']
    assert 'Traceback' not in fusion_log, fusion_log[-3000:]
    assert scores.union.idf1 >= mean_local - MAX_IDF1_DROP, (report, fusion_log[-3000:])
    assert rate >= MIN_KEPT and total >= 20, report


# ---- offline: deepsort-ros rig, deepsort-ros fuse --------------------------------------------


def test_offline_rig_and_fuse_on_the_whole_sequence_meet_the_targets(tmp_path):
    _require_shared()
    from deepsort_ros.cli.main import main

    rig = tmp_path / 'rig'
    assert main(['rig', '--sequence', str(SEQUENCE), '--layout', 'overlap', '--out', str(rig),
                 '--compressed', '--no-progress']) == 0
    out = tmp_path / 'fused'
    assert main(['fuse', '--rig', str(rig), '--out', str(out), '--reid-weights', str(WEIGHTS),
                 '--reid-backend', 'onnx', '--no-progress']) == 0
    scores = json.loads((out / 'report.json').read_text())['scores']
    print('PETS09 rig offline: ' + json.dumps(scores))
    assert scores['multi_camera_idf1'] >= scores['mean_local_idf1'] - MAX_IDF1_DROP, scores
    assert scores['transitions_kept'][2] >= MIN_KEPT, scores
