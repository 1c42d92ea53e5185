"""
The fusion node over real DDS, fed bad input on purpose: each fault logged, counted, harmless.

One ``track_fusion`` process hears nine synthetic cameras for a few seconds, at 10 Hz, stamped
with the wall clock (the node's clock): ``a`` and ``b`` see one walking person (overlap),
``shifted`` sees them too but reports in its own world frame (carried over by its
``world_pose``), and then each other camera brings one fault: ``late`` (a clock 5 s ahead),
``dup`` (two trackers publishing under one name), ``noworld`` (tracks without a world
estimate), ``shortfeat`` (features of another length), ``otherenc`` (another encoder's
features), ``nanpose`` (NaN poses). Halfway, ``b`` stops. No PETS09 needed.
"""

import subprocess
import sys
import time
from typing import Any, Dict, List, Optional
import uuid

from deepsort_ros.ros.convert.appearances import appearances_to_msg
from deepsort_ros.ros.convert.global_tracks import global_track_members
from deepsort_ros.ros.convert.stamps import make_header
from deepsort_ros.ros.convert.tracks import identity_uuid
from deepsort_ros_msgs.msg import (GlobalTrack, GlobalTrackArray, Track, TrackAppearanceArray,
                                   TrackArray)
from diagnostic_msgs.msg import DiagnosticArray
from helpers.node_harness import source_tree_env, stop_node
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor

pytestmark = pytest.mark.dds

CAMERAS = ['a', 'b', 'shifted', 'late', 'dup', 'noworld', 'shortfeat', 'otherenc', 'nanpose']
DIM = 16
DIGEST = 'ab' * 32
PERIOD_S = 0.1
WARMUP_ROUNDS = 8         # a and b alone: they fix the fusion's encoder, length and frame
ROUNDS = 70
B_STOPS_AT = 30           # then 4 s of silence: more than camera_timeout (2 s)
WAIT_S = 30.0


def _feature(person: int, dim: int = DIM) -> np.ndarray:
    feature = np.zeros(dim, np.float32)
    feature[person % dim] = 1.0
    return feature


def _track(track_id: int, namespace: uuid.UUID, xy: Optional[List[float]],
           velocity=(0.5, 0.0)) -> Track:
    msg = Track(id=track_id, state=Track.STATE_CONFIRMED, class_id='person', score=0.9)
    msg.uuid.uuid = identity_uuid(namespace, track_id)
    if xy is not None:
        msg.world_valid = True
        msg.pose.pose.position.x, msg.pose.pose.position.y = (float(v) for v in xy)
        msg.pose.pose.orientation.w = 1.0
        cov = np.zeros((6, 6))
        cov[:2, :2] = 0.04 * np.eye(2)
        msg.pose.covariance = cov.reshape(36).tolist()
        msg.twist.twist.linear.x, msg.twist.twist.linear.y = velocity
        vcov = np.zeros((6, 6))
        vcov[:2, :2] = 0.05 * np.eye(2)
        msg.twist.covariance = vcov.reshape(36).tolist()
    return msg


class Sender:
    """One camera's tracker, as the fusion sees it: a TrackArray and features each frame."""

    def __init__(self, node: Any, namespace: str, camera: str, encoder_digest: str = DIGEST,
                 world_frame: str = 'map') -> None:
        self.camera = camera
        self.run = uuid.uuid4()
        self.tracks_pub = node.create_publisher(TrackArray, f'{namespace}/{camera}/tracks', 20)
        self.appearances_pub = node.create_publisher(TrackAppearanceArray,
                                                     f'{namespace}/{camera}/appearances', 20)
        self.digest = encoder_digest
        self.world_frame = world_frame

    def send(self, stamp_ns: int, rows: List[Any], features: Optional[List[np.ndarray]] = None
             ) -> None:
        """Publish ``rows`` of (id, xy or None) and, when given, their features."""
        header = make_header(stamp_ns, f'{self.camera}_optical')
        if features is not None:
            self.appearances_pub.publish(appearances_to_msg(
                header, self.run, 'test encoder', self.digest, [r[0] for r in rows], features))
        array = TrackArray(header=header, world_frame_id=self.world_frame, target_index=-1)
        array.tracks = [_track(track_id, self.run, xy) for track_id, xy in rows]
        self.tracks_pub.publish(array)


def _params_file(tmp_path, namespace: str) -> str:
    lines = ['/**/track_fusion:', '  ros__parameters:', f'    cameras: {CAMERAS}',
             '    world_frame_id: map', '    diagnostics_period: 0.5', '    camera:']
    for camera in CAMERAS:
        lines += [f'      {camera}:', f'        tracks_topic: {namespace}/{camera}/tracks',
                  f'        appearances_topic: {namespace}/{camera}/appearances']
        if camera == 'shifted':
            lines.append('        world_pose: [10.0, 0.0, 0.0]')
    path = tmp_path / 'fusion.yaml'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def run(ros_domain_id, tmp_path_factory) -> Dict[str, Any]:
    """Run the scenario once; return what the node published and printed."""
    namespace = f'/f{uuid.uuid4().hex[:8]}'
    params = _params_file(tmp_path_factory.mktemp('fusion'), namespace)
    process = subprocess.Popen(
        [sys.executable, '-m', 'deepsort_ros.ros.track_fusion.node', '--ros-args', '--params-file',
         params, '-r', f'__ns:={namespace}'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=source_tree_env())
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('fusion_test_harness', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received: Dict[str, List[Any]] = {'global': [], 'diagnostics': []}
    global_sub = node.create_subscription(GlobalTrackArray,
                                          f'{namespace}/track_fusion/global_tracks',
                                          received['global'].append, 100)
    node.create_subscription(DiagnosticArray, '/diagnostics', received['diagnostics'].append, 50)
    senders = {c: Sender(node, namespace, c, 'cd' * 32 if c == 'otherenc' else DIGEST,
                         'shifted_odom' if c == 'shifted' else 'map') for c in CAMERAS}
    impostor = Sender(node, namespace, 'dup')

    def spin(seconds: float, until=lambda: False) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            executor.spin_once(timeout_sec=0.02)
        return until()

    try:
        ready = spin(WAIT_S, lambda: all(s.tracks_pub.get_subscription_count() > 0
                                         for s in senders.values())
                     and global_sub.get_publisher_count() > 0)
        assert ready, 'the fusion node never subscribed'
        spin(1.0)  # the appearance subscriptions match too
        start = time.time()
        b_last_stamp = None
        for k in range(WARMUP_ROUNDS + ROUNDS):
            stamp_ns = time.time_ns()
            x = 0.5 * (time.time() - start)
            person = [(7, [x, 1.0])]
            f1 = [_feature(1)]
            senders['a'].send(stamp_ns, person, f1)
            if k < WARMUP_ROUNDS + B_STOPS_AT:
                senders['b'].send(stamp_ns, [(3, [x + 0.05, 1.02])], f1)
                b_last_stamp = stamp_ns
            if k >= WARMUP_ROUNDS:
                senders['shifted'].send(stamp_ns, [(5, [x - 10.0, 0.98])], f1)
                senders['late'].send(stamp_ns + 5_000_000_000, [(1, [4.0, -3.0])],
                                     [_feature(4)])
                senders['dup'].send(stamp_ns, [(1, [-5.0, 5.0])], [_feature(5)])
                impostor.send(stamp_ns, [(1, [-5.0, 5.0])], [_feature(5)])
                senders['noworld'].send(stamp_ns, [(2, None)], [_feature(6)])
                senders['shortfeat'].send(stamp_ns, [(2, [8.0, 8.0])], [_feature(7, 8)])
                senders['otherenc'].send(stamp_ns, [(2, [-8.0, 8.0])], [_feature(8)])
                senders['nanpose'].send(stamp_ns, [(2, [float('nan'), 2.0])], [_feature(9)])
            spin(max(0.0, start + (k + 1) * PERIOD_S - time.time()))
        spin(1.5)  # the last diagnostics
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        output = stop_node(process)
    statuses = [s for d in received['diagnostics'] for s in d.status if 'track_fusion' in s.name]
    diagnostics = {kv.key: kv.value for kv in statuses[-1].values} if statuses else {}
    return {'global': received['global'], 'diagnostics': diagnostics, 'output': output,
            'b_last_stamp': b_last_stamp, 'returncode': process.returncode}


def _members(run: Dict[str, Any], index: int) -> Dict[Any, int]:
    return global_track_members(run['global'][index])


def test_overlapping_cameras_share_one_global_identity_also_from_another_world_frame(run):
    assert run['global'], run['output'][-3000:]
    assert run['returncode'] == 0 and 'Traceback' not in run['output'], run['output'][-3000:]
    # While a, b and shifted all see the person: one identity made of the three local tracks.
    middle = next(i for i, msg in enumerate(run['global'])
                  if {('a', 7), ('b', 3), ('shifted', 5)} <= set(global_track_members(msg)))
    members = _members(run, middle)
    assert members[('a', 7)] == members[('b', 3)] == members[('shifted', 5)]
    track = next(t for t in run['global'][middle].tracks if t.id == members[('a', 7)])
    assert track.world_valid and track.state == GlobalTrack.STATE_TRACKED
    assert abs(track.pose.pose.position.y - 1.0) < 0.3  # shifted's 0.98 m carried over
    assert run['global'][middle].header.frame_id == 'map'
    assert run['diagnostics']['shifted: world transform'] == 'world_pose'


def test_a_camera_whose_stream_stops_ages_out_and_the_others_go_on(run):
    diagnostics = run['diagnostics']
    assert int(diagnostics['b: stale (silent, bindings released)']) >= 1
    last = run['global'][-1]
    assert ('a', 7) in global_track_members(last) and ('b', 3) not in global_track_members(last)
    after = [m for m in run['global'] if _stamp_ns(m) > run['b_last_stamp'] + 2_500_000_000]
    assert len(after) > 10, 'the fusion stopped when b did'
    assert 'camera b: silent for more than camera_timeout' in run['output']


def test_a_camera_whose_clock_is_seconds_off_is_refused(run):
    assert 'clock_ahead' in run['diagnostics']['late: refused']
    assert int(run['diagnostics']['late: updates taken']) == 0
    assert 'camera late: an update stamped ahead of its arrival' in run['output']
    assert all(m.camera != 'late' for msg in run['global'] for t in msg.tracks
               for m in t.members)


def test_a_second_tracker_under_one_camera_name_is_refused(run):
    diagnostics = run['diagnostics']
    assert 'duplicate_name' in diagnostics['dup: refused']
    assert int(diagnostics['dup: senders']) == 2
    assert int(diagnostics['dup: updates taken']) > 0  # the first sender goes on
    assert 'camera dup: a second sender publishes tracks as this camera' in run['output']


def test_tracks_without_a_world_estimate_are_kept_by_appearance_only(run):
    diagnostics = run['diagnostics']
    assert int(diagnostics['noworld: without world estimate (appearance only)']) > 0
    ids = {gid for key, gid in _members(run, -1).items() if key[0] == 'noworld'}
    assert ids and all(not t.world_valid for t in run['global'][-1].tracks if t.id in ids)
    assert 'camera noworld: 1 tracks without a world estimate' in run['output']


def test_features_of_another_length_or_encoder_are_refused_and_the_tracks_kept(run):
    diagnostics = run['diagnostics']
    assert 'feature_length' in diagnostics['shortfeat: refused']
    assert 'encoder_mismatch' in diagnostics['otherenc: refused']
    assert diagnostics['encoder compared'] == 'sha256:' + DIGEST
    members = _members(run, -1)
    assert ('shortfeat', 2) in members and ('otherenc', 2) in members
    assert 'camera otherenc: features of another Re-ID encoder' in run['output']
    assert "features of another length than the fusion's" in run['output']


def test_nan_poses_are_counted_and_the_track_goes_on_without_a_world_estimate(run):
    assert 'bad_pose' in run['diagnostics']['nanpose: refused']
    assert ('nanpose', 2) in _members(run, -1)
    assert 'camera nanpose: tracks with a NaN' in run['output']
    assert run['diagnostics']['a: refused'] == 'none'


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def test_reset_forgets_global_tracks_and_ids_keep_counting(ros_domain_id, tmp_path):
    from std_srvs.srv import Trigger

    namespace = f'/f{uuid.uuid4().hex[:8]}'
    process = subprocess.Popen(
        [sys.executable, '-m', 'deepsort_ros.ros.track_fusion.node', '--ros-args', '--params-file',
         _params_file(tmp_path, namespace), '-r', f'__ns:={namespace}'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=source_tree_env())
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('fusion_reset_harness', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    received: List[Any] = []
    sub = node.create_subscription(GlobalTrackArray, f'{namespace}/track_fusion/global_tracks',
                                   received.append, 100)
    sender = Sender(node, namespace, 'a')
    reset = node.create_client(Trigger, f'{namespace}/track_fusion/reset')

    def spin(seconds: float, until=lambda: False) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            executor.spin_once(timeout_sec=0.02)
        return until()

    def send(rounds: int) -> None:
        for _ in range(rounds):
            sender.send(time.time_ns(), [(7, [1.0, 1.0])], [_feature(1)])
            spin(PERIOD_S)

    try:
        assert spin(WAIT_S, lambda: sender.tracks_pub.get_subscription_count() > 0
                    and sub.get_publisher_count() > 0 and reset.service_is_ready())
        spin(1.0)  # the appearance subscription matches too
        send(10)
        before = {g.id for a in received for g in a.tracks}
        done = reset.call_async(Trigger.Request())
        assert spin(WAIT_S, done.done) and done.result().success
        count = len(received)
        send(10)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
        stop_node(process)
    after = {g.id for a in received[count:] for g in a.tracks}
    # The same camera track gets a new global identity, above every earlier one.
    assert before and after and min(after) > max(before), (before, after)
