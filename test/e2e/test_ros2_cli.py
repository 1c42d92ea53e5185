"""
The robot's path: ``ros2 launch``, ``ros2 topic``, ``ros2 param``, ``ros2 lifecycle``.

These run the real ros2cli and launch (built into install_overlay/ from ../shared/ros2-src by
the set-up; a ROS install has them) against the installed package, as a user would, each
command its own process on the test session's domain. Skipped where ros2cli is not there.
"""

import os
import shutil
import signal
import subprocess
import time
import uuid

from deepsort_ros.core import TrackerConfig
from helpers.node_harness import (diagnostics_values, Harness, scene_frame, start_node,
                                  stop_node)
from helpers.paths import PARAMS
from helpers.processes import alive, descendants
import numpy as np
import pytest

pytestmark = pytest.mark.dds

ROS2 = shutil.which('ros2')
CLI_TIMEOUT_S = 60.0
WAIT_S = 60.0
FRAME_NS = 100_000_000


@pytest.fixture(scope='module', autouse=True)
def _need_ros2cli() -> None:
    if ROS2 is None:
        pytest.skip('ros2cli is not installed here (the set-up builds it into install_overlay/ '
                    'when ../shared/ros2-src is present; a ROS install has it)')


def _ros2(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run one ros2 command without the daemon (nothing outlives the test)."""
    return subprocess.run([ROS2, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONUNBUFFERED='1'))


def _boxes(frame: int) -> np.ndarray:
    return np.array([[40.0 + 3 * frame, 60.0, 40.0, 90.0], [220.0 - 2 * frame, 50.0, 40.0, 90.0]])


def _play(harness: Harness, frames: int, start_ns: int = 1_000_000_000_000) -> None:
    for frame in range(frames):
        count = len(harness.received['tracks'])
        stamp = start_ns + frame * FRAME_NS
        boxes = _boxes(frame)
        # Sent again while unanswered: a node's reader can match our writers a while after
        # ours matched it, and images are best effort; the node drops a copy it already had.
        for _ in range(5):
            harness.publish_frame(stamp, scene_frame(320, 240, boxes, frame), boxes)
            if harness.spin_until(lambda: len(harness.received['tracks']) > count, 2.0):
                break


def test_ros2_launch_with_remappings_tracks_and_stops_cleanly_on_ctrl_c(ros_domain_id):
    namespace = f'/l{uuid.uuid4().hex[:8]}'
    topics = {'image': f'{namespace}/cam/image_raw', 'detections': f'{namespace}/det',
              'camera_info': f'{namespace}/cam/camera_info', 'odom': f'{namespace}/wheel_odom',
              'tracks': f'{namespace}/people'}
    # Its own process group, as a terminal's foreground job: Ctrl-C reaches every process.
    launch = subprocess.Popen(
        [ROS2, 'launch', 'deepsort_ros', 'deepsort.launch.py', f'params_file:={PARAMS}',
         f'image:={topics["image"]}', f'detections:={topics["detections"]}',
         f'camera_info:={topics["camera_info"]}', f'odom:={topics["odom"]}',
         f'tracks:={topics["tracks"]}', 'use_sim_time:=false'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env=dict(os.environ, PYTHONUNBUFFERED='1'))
    harness = Harness(ros_domain_id, namespace, topics=topics)
    try:
        assert harness.wait_for_tracker(WAIT_S), 'the launched node never subscribed'
        _play(harness, 12)
        arrays = list(harness.received['tracks'])
        node_pids = descendants(launch.pid)
    finally:
        harness.close()
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGINT)
        try:
            output = launch.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(launch.pid, signal.SIGKILL)
            output = launch.communicate()[0]
    assert len(arrays) >= 10, f'{len(arrays)} TrackArrays on {topics["tracks"]}:\n{output}'
    confirmed = [t for t in arrays[-1].tracks if t.state == t.STATE_CONFIRMED]
    assert len(confirmed) == 2, output
    assert launch.returncode == 0, f'ros2 launch exited {launch.returncode}:\n{output}'
    assert 'Traceback' not in output, output
    assert node_pids and not [pid for pid in node_pids if alive(pid)], 'orphans left'


def test_topic_echo_and_hz_param_get_and_set(ros_domain_id):
    namespace = f'/c{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['use_appearance:=false'])
    harness = Harness(ros_domain_id, namespace)
    tracks = f'{namespace}/deepsort_tracker/tracks'
    name = f'{namespace}/deepsort_tracker'
    try:
        assert harness.wait_for_tracker(WAIT_S)
        echo = subprocess.Popen([ROS2, 'topic', 'echo', '--once', '--no-daemon', tracks,
                                 'deepsort_ros_msgs/msg/TrackArray'],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, PYTHONUNBUFFERED='1'))
        hz = subprocess.Popen([ROS2, 'topic', 'hz', '--window', '5', tracks],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True,
                              env=dict(os.environ, PYTHONUNBUFFERED='1'))
        time.sleep(3.0)  # both subscribed before the frames come (discovery takes a moment)
        # Ten frames a second for five seconds: hz reports once a second.
        for frame in range(50):
            _play(harness, 1, 1_000_000_000_000 + frame * FRAME_NS)
            time.sleep(0.1)
        echoed = echo.communicate(timeout=CLI_TIMEOUT_S)[0]
        os.killpg(hz.pid, signal.SIGINT)
        rates = hz.communicate(timeout=CLI_TIMEOUT_S)[0]
        got = _ros2('param', 'get', '--no-daemon', '--spin-time', '5', name, 'tracker.max_age')
        good = _ros2('param', 'set', '--no-daemon', '--spin-time', '5', name, 'min_score', '0.3')
        after = _ros2('param', 'get', '--no-daemon', '--spin-time', '5', name, 'min_score')
        bad = _ros2('param', 'set', '--no-daemon', '--spin-time', '5', name, 'min_score', '2.0')
        diagnostics = diagnostics_values(harness.received['diagnostics'][-1]) \
            if harness.received['diagnostics'] else {}
    finally:
        harness.close()
        stop_node(node)
    assert 'tracks:' in echoed and 'center_x' in echoed and 'uuid' in echoed, echoed
    assert 'average rate' in rates, rates
    assert f'Double value is: {TrackerConfig().max_age}' in got.stdout, got
    assert 'Set parameter successful' in good.stdout, good
    assert '0.3' in after.stdout, after
    refusal = bad.stdout + bad.stderr
    assert 'Setting parameter failed' in refusal and 'min_score' in refusal, bad
    assert diagnostics, 'no diagnostics arrived'


def test_lifecycle_walks_every_transition(ros_domain_id):
    namespace = f'/m{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['use_appearance:=false'], autostart=False)
    name = f'{namespace}/deepsort_tracker'
    states = []
    try:
        for transition in ('configure', 'activate', 'deactivate', 'cleanup', 'shutdown'):
            result = _ros2('lifecycle', 'set', '--no-daemon', '--spin-time', '5', name,
                           transition)
            assert 'Transitioning successful' in result.stdout, (transition, result)
            state = _ros2('lifecycle', 'get', '--no-daemon', '--spin-time', '5', name)
            states.append(state.stdout.split()[0] if state.stdout else state.stderr)
    finally:
        output = stop_node(node)
    assert states == ['inactive', 'active', 'inactive', 'unconfigured', 'finalized'], \
        (states, output)
    assert 'Traceback' not in output, output


def test_interface_show_on_our_messages():
    result = _ros2('interface', 'show', 'deepsort_ros_msgs/msg/TrackArray')
    assert result.returncode == 0 and 'Track[] tracks' in result.stdout, result
    service = _ros2('interface', 'show', 'deepsort_ros_msgs/srv/SelectTarget')
    assert service.returncode == 0 and '---' in service.stdout, service


def test_the_node_is_listed(ros_domain_id):
    namespace = f'/n{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['use_appearance:=false'])
    try:
        deadline = time.monotonic() + WAIT_S
        listed = ''
        while time.monotonic() < deadline and f'{namespace}/deepsort_tracker' not in listed:
            listed = _ros2('node', 'list', '--no-daemon').stdout
    finally:
        stop_node(node)
    assert f'{namespace}/deepsort_tracker' in listed, listed
