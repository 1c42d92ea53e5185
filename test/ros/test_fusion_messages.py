"""The fusion's messages built and read through deepsort_ros.ros.convert."""

import uuid

from deepsort_ros.core import Tracker, TrackerConfig
from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros.fusion import FusionConfig, TrackFusion
from deepsort_ros.ros.convert.appearances import appearance_msg_to_arrays, appearances_to_msg
from deepsort_ros.ros.convert.global_tracks import (global_track_members, global_tracks_to_msg,
                                                    track_array_to_camera_batch)
from deepsort_ros.ros.convert.stamps import make_header
from deepsort_ros.ros.convert.tracks import tracks_to_msg, uuid_bytes, WorldEstimate
from deepsort_ros.ros.display.markers import GlobalMarkerBuilder
from deepsort_ros_msgs.msg import GlobalTrack, Track, TrackAppearanceArray
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from visualization_msgs.msg import Marker


def tracked(frames: int = 3):
    tracker = Tracker(TrackerConfig(n_init=1))
    features = np.eye(2, 16, dtype=np.float32)
    out = []
    for k in range(frames):
        out = tracker.update(np.array([[100.0 + k, 50, 20, 40], [300, 60, 20, 40]]),
                             features=features, timestamp=0.1 * k)
    return out


def world(n: int) -> WorldEstimate:
    return WorldEstimate(np.array([[1.0, 2.0], [np.nan, np.nan]])[:n],
                         np.tile(np.diag([0.04, 0.09]), (n, 1, 1)),
                         np.tile([0.5, -0.5], (n, 1)), np.tile(0.01 * np.eye(2), (n, 1, 1)),
                         np.array([True, False])[:n])


def test_appearances_round_trip_through_cdr_keyed_by_the_tracks_uuids():
    tracks = tracked()
    namespace = uuid.uuid4()
    header = make_header(1_500_000_000, 'left_optical')
    msg = appearances_to_msg(header, namespace, 'OSNet x0.25', 'AB' * 32,
                             [t.track_id for t in tracks], [t.feature for t in tracks])
    back = appearance_msg_to_arrays(deserialize_message(serialize_message(msg),
                                                        TrackAppearanceArray))
    array = tracks_to_msg(tracks, header, ClassRegistry(), namespace)
    assert back.keys == [uuid_bytes(t.uuid) for t in array.tracks]
    assert back.source_id == namespace.hex and back.stamp_ns == 1_500_000_000
    assert back.encoder == 'sha256:' + 'ab' * 32 and back.encoder_name == 'OSNet x0.25'
    assert np.allclose(back.features, [t.feature for t in tracks])
    # 10 tracks of 512-d features: what the fusion would get every frame without the schedule
    many = appearances_to_msg(header, namespace, 'e', 'ab' * 32, list(range(10)),
                              np.ones((10, 512), np.float32))
    assert 20_700 < len(serialize_message(many)) < 21_000


def test_a_track_array_becomes_the_fusions_camera_batch():
    tracks = tracked()
    header = make_header(2_000_000_000, 'cam')
    array = tracks_to_msg(tracks, header, ClassRegistry(), uuid.uuid4(), None, world(2), 'map')
    array.tracks[1].state = Track.STATE_COASTING
    extra = Track(id=99, state=Track.STATE_TENTATIVE)
    array.tracks.append(extra)
    camera = track_array_to_camera_batch(array, 'gid-1')
    batch = camera.batch
    assert camera.stamp_ns == 2_000_000_000 and camera.left_out == 1
    assert batch.local_ids.tolist() == [t.track_id for t in tracks]
    assert batch.detected.tolist() == [True, False]
    assert batch.world_valid.tolist() == [True, False]
    assert np.allclose(batch.position_xy[0], [1.0, 2.0])
    assert np.allclose(batch.position_cov[0], np.diag([0.04, 0.09]))
    assert np.allclose(batch.velocity_xy[0], [0.5, -0.5])
    assert (batch.source_id, batch.world_frame) == ('gid-1', 'map')
    assert camera.uuids == [uuid_bytes(t.uuid) for t in array.tracks[:2]]


def test_global_tracks_carry_their_members_with_the_camera_tracks_uuids():
    fusion = TrackFusion(FusionConfig(), uuid.UUID(int=7))
    from deepsort_ros.fusion import CameraTrack

    fusion.update('left', 1.0, [CameraTrack(3, position_xy=[1, 1], position_cov=0.01 * np.eye(2),
                                            velocity_xy=[0, 0], velocity_cov=0.01 * np.eye(2),
                                            world_valid=True)])
    out = fusion.update('right', 1.05, [CameraTrack(
        8, position_xy=[1.02, 1.0], position_cov=0.01 * np.eye(2), velocity_xy=[0, 0],
        velocity_cov=0.01 * np.eye(2), world_valid=True)])
    assert len(out) == 1
    msg = global_tracks_to_msg(out, 1_050_000_000, 'map', {('left', 3): b'L' * 16})
    track = msg.tracks[0]
    assert msg.header.frame_id == 'map' and track.state == GlobalTrack.STATE_TRACKED
    assert track.world_valid and abs(track.pose.pose.position.x - 1.0) < 0.05
    assert [(m.camera, m.local_id) for m in track.members] == [('left', 3), ('right', 8)]
    assert uuid_bytes(track.members[0].local_uuid) == b'L' * 16
    assert track.members[1].last_seen.sec == 1 and track.members[1].last_seen.nanosec == 50_000_000
    assert global_track_members(msg) == {('left', 3): track.id, ('right', 8): track.id}
    markers = GlobalMarkerBuilder().build(msg)
    assert [m.text for m in markers.markers if m.type == Marker.TEXT_VIEW_FACING] == \
        [f'{track.id} left+right']
    assert all(m.header.frame_id == 'map' for m in markers.markers)
    gone = GlobalMarkerBuilder()
    gone.build(msg)
    msg.tracks = []
    assert {m.action for m in gone.build(msg).markers} == {Marker.DELETE}


class _Encoder:
    """A stand-in encoder: one fixed feature per box, by its column."""

    name = 'stand-in encoder'

    def __call__(self, image, boxes_tlwh):
        features = np.zeros((len(boxes_tlwh), 8), np.float32)
        columns = (np.asarray(boxes_tlwh)[:, 0] // 100).astype(int) % 8
        features[np.arange(len(boxes_tlwh)), columns] = 1.0
        return features


def test_the_tracker_pipeline_sends_features_at_confirmation_then_sparingly(tmp_path):
    from deepsort_ros.ros.convert.images import bgr_to_image_msg
    from deepsort_ros.ros.convert.detections import detections_to_msg
    from deepsort_ros.settings.tracker import NodeConfig
    from deepsort_ros.pipeline.tracking import TrackingPipeline
    import hashlib

    weights = tmp_path / 'weights.onnx'
    weights.write_bytes(b'not really a model')
    pipeline = TrackingPipeline(NodeConfig(encoder_weights=str(weights)), TrackerConfig(),
                                _Encoder())
    assert pipeline.encoder_digest == hashlib.sha256(b'not really a model').hexdigest()
    sent = []
    for k in range(30):  # 3 s at 10 Hz
        header = make_header(1_000_000_000 + k * 100_000_000, 'cam')
        boxes = np.array([[20.0 + k, 40, 30, 70], [250.0 - k, 60, 30, 70]])
        pipeline.add_image(bgr_to_image_msg(np.zeros((240, 320, 3), np.uint8), header))
        for result in pipeline.track(pipeline.add_detections(
                detections_to_msg(header, boxes, [0.9, 0.9], 'person'))):
            sent.append(result.appearances)
    first = next(msg for msg in sent if msg is not None)
    assert len(first.appearances) == 2 and first.encoder == 'stand-in encoder'
    assert first.encoder_digest == pipeline.encoder_digest
    assert uuid_bytes(first.source_id) == pipeline.namespace.bytes
    # unchanged features: sent once, then only refreshed (5 s) -- not in these 3 s
    assert sum(len(m.appearances) for m in sent if m is not None) == 2
    _Encoder.digest = 'cd' * 32  # an encoder that knows its digest is believed
    try:
        assert TrackingPipeline(NodeConfig(), TrackerConfig(), _Encoder()).encoder_digest == \
            'cd' * 32
    finally:
        del _Encoder.digest


def test_a_rig_view_makes_its_own_camera_stream(tmp_path):
    import cv2

    from deepsort_ros.recordings.bag_reader import read_messages
    from deepsort_ros.recordings.sequence_to_bag import (iter_sequence_messages,
                                                         MessageOptions, SequenceSource,
                                                         write_sequence_bag)
    from deepsort_ros.ros.convert.camera import camera_info_to_camera
    from deepsort_ros.ros.convert.odometry import odometry_to_pose
    from deepsort_ros.sim.camera_rig import overlap_rig

    seq = tmp_path / 'RIG-01'
    (seq / 'img1').mkdir(parents=True)
    (seq / 'det').mkdir()
    for f in range(1, 5):
        cv2.imwrite(str(seq / 'img1' / f'{f:06d}.png'), np.zeros((576, 768, 3), np.uint8))
    (seq / 'det' / 'det.txt').write_text(''.join(
        f'{f},-1,360,250,40,100,0.9,-1,-1,-1\n' for f in range(1, 5)))
    (seq / 'seqinfo.ini').write_text('[Sequence]\nname=RIG-01\nimDir=img1\nframeRate=7\n'
                                     'seqLength=4\nimWidth=768\nimHeight=576\nimExt=.png\n')
    rig = overlap_rig()
    right = rig['right']
    options = MessageOptions.for_view(right, latency_s=0.2)
    frames = list(iter_sequence_messages(SequenceSource.from_sequence(seq), options))
    assert [f for f, _, _ in frames] == [1, 2, 4]  # every third frame dropped
    topics = dict(frames[1][2])
    assert set(topics) == {'/right/odom', '/right/camera/camera_info',
                           '/right/camera/image_raw', '/right/detections'}
    camera = camera_info_to_camera(topics['/right/camera/camera_info'])
    assert (camera.width, camera.height) == (460, 576)
    assert np.allclose(camera.matrix, right.intrinsics)
    image = topics['/right/camera/image_raw']
    assert (image.width, image.height, image.header.frame_id) == \
        (460, 576, 'right/camera_optical_frame')
    odometry = odometry_to_pose(topics['/right/odom'])
    assert (odometry.frame_id, odometry.child_frame_id) == ('map', 'right/base_link')
    assert np.allclose(odometry.position_xyz, right.base_pose_at(1 / 7).translation)
    assert np.allclose(odometry.orientation_xyzw, right.quaternion_xyzw_at(1 / 7)) or \
        np.allclose(odometry.orientation_xyzw, -right.quaternion_xyzw_at(1 / 7))
    detections = topics['/right/detections'].detections
    expected = right.warp_rows([[2, -1, 360, 250, 40, 100, 0.9]], 7.0)
    assert len(detections) == len(expected) == 1
    assert abs(detections[0].bbox.size_x - expected[0, 4]) < 1e-6
    bag = tmp_path / 'right_bag'
    write_sequence_bag(SequenceSource.from_sequence(seq), options, bag, progress=False)
    logged = [(log_ns, msg.header.stamp) for topic, _, log_ns, msg in read_messages(bag)
              if topic == '/right/camera/image_raw']
    assert len(logged) == 3
    assert all(log_ns - (s.sec * 1_000_000_000 + s.nanosec) == 200_000_000
               for log_ns, s in logged)
