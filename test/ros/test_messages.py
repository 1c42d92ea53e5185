"""Messages in and out of the core: Detection2DArray -> arrays, tracks -> TrackArray, TF."""

import uuid

from deepsort_ros.core import Tracker, TrackerConfig
from deepsort_ros.geometry import PinholeCamera
from deepsort_ros.ros.messages import (camera_info_to_camera, camera_to_camera_info,
                                       ClassRegistry, detections_to_batch, tracks_to_msg,
                                       transform_to_xyz_quaternion, WorldEstimate)
import deepsort_ros_msgs.msg as track_msgs
from geometry_msgs.msg import TransformStamped
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose


def _detection(cx, cy, w, h, hypotheses):
    det = Detection2D()
    det.bbox.center.position.x, det.bbox.center.position.y = cx, cy
    det.bbox.size_x, det.bbox.size_y = w, h
    for label, score in hypotheses:
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = label, score
        det.results.append(hyp)
    return det


def test_detections_take_the_best_hypothesis_and_drop_bad_boxes():
    msg = Detection2DArray(detections=[
        _detection(50.0, 60.0, 20.0, 40.0, [('car', 0.3), ('person', 0.8)]),
        _detection(float('nan'), 10.0, 5.0, 5.0, [('person', 0.9)]),
        _detection(10.0, 10.0, 0.0, 5.0, [('person', 0.9)]),
        _detection(90.0, 90.0, 10.0, 10.0, [('person', 0.05)]),
        _detection(30.0, 30.0, 10.0, 20.0, []),
    ])
    classes = ClassRegistry()
    batch = detections_to_batch(msg, classes, min_score=0.1)
    assert batch.rejected == 2  # the NaN box and the zero width; the low score is not "bad"
    assert batch.message_indices.tolist() == [0, 4]
    assert np.allclose(batch.boxes_tlwh, [[40.0, 40.0, 20.0, 40.0], [25.0, 20.0, 10.0, 20.0]])
    assert batch.scores.tolist() == pytest.approx([0.8, 1.0])
    assert [classes.to_label(c) for c in batch.class_ids] == ['person', '']


def test_tracks_become_a_track_array_with_every_field():
    classes = ClassRegistry()
    person = classes.to_id('person')
    tracker = Tracker(TrackerConfig(n_init=1))
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [100.0, 20.0, 30.0, 60.0]])
    tracker.update(boxes, [0.9, 0.8], [person, person], timestamp=0.0)
    tracks = tracker.update(boxes + [3.0, 0.0, 0.0, 0.0], [0.9, 0.8], [person, person],
                            timestamp=0.1)
    target = tracker.select_target(track_id=tracks[1].track_id)
    header = Header(frame_id='camera_optical_frame')
    header.stamp.sec, header.stamp.nanosec = 12, 345
    world = WorldEstimate(np.array([[4.0, 1.0], [5.0, -1.0]]), np.tile(np.eye(2), (2, 1, 1)),
                          np.array([[0.5, 0.0], [0.0, 0.2]]), np.tile(np.eye(2), (2, 1, 1)),
                          np.array([True, False]), 0.0)
    namespace = uuid.UUID(int=7)
    msg = tracks_to_msg(tracks, header, track_msgs, classes, namespace,
                        message_indices=np.array([3, 5]), world=world, world_frame_id='odom',
                        target_id=target)
    assert msg.header == header and msg.world_frame_id == 'odom' and msg.target_index == 1
    first, second = msg.tracks
    assert first.state == track_msgs.Track.STATE_CONFIRMED and first.class_id == 'person'
    assert (first.center_x, first.center_y) == pytest.approx((28.0, 50.0), abs=1.0)
    assert first.velocity_x > 0 and len(first.image_covariance) == 64
    assert [first.detection_index, second.detection_index] == [3, 5]
    assert first.world_valid and not second.world_valid
    assert (first.pose.pose.position.x, first.twist.twist.linear.x) == (4.0, 0.5)
    assert bytes(first.uuid.uuid) == uuid.uuid5(namespace, str(first.id)).bytes
    assert bytes(first.uuid.uuid) != bytes(second.uuid.uuid)


def test_tf_transform_to_arrays():
    transform = TransformStamped()
    transform.transform.translation.x, transform.transform.translation.z = 0.2, 1.1
    transform.transform.rotation.x, transform.transform.rotation.w = 0.0, 2.0  # not unit
    translation, quaternion = transform_to_xyz_quaternion(transform)
    assert translation.tolist() == [0.2, 0.0, 1.1] and quaternion.tolist() == [0, 0, 0, 1]
    transform.transform.rotation.w = 0.0
    with pytest.raises(ValueError, match='zero quaternion'):
        transform_to_xyz_quaternion(transform)


def test_camera_info_becomes_a_camera_model_and_back():
    camera = PinholeCamera(np.array([[500.0, 0.0, 320.0], [0.0, 490.0, 240.0], [0, 0, 1]]),
                           640, 480, [-0.2, 0.05, 0.0, 0.0, 0.0], 'plumb_bob',
                           [[450.0, 0.0, 310.0, 0.0], [0.0, 445.0, 235.0, 0.0], [0, 0, 1, 0]])
    header = Header(frame_id='camera_optical_frame')
    msg = camera_to_camera_info(camera, header)
    assert isinstance(msg, CameraInfo) and msg.header == header
    assert (msg.width, msg.height, msg.distortion_model) == (640, 480, 'plumb_bob')
    assert list(msg.r) == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert camera_info_to_camera(msg) == camera
    # A driver that leaves D and P empty: an ideal lens, P = [K | 0].
    bare = camera_info_to_camera(CameraInfo(k=list(msg.k)))
    assert not bare.distorted and bare.projection[0, 0] == 500.0


@pytest.mark.parametrize('k, reason', [
    ([0.0] * 9, 'all zero'),
    ([0.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0], 'focal lengths must be positive'),
    ([-500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0], 'focal lengths must be positive'),
    ([float('nan'), 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0], 'finite'),
])
def test_an_invalid_camera_info_says_why(k, reason):
    with pytest.raises(ValueError, match=reason):
        camera_info_to_camera(CameraInfo(k=k))
