"""TrackingPipeline without DDS: real messages built through the seam, tracked frame by frame."""

from typing import List, Optional

from deepsort_ros.core import TrackerConfig
from deepsort_ros.geometry import PinholeCamera
from deepsort_ros.pipeline.diagnostics import DiagnosticsCollector
from deepsort_ros.pipeline.tracking import FrameResult, TrackingPipeline
from deepsort_ros.ros.convert.camera import camera_to_camera_info
from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.convert.odometry import pose_to_odometry
from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros.settings.tracker import NodeConfig
from deepsort_ros_msgs.msg import TargetStatus, Track
from helpers.node_harness import scene_frame
import numpy as np

WIDTH, HEIGHT = 320, 240
FRAME_NS = 100_000_000  # 10 Hz
START_NS = 1_000_000_000_000
SPEED_PX_S = 30.0
FRAME_ID = 'camera_optical_frame'
# 300 px focal length, centred: the default extrinsic puts the camera 1 m above the ground,
# looking along the base's x, so box bottoms below the image centre lie on the ground.
CAMERA = PinholeCamera.from_intrinsics(300.0, 300.0, WIDTH / 2, HEIGHT / 2, WIDTH, HEIGHT)


def _boxes(frame: int) -> np.ndarray:
    x = 20.0 + SPEED_PX_S * frame * FRAME_NS * 1e-9
    return np.array([[x, 40.0, 30.0, 70.0], [260.0 - x, 120.0, 30.0, 70.0]])


def _pipeline(**node) -> TrackingPipeline:
    return TrackingPipeline(NodeConfig(use_appearance=False, **node), TrackerConfig())


def _frame(pipeline: TrackingPipeline, frame: int, stamp_ns: Optional[int] = None,
           encoding: str = 'bgr8', world: bool = False) -> List[FrameResult]:
    """Feed one frame's messages, as a robot sends them, and track what becomes ready."""
    stamp_ns = START_NS + frame * FRAME_NS if stamp_ns is None else stamp_ns
    header = make_header(stamp_ns, FRAME_ID)
    boxes = _boxes(frame)
    results = []
    if world:
        pipeline.add_odometry(pose_to_odometry(make_header(stamp_ns, 'odom'), 'base_link',
                                               np.zeros(3), [0.0, 0.0, 0.0, 1.0]))
        pipeline.add_camera_info(camera_to_camera_info(CAMERA, header))
    image = bgr_to_image_msg(scene_frame(WIDTH, HEIGHT, boxes, seed=frame), header)
    image.encoding = encoding
    results += pipeline.track(pipeline.add_image(image))
    results += pipeline.track(pipeline.add_detections(
        detections_to_msg(header, boxes, [0.9, 0.9], 'person')))
    return results


def _run(pipeline: TrackingPipeline, frames: range, **kwargs) -> List[FrameResult]:
    results = []
    for frame in frames:
        got = _frame(pipeline, frame, **kwargs)
        assert len(got) == 1, f'frame {frame} gave {len(got)} results'
        results += got
    return results


def _confirmed(result: FrameResult) -> List[Track]:
    return [t for t in result.tracks.tracks if t.state == Track.STATE_CONFIRMED]


def test_paired_frames_are_tracked_with_stable_ids():
    pipeline = _pipeline()
    results = _run(pipeline, range(15))
    assert [r.stamp_ns for r in results] == [START_NS + f * FRAME_NS for f in range(15)]
    assert all(stamp_to_ns(r.tracks.header.stamp) == r.stamp_ns for r in results)
    assert {r.tracks.header.frame_id for r in results} == {FRAME_ID}
    assert pipeline.pairing.paired == 15 and pipeline.pairing.motion_only == 0
    ids = [sorted(t.id for t in _confirmed(r)) for r in results[5:]]
    assert len(ids[0]) == 2 and all(i == ids[0] for i in ids), ids
    for track in _confirmed(results[-1]):
        x, y, w, h = _boxes(14)[track.detection_index]
        assert abs(track.center_x - (x + w / 2)) < 3.0
        expected = SPEED_PX_S if track.detection_index == 0 else -SPEED_PX_S
        assert abs(track.velocity_x - expected) < 6.0, 'px/s from header stamps'


def test_a_clock_jumping_back_restarts_everything_and_ids_keep_counting():
    pipeline = _pipeline(time_jump_reset=1.0)
    before = _run(pipeline, range(15))
    old_ids = {t.id for r in before for t in _confirmed(r)}
    # The bag loops: 1.4 s back to its first stamp.
    after = _run(pipeline, range(8))
    assert pipeline.clock.counters.restarts == 1
    assert pipeline.tracker.counters.time_resets == 1, 'the core reset itself on the earlier stamp'
    new_ids = {t.id for t in _confirmed(after[-1])}
    assert len(new_ids) == 2 and min(new_ids) > max(old_ids), 'ids are never reused'
    assert pipeline.stats.time_backwards == 0 and pipeline.pairing.late_dropped == 0


def test_late_detections_are_dropped_and_counted():
    pipeline = _pipeline()
    _run(pipeline, range(10))
    late = make_header(START_NS + 7 * FRAME_NS + FRAME_NS // 2, FRAME_ID)
    assert pipeline.add_detections(detections_to_msg(late, _boxes(7), [0.9, 0.9], 'person')) \
        == []
    assert pipeline.pairing.late_dropped == 1 and pipeline.stats.time_backwards == 1
    assert pipeline.clock.counters.restarts == 0
    assert len(_frame(pipeline, 10)) == 1, 'the next frame is tracked as usual'


def test_a_malformed_image_is_counted_and_its_frame_tracked_on_motion():
    pipeline = _pipeline()
    results = _run(pipeline, range(8))
    [bad] = _frame(pipeline, 8, encoding='not_an_encoding')
    assert pipeline.stats.bad_images == 1 and 'not_an_encoding' in pipeline.stats.last_error
    assert bad.image_bgr is None, 'no pixels: no appearance, no image motion'
    assert {t.id for t in _confirmed(bad)} == {t.id for t in _confirmed(results[-1])}
    assert all(t.detection_index >= 0 for t in _confirmed(bad)), 'detections still matched'


def test_world_positions_with_camera_info_and_odometry():
    pipeline = _pipeline()
    results = _run(pipeline, range(8), world=True)
    assert pipeline.camera == CAMERA
    last = results[-1].tracks
    assert last.world_frame_id == 'odom'
    by_index = {t.detection_index: t for t in _confirmed(results[-1])}
    lower = by_index[1]  # its feet below the horizon: on the ground ahead of the camera
    assert lower.world_valid and lower.pose.pose.position.x > 1.0
    assert not by_index[0].world_valid, 'feet above the horizon have no ground point'
    # A camera_info that cannot be used is counted and the last good camera kept.
    broken = camera_to_camera_info(CAMERA, make_header(START_NS, FRAME_ID))
    broken.k[0] = float('nan')
    pipeline.add_camera_info(broken)
    assert pipeline.stats.bad_camera_infos == 1 and pipeline.camera == CAMERA


def test_the_target_is_selected_in_the_core():
    pipeline = _pipeline()
    results = _run(pipeline, range(8))
    lower = next(t for t in _confirmed(results[-1]) if t.detection_index == 1)
    chosen = pipeline.tracker.select_target(point_xy=(lower.center_x, lower.center_y))
    assert chosen == lower.id == pipeline.tracker.target_id
    [result] = _frame(pipeline, 8)
    array, status = result.tracks, result.target_status
    assert array.tracks[array.target_index].id == chosen
    assert (status.status, status.target_id, status.has_track) == (
        TargetStatus.STATUS_TRACKED, chosen, True)
    pipeline.tracker.clear_target()
    [result] = _frame(pipeline, 9)
    assert result.target_status.status == TargetStatus.STATUS_NONE
    assert result.tracks.target_index == -1


def test_diagnostics_report_the_core_counters():
    pipeline = _pipeline()
    _run(pipeline, range(6))
    nan_box = make_header(START_NS + 6 * FRAME_NS, FRAME_ID)
    pipeline.add_image(bgr_to_image_msg(scene_frame(WIDTH, HEIGHT, _boxes(6)), nan_box))
    pipeline.track(pipeline.add_detections(detections_to_msg(
        nan_box, np.vstack([_boxes(6), [[np.nan, 1.0, 2.0, 2.0]]]), [0.9] * 3, 'person')))
    values = DiagnosticsCollector().collect(pipeline).as_dict()
    counters = pipeline.tracker.counters
    assert values['tracker frames'] == str(counters.frames) == '7'
    assert values['tracker dropped detections'] == str(counters.dropped_detections)
    assert values['frames tracked'] == '7' and values['paired'] == '7'
    assert values['bad detections'] == '1', 'the NaN box is dropped in the seam'
    assert values['clock restarts'] == '0' and int(values['tracks']) >= 2


def test_a_crowd_over_encode_budget_staggers_refreshes_and_reports_them():
    """Twelve people standing apart, budget 4: refreshes wait, counted in diagnostics."""
    boxes = np.array([[10.0 + 26 * i, 60.0 + 40 * (i % 2), 20.0, 50.0] for i in range(12)])
    calls: List[int] = []

    def encoder(image_bgr, boxes_tlwh):
        calls.append(len(boxes_tlwh))
        features = np.zeros((len(boxes_tlwh), 8), np.float32)
        features[np.arange(len(boxes_tlwh)), (boxes_tlwh[:, 0] // 26).astype(int) % 8] = 1.0
        return features

    def run(budget: int) -> TrackingPipeline:
        calls.clear()
        pipeline = TrackingPipeline(NodeConfig(encode_budget=budget, ego_motion_mode='off'),
                                    TrackerConfig(), encoder)
        for frame in range(12):
            header = make_header(START_NS + frame * FRAME_NS, FRAME_ID)
            pipeline.add_image(bgr_to_image_msg(scene_frame(WIDTH, HEIGHT, boxes), header))
            assert len(pipeline.track(pipeline.add_detections(
                detections_to_msg(header, boxes, [0.9] * 12, 'person')))) == 1
        return pipeline

    unbudgeted = run(0)
    busiest_without = max(calls)
    budgeted = run(4)
    values = DiagnosticsCollector().collect(budgeted).as_dict()
    assert int(values['refreshes waiting for encode_budget']) == budgeted.planner.deferred > 0
    assert budgeted.stats.refreshes_waited == budgeted.planner.deferred
    assert unbudgeted.planner.deferred == 0
    # without a budget the twelve refreshes fall due together; with one, four a frame
    assert busiest_without == 12 and max(calls[3:]) <= 4, calls


def test_world_pose_and_twist_covariance_come_from_the_ground_filter():
    pipeline = _pipeline()
    results = _run(pipeline, range(15), world=True)
    lower = {t.detection_index: t for t in _confirmed(results[-1])}[1]
    # Its box bottom at v = 190 px: 1 m camera height x 300 px / 70 px = 4.3 m ahead; moving
    # left in the image at 30 px/s is 30 / 300 x 4.3 = 0.43 m/s towards +y (base left).
    twist = lower.twist.twist.linear
    assert abs(twist.y - 0.43) < 0.15 and abs(twist.x) < 0.15
    position_cov = np.asarray(lower.pose.covariance).reshape(6, 6)[:2, :2]
    velocity_cov = np.asarray(lower.twist.covariance).reshape(6, 6)[:2, :2]
    assert position_cov[0, 0] > position_cov[1, 1], 'range (along x) is the uncertain axis'
    prior = NodeConfig().world_initial_velocity_std ** 2
    assert 0.0 < velocity_cov[1, 1] < prior, 'a dozen detections narrowed the prior'
    # The other person's feet are above the horizon: no ground point, no filter.
    assert len(pipeline.world_filter) == 1
