"""bag-from-sequence writes what the reader gives back; damaged and odd bags are read safely."""

import math
from pathlib import Path
import shutil
from typing import List, Optional

import cv2
from deepsort_ros.recordings import sequence_to_bag as from_sequence
from deepsort_ros.recordings.bag_reader import BagReadSummary, read_messages
from deepsort_ros.recordings.bag_writer import BagWriter, TrackBagWriter
from deepsort_ros.recordings.typestore import build_typestore
from helpers.message_samples import sample_track_array
from helpers.paths import SHARED
from helpers.sequences import (DETECTIONS, FPS, HEIGHT, make_sequence, N_FRAMES,
                               run_bag_from_sequence, WIDTH)
import numpy as np
import pytest
from rosbags.typesys import get_types_from_msg
from std_msgs.msg import String


def read_all(bag: Path, summary: Optional[BagReadSummary] = None) -> list:
    return list(read_messages(bag, summary=summary))


def test_sequence_bag_reads_back_identical(tmp_path):
    seq = make_sequence(tmp_path)
    bag = tmp_path / 'out_bag'
    assert run_bag_from_sequence(['--sequence', str(seq), '--out', str(bag)]) == 0
    summary = BagReadSummary()
    messages = read_all(bag, summary)
    assert summary.counts == {'/camera/image_raw': N_FRAMES, '/camera/camera_info': N_FRAMES,
                              '/detections': N_FRAMES}
    assert not summary.skipped and not summary.errors and not summary.truncated
    stamps = [m[2] for m in messages]
    assert stamps == sorted(stamps), 'reader must yield in time order'
    by_topic = {}
    for topic, type_name, stamp_ns, msg in messages:
        by_topic.setdefault(topic, []).append((type_name, stamp_ns, msg))
    for i, (type_name, stamp_ns, image) in enumerate(by_topic['/camera/image_raw']):
        frame = i + 1
        assert type_name == 'sensor_msgs/msg/Image'
        expected_ns = from_sequence.START_EPOCH_NS + round(i * 1e9 / FPS)
        assert stamp_ns == expected_ns
        assert image.header.stamp.sec * 10**9 + image.header.stamp.nanosec == expected_ns
        assert image.header.frame_id == 'camera_optical_frame'
        assert (image.width, image.height, image.encoding) == (WIDTH, HEIGHT, 'bgr8')
        pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(
            pixels, cv2.imread(str(seq / 'img1' / f'{frame:06d}.png')))
        dets_type, dets_ns, dets = by_topic['/detections'][i]
        assert dets_type == 'vision_msgs/msg/Detection2DArray'
        assert dets_ns == stamp_ns and dets.header == image.header
        expected = DETECTIONS.get(frame, [])
        assert len(dets.detections) == len(expected)
        for det, (x, y, w, h, conf) in zip(dets.detections, expected):
            assert det.bbox.center.position.x == pytest.approx(x + w / 2)
            assert det.bbox.center.position.y == pytest.approx(y + h / 2)
            assert (det.bbox.size_x, det.bbox.size_y) == pytest.approx((w, h))
            assert det.results[0].hypothesis.class_id == 'person'
            assert det.results[0].hypothesis.score == pytest.approx(conf)
        info = by_topic['/camera/camera_info'][i][2]
        assert info.header == image.header and (info.width, info.height) == (WIDTH, HEIGHT)
        assert info.k[2] == WIDTH / 2 and info.k[0] > 0 and info.k[0] == info.k[4]


def test_compressed_bag_and_options(tmp_path):
    seq = make_sequence(tmp_path)
    bag = tmp_path / 'compressed_bag'
    argv = ['--sequence', str(seq), '--out', str(bag), '--compressed', '--max-frames', '4',
            '--fps', '20', '--fx', '100', '--fy', '90', '--cx', '31', '--cy', '23']
    assert run_bag_from_sequence(argv) == 0
    summary = BagReadSummary()
    messages = read_all(bag, summary)
    assert summary.counts == {'/camera/image_raw/compressed': 4, '/camera/camera_info': 4,
                              '/detections': 4}
    images = [m for m in messages if m[0] == '/camera/image_raw/compressed']
    assert [m[2] - images[0][2] for m in images] == [0, 50_000_000, 100_000_000, 150_000_000]
    for _, type_name, _, msg in images:
        assert type_name == 'sensor_msgs/msg/CompressedImage' and 'jpeg' in msg.format
        decoded = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (HEIGHT, WIDTH, 3)
    info = next(m[3] for m in messages if m[0] == '/camera/camera_info')
    assert list(info.k) == [100.0, 0.0, 31.0, 0.0, 90.0, 23.0, 0.0, 0.0, 1.0]


def test_refuses_to_overwrite(tmp_path, capsys):
    seq = make_sequence(tmp_path, n_frames=2)
    bag = tmp_path / 'bag'
    assert run_bag_from_sequence(['--sequence', str(seq), '--out', str(bag)]) == 0
    before = sorted((p.name, p.stat().st_size) for p in bag.iterdir())
    assert run_bag_from_sequence(['--sequence', str(seq), '--out', str(bag),
                                  '--max-frames', '1']) == 1
    assert 'exists already' in capsys.readouterr().err
    assert sorted((p.name, p.stat().st_size) for p in bag.iterdir()) == before
    assert run_bag_from_sequence(['--sequence', str(seq), '--out', str(bag),
                                  '--max-frames', '1', '--overwrite']) == 0
    summary = BagReadSummary()
    read_all(bag, summary)
    assert summary.counts['/camera/image_raw'] == 1
    # --overwrite never removes a folder that is not a bag.
    assert run_bag_from_sequence(['--sequence', str(seq), '--out', str(seq / 'img1'),
                                  '--overwrite']) == 1
    assert len(list((seq / 'img1').iterdir())) == 2


def _write_strings(bag: Path, n: int) -> List[str]:
    texts = [f'message {i} ' + 'x' * 2000 for i in range(n)]
    with BagWriter(bag) as writer:
        for i, text in enumerate(texts):
            writer.write('/chatter', String(data=text), 1_000 + i)
    return texts


@pytest.mark.parametrize('drop_metadata', [False, True])
def test_truncated_bag_is_read_as_far_as_it_goes(tmp_path, drop_metadata):
    bag = tmp_path / 'bag'
    texts = _write_strings(bag, 300)  # ~600 kB: one uncompressed chunk, cut in its middle
    mcap = bag / 'bag.mcap'
    size = mcap.stat().st_size
    with open(mcap, 'r+b') as stream:
        stream.truncate(int(size * 0.6))
    if drop_metadata:
        (bag / 'metadata.yaml').unlink()
    summary = BagReadSummary()
    messages = read_all(bag, summary)
    assert summary.truncated and summary.errors
    assert 100 < len(messages) < 300, summary.describe()
    assert [m[3].data for m in messages] == texts[:len(messages)]
    assert [m[2] for m in messages] == list(range(1_000, 1_000 + len(messages)))
    assert summary.counts == {'/chatter': len(messages)}
    assert 'truncated' in summary.describe()


def test_unknown_and_undecodable_messages_are_skipped(tmp_path):
    typestore = build_typestore()
    typestore.register(get_types_from_msg('int32 x\nstring name', 'ghost_msgs/msg/Ghost'))
    ghost_cls = typestore.types['ghost_msgs/msg/Ghost']
    bag = tmp_path / 'bag'
    with BagWriter(bag, typestore=typestore) as writer:
        for i in range(3):
            writer.write_serialized('/ghost', 'ghost_msgs/msg/Ghost', bytes(
                typestore.serialize_cdr(ghost_cls(x=i, name='boo'), 'ghost_msgs/msg/Ghost')),
                10 + i)
            writer.write('/chatter', String(data=f'hello {i}'), 10 + i)
        # A string whose length field claims 2 GB: rclpy cannot decode it.
        writer.write_serialized('/chatter', 'std_msgs/msg/String',
                                b'\x00\x01\x00\x00\xff\xff\xff\x7fabc', 20)
    summary = BagReadSummary()
    messages = read_all(bag, summary)
    assert [m[3].data for m in messages] == ['hello 0', 'hello 1', 'hello 2']
    assert summary.unknown_types == {'/ghost': 'ghost_msgs/msg/Ghost'}
    assert summary.skipped == {'/ghost': 3, '/chatter': 1}
    assert any('cannot decode' in e for e in summary.errors)
    assert list(read_messages(bag, topics=['/ghost'])) == []


def test_track_bag_writer_roundtrip(tmp_path):
    bag = tmp_path / 'tracks'
    msg = sample_track_array()
    with TrackBagWriter(bag) as writer:
        writer.write_tracks(msg)
    [(topic, type_name, stamp_ns, read)] = read_all(bag)
    assert (topic, type_name) == ('/tracks', 'deepsort_ros_msgs/msg/TrackArray')
    assert stamp_ns == 1700000000_123456789
    assert read == msg


def test_camera_pan_warps_frames_detections_and_odometry(tmp_path):
    seq = make_sequence(tmp_path)
    bag = tmp_path / 'pan'
    assert run_bag_from_sequence(['--sequence', str(seq), '--out', str(bag), '--camera-pan',
                                  '5', '--pan-amplitude', '0', '--fx', '80', '--fy', '80']) == 0
    messages = read_all(bag)
    odom = [m[3] for m in messages if m[0] == '/odom']
    dets = [m[3] for m in messages if m[0] == '/detections']
    assert len(odom) == N_FRAMES
    for i, (o, d) in enumerate(zip(odom, dets)):
        yaw = math.radians(5.0 * i / FPS)
        assert 2 * math.atan2(o.pose.pose.orientation.z, o.pose.pose.orientation.w) == \
            pytest.approx(yaw)
        assert o.twist.twist.angular.z == pytest.approx(math.radians(5.0))
        assert o.header.stamp == d.header.stamp and o.header.frame_id == 'odom'
        frame = i + 1
        if frame == 5:
            continue
        # The second box sits near the image centre: a yaw left moves it right by ~fx tan(yaw).
        x, y, w, h, _ = DETECTIONS[frame][1]
        centre_x = d.detections[-1].bbox.center.position.x
        assert centre_x - (x + w / 2) == pytest.approx(80 * math.tan(yaw), abs=1.0)


def test_pets09_video_bag(tmp_path):
    if not SHARED.is_dir():
        pytest.skip(f'shared data folder {SHARED} is absent')
    seq = SHARED / 'data' / 'PETS09-S2L1'
    copy = tmp_path / 'PETS09'
    copy.mkdir()
    # A folder of our own whose imDir video is the shared one (nothing is written to shared).
    (copy / 'vtest.avi').symlink_to(seq / 'vtest.avi')
    shutil.copytree(seq / 'det', copy / 'det')
    shutil.copy(seq / 'seqinfo.ini', copy / 'seqinfo.ini')
    bag = tmp_path / 'pets'
    assert run_bag_from_sequence(['--sequence', str(copy), '--out', str(bag),
                                  '--max-frames', '3']) == 0
    messages = read_all(bag)
    images = [m[3] for m in messages if m[0] == '/camera/image_raw']
    dets = [m[3] for m in messages if m[0] == '/detections']
    assert [(i.width, i.height) for i in images] == [(768, 576)] * 3
    rows = np.loadtxt(seq / 'det' / 'det.txt', delimiter=',')
    assert [len(d.detections) for d in dets] == [int((rows[:, 0] == f).sum()) for f in (1, 2, 3)]
    assert images[1].header.stamp.nanosec == round(1e9 / 7)


def test_video_source_and_sqlite3_storage(tmp_path):
    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 5.0, (WIDTH, HEIGHT))
    assert writer.isOpened(), 'this OpenCV cannot write MJPG avi files'
    for i in range(6):
        writer.write(np.full((HEIGHT, WIDTH, 3), 40 * i, np.uint8))
    writer.release()
    bag = tmp_path / 'video_bag'
    assert run_bag_from_sequence(['--video', str(video), '--out', str(bag), '--storage',
                                  'sqlite3', '--odometry']) == 0
    assert list(bag.glob('*.db3'))
    summary = BagReadSummary()
    messages = read_all(bag, summary)
    assert summary.counts == {'/camera/image_raw': 6, '/camera/camera_info': 6, '/odom': 6}
    images = [m for m in messages if m[0] == '/camera/image_raw']
    assert images[-1][2] - images[0][2] == 1_000_000_000  # 5 frames at the video's 5 fps
    odom = [m[3] for m in messages if m[0] == '/odom']
    assert all(o.pose.pose.orientation.w == 1.0 and o.twist.twist.angular.z == 0 for o in odom)
    assert run_bag_from_sequence(['--video', str(tmp_path / 'missing.avi'), '--out',
                                  str(tmp_path / 'other')]) == 1
