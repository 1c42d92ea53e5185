"""
The tracker core's bad-input guarantees, as hypothesis properties and plain tests.

Frames mix good detections with NaN, infinite, empty, negative, huge and duplicated ones,
timestamps repeat, go backwards and jump, camera motions are sometimes degenerate. After every
update: no exception, finite and positive semi-definite filters, unique identities, and exactly
the bad rows dropped.
"""

from dataclasses import dataclass
import time
from typing import List, Optional

from deepsort_ros.core import Tracker, TrackerConfig, TrackState
from helpers.scenes import identity_features
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest

FEATURE_DIM = 8
MAX_OBJECTS = 8
# Bounded, reproducible runs (the whole file takes seconds on two cores); no example database
# written into the working tree.
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])

# Rows besides the objects' own: good ones the tracker must keep, bad ones it must drop.
EXTRA_GOOD_KINDS = ('far', 'duplicate', 'tiny')
BAD_KINDS = ('nan', 'inf', 'zero_size', 'negative_size', 'huge_position', 'huge_size')
STEP_KINDS = ('normal', 'normal', 'normal', 'normal', 'repeat', 'backwards', 'jump',
              'non_finite')
GOOD_MOTIONS = ('none', 'none', 'shift', 'zoom')
UNUSABLE_MOTIONS = ('zeros', 'singular', 'nan', 'inf')
MOTION_KINDS = GOOD_MOTIONS + ('extreme',) + UNUSABLE_MOTIONS


@dataclass
class Frame:
    """One update's arguments, and which of its rows are bad."""

    boxes_tlwh: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    features: Optional[np.ndarray]
    timestamp: float
    camera_motion: Optional[np.ndarray]
    motion_kind: str
    bad_rows: np.ndarray  # bool, shape (N,)


def _camera_motion(kind: str, value: float) -> Optional[np.ndarray]:
    if kind == 'none':
        return None
    h = np.eye(3)
    if kind == 'shift':
        h[:2, 2] = [value * 20.0, -value * 10.0]
    elif kind == 'zoom':
        h[:2, :2] *= 1.0 + 0.1 * value
    elif kind == 'extreme':  # invertible, but throws tracks far away or shrinks them to dust
        h[:2, :2] *= 10.0 ** (150 * np.sign(value) if abs(value) > 0.5 else 24 * value)
        h[2, :2] = [1e-3 * value, 0.0]
    elif kind == 'zeros':
        h[:] = 0.0
    elif kind == 'singular':
        h[1] = h[0]
    elif kind == 'nan':
        h[0, 1] = np.nan
    elif kind == 'inf':
        h[2, 2] = np.inf
    return h


@st.composite
def frame_sequences(draw, allow_bad: bool = True) -> List[Frame]:
    """Draw a sequence of frames: moving objects, extra rows, odd clocks and camera motions."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    num_objects = draw(st.integers(0, MAX_OBJECTS))
    start = np.c_[rng.uniform(-50, 900, (num_objects, 2)), rng.uniform(5, 200, (num_objects, 2))]
    velocity = rng.uniform(-80, 80, (num_objects, 2))
    identities = identity_features(max(num_objects, 1), FEATURE_DIM, seed=int(rng.integers(99)))
    use_features = draw(st.booleans())
    extra_kinds = EXTRA_GOOD_KINDS + BAD_KINDS if allow_bad else EXTRA_GOOD_KINDS
    frames = []
    now = draw(st.sampled_from([0.0, 1.7e9]))
    scene_time = 0.0  # the objects move on in scene time, whatever the stamps say
    for _ in range(draw(st.integers(1, 15))):
        step = draw(st.sampled_from(STEP_KINDS if allow_bad else ('normal', 'repeat')))
        if step == 'normal':
            dt = draw(st.floats(0.01, 0.3))
            now += dt
            scene_time += dt
        elif step == 'backwards':
            now -= draw(st.floats(0.001, 1e4))
        elif step == 'jump':
            now += draw(st.sampled_from([10.0, 1e3, 1e6, 1e9]))
        stamp = (draw(st.sampled_from([np.nan, np.inf, -np.inf])) if step == 'non_finite'
                 else now)
        visible = draw(st.lists(st.booleans(), min_size=num_objects, max_size=num_objects))
        extras = draw(st.lists(st.sampled_from(extra_kinds), max_size=6))
        kinds = ['object'] * int(sum(visible)) + extras
        owners = np.flatnonzero(visible).tolist() + [
            int(rng.integers(max(num_objects, 1))) for _ in range(len(kinds) - sum(visible))]
        order = rng.permutation(len(kinds))
        boxes, bad = [], []
        for row in order:
            kind, obj = kinds[row], owners[row]
            box = (start[obj].copy() if num_objects else np.array([300.0, 200.0, 30.0, 60.0]))
            if num_objects:
                box[:2] += velocity[obj] * scene_time + rng.normal(0, 1.5, 2)
            if kind == 'far':  # far off the image, yet where no zoom here takes it out of range
                box[:2] = rng.uniform(-2e4, 2e4, 2)
            elif kind == 'tiny':  # positive and finite: a valid box, however odd
                box[draw(st.integers(2, 3))] = draw(st.sampled_from([1e-3, 1e-200]))
            elif kind == 'duplicate' and boxes:
                box = boxes[-1].copy()
                kind = 'duplicate_of_bad' if bad[-1] else kind
            elif kind == 'nan':
                box[draw(st.integers(0, 3))] = np.nan
            elif kind == 'inf':
                box[draw(st.integers(0, 3))] = draw(st.sampled_from([np.inf, -np.inf]))
            elif kind == 'zero_size':
                box[draw(st.integers(2, 3))] = 0.0
            elif kind == 'negative_size':
                box[draw(st.integers(2, 3))] = -draw(st.floats(1e-9, 1e6))
            elif kind == 'huge_position':
                box[draw(st.integers(0, 1))] = draw(st.sampled_from([-1e300, -2e5, 2e5, 1e300]))
            elif kind == 'huge_size':
                box[draw(st.integers(2, 3))] = draw(st.sampled_from([1.5e5, 1e12, 1e300]))
            boxes.append(box)
            bad.append(kind in BAD_KINDS or kind == 'duplicate_of_bad')
        n = len(boxes)
        bad = np.array(bad, dtype=bool)
        owners = np.array(owners, dtype=np.int64)[order]
        scores = np.array([draw(st.sampled_from([0.05, 0.3, 0.6, 0.9, 1.0])) for _ in range(n)])
        class_ids = (owners % 2).astype(np.float64)
        features = None
        if use_features and draw(st.booleans()):
            features = identities[owners] + rng.normal(0, 0.03, (n, FEATURE_DIM))
            features = features.astype(np.float32)
            if n and draw(st.booleans()):
                features[rng.integers(n)] = 0.0  # a detection without appearance: still good
        if allow_bad and n:
            for row in np.flatnonzero(rng.random(n) < 0.1):
                what = draw(st.sampled_from(['score', 'class', 'feature']))
                if what == 'score':
                    scores[row] = np.nan
                elif what == 'class':
                    class_ids[row] = draw(st.sampled_from([np.nan, np.inf, 0.5, 1e19]))
                elif features is not None:
                    features[row, draw(st.integers(0, FEATURE_DIM - 1))] = np.nan
                else:
                    continue
                bad[row] = True
        motion_kind = draw(st.sampled_from(MOTION_KINDS if allow_bad else GOOD_MOTIONS))
        frames.append(Frame(np.array(boxes, dtype=np.float64).reshape(n, 4), scores, class_ids,
                            features, stamp, _camera_motion(motion_kind, draw(st.floats(-1, 1))),
                            motion_kind, bad))
    return frames


configs = st.builds(
    TrackerConfig, n_init=st.integers(1, 3), matching_cascade=st.booleans(),
    feature_ema_alpha=st.sampled_from([0.0, 0.6]), score_scaled_noise=st.booleans(),
    class_aware=st.booleans(), report_deleted=st.booleans(),
    max_age=st.sampled_from([0.3, 3.0, 1e7]), lost_gallery_size=st.sampled_from([0, 5]),
    nn_budget=st.sampled_from([1, 4]))


def _check_outputs(out, frame: Frame) -> None:
    for track in out:
        assert np.all(np.isfinite(track.box_cxcywh)), track
        assert np.all(np.isfinite(track.velocity_cxcywh)), track
        cov = track.covariance
        assert cov.shape == (8, 8) and np.all(np.isfinite(cov)), track
        scale = max(1.0, float(np.abs(cov).max()))
        assert np.abs(cov - cov.T).max() <= 1e-9 * scale, track
        assert np.linalg.eigvalsh(0.5 * (cov + cov.T)).min() >= -1e-9 * scale, track
    active = [t for t in out if t.state is not TrackState.DELETED]
    # One record per identity: a track deleted and re-linked in one update is only active.
    # Identities are handed out on confirmation: tentative tracks have none (0) yet.
    ids = [t.track_id for t in out if t.state is not TrackState.TENTATIVE]
    assert len(set(ids)) == len(ids) and all(i > 0 for i in ids)
    assert all(t.track_id == 0 for t in out if t.state is TrackState.TENTATIVE)
    matched = [t.detection_index for t in active if t.detection_index >= 0]
    assert len(set(matched)) == len(matched)
    assert not frame.bad_rows[matched].any(), 'a bad row was tracked'
    # Every good, confident detection is matched or starts a track.
    confident = np.flatnonzero(~frame.bad_rows & (frame.scores >= 0.5))
    assert set(confident.tolist()) <= set(matched)


def _run(config: TrackerConfig, frames: List[Frame], select_target: bool) -> Tracker:
    tracker = Tracker(config)
    last_stamp = None
    for k, frame in enumerate(frames):
        dropped = tracker.counters.dropped_detections
        bad_motions = tracker.counters.bad_camera_motions
        resets = tracker.counters.time_resets
        out = tracker.update(frame.boxes_tlwh, frame.scores, frame.class_ids, frame.features,
                             frame.timestamp, frame.camera_motion)
        if not np.isfinite(frame.timestamp):
            assert out == []
            assert tracker.counters.dropped_detections - dropped == len(frame.boxes_tlwh)
            continue
        assert tracker.counters.dropped_detections - dropped == int(frame.bad_rows.sum())
        backwards = last_stamp is not None and frame.timestamp < last_stamp
        assert tracker.counters.time_resets - resets == int(backwards)
        if frame.motion_kind in UNUSABLE_MOTIONS:
            assert tracker.counters.bad_camera_motions - bad_motions == 1
        elif frame.motion_kind in GOOD_MOTIONS:
            assert tracker.counters.bad_camera_motions == bad_motions
        last_stamp = frame.timestamp
        _check_outputs(out, frame)
        if select_target and k == 1:
            tracker.select_target(class_id=0)
    return tracker


@PROPERTY_SETTINGS
@given(configs, frame_sequences(), st.booleans())
def test_bad_input_never_raises_nor_corrupts_the_filters(config, frames, select_target):
    tracker = _run(config, frames, select_target)
    table = tracker._table
    slots = table.active
    assert np.all(np.isfinite(table.mean[slots])) and np.all(np.isfinite(table.covariance[slots]))


@PROPERTY_SETTINGS
@given(configs, frame_sequences(allow_bad=False))
def test_good_input_drops_nothing(config, frames):
    tracker = _run(config, frames, False)
    assert tracker.counters.dropped_detections == 0 and tracker.counters.bad_camera_motions == 0
    assert tracker.counters.time_resets == 0 and tracker.counters.bad_timestamps == 0
    assert tracker.counters.diverged_tracks == 0


# ---- plain tests of the same guarantees ----------------------------------------------------

def _grid(count: int, spacing: float = 30.0) -> np.ndarray:
    side = int(np.ceil(np.sqrt(count)))
    k = np.arange(count)
    return np.stack([(k % side) * spacing, (k // side) * spacing * 2, np.full(count, 20.0),
                     np.full(count, 40.0)], axis=1)


@pytest.mark.parametrize('use_features', [False, True])
def test_three_thousand_detections_in_one_frame(use_features):
    count = 3000
    boxes = _grid(count)
    features = identity_features(count, dim=32, seed=3) if use_features else None
    tracker = Tracker(TrackerConfig(n_init=1))
    first = tracker.update(boxes, np.full(count, 0.9), None, features, 0.0)
    assert sorted(t.track_id for t in first) == list(range(1, count + 1))
    started = time.perf_counter()
    second = tracker.update(boxes + [2.0, 1.0, 0, 0], np.full(count, 0.9), None, features, 0.1)
    elapsed = time.perf_counter() - started
    # A 3000 x 3000 association, all matched to their own tracks.
    assert len(second) == count
    assert all(t.state is TrackState.CONFIRMED and t.detection_index == t.track_id - 1
               for t in second)
    assert tracker.counters.dropped_detections == 0
    assert elapsed < 30.0  # vectorised: about a second; quadratic Python loops take minutes


def test_duplicated_detections_become_tracks_of_their_own():
    boxes = np.repeat([[100.0, 100.0, 20.0, 40.0]], 5, axis=0)
    features = np.repeat(identity_features(1, dim=8), 5, axis=0)
    tracker = Tracker(TrackerConfig(n_init=1))
    out = tracker.update(boxes, None, None, features, 0.0)
    assert sorted(t.detection_index for t in out) == [0, 1, 2, 3, 4]
    again = tracker.update(boxes, None, None, features, 0.1)
    assert sorted(t.track_id for t in again) == [1, 2, 3, 4, 5]
    assert all(t.state is TrackState.CONFIRMED for t in again)
    assert tracker.counters.dropped_detections == 0


def test_boxes_beyond_max_box_coordinate_are_dropped_and_counted():
    tracker = Tracker(TrackerConfig(n_init=1, max_box_coordinate=1000.0))
    boxes = np.array([[10, 10, 20, 40], [1001, 10, 20, 40], [10, -1001, 20, 40],
                      [10, 10, 1001, 40], [10, 10, 20, 1e300], [990, -990, 20, 40.0]])
    out = tracker.update(boxes, None, None, None, 0.0)
    assert tracker.counters.dropped_detections == 4
    assert sorted(t.detection_index for t in out) == [0, 5]
    default = Tracker()
    default.update(np.array([[5e4, -5e4, 20, 40], [2e5, 0, 20, 40.0]]), timestamp=0.0)
    assert default.counters.dropped_detections == 1


def test_class_ids_that_are_not_whole_int64_numbers_are_dropped():
    tracker = Tracker(TrackerConfig(n_init=1))
    boxes = np.array([[0, 0, 20, 40], [100, 0, 20, 40], [200, 0, 20, 40], [300, 0, 20, 40.0]])
    out = tracker.update(boxes, None, np.array([1.0, 1.5, 1e19, np.nan]), None, 0.0)
    assert tracker.counters.dropped_detections == 3
    assert [(t.detection_index, t.class_id) for t in out] == [(0, 1)]
    big = np.array([2 ** 62, -7], dtype=np.int64)
    out = tracker.update(boxes[:2], None, big, None, 0.1)
    assert sorted(t.class_id for t in out if t.detection_index >= 0) == [-7, 2 ** 62]


def test_large_finite_features_keep_their_direction():
    feature = identity_features(1, dim=8, seed=2)
    tracker = Tracker(TrackerConfig(n_init=1))
    tracker.update(np.array([[0, 0, 20, 40.0]]), None, None, feature * 1e30, 0.0)
    assert tracker.counters.dropped_detections == 0
    assert np.allclose(tracker._table.representative[tracker._table.active], feature, atol=1e-6)


def test_a_huge_time_jump_coasts_and_deletes_with_finite_covariances():
    boxes = np.array([[100, 100, 20, 40], [400, 100, 30, 60.0]])
    covariances = {}
    for gap in (10.0, 1e6):
        tracker = Tracker(TrackerConfig(n_init=1, max_age=1e7))
        for k in range(3):
            tracker.update(boxes + [3 * k, 0, 0, 0], timestamp=0.1 * k)
        out = tracker.update(np.zeros((0, 4)), timestamp=0.2 + gap)
        assert [t.state for t in out] == [TrackState.COASTING] * 2
        assert all(t.time_since_update == pytest.approx(gap) for t in out)
        covariances[gap] = np.stack([t.covariance for t in out])
    # dt is clamped to max_time_step (5 s): a million-second gap predicts like a 10 s one.
    assert np.array_equal(covariances[1e6], covariances[10.0])
    assert np.all(np.isfinite(covariances[1e6]))

    tracker = Tracker(TrackerConfig(n_init=1))  # max_age 3 s
    tracker.update(boxes, timestamp=0.0)
    out = tracker.update(np.zeros((0, 4)), timestamp=1e6)
    assert [t.state for t in out] == [TrackState.DELETED] * 2
    assert all(np.all(np.isfinite(t.covariance)) for t in out)
    assert tracker.update(boxes, timestamp=1e6 + 0.1)[0].track_id == 3


@pytest.mark.parametrize('homography', [
    np.zeros((3, 3)), np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0]]),
    np.array([[1.0, np.nan, 0], [0, 1, 0], [0, 0, 1]]), np.diag([1.0, 1.0, np.inf]),
    np.array([[1.0, 0, 0], [0, 1, 0], [-1.0 / 110.0, 0, 1]]),  # track centre to infinity
], ids=['zeros', 'singular', 'nan', 'inf', 'centre_to_infinity'])
def test_an_unusable_camera_motion_is_ignored_and_counted(homography):
    tracker = Tracker(TrackerConfig(n_init=1))
    tracker.update(np.array([[100, 100, 20, 40.0]]), timestamp=0.0)
    mean = tracker._table.mean.copy()
    covariance = tracker._table.covariance.copy()
    with pytest.raises(ValueError, match='camera motion'):
        tracker.warp(homography)
    assert np.array_equal(tracker._table.mean, mean)
    assert np.array_equal(tracker._table.covariance, covariance)
    out = tracker.update(np.array([[100, 100, 20, 40.0]]), timestamp=0.0,
                         camera_motion=homography)
    assert tracker.counters.bad_camera_motions == 1
    assert [(t.track_id, t.state) for t in out] == [(1, TrackState.CONFIRMED)]
    assert np.allclose(out[0].box_cxcywh, [110, 120, 20, 40])


def test_a_camera_motion_of_the_wrong_shape_is_api_misuse():
    tracker = Tracker()
    with pytest.raises(ValueError, match='camera_motion must have shape'):
        tracker.update(np.array([[100, 100, 20, 40.0]]), timestamp=0.0,
                       camera_motion=np.eye(2, 3))
    assert tracker.counters.frames == 0 and tracker.counters.dropped_detections == 0


def test_a_camera_motion_throwing_tracks_out_of_range_deletes_them():
    tracker = Tracker(TrackerConfig(n_init=1))
    tracker.update(np.array([[100, 100, 20, 40], [50, 50, 20, 40.0]]), timestamp=0.0)
    out = tracker.update(np.zeros((0, 4)), timestamp=0.1, camera_motion=np.diag([1e6, 1e6, 1]))
    assert out == [] and tracker.counters.diverged_tracks == 2
    assert tracker.counters.bad_camera_motions == 0
    later = tracker.update(np.array([[100, 100, 20, 40.0]]), timestamp=0.2)
    assert [t.track_id for t in later] == [3]


def test_repeated_absurd_zooms_of_a_tiny_box_never_leave_a_non_finite_filter():
    tracker = Tracker(TrackerConfig(n_init=1, max_age=100.0))
    tracker.update(np.array([[0, 0, 1e-200, 1e-200]]), timestamp=0.0)  # valid, however odd
    zoom = np.diag([1e14, 1e14, 1.0])  # invertible, so warp takes it
    for k in range(1, 15):
        out = tracker.update(np.zeros((0, 4)), timestamp=0.1 * k, camera_motion=zoom)
        assert all(np.all(np.isfinite(t.covariance)) for t in out)
    # The covariance outgrew the coordinate range long before it would overflow.
    assert tracker.counters.diverged_tracks == 1 and tracker.counters.bad_camera_motions == 0


def test_shape_errors_raise_before_anything_changes():
    tracker = Tracker(TrackerConfig(n_init=1))
    tracker.update(np.array([[0, 0, 20, 40.0]]), None, None, np.ones((1, 8)), 0.0)
    bad_calls = [
        {'boxes_tlwh': np.zeros((2, 3))},
        {'boxes_tlwh': np.ones((2, 4)), 'scores': np.ones(3)},
        {'boxes_tlwh': np.ones((2, 4)), 'class_ids': np.ones(1)},
        {'boxes_tlwh': np.ones((2, 4)), 'features': np.ones((3, 8))},
        {'boxes_tlwh': np.ones((2, 4)), 'features': np.ones((2, 5))},
        {'boxes_tlwh': np.ones((2, 4)), 'features': np.ones(2)},
    ]
    for kwargs in bad_calls:
        with pytest.raises(ValueError):
            tracker.update(timestamp=-1.0, **kwargs)  # would reset, were it not misuse
    assert tracker.counters.time_resets == 0 and tracker.counters.dropped_detections == 0
    assert tracker.counters.frames == 1 and [t.track_id for t in tracker.tracks] == [1]
