"""``play`` publishes a bag over real Fast DDS on loopback at the recorded pace."""

import signal
import subprocess
import sys
import threading
import time
import uuid

from deepsort_ros.recordings.bag_player import play_bag
from deepsort_ros.recordings.bag_reader import read_messages
from helpers.node_harness import source_tree_env, start_node, stop_node
from helpers.paths import REPO
from helpers.sequences import FPS, make_sequence, N_FRAMES, run_bag_from_sequence
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2DArray

WAIT_SECONDS = 20.0
RATE = 2.0


@pytest.mark.dds
def test_play_publishes_bag_over_dds(tmp_path, ros_domain_id):
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(make_sequence(tmp_path)),
                                  '--out', str(bag)]) == 0
    recorded = {}
    for topic, _, _, msg in read_messages(bag):
        recorded.setdefault(topic, []).append(msg)

    sub_context, pub_context = rclpy.Context(), rclpy.Context()
    rclpy.init(context=sub_context, domain_id=ros_domain_id)
    rclpy.init(context=pub_context, domain_id=ros_domain_id)
    sub_node = rclpy.create_node('play_test_subscriber', context=sub_context)
    player = rclpy.create_node('play_test_player', context=pub_context)
    received = {'/camera/image_raw': [], '/detections': [], '/camera/camera_info': [],
                '/clock': []}
    arrival = []
    qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    for topic, cls in (('/camera/image_raw', Image), ('/detections', Detection2DArray),
                       ('/camera/camera_info', CameraInfo), ('/clock', Clock)):
        def callback(msg, topic=topic):
            received[topic].append(msg)
            if topic == '/camera/image_raw':
                arrival.append(time.monotonic())
        sub_node.create_subscription(cls, topic, callback, qos)
    executor = SingleThreadedExecutor(context=sub_context)
    executor.add_node(sub_node)
    spinning = threading.Event()
    spinning.set()

    def spin() -> None:
        while spinning.is_set():
            executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        summary = play_bag(bag, player, rate=RATE, clock=True,
                           wait_for_subscribers=WAIT_SECONDS)
        played = time.monotonic() - started
        deadline = time.monotonic() + WAIT_SECONDS
        while (len(received['/detections']) < N_FRAMES
               or len(received['/camera/image_raw']) < N_FRAMES) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        spinning.clear()
        thread.join(timeout=5)
        executor.shutdown()
        sub_node.destroy_node()
        player.destroy_node()
        rclpy.shutdown(context=sub_context)
        rclpy.shutdown(context=pub_context)
    assert summary.published == {t: N_FRAMES for t in recorded}, summary.describe()
    assert summary.loops == 1 and not summary.interrupted
    for topic in recorded:
        assert received[topic] == recorded[topic], f'{topic} changed on its way through DDS'
    assert len(received['/clock']) == 3 * N_FRAMES
    assert received['/clock'][-1].clock == recorded['/camera/image_raw'][-1].header.stamp
    # Recorded span (N-1)/FPS scaled by the rate; the subscription wait comes on top.
    span = (N_FRAMES - 1) / FPS / RATE
    assert arrival[-1] - arrival[0] == pytest.approx(span, abs=0.25)
    assert played >= span


def test_play_stops_on_event(tmp_path, ros_domain_id):
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(make_sequence(tmp_path)),
                                  '--out', str(bag)]) == 0
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('play_stop_test', context=context)
    stop = threading.Event()
    published = []

    def on_message(topic: str, stamp_ns: int) -> None:
        published.append(topic)
        if len(published) == 4:
            stop.set()

    try:
        timer = threading.Timer(10.0, stop.set)  # bound: a missed stop ends the test anyway
        timer.start()
        summary = play_bag(bag, node, rate=0.5, loop=True, stop_event=stop,
                           on_message=on_message)
        timer.cancel()
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)
    assert summary.interrupted and summary.loops == 0
    assert sum(summary.published.values()) == 4
    with pytest.raises(ValueError, match='rate'):
        play_bag(bag, None, rate=0.0)


def test_play_command_stops_cleanly_on_sigterm(tmp_path, ros_domain_id):
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(make_sequence(tmp_path)),
                                  '--out', str(bag)]) == 0
    script = ('import argparse, sys\n'
              'from deepsort_ros.cli import play\n'
              'parser = argparse.ArgumentParser()\n'
              'play.add_arguments(parser)\n'
              'sys.exit(play.main(parser.parse_args(sys.argv[1:])))\n')
    process = subprocess.Popen([sys.executable, '-c', script, str(bag), '--loop', '--clock'],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(3.0)  # long enough to start and loop over the 0.9 s bag at least once
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=WAIT_SECONDS)[0].decode(errors='replace')
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert '(interrupted)' in output and '/camera/image_raw:' in output, output


@pytest.mark.dds
def test_lockstep_waits_for_each_frame_to_be_answered(tmp_path, ros_domain_id):
    """A slow pipeline answering each image late still gets every frame, none skipped."""
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(make_sequence(tmp_path)),
                                  '--out', str(bag)]) == 0
    answer_context, player_context = rclpy.Context(), rclpy.Context()
    rclpy.init(context=answer_context, domain_id=ros_domain_id)
    rclpy.init(context=player_context, domain_id=ros_domain_id)
    slow = rclpy.create_node('slow_pipeline', context=answer_context)
    player = rclpy.create_node('lockstep_player', context=player_context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    answers = slow.create_publisher(Detection2DArray, '/answers', qos)
    seen = []

    def answer(image):
        time.sleep(0.15)  # slower than the bag's 10 fps
        seen.append(image.header.stamp)
        answers.publish(Detection2DArray(header=image.header))

    slow.create_subscription(Image, '/camera/image_raw', answer, qos)
    executor = SingleThreadedExecutor(context=answer_context)
    executor.add_node(slow)
    spinning = threading.Event()
    spinning.set()
    thread = threading.Thread(target=lambda: [executor.spin_once(timeout_sec=0.05)
                                              for _ in iter(spinning.is_set, False)],
                              daemon=True)
    thread.start()
    try:
        summary = play_bag(bag, player, topics=['/camera/image_raw'], lockstep_topic='/answers',
                           lockstep_timeout=WAIT_SECONDS, wait_for_subscribers=WAIT_SECONDS)
    finally:
        spinning.clear()
        thread.join(timeout=5)
        executor.shutdown()
        slow.destroy_node()
        player.destroy_node()
        rclpy.shutdown(context=answer_context)
        rclpy.shutdown(context=player_context)
    assert summary.lockstep_timeouts == 0
    assert len(seen) == N_FRAMES, 'a frame was skipped'
    stamps = [s for s, _ in summary.frame_times]
    assert stamps == [s.sec * 1_000_000_000 + s.nanosec for s in seen]
    walls = [w for _, w in summary.frame_times]
    assert min(b - a for a, b in zip(walls, walls[1:])) >= 0.14e9, 'did not wait for answers'


def _play_command(bag, *options: str) -> subprocess.Popen:
    script = ('import sys\n'
              'from deepsort_ros.cli.main import main\n'
              'sys.exit(main(sys.argv[1:]))\n')
    return subprocess.Popen([sys.executable, '-c', script, 'play', str(bag), *options],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=source_tree_env())


@pytest.mark.dds
def test_lockstep_on_a_bag_from_sequence_waits_for_the_detections_not_the_image(
        tmp_path, ros_domain_id):
    """
    Issue 26: bag-from-sequence stores each image before its detections.

    Keyed on the image, the player waited for a reply before publishing what the reply
    needs: every frame timed out (29 frames in 300 s). Played against a real tracker node.
    """
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(make_sequence(tmp_path)),
                                  '--out', str(bag)]) == 0
    order = [topic for topic, _, _, _ in read_messages(bag)]
    assert order.index('/camera/image_raw') < order.index('/detections'), 'the image first'
    namespace = f'/p{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['use_appearance:=false', 'image_topic:=/camera/image_raw',
                                  'detections_topic:=/detections',
                                  'camera_info_topic:=/camera/camera_info'])
    try:
        player = _play_command(bag, '--lockstep', f'{namespace}/deepsort_tracker/tracks',
                               '--lockstep-timeout', '5', '--wait-for-subscribers', '60')
        output = player.communicate(timeout=180)[0].decode(errors='replace')
    finally:
        if 'player' in locals() and player.poll() is None:
            player.kill()
        node_output = stop_node(node)
    assert player.returncode == 0, output + node_output[-2000:]
    assert 'got no answer in time' not in output, output
    # Frame 5 has no detections in det.txt: its image alone gets no reply, and is not waited on.
    assert f'/camera/image_raw: {N_FRAMES}' in output and f'/detections: {N_FRAMES}' in output


@pytest.mark.dds
def test_ctrl_c_in_lockstep_stops_publishing_instead_of_flushing_the_rest(
        tmp_path, ros_domain_id):
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(make_sequence(tmp_path)),
                                  '--out', str(bag)]) == 0
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('never_answers', context=context)
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    node.create_publisher(Detection2DArray, '/never_answered', qos)  # it names the type only
    received, detections = [], []
    node.create_subscription(Image, '/camera/image_raw', received.append, qos)
    node.create_subscription(Detection2DArray, '/detections', detections.append, qos)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    player = _play_command(bag, '--topics', '/camera/image_raw', '/detections', '--lockstep',
                           '/never_answered', '--lockstep-timeout', '600',
                           '--wait-for-subscribers', '60')
    try:
        deadline = time.monotonic() + 60.0
        while not detections and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert received, 'the player never published'
        player.send_signal(signal.SIGINT)
        output = player.communicate(timeout=WAIT_SECONDS)[0].decode(errors='replace')
        for _ in range(20):  # whatever else it published arrives meanwhile
            executor.spin_once(timeout_sec=0.05)
    finally:
        if player.poll() is None:
            player.kill()
            player.communicate()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
    assert player.returncode == 0, output
    assert '(interrupted)' in output and '/camera/image_raw: 1\n' in output, output
    assert len(received) == 1, 'nothing more was published after Ctrl-C'
