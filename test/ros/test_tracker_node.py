"""The tracker node, run as its own process, tracks over real Fast DDS on loopback."""

import importlib.util
import uuid

from deepsort_ros.ros.display.markers import MARKERS_PER_TRACK
from helpers.node_harness import (diagnostics_values, Harness, scene_frame, start_node, stop_node)
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
import numpy as np
import pytest

pytestmark = pytest.mark.dds

WIDTH, HEIGHT = 320, 240
FRAME_NS = 100_000_000  # 10 Hz
SPEED_PX_S = 30.0
WAIT_S = 30.0


def _boxes(frame: int) -> np.ndarray:
    x = 20.0 + SPEED_PX_S * frame * FRAME_NS * 1e-9
    return np.array([[x, 40.0, 30.0, 70.0], [260.0 - x, 120.0, 30.0, 70.0]])


@pytest.fixture
def namespace():
    return f'/t{uuid.uuid4().hex[:8]}'


def _run_frames(harness, frames, start_ns=1_000_000_000_000, make=None):
    stamps = []
    for frame in range(frames):
        stamp = start_ns + frame * FRAME_NS
        boxes = _boxes(frame)
        image, kwargs = scene_frame(WIDTH, HEIGHT, boxes, seed=frame), {}
        if make is not None:
            image, boxes, kwargs = make(frame, image, boxes)
        count = len(harness.received['tracks'])
        harness.publish_frame(stamp, image, boxes, **kwargs)
        stamps.append(stamp)
        # Lock-step: wait for this frame's tracks so that no frame is dropped for load.
        assert harness.spin_until(lambda: len(harness.received['tracks']) > count, WAIT_S), \
            f'no TrackArray for frame {frame} within {WAIT_S} s'
    return stamps


def test_node_tracks_two_people_with_stable_ids(ros_domain_id, namespace):
    node = start_node(namespace, ['use_appearance:=false', 'diagnostics_period:=0.2'])
    harness = Harness(ros_domain_id, namespace)
    try:
        assert harness.wait_for_tracker(WAIT_S), 'the node never subscribed'
        stamps = _run_frames(harness, 20)
        arrays = harness.received['tracks']
        got = [a.header.stamp.sec * 1_000_000_000 + a.header.stamp.nanosec for a in arrays]
        assert got == stamps, 'each TrackArray carries its image stamp, in order'
        assert {a.header.frame_id for a in arrays} == {'camera_optical_frame'}
        last = arrays[-1]
        confirmed = [t for t in last.tracks if t.state == t.STATE_CONFIRMED]
        assert len(confirmed) == 2
        ids_per_frame = [sorted(t.id for t in a.tracks if t.state == t.STATE_CONFIRMED)
                         for a in arrays[5:]]
        assert all(ids == ids_per_frame[0] for ids in ids_per_frame), ids_per_frame
        boxes = _boxes(19)
        for track in confirmed:
            assert track.detection_index in (0, 1)
            x, y, w, h = boxes[track.detection_index]
            assert abs(track.center_x - (x + w / 2)) < 3.0
            assert abs(track.center_y - (y + h / 2)) < 3.0
            # Velocity in px/s from header stamps, not px/frame: +30 or -30 px/s in x.
            expected = SPEED_PX_S if track.detection_index == 0 else -SPEED_PX_S
            assert abs(track.velocity_x - expected) < 6.0, track.velocity_x
            assert len(track.image_covariance) == 64 and track.image_covariance[0] > 0
            assert len(bytes(track.uuid.uuid)) == 16
    finally:
        harness.close()
        stop_node(node)


def test_bad_input_is_counted_and_good_input_still_tracked(ros_domain_id, namespace):
    node = start_node(namespace, ['use_appearance:=false', 'diagnostics_period:=0.2'])
    harness = Harness(ros_domain_id, namespace)

    def spoil(frame, image, boxes):
        if frame == 8:  # a NaN box beside a good one
            boxes = np.vstack([boxes, [[np.nan, 10.0, 5.0, 5.0]]])
        if frame == 9:  # an encoding the node does not support (still paired: motion-only)
            return image, boxes, {'encoding': '32FC1'}
        return image, boxes, {}

    try:
        assert harness.wait_for_tracker(WAIT_S)
        _run_frames(harness, 16, make=spoil)
        assert harness.spin_until(
            lambda: harness.received['diagnostics']
            and int(diagnostics_values(harness.received['diagnostics'][-1]).get(
                'frames tracked', 0)) >= 16, WAIT_S)
        values = diagnostics_values(harness.received['diagnostics'][-1])
        assert int(values['bad detections']) >= 1
        assert int(values['bad images']) >= 1
        assert '32FC1' in values['last error'], values['last error']
        last = harness.received['tracks'][-1]
        assert len([t for t in last.tracks if t.state == t.STATE_CONFIRMED]) == 2
        assert node.poll() is None, 'the node died on bad input'
    finally:
        harness.close()
        output = stop_node(node)
    assert 'non-finite' in output or 'ignored' in output


def _image_msg(stamp_ns, image_bgr, encoding='bgr8', step=None, data=None):
    from sensor_msgs.msg import Image

    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = 'camera_optical_frame'
    msg.height, msg.width = image_bgr.shape[:2]
    msg.encoding = encoding
    msg.step = image_bgr.shape[1] * 3 if step is None else step
    msg.data = image_bgr.tobytes() if data is None else data
    return msg


def test_malformed_messages_never_kill_the_node(ros_domain_id, namespace):
    node = start_node(namespace, ['use_appearance:=false', 'diagnostics_period:=0.2'])
    harness = Harness(ros_domain_id, namespace)
    start_ns = 1_000_000_000_000
    image = scene_frame(WIDTH, HEIGHT, _boxes(0))
    broken = {
        3: {'step': WIDTH * 3 - 1},                      # wrong step
        4: {'data': image.tobytes()[:1000]},             # short data
        5: {'encoding': 'not_an_encoding'},              # nothing converts it (nor cv_bridge)
    }

    def publish(frame, stamp_ns, boxes=None):
        boxes = _boxes(frame) if boxes is None else boxes
        drawn = scene_frame(WIDTH, HEIGHT, boxes[np.isfinite(boxes).all(axis=1)], frame)
        harness.image_pub.publish(_image_msg(stamp_ns, drawn, **broken.get(frame, {})))
        harness.publish_frame(stamp_ns, None, boxes)

    def tracked_after(count):
        return harness.spin_until(lambda: len(harness.received['tracks']) > count, WAIT_S)

    try:
        assert harness.wait_for_tracker(WAIT_S)
        for frame in range(12):
            count = len(harness.received['tracks'])
            boxes = np.zeros((0, 4)) if frame == 6 else None     # an empty detection array
            if frame == 7:                                       # a NaN box beside good ones
                boxes = np.vstack([_boxes(frame), [[np.nan, 5.0, 10.0, 10.0]]])
            publish(frame, start_ns + frame * FRAME_NS, boxes)
            assert tracked_after(count), f'no TrackArray for frame {frame}'
        ids_before = {t.id for t in harness.received['tracks'][-1].tracks}
        # A frame 0.3 s older than the last one: dropped, nothing published for it.
        count = len(harness.received['tracks'])
        publish(12, start_ns + 8 * FRAME_NS + FRAME_NS // 2)
        assert not harness.spin_until(lambda: len(harness.received['tracks']) > count, 2.0), \
            'a frame older than the last one was tracked'
        # The bag loops: 1.1 s back to its start, good frames only. The node restarts.
        broken.clear()
        for frame in range(6):
            count = len(harness.received['tracks'])
            publish(frame, start_ns + frame * FRAME_NS)
            assert tracked_after(count), f'no TrackArray after the loop, frame {frame}'
        assert harness.spin_until(
            lambda: int(diagnostics_values(harness.received['diagnostics'][-1]).get(
                'clock restarts', 0)) >= 1 if harness.received['diagnostics'] else False,
            WAIT_S)
        values = diagnostics_values(harness.received['diagnostics'][-1])
        last = harness.received['tracks'][-1]
        assert node.poll() is None, 'the node died on bad input'
    finally:
        harness.close()
        output = stop_node(node)
    assert int(values['bad images']) == 3, values
    assert int(values['bad detections']) == 1, values
    assert int(values['time went backwards (dropped)']) >= 1, values
    confirmed = [t for t in last.tracks if t.state == t.STATE_CONFIRMED]
    assert len(confirmed) == 2, 'the good frames after the loop are tracked'
    assert min(t.id for t in confirmed) > max(ids_before), 'ids are never reused after a reset'
    assert 'not_an_encoding' in output


def test_reset_forgets_tracks_and_target_and_ids_keep_counting(ros_domain_id, namespace):
    from deepsort_ros_msgs.msg import TargetStatus
    from deepsort_ros_msgs.srv import SelectTarget
    from std_srvs.srv import Trigger

    node = start_node(namespace, ['use_appearance:=false'])
    harness = Harness(ros_domain_id, namespace)
    try:
        assert harness.wait_for_tracker(WAIT_S), 'the node never subscribed'
        _run_frames(harness, 6)
        select = harness.node.create_client(SelectTarget,
                                            f'{namespace}/deepsort_tracker/select_target')
        reset = harness.node.create_client(Trigger, f'{namespace}/deepsort_tracker/reset')
        assert harness.spin_until(lambda: select.service_is_ready()
                                  and reset.service_is_ready(), WAIT_S)
        chosen = select.call_async(SelectTarget.Request(mode=SelectTarget.Request.BY_TRACK_ID,
                                                        track_id=1))
        assert harness.spin_until(chosen.done, WAIT_S) and chosen.result().success
        before = {t.id for t in harness.received['tracks'][-1].tracks}
        done = reset.call_async(Trigger.Request())
        assert harness.spin_until(done.done, WAIT_S) and done.result().success
        count = len(harness.received['tracks'])
        _run_frames(harness, 6, start_ns=1_000_000_000_000 + 6 * FRAME_NS)
    finally:
        harness.close()
        stop_node(node)
    after = harness.received['tracks'][count:]
    # The forgotten tracks are reported DELETED once, then new identities start above them.
    assert {t.id for t in after[0].tracks if t.state == t.STATE_DELETED} == before
    fresh = {t.id for a in after for t in a.tracks if t.state == t.STATE_CONFIRMED}
    assert len(fresh) == 2 and min(fresh) > max(before), (before, fresh)
    assert harness.received['target'][-1].status == TargetStatus.STATUS_NONE


def test_target_selection_markers_and_annotated_image(ros_domain_id, namespace):
    from deepsort_ros_msgs.msg import TargetStatus
    from deepsort_ros_msgs.srv import SelectTarget
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import CameraInfo
    from visualization_msgs.msg import Marker

    # A camera 1 m above flat ground looking ahead: boxes whose bottom is below the horizon
    # (y > cy) have a world position, so they get RViz markers.
    node = start_node(namespace, ['use_appearance:=false', 'tracker.max_age:=0.3'])
    harness = Harness(ros_domain_id, namespace)
    harness.subscribe_annotated()
    info = CameraInfo(width=WIDTH, height=HEIGHT)
    info.k = [300.0, 0.0, WIDTH / 2, 0.0, 300.0, HEIGHT / 2, 0.0, 0.0, 1.0]
    start_ns = 1_000_000_000_000

    def publish(frame, boxes):
        stamp_ns = start_ns + frame * FRAME_NS
        info.header.stamp.sec, info.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        odom = Odometry()
        odom.header = info.header
        odom.header.frame_id = 'odom'
        odom.pose.pose.orientation.w = 1.0
        harness.odom_pub.publish(odom)
        harness.camera_info_pub.publish(info)
        count = len(harness.received['tracks'])
        harness.publish_frame(stamp_ns, scene_frame(WIDTH, HEIGHT, boxes, frame), boxes)
        assert harness.spin_until(lambda: len(harness.received['tracks']) > count, WAIT_S)

    try:
        assert harness.wait_for_tracker(WAIT_S)
        for frame in range(8):
            publish(frame, _boxes(frame))
        lower = _boxes(7)[1]  # the person walking left, feet at y = 190 (below the horizon)
        client = harness.node.create_client(SelectTarget,
                                            f'{namespace}/deepsort_tracker/select_target')
        assert harness.spin_until(client.service_is_ready, WAIT_S)
        future = client.call_async(SelectTarget.Request(
            mode=SelectTarget.Request.BY_POINT, x=lower[0] + lower[2] / 2,
            y=lower[1] + lower[3] / 2))
        assert harness.spin_until(future.done, WAIT_S) and future.result().success
        target_id = future.result().target_id
        for frame in range(8, 11):
            publish(frame, _boxes(frame))
        # The followed person leaves: 0.6 s unseen is twice max_age, the track is deleted.
        for frame in range(11, 17):
            publish(frame, _boxes(frame)[:1])
        assert harness.spin_until(lambda: len(harness.received['annotated']) >= 10, WAIT_S)
    finally:
        harness.close()
        stop_node(node)
    statuses = [(t.status, t.target_id) for t in harness.received['target'][8:11]]
    assert statuses == [(TargetStatus.STATUS_TRACKED, target_id)] * 3, statuses
    assert harness.received['target'][-1].status in (
        TargetStatus.STATUS_SEARCHING, TargetStatus.STATUS_LOST)
    tracked = harness.received['tracks'][9]
    target = tracked.tracks[tracked.target_index]
    assert target.id == target_id and target.world_valid
    assert target.pose.pose.position.x > 1.0, 'the target stands ahead of the camera'
    assert tracked.world_frame_id == 'odom'
    added = {m.id // MARKERS_PER_TRACK for a in harness.received['markers'] for m in a.markers
             if m.action == Marker.ADD}
    deleted_at = [i for i, a in enumerate(harness.received['markers'])
                  if any(m.action == Marker.DELETE and m.id // MARKERS_PER_TRACK == target_id
                         for m in a.markers)]
    assert target_id in added and deleted_at, 'the dead track must delete its markers'
    later = harness.received['markers'][deleted_at[0] + 1:]
    assert not any(m.id // MARKERS_PER_TRACK == target_id and m.action == Marker.ADD
                   for a in later for m in a.markers), 'a ghost marker came back'
    stamps = {a.header.stamp.sec * 10**9 + a.header.stamp.nanosec
              for a in harness.received['tracks']}
    picture = harness.received['annotated'][-1]
    assert (picture.width, picture.height) == (WIDTH, HEIGHT)
    assert picture.header.stamp.sec * 10**9 + picture.header.stamp.nanosec in stamps


@pytest.mark.parametrize('override,reason', [
    ('ego_motion_mode:=sideways', 'ego_motion_mode must be one of'),
    ('extrinsic_from_tf:=true', 'tf2_ros cannot be imported'),
])
def test_invalid_configuration_is_refused_with_its_reason(
        ros_domain_id, namespace, override, reason):
    if 'tf' in override and importlib.util.find_spec('tf2_ros') is not None:
        pytest.skip('tf2_ros is installed here: the TF extrinsic is allowed')
    node = start_node(namespace, [override, 'use_appearance:=false'])
    harness = Harness(ros_domain_id, namespace)
    try:
        # A node that failed to configure never subscribes; give it time to try and log.
        assert not harness.wait_for_tracker(5.0), 'the node started with a bad configuration'
        assert node.poll() is None, 'a bad parameter must not kill the process'
    finally:
        harness.close()
        output = stop_node(node)
    assert reason in output, output


def test_lifecycle_subscribes_only_when_activated(ros_domain_id, namespace):
    node = start_node(namespace, ['use_appearance:=false'], autostart=False)
    harness = Harness(ros_domain_id, namespace)
    try:
        client = harness.node.create_client(ChangeState,
                                            f'{namespace}/deepsort_tracker/change_state')
        assert harness.spin_until(client.service_is_ready, WAIT_S), 'no lifecycle service'
        assert harness.detections_pub.get_subscription_count() == 0
        for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            future = client.call_async(ChangeState.Request(
                transition=Transition(id=transition)))
            assert harness.spin_until(future.done, WAIT_S)
            assert future.result().success
        assert harness.wait_for_tracker(WAIT_S), 'activated node did not subscribe'
        _run_frames(harness, 3)
        assert len(harness.received['tracks']) == 3
    finally:
        harness.close()
        stop_node(node)
