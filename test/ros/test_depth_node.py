"""Depth registered to the image places tracks over real Fast DDS; hostile depth is counted."""

from dataclasses import replace
import time
import uuid

from helpers.node_harness import diagnostics_values, Harness, start_node, stop_node
import numpy as np
import pytest

pytestmark = pytest.mark.dds

FRAMES = 30
WAIT_S = 30.0
# Frames whose depth is hostile: wrong size, wrong encoding, all zeros (no reading), all NaN.
HOSTILE = {14: 'size', 15: 'encoding', 16: 'zeros', 17: 'nan'}
# gt ids of PETS09-S2L1 people the depth sensor does not see (ids 9, 15 and 19 walk through
# all the first frames, 11 and 12 through some): their tracks must fall back to the ground.
NO_DEPTH_IDS = (11, 15)


def _depth_msg(header, depth_m, kind=''):
    from sensor_msgs.msg import Image

    msg = Image(header=header, height=depth_m.shape[0], width=depth_m.shape[1],
                encoding='32FC1', is_bigendian=False, step=depth_m.shape[1] * 4)
    pixels = depth_m.astype('<f4')
    if kind == 'size':
        pixels = pixels[::2, ::2].copy()
        msg.height, msg.width, msg.step = pixels.shape[0], pixels.shape[1], pixels.shape[1] * 4
    elif kind == 'encoding':
        msg.encoding = 'rgb8'
    elif kind == 'zeros':
        pixels = np.zeros_like(pixels)
    elif kind == 'nan':
        pixels = np.full_like(pixels, np.nan)
    msg.data = pixels.tobytes()
    return msg


def test_depth_positions_over_dds_with_ground_plane_fallback(ros_domain_id, shared_dir):
    from deepsort_ros.recordings.mot import load_mot_rows, read_sequence_info
    from deepsort_ros.ros.convert.detections import detections_to_msg
    from deepsort_ros.recordings.sequence_to_bag import (BagTopics, iter_sequence_messages,
                                                         MessageOptions, SequenceSource)
    from deepsort_ros.sim.camera_rig import RigCamera, RigView
    from deepsort_ros.sim.ground_camera import PETS09_CAMERA
    from deepsort_ros.sim.depth_scene import render_depth
    from deepsort_ros.sim.virtual_camera import RotationProfile
    from nav_msgs.msg import Odometry
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from vision_msgs.msg import Detection2DArray

    sequence = shared_dir / 'data' / 'PETS09-S2L1'
    if not (sequence / 'gt').is_dir():
        pytest.skip(f'{sequence} has no gt (world positions)')
    info = read_sequence_info(sequence)
    gt = load_mot_rows(sequence / 'gt' / 'gt.txt')
    gt = gt[gt[:, 6] > 0]
    # The camera fitted to PETS09's gt world coordinates, still: the node's own extrinsic.
    view = RigView(RigCamera('still', info.width, info.width / 2.0, RotationProfile()),
                   PETS09_CAMERA)
    namespace = f'/t{uuid.uuid4().hex[:8]}'
    options = replace(MessageOptions.for_view(view, max_frames=FRAMES), topics=BagTopics(
        image=f'{namespace}/image', camera_info=f'{namespace}/camera_info',
        detections=f'{namespace}/detections', odometry=f'{namespace}/odom'))
    rpy = ','.join(f'{v:.9f}' for v in view.base_to_camera_rpy)
    node = start_node(namespace, [
        'use_appearance:=false', 'ego_motion_mode:=odometry', 'diagnostics_period:=0.2',
        'base_to_camera_xyz:=[0.0,0.0,0.0]', f'base_to_camera_rpy:=[{rpy}]',
        'depth_topic:=depth', 'depth_max_range:=60.0', 'depth_std_quadratic:=0.0001'])
    harness = Harness(ros_domain_id, namespace)
    published = {}
    try:
        depth_pub = harness.node.create_publisher(
            Image, f'{namespace}/depth',
            QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        publishers = {Image: harness.image_pub, CameraInfo: harness.camera_info_pub,
                      Detection2DArray: harness.detections_pub}
        assert harness.wait_for_tracker(WAIT_S), 'the node never subscribed'
        assert harness.spin_until(lambda: depth_pub.get_subscription_count() > 0, WAIT_S)
        frames = list(iter_sequence_messages(SequenceSource.from_sequence(sequence), options))
        for k, (frame, stamp_ns, messages) in enumerate(frames):
            # Odometry goes out a frame early (a robot's odometry is ahead of its camera).
            for _, _, ahead in frames[k:k + 2] if k == 0 else frames[k + 1:k + 2]:
                for _, msg in ahead:
                    if isinstance(msg, Odometry):
                        harness.odom_pub.publish(msg)
            rows = gt[gt[:, 0] == frame]
            depth = render_depth(PETS09_CAMERA, rows[:, 7:9])
            for row in rows[np.isin(rows[:, 1], NO_DEPTH_IDS)]:
                x, y, w, h = row[2:6]
                x0, y0 = int(max(x - 0.5 * w, 0)), int(max(y - 0.2 * h, 0))
                depth[y0:int(y + 1.2 * h), x0:int(x + 1.5 * w)] = np.nan
            header = next(m.header for _, m in messages if isinstance(m, Image))
            depth_pub.publish(_depth_msg(header, depth, HOSTILE.get(frame, '')))
            harness.spin_until(lambda: False, 0.05)  # the depth goes out before its image
            count = len(harness.received['tracks'])
            for _, msg in messages:
                if isinstance(msg, Detection2DArray):
                    # The scene's own boxes: what is measured is the depth path, not the
                    # detector's error (SORT boxes are off by 5-10 px, 0.1-0.2 m sideways).
                    msg = detections_to_msg(msg.header, rows[:, 2:6], [0.9] * len(rows),
                                            'person')
                if not isinstance(msg, Odometry):
                    publishers[type(msg)].publish(msg)
            published[stamp_ns] = (frame, rows)
            assert harness.spin_until(lambda: len(harness.received['tracks']) > count, WAIT_S), \
                f'no TrackArray for frame {frame} within {WAIT_S} s'
        deadline = time.monotonic() + WAIT_S
        assert harness.spin_until(
            lambda: harness.received['diagnostics'] and int(diagnostics_values(
                harness.received['diagnostics'][-1]).get('frames tracked', 0)) >= FRAMES,
            max(deadline - time.monotonic(), 1.0))
        values = diagnostics_values(harness.received['diagnostics'][-1])
        assert node.poll() is None, 'the node died on hostile depth'
    finally:
        harness.close()
        output = stop_node(node)
    assert int(values['bad depth images (ground plane used)']) == 2, values
    assert int(values['track positions from depth']) > 0
    from_depth, fallback, hostile_sources = [], [], []
    for array in harness.received['tracks']:
        stamp_ns = array.header.stamp.sec * 1_000_000_000 + array.header.stamp.nanosec
        frame, rows = published[stamp_ns]
        for track in array.tracks:
            if track.state != track.STATE_CONFIRMED or not track.world_valid:
                continue
            if frame in HOSTILE:
                hostile_sources.append(track.position_source)
                continue
            box = np.array([track.center_x - track.size_x / 2, track.center_y - track.size_y / 2,
                            track.size_x, track.size_y])
            person = _unoccluded_match(box, rows)
            if person is None:
                continue
            error = np.hypot(track.pose.pose.position.x - person[7],
                             track.pose.pose.position.y - person[8])
            if track.position_source == track.POSITION_DEPTH:
                assert person[1] not in NO_DEPTH_IDS, 'a person without depth placed by depth'
                from_depth.append(error)
            else:
                assert track.position_source == track.POSITION_GROUND_PLANE
                fallback.append(person[1] in NO_DEPTH_IDS)
    print(f'{len(from_depth)} placed by depth, max error {max(from_depth):.3f} m; '
          f'{len(fallback)} on the ground plane')
    assert len(from_depth) >= 20, len(from_depth)
    assert max(from_depth) < 0.1, sorted(from_depth)[-5:]
    assert len(fallback) >= 10 and np.mean(fallback) > 0.8, fallback
    assert hostile_sources and all(s != 2 for s in hostile_sources)
    assert 'depth' in output


def _unoccluded_match(box, rows):
    # The gt person this box covers (IoU >= 0.5), when no other person's box overlaps theirs.
    tl = np.maximum(box[:2], rows[:, 2:4])
    br = np.minimum(box[:2] + box[2:], rows[:, 2:4] + rows[:, 4:6])
    inter = np.prod(np.clip(br - tl, 0.0, None), axis=1)
    iou = inter / (np.prod(box[2:]) + np.prod(rows[:, 4:6], axis=1) - inter)
    best = int(np.argmax(iou))
    if iou[best] < 0.5:
        return None
    other = np.delete(rows, best, axis=0)
    tl = np.maximum(rows[best, 2:4], other[:, 2:4])
    br = np.minimum(rows[best, 2:4] + rows[best, 4:6], other[:, 2:4] + other[:, 4:6])
    if np.any(np.prod(np.clip(br - tl, 0.0, None), axis=1) > 0):
        return None
    return rows[best]
