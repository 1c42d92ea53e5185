"""
The README's main job, ``./dev.sh demo``, end to end on a few frames of real footage.

Runs the demo as users do (its own process starting the player, detector and tracker
processes) and checks every output; and that Ctrl-C stops all of them and keeps the results.
Needs the PETS09 video from ../shared or the demo's cache (it is not downloaded for a test).
"""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

import cv2
from deepsort_ros.recordings.bag_reader import read_messages
from deepsort_ros.recordings.mot import load_mot_rows
from helpers.paths import REPO, SHARED
import pytest

pytestmark = pytest.mark.dds

VIDEO_PLACES = (SHARED / 'data' / 'PETS09-S2L1' / 'vtest.avi',
                REPO / '.cache' / 'data' / 'vtest.avi')
FRAMES = 8
DEMO_TIMEOUT_S = 300


@pytest.fixture
def video():
    for path in VIDEO_PLACES:
        if path.is_file():
            return path
    pytest.skip('the PETS09 video is neither in ../shared nor in .cache/data (./dev.sh demo '
                'downloads it; tests do not)')


def _demo(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-m', 'demo', '--out', str(out),
                             '--no-progress', *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED='1'))


def test_demo_writes_video_sheet_tracks_bag_and_report(video, tmp_path):
    out = tmp_path / 'demo'
    process = _demo(out, '--frames', str(FRAMES))
    printed = process.communicate(timeout=DEMO_TIMEOUT_S)[0]
    assert process.returncode == 0, printed[-4000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['frames_published'] == report['frames_tracked'] == FRAMES, printed[-4000:]
    assert 'frames tracked: 8' in (out / 'report.md').read_text()
    # The stand-in detector was trained on frames 1-400: the demo tracks frames after them.
    assert 'frames 401-408' in report['facts']['input'] and 'held out' in report['facts']
    identities = len(set(load_mot_rows(out / 'tracks.txt')[:, 1].astype(int)))
    assert report['facts']['identities'].startswith(f'{identities} confirmed (ids 1..')
    capture = cv2.VideoCapture(str(out / 'annotated.mp4'))
    shown = 0
    while capture.read()[0]:
        shown += 1
    assert shown == FRAMES
    sheet = cv2.imread(str(out / 'contact_sheet.png'))
    assert sheet is not None and sheet.shape[1] == 3 * 480
    rows = load_mot_rows(out / 'tracks.txt')
    # The sequence's own frame numbers, as in the report (issue 26: they said 1-8).
    assert len(rows) > FRAMES and set(rows[:, 0].astype(int)) <= set(range(401, 401 + FRAMES))
    arrays = [m for t, _, _, m in read_messages(out / 'tracks_bag')]
    assert len(arrays) == FRAMES and all(len(a.tracks) for a in arrays[2:])
    end_to_end = report['latency']['end to end: image published -> tracks received']
    assert end_to_end['count'] == FRAMES and end_to_end['p50'] > 0
    # One person near the centre is followed through ~/select_target, as an app would.
    follow = report['follow']
    assert follow['selected'].startswith('track '), follow
    assert 1 <= follow['frames TRACKED'] <= follow['frames after the selection'] < FRAMES
    assert '## Following one person' in (out / 'report.md').read_text()
    if (SHARED / 'data' / 'PETS09-S2L1' / 'gt' / 'gt.txt').is_file():
        assert follow['person'].startswith('gt ')
        assert 0.0 <= follow['share of TRACKED frames on the selected person'] <= 1.0
    # An output folder that exists is never silently overwritten.
    before = (out / 'report.md').read_bytes()
    again = _demo(out, '--frames', str(FRAMES))
    printed = again.communicate(timeout=60)[0]
    assert again.returncode == 2 and 'pass --overwrite' in printed
    assert (out / 'report.md').read_bytes() == before


def _tracked_frames_reach(domain_id: int, count: int, timeout: float) -> bool:
    """Listen on the demo's own domain until ``count`` TrackArrays went by."""
    import rclpy
    from deepsort_ros_msgs.msg import TrackArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    node = rclpy.create_node('demo_watcher', context=context)
    seen = []
    node.create_subscription(TrackArray, '/deepsort_tracker/tracks', seen.append,
                             QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(seen) < count:
            executor.spin_once(timeout_sec=0.1)
        return len(seen) >= count
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)


def test_ctrl_c_stops_every_process_and_keeps_what_was_tracked(video, tmp_path):
    out = tmp_path / 'stopped'
    process = _demo(out, '--frames', '300')
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any('ROS domain' in x for x in lines):
            time.sleep(0.2)
        [announce] = [x for x in lines if 'ROS domain' in x]
        domain_id = int(announce.split('ROS domain')[1].split(';')[0])
        # Stop once frames went through, as a user would after watching a little.
        assert _tracked_frames_reach(domain_id, 3, 180.0), 'the demo tracked nothing'
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        reader.join(timeout=10)
        time.sleep(1.0)  # children get SIGTERM when the demo dies; let them go
        left = subprocess.run(['pgrep', '-f', str(out)], capture_output=True,
                              text=True).stdout
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        subprocess.run(['pkill', '-f', str(out)])  # never leave children behind for CI
    printed = ''.join(lines)
    assert process.returncode == 130, printed[-4000:]
    report = json.loads((out / 'report.json').read_text())
    assert 3 <= report['frames_tracked'] < 300
    assert any('Ctrl-C' in note for note in report['notes'])
    assert len(load_mot_rows(out / 'tracks.txt')) > 0
    assert left.strip() == '', f'processes left running: {left}'
