"""The message seam: every message built here reads back; tracks, target, markers, TF."""

import uuid

from deepsort_ros.core import TargetStatus, Tracker, TrackerConfig
from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros.geometry import PinholeCamera
from deepsort_ros.ros.convert.camera import camera_info_to_camera, camera_to_camera_info
from deepsort_ros.ros.convert.detections import detections_to_batch, detections_to_msg
from deepsort_ros.ros.convert.odometry import (odometry_to_pose, pose_to_odometry,
                                               transform_to_xyz_quaternion)
from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros.ros.convert.tracks import (target_status_to_msg, track_array_to_mot,
                                             tracks_to_msg, WorldEstimate)
from deepsort_ros.ros.display.annotated_image import draw_tracks
from deepsort_ros.ros.display.markers import MarkerBuilder, MARKERS_PER_TRACK
import deepsort_ros_msgs.msg as track_msgs
from geometry_msgs.msg import TransformStamped
from helpers.message_samples import sample_track_array
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
from visualization_msgs.msg import Marker


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
    msg = tracks_to_msg(tracks, header, classes, namespace,
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


def test_detections_built_here_read_back_the_same():
    header = make_header(1_700_000_000_123_456_789, 'camera_optical_frame')
    assert stamp_to_ns(header.stamp) == 1_700_000_000_123_456_789
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [100.0, 5.0, 8.0, 16.0]])
    msg = detections_to_msg(header, boxes, [0.75, 0.5], ['person', 'car'])
    assert isinstance(msg, Detection2DArray) and msg.header == header
    assert all(d.header == header for d in msg.detections)
    classes = ClassRegistry()
    batch = detections_to_batch(msg, classes)
    np.testing.assert_allclose(batch.boxes_tlwh, boxes)
    assert batch.scores.tolist() == [0.75, 0.5]
    assert [classes.to_label(c) for c in batch.class_ids] == ['person', 'car']
    assert len(detections_to_msg(header, np.zeros((0, 4)), [], 'person').detections) == 0
    with pytest.raises(ValueError, match='labels'):
        detections_to_msg(header, boxes, [0.75, 0.5], ['person'])


def test_odometry_both_ways():
    header = make_header(5_000_000_000, 'odom')
    msg = pose_to_odometry(header, 'base_link', [1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 2.0],
                           [0.0, 0.0, 0.5])
    assert msg.twist.twist.angular.z == 0.5 and msg.child_frame_id == 'base_link'
    pose = odometry_to_pose(msg)
    assert (pose.stamp_ns, pose.frame_id, pose.child_frame_id) == (5_000_000_000, 'odom',
                                                                   'base_link')
    assert pose.position_xyz.tolist() == [1.0, 2.0, 0.0]
    assert pose.orientation_xyzw.tolist() == [0.0, 0.0, 0.0, 1.0]
    msg.pose.pose.position.x = float('nan')
    with pytest.raises(ValueError, match='not finite'):
        odometry_to_pose(msg)


def test_target_status_and_mot_rows_of_a_track_array():
    array = sample_track_array()  # target_index 1; tracks 7, 8 confirmed, 9 coasting
    status = target_status_to_msg(array.header, TargetStatus.TRACKED, 8, array)
    assert status.status == track_msgs.TargetStatus.STATUS_TRACKED and status.target_id == 8
    assert status.has_track and status.track == array.tracks[1]
    none = target_status_to_msg(array.header, TargetStatus.TRACKED, None, array)
    assert none.status == track_msgs.TargetStatus.STATUS_NONE
    # Every core status has its constant; a candidate carries its id and progress.
    for core_status in TargetStatus:
        msg = target_status_to_msg(array.header, core_status, 8, array)
        assert msg.status == getattr(track_msgs.TargetStatus, 'STATUS_' + core_status.name)
    candidate = target_status_to_msg(array.header, TargetStatus.CANDIDATE, 8, array, 0.25, 9)
    assert (candidate.candidate_id, candidate.confidence) == (9, 0.25)
    shown = track_array_to_mot(array)
    assert shown.track_ids.tolist() == [7, 8]
    np.testing.assert_allclose(shown.boxes_tlwh[0], [80.5, 155.25, 40.0, 90.0])
    assert shown.scores.tolist() == [0.5, 0.625]


def test_markers_follow_the_tracks_and_keep_the_track_array_intact():
    array = sample_track_array()
    frame_before = array.header.frame_id
    builder = MarkerBuilder()
    first = builder.build(array)
    per_track = MARKERS_PER_TRACK
    assert {m.id // per_track for m in first.markers} == {7, 8, 9}
    assert all(m.action == Marker.ADD and m.header.frame_id == 'odom' for m in first.markers)
    body = next(m for m in first.markers if m.id == 7 * per_track)
    assert body.type == Marker.CYLINDER and body.pose.position.x == 1.0
    assert array.header.frame_id == frame_before, 'markers must not rename the camera frame'
    assert array.tracks[0].pose.pose.position.z == 0.0, 'markers must not move the tracks'
    array.tracks[2].state = track_msgs.Track.STATE_LOST
    second = builder.build(array)
    deleted = {m.id for m in second.markers if m.action == Marker.DELETE}
    assert deleted == set(range(9 * per_track, 10 * per_track))


def test_the_marker_ellipse_is_the_two_sigma_position_covariance():
    array = sample_track_array()
    covariance = np.zeros((6, 6))
    # sigma 0.5 m along y, 0.1 m along x: the major axis points along y.
    covariance[:2, :2] = [[0.01, 0.0], [0.0, 0.25]]
    array.tracks[0].pose.covariance = covariance.reshape(36).tolist()
    markers = MarkerBuilder().build(array).markers
    ellipse = next(m for m in markers if m.id == 7 * MARKERS_PER_TRACK + 3)
    assert ellipse.type == Marker.CYLINDER
    assert ellipse.scale.x == pytest.approx(2.0 * 2.0 * 0.5)
    assert ellipse.scale.y == pytest.approx(2.0 * 2.0 * 0.1)
    yaw = 2.0 * np.arctan2(ellipse.pose.orientation.z, ellipse.pose.orientation.w)
    assert abs(np.cos(yaw)) == pytest.approx(0.0, abs=1e-9)  # along y
    arrow = next(m for m in markers if m.id == 7 * MARKERS_PER_TRACK + 2)
    assert arrow.type == Marker.ARROW and len(arrow.points) == 2


def test_the_target_is_drawn_from_the_track_array():
    array = sample_track_array()
    for track, x in zip(array.tracks, (60.0, 160.0, 260.0)):
        track.center_x = x  # apart, so that no box is drawn over another
    image = np.zeros((400, 400, 3), np.uint8)
    canvas = draw_tracks(image, array)
    target = array.tracks[array.target_index]
    x0 = int(round(target.center_x - target.size_x / 2))
    y_mid = int(round(target.center_y))
    assert tuple(canvas[y_mid, x0]) == (0, 0, 255)
    # On a white halo, so that no identity's near-red box passes for it.
    assert tuple(canvas[y_mid, x0 - 4]) == tuple(canvas[y_mid, x0 + 4]) == (255, 255, 255)
    other = array.tracks[0]
    other_x0 = int(round(other.center_x - other.size_x / 2))
    assert tuple(canvas[y_mid, other_x0 - 4]) == (0, 0, 0)
