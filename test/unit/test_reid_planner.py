"""EncodePlanner: which detections are encoded and which reuse a track's feature."""

from typing import Optional, Sequence

from deepsort_ros.core import Tracker, TrackerConfig, TrackOutput, TrackState
from deepsort_ros.reid.planner import EncodePlan, EncodePlanner, EncodePlannerConfig
import numpy as np
import pytest

DIM = 4


def _track(track_id: int, box_cxcywh: Sequence[float], row: int,
           state: TrackState = TrackState.CONFIRMED,
           velocity: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
           occluded: bool = False) -> TrackOutput:
    box = np.asarray(box_cxcywh, float)
    return TrackOutput(track_id, state, 0, 0.9, 10, 10, 0.0, box,
                       np.r_[box[:2] - box[2:] / 2, box[2:]], np.asarray(velocity, float),
                       np.eye(8), row, occluded)


def _unit(index: int) -> np.ndarray:
    feature = np.zeros(DIM, np.float32)
    feature[index % DIM] = 1.0
    return feature


def _seen(planner: EncodePlanner, boxes_tlwh, tracks, stamp_s: float = 0.0,
          features: Optional[np.ndarray] = None) -> np.ndarray:
    """Let the planner see a first frame in which every track was matched and encoded."""
    boxes = np.asarray(boxes_tlwh, float).reshape(-1, 4)
    plan = planner.plan(boxes, stamp_s)
    assert len(plan.reuse_rows) == 0  # nothing to reuse in a first frame
    if features is None:
        features = np.stack([_unit(i) for i in range(len(boxes))]) if len(boxes) else \
            np.zeros((0, DIM), np.float32)
    planner.observe(plan, tracks, stamp_s, plan.merge(features))
    return features


def test_an_isolated_confirmed_track_reuses_its_last_feature() -> None:
    planner = EncodePlanner()
    features = _seen(planner, [[100, 100, 40, 100], [300, 100, 40, 100]],
                     [_track(1, [120, 150, 40, 100], 0), _track(2, [320, 150, 40, 100], 1)])
    boxes = np.array([[301, 101, 40, 100], [101, 100, 41, 100]])  # same people, order swapped
    plan = planner.plan(boxes, 0.1)
    assert plan.encode_rows.size == 0
    assert plan.reuse_rows.tolist() == [0, 1] and plan.reuse_track_ids.tolist() == [2, 1]
    merged = plan.merge(np.zeros((0, DIM), np.float32))
    np.testing.assert_array_equal(merged, features[[1, 0]])


def test_overlapping_people_are_encoded() -> None:
    planner = EncodePlanner()
    # two people side by side, their boxes overlapping a third: the crop holds both
    _seen(planner, [[100, 100, 40, 100], [125, 100, 40, 100]],
          [_track(1, [120, 150, 40, 100], 0), _track(2, [145, 150, 40, 100], 1)])
    plan = planner.plan([[100, 100, 40, 100], [125, 100, 40, 100]], 0.1)
    assert plan.encode_rows.tolist() == [0, 1] and plan.reuse_rows.size == 0


def test_a_newcomer_next_to_a_track_makes_it_ambiguous() -> None:
    planner = EncodePlanner()
    _seen(planner, [[100, 100, 40, 100]], [_track(1, [120, 150, 40, 100], 0)])
    # a new detection overlapping the track's box: which of the two is the person?
    plan = planner.plan([[100, 100, 40, 100], [115, 110, 40, 100], [400, 50, 40, 100]], 0.1)
    assert plan.reuse_rows.size == 0 and plan.encode_rows.tolist() == [0, 1, 2]


def test_tentative_occluded_and_unmatched_tracks_are_encoded() -> None:
    planner = EncodePlanner()
    boxes = [[0, 0, 40, 100], [200, 0, 40, 100], [400, 0, 40, 100], [600, 0, 40, 100]]
    _seen(planner, boxes, [
        _track(0, [20, 50, 40, 100], 0, TrackState.TENTATIVE),
        _track(2, [220, 50, 40, 100], 1, occluded=True),
        _track(3, [420, 50, 40, 100], -1, TrackState.COASTING),
        _track(4, [620, 50, 40, 100], 3)])
    plan = planner.plan(boxes, 0.1)
    assert plan.reuse_rows.tolist() == [3] and plan.encode_rows.tolist() == [0, 1, 2]


def test_a_box_that_changed_is_encoded() -> None:
    planner = EncodePlanner(EncodePlannerConfig(min_iou=0.7))
    _seen(planner, [[100, 100, 40, 100]], [_track(1, [120, 150, 40, 100], 0)])
    assert planner.plan([[112, 100, 40, 100]], 0.1).encode_rows.tolist() == [0]  # IoU 0.54
    assert planner.plan([[100, 100, 40, 60]], 0.1).encode_rows.tolist() == [0]  # sat down


def test_motion_and_camera_motion_are_predicted() -> None:
    planner = EncodePlanner()
    # 200 px/s to the right: 20 px in 0.1 s, far more than the box's IoU allows unpredicted
    _seen(planner, [[100, 100, 40, 100]], [_track(1, [120, 150, 40, 100], 0,
                                                  velocity=(200, 0, 0, 0))])
    assert planner.plan([[120, 100, 40, 100]], 0.1).reuse_rows.tolist() == [0]
    assert planner.plan([[100, 100, 40, 100]], 0.1).reuse_rows.size == 0
    # the camera turned by 30 px (0.3 box heights): predicted, when a turn may reuse at all
    still = EncodePlanner(EncodePlannerConfig(max_camera_shift=0.5))
    _seen(still, [[100, 100, 40, 100]], [_track(1, [120, 150, 40, 100], 0)])
    pan = np.array([[1.0, 0.0, -30.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert still.plan([[70, 100, 40, 100]], 0.1, pan).reuse_rows.tolist() == [0]
    assert still.plan([[70, 100, 40, 100]], 0.1).reuse_rows.size == 0


def test_a_turning_camera_makes_every_crop_new() -> None:
    planner = EncodePlanner()  # max_camera_shift 0.02 box heights
    _seen(planner, [[100, 100, 40, 100]], [_track(1, [120, 150, 40, 100], 0)])
    jitter = np.array([[1.0, 0.0, -1.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # optical-flow noise
    assert planner.plan([[98.5, 100, 40, 100]], 0.1, jitter).reuse_rows.tolist() == [0]
    pan = np.array([[1.0, 0.0, -5.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    plan = planner.plan([[95, 100, 40, 100]], 0.1, pan)
    assert plan.reuse_rows.size == 0 and plan.encode_rows.tolist() == [0]
    roll = np.array([[np.cos(0.02), -np.sin(0.02), 0.0], [np.sin(0.02), np.cos(0.02), 0.0],
                     [0.0, 0.0, 1.0]])  # 1.1 degrees about the image corner: ~4 px here
    assert planner.plan([[100, 100, 40, 100]], 0.1, roll).reuse_rows.size == 0
    degenerate = np.zeros((3, 3))
    assert planner.plan([[100, 100, 40, 100]], 0.1, degenerate).reuse_rows.size == 0


def test_a_feature_is_reused_at_most_max_reuse_frames_in_a_row() -> None:
    planner = EncodePlanner(EncodePlannerConfig(max_reuse_frames=2))
    box = [[100, 100, 40, 100]]
    features = _seen(planner, box, [_track(1, [120, 150, 40, 100], 0)])
    decisions = []
    for frame in range(1, 7):
        plan = planner.plan(box, 0.1 * frame)
        decisions.append(len(plan.reuse_rows))
        encoded = np.stack([_unit(frame)]) if len(plan.encode_rows) else None
        merged = plan.merge(encoded if encoded is not None else np.zeros((0, DIM), np.float32))
        if len(plan.reuse_rows):
            fresh = features if frame in (1, 2) else merged
            np.testing.assert_array_equal(merged, fresh)
        else:
            features = merged
        planner.observe(plan, [_track(1, [120, 150, 40, 100], 0)], 0.1 * frame, merged)
    assert decisions == [1, 1, 0, 1, 1, 0]


def _encoded_ids_per_frame(config: EncodePlannerConfig, frames: int) -> list:
    """Four lone people standing still: the track ids encoded in each frame after the first."""
    boxes = np.array([[100.0 + 200 * i, 100, 40, 100] for i in range(4)])
    tracks = [_track(i + 1, [120 + 200 * i, 150, 40, 100], i) for i in range(4)]
    planner = EncodePlanner(config)
    _seen(planner, boxes, tracks)
    encoded, waited = [], 0
    for frame in range(1, frames + 1):
        plan = planner.plan(boxes, 0.1 * frame)
        encoded.append([i + 1 for i in plan.encode_rows.tolist()])
        waited += plan.deferred
        fresh = np.stack([_unit(frame)] * len(plan.encode_rows)) if len(plan.encode_rows) \
            else np.zeros((0, DIM), np.float32)
        planner.observe(plan, tracks, 0.1 * frame, plan.merge(fresh))
    assert waited == planner.deferred, 'each plan says how many of its refreshes wait'
    return encoded, planner


def test_a_frame_within_the_budget_refreshes_as_without_one() -> None:
    unbudgeted, _ = _encoded_ids_per_frame(EncodePlannerConfig(encode_budget=0), 6)
    budgeted, planner = _encoded_ids_per_frame(EncodePlannerConfig(encode_budget=4), 6)
    assert budgeted == unbudgeted == [[], [], [1, 2, 3, 4], [], [], [1, 2, 3, 4]]
    assert planner.deferred == 0


def test_over_the_budget_refreshes_wait_the_stalest_first_and_never_too_long() -> None:
    # 2 crops a frame: two of the four refreshes due in frame 3 wait one frame, and from
    # then on the refreshes are staggered, two a frame, without waiting again
    encoded, planner = _encoded_ids_per_frame(EncodePlannerConfig(encode_budget=2), 7)
    assert encoded == [[], [], [3, 4], [1, 2], [], [3, 4], [1, 2]]
    assert planner.deferred == 2
    # 1 crop a frame: refreshes wait, but at most max_deferred_frames (2) past
    # max_reuse_frames (2); then they are encoded over the budget
    encoded, _ = _encoded_ids_per_frame(
        EncodePlannerConfig(encode_budget=1, max_deferred_frames=2), 6)
    assert encoded == [[], [], [4], [3], [1, 2], [4]]
    assert max(len(e) for e in encoded) == 2
    # no waiting allowed: the budget cannot hold a refresh back
    strict, _ = _encoded_ids_per_frame(
        EncodePlannerConfig(encode_budget=1, max_deferred_frames=0), 6)
    assert strict == [[], [], [1, 2, 3, 4], [], [], [1, 2, 3, 4]]


def test_gaps_clock_jumps_and_frames_without_features_encode_everything() -> None:
    box = [[100, 100, 40, 100]]
    tracks = [_track(1, [120, 150, 40, 100], 0)]
    for stamp in (0.6, 0.0, -5.0):  # too long ago (max_gap_s 0.5), the same time, backwards
        planner = EncodePlanner()
        _seen(planner, box, tracks)
        assert planner.plan(box, stamp).encode_rows.tolist() == [0]
    planner = EncodePlanner()
    plan = planner.plan(box, 0.0)
    planner.observe(plan, tracks, 0.0, None)  # the encoder failed on that frame
    assert planner.plan(box, 0.1).encode_rows.tolist() == [0]
    disabled = EncodePlanner(EncodePlannerConfig(enabled=False))
    _seen(disabled, box, tracks)
    assert disabled.plan(box, 0.1).encode_rows.tolist() == [0]
    reset = EncodePlanner()
    _seen(reset, box, tracks)
    reset.reset()
    assert reset.plan(box, 0.1).encode_rows.tolist() == [0]


def test_odd_boxes_are_left_to_the_encoder() -> None:
    planner = EncodePlanner()
    _seen(planner, [[100, 100, 40, 100]], [_track(1, [120, 150, 40, 100], 0)])
    boxes = np.array([[np.nan, 0, 10, 10], [100, 100, 40, 100], [5, 5, 0, 0],
                      [1e9, 1e9, 5, 5]])
    plan = planner.plan(boxes, 0.1)
    assert plan.reuse_rows.tolist() == [1] and plan.encode_rows.tolist() == [0, 2, 3]
    merged = plan.merge(np.zeros((3, DIM), np.float32))
    assert merged.shape == (4, DIM) and np.isfinite(merged).all()
    empty = planner.plan(np.zeros((0, 4)), 0.2)
    assert empty.count == 0 and empty.merge(np.zeros((0, DIM))).shape[0] == 0
    assert planner.plan([[0, 0, 1, 1]], 0.1).merge(None) is None


def test_merge_refuses_rows_of_another_size() -> None:
    plan = EncodePlan(np.array([0]), np.array([1]), np.array([7]), np.ones((1, DIM), np.float32),
                      2)
    with pytest.raises(ValueError, match='columns'):
        plan.merge(np.ones((1, DIM + 1), np.float32))


@pytest.mark.parametrize('field, value', [('min_iou', 0.0), ('min_iou', 1.5),
                                          ('max_neighbour_iou', 1.0), ('max_reuse_frames', -1),
                                          ('max_gap_s', 0.0), ('max_camera_shift', -0.1),
                                          ('max_camera_shift', float('nan')),
                                          ('encode_budget', -1), ('max_deferred_frames', -1)])
def test_settings_are_validated(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        EncodePlannerConfig(**{field: value})


def test_with_the_core_tracker_it_saves_encodes_and_keeps_the_identities() -> None:
    """Three people walking apart, 10 Hz: the same identities with and without the planner."""
    rng = np.random.default_rng(5)
    appearance = np.linalg.qr(rng.normal(size=(16, 3)))[0].T.astype(np.float32)  # orthonormal
    starts = np.array([[50.0, 100.0], [300.0, 120.0], [550.0, 90.0]])
    velocity = np.array([[20.0, 0.0], [-10.0, 5.0], [0.0, 15.0]])

    def run(planner: Optional[EncodePlanner]):
        tracker, ids, encoded = Tracker(TrackerConfig()), [], 0
        for frame in range(40):
            t = frame * 0.1
            boxes = np.column_stack([starts + velocity * t, np.full((3, 2), [40.0, 100.0])])
            noise = rng.normal(0, 0.02, (3, 16)).astype(np.float32)
            truth = appearance + noise
            truth /= np.linalg.norm(truth, axis=1, keepdims=True)
            if planner is None:
                features, plan = truth, None
            else:
                plan = planner.plan(boxes, t)
                features = plan.merge(truth[plan.encode_rows])
            encoded += len(boxes) if plan is None else len(plan.encode_rows)
            tracks = tracker.update(boxes, np.full(3, 0.9), np.zeros(3, int), features, t)
            if planner is not None:
                planner.observe(plan, tracks, t, features)
            ids.append(sorted(o.track_id for o in tracks if o.state is TrackState.CONFIRMED))
        return ids, encoded

    plain_ids, plain_encoded = run(None)
    planned_ids, planned_encoded = run(EncodePlanner())
    assert planned_ids == plain_ids and plain_ids[-1] == [1, 2, 3]
    assert planned_encoded <= 0.4 * plain_encoded  # 2 of 3 frames reuse
