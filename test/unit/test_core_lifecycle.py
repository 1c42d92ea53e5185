"""Track life cycle, input validation, configuration errors and timestamps."""

from deepsort_ros.core import Tracker, TrackerConfig, TrackState
from helpers.scenes import frame, identity_features
import numpy as np
import pytest


def test_tentative_confirmed_coasting_deleted():
    feats = identity_features(1)
    tracker = Tracker(TrackerConfig(n_init=3, max_age=0.5, confirm_first_frame=False))
    states = []
    for k in range(3):
        out = tracker.update(**frame([[100 + k, 100, 20, 40]], feats), timestamp=0.1 * k)
        states.append(out[0].state)
    assert states == [TrackState.TENTATIVE, TrackState.TENTATIVE, TrackState.CONFIRMED]
    coasting = tracker.update(**frame([], []), timestamp=0.3)
    assert coasting[0].state is TrackState.COASTING
    assert coasting[0].time_since_update == pytest.approx(0.1)
    assert coasting[0].hits == 3 and coasting[0].age == 4
    t = 0.3
    while True:
        t += 0.1
        out = tracker.update(**frame([], []), timestamp=t)
        if not out or out[0].state is TrackState.DELETED:
            break
    assert out[0].state is TrackState.DELETED
    assert t == pytest.approx(0.3 + 0.5, abs=0.11)
    assert tracker.update(**frame([], []), timestamp=t + 0.1) == []


def test_tentative_track_dies_on_first_miss():
    tracker = Tracker(TrackerConfig(n_init=3))
    tracker.update(np.zeros((0, 4)), timestamp=0.0)
    tracker.update(np.array([[100, 100, 20, 40.0]]), timestamp=0.1)
    assert tracker.update(np.zeros((0, 4)), timestamp=0.2) == []


def test_first_frame_tracks_are_confirmed_at_once_only_when_asked():
    for first, expected in ((True, TrackState.CONFIRMED), (False, TrackState.TENTATIVE)):
        tracker = Tracker(TrackerConfig(n_init=3, confirm_first_frame=first))
        out = tracker.update(np.array([[100, 100, 20, 40.0]]), timestamp=0.0)
        assert out[0].state is expected
        later = tracker.update(np.array([[100, 100, 20, 40.0], [400, 100, 20, 40.0]]),
                               timestamp=0.1)
        assert later[1].state is TrackState.TENTATIVE


def test_ids_are_per_instance():
    a, b = Tracker(), Tracker()
    a.update(np.array([[0, 0, 10, 10.0], [50, 50, 10, 10.0]]), timestamp=0.0)
    out = b.update(np.array([[0, 0, 10, 10.0]]), timestamp=0.0)
    assert out[0].track_id == 1


def test_nan_and_degenerate_rows_are_dropped_and_counted():
    tracker = Tracker(TrackerConfig(n_init=1))
    boxes = np.array([[np.nan, 0, 10, 10], [10, 10, 20, 40], [0, 0, np.inf, 5],
                      [300, 300, 0, 10], [400, 100, 20, 40]])
    out = tracker.update(boxes, np.array([0.9, 0.9, 0.9, 0.9, np.nan]), np.zeros(5, int),
                         None, 0.0)
    assert tracker.counters.dropped_detections == 4
    assert [t.detection_index for t in out] == [1]
    features = np.ones((2, 8), np.float32)
    features[1, 3] = np.nan
    tracker.update(np.array([[10, 10, 20, 40.0], [200, 10, 20, 40.0]]), None, None, features,
                   0.1)
    assert tracker.counters.dropped_detections == 5


def test_time_going_backwards_resets_cleanly_and_keeps_counting_ids():
    feats = identity_features(2, seed=6)
    boxes = [[10, 10, 20, 40], [300, 10, 20, 40]]
    tracker = Tracker(TrackerConfig(n_init=3, lost_gallery_size=10, max_age=0.1))
    for k in range(4):
        tracker.update(**frame(boxes, list(feats)), timestamp=5.0 + 0.1 * k)
    tracker.update(**frame(boxes[:1], [feats[0]]), timestamp=5.5)  # identity 2 is lost
    assert tracker.lost_identities == 1
    assert tracker.select_target(track_id=1) == 1
    old_ids = {1, 2}

    out = tracker.update(**frame(boxes, list(feats)), timestamp=1.0)  # the bag looped
    assert tracker.counters.time_resets == 1
    deleted = [t.track_id for t in out if t.state is TrackState.DELETED]
    active = [t for t in out if t.state is not TrackState.DELETED]
    assert deleted == [1]  # the only confirmed active track, reported once more
    assert len(active) == 2 and min(t.track_id for t in active) > max(old_ids)
    assert all(t.state is TrackState.CONFIRMED for t in active)  # a first frame again
    assert all(t.time_since_update == 0.0 and t.hits == 1 for t in active)
    assert tracker.lost_identities == 0 and tracker.counters.relinked == 0
    assert tracker.target_id is None
    new_ids = sorted(t.track_id for t in active)
    for k in range(1, 4):
        later = tracker.update(**frame(boxes, list(feats)), timestamp=1.0 + 0.1 * k)
        assert sorted(t.track_id for t in later) == new_ids
        assert all(t.state is TrackState.CONFIRMED and t.hits == k + 1 for t in later)
    assert tracker.counters.time_resets == 1 and tracker.counters.dropped_detections == 0
    assert tracker.counters.frames == 9


def test_explicit_reset_starts_ids_again():
    tracker = Tracker(TrackerConfig(n_init=1))
    tracker.update(np.array([[10, 10, 20, 40.0]]), timestamp=5.0)
    tracker.update(np.array([[10, 10, 20, 40.0]]), timestamp=4.0)
    assert tracker.counters.time_resets == 1 and [t.track_id for t in tracker.tracks] == [2, 1]
    tracker.reset()
    assert tracker.counters.time_resets == 0 and tracker.counters.frames == 0
    assert tracker.update(np.array([[10, 10, 20, 40.0]]), timestamp=0.0)[0].track_id == 1


def test_equal_timestamps_update_with_zero_dt():
    tracker = Tracker(TrackerConfig(n_init=1))
    first = tracker.update(np.array([[10, 10, 20, 40.0]]), timestamp=5.0)
    same = tracker.update(np.array([[14, 10, 20, 40.0]]), timestamp=5.0)
    assert same[0].track_id == 1 and same[0].hits == 2 and tracker.counters.time_resets == 0
    assert same[0].time_since_update == 0.0
    # No time passed: no process noise, and the detection only shrinks the covariance.
    assert np.all(np.diag(same[0].covariance) <= np.diag(first[0].covariance))
    assert np.all(np.isfinite(same[0].velocity_cxcywh))


@pytest.mark.parametrize('stamp', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_timestamp_drops_the_frame_and_changes_nothing(stamp):
    tracker = Tracker(TrackerConfig(n_init=1))
    before = tracker.update(np.array([[10, 10, 20, 40.0]]), timestamp=5.0)
    mean = tracker._table.mean.copy()
    out = tracker.update(np.array([[10, 10, 20, 40.0], [90, 10, 20, 40.0]]), timestamp=stamp,
                         camera_motion=np.diag([2.0, 2.0, 1.0]))
    assert out == [] and tracker.counters.bad_timestamps == 1
    assert tracker.counters.dropped_detections == 2
    assert tracker.counters.frames == 1 and tracker.counters.time_resets == 0
    assert [t.track_id for t in tracker.tracks] == [t.track_id for t in before]
    assert np.array_equal(tracker._table.mean, mean)
    after = tracker.update(np.array([[10, 10, 20, 40.0]]), timestamp=5.1)
    assert [(t.track_id, t.hits) for t in after] == [(1, 2)]


def test_inconsistent_lengths_raise():
    tracker = Tracker()
    with pytest.raises(ValueError, match='scores'):
        tracker.update(np.zeros((2, 4)) + 1, np.ones(3), None, None, 0.0)
    with pytest.raises(ValueError, match='shape'):
        tracker.update(np.zeros((2, 3)), None, None, None, 0.0)


@pytest.mark.parametrize('settings, name', [
    ({'max_cosine_distance': -0.1}, 'max_cosine_distance'),
    ({'max_cosine_distance': 2.5}, 'max_cosine_distance'),
    ({'nn_budget': 0}, 'nn_budget'),
    ({'nn_budget': 1.5}, 'nn_budget'),
    ({'n_init': 0}, 'n_init'),
    ({'max_age': 0.0}, 'max_age'),
    ({'gating_threshold': float('nan')}, 'gating_threshold'),
    ({'class_aware': 'yes'}, 'class_aware'),
    ({'feature_ema_alpha': 1.0}, 'feature_ema_alpha'),
    ({'low_score_threshold': 0.8, 'high_score_threshold': 0.5}, 'low_score_threshold'),
    ({'lost_gallery_size': -1}, 'lost_gallery_size'),
    ({'max_iou_distance': 1.5}, 'max_iou_distance'),
    ({'max_box_coordinate': 0.0}, 'max_box_coordinate'),
])
def test_config_rejects_bad_values(settings, name):
    with pytest.raises(ValueError, match=name):
        TrackerConfig(**settings)


def test_config_accepts_ints_for_floats_and_defaults_are_valid():
    config = TrackerConfig(max_age=2, gating_threshold=10)
    assert isinstance(config.max_age, float) and config.nn_budget == 100
    with pytest.raises(ValueError, match='TrackerConfig'):
        Tracker(config={'max_age': 1.0})


def test_many_tracks_grow_the_table_and_keep_their_galleries():
    rng = np.random.default_rng(5)
    count = 150
    feats = identity_features(count, dim=16, seed=2)
    x = (np.arange(count) % 15) * 60.0
    y = (np.arange(count) // 15) * 90.0
    boxes = np.stack([x, y, np.full(count, 20.0), np.full(count, 40.0)], axis=1)
    tracker = Tracker(TrackerConfig(nn_budget=2))
    for k in range(5):
        noisy_feats = feats + rng.normal(0, 0.01, feats.shape).astype(np.float32)
        out = tracker.update(boxes + [k, 0, 0, 0], np.full(count, 0.9), np.zeros(count, int),
                             noisy_feats, 0.1 * k)
    assert sorted(t.track_id for t in out) == list(range(1, count + 1))
    assert all(t.detection_index == t.track_id - 1 for t in out)
    table = tracker._table
    slots = table.active
    assert np.all(table.gallery_count[slots] == 2)
    similarity = np.sum(table.representative[slots] * feats[table.track_id[slots] - 1], axis=1)
    assert np.all(similarity > 0.99)


def test_coasting_track_behind_a_tracked_one_is_occluded():
    feats = identity_features(3, seed=4)
    tracker = Tracker(TrackerConfig(n_init=1))
    boxes = [[100, 100, 30, 70], [110, 105, 30, 70], [500, 100, 30, 70]]
    for k in range(3):
        tracker.update(**frame(boxes, list(feats)), timestamp=0.1 * k)
    tracks = tracker.update(**frame([boxes[0]], [feats[0]]), timestamp=0.3)
    out = {t.track_id: t for t in tracks}
    assert out[1].state is TrackState.CONFIRMED and not out[1].is_occluded
    assert out[2].state is TrackState.COASTING and out[2].is_occluded
    assert out[3].state is TrackState.COASTING and not out[3].is_occluded


@pytest.mark.parametrize('max_coverage, expect', [(0.6, 1), (1.0, 2)])
def test_a_covered_detection_adds_no_feature_to_the_gallery(max_coverage, expect):
    feats = identity_features(2, seed=6)
    tracker = Tracker(TrackerConfig(n_init=1, gallery_max_coverage=max_coverage))
    tracker.update(**frame([[100, 100, 20, 40]], feats[:1]), timestamp=0.0)
    # The track's person half hidden behind a larger box (80 % of it covered): its crop
    # shows the other person too.
    out = tracker.update(**frame([[100, 100, 20, 40], [104, 90, 40, 80]], feats), timestamp=0.1)
    slot = tracker._table.active[0]
    assert [t.detection_index for t in out if t.track_id == 1] == [0]
    assert tracker._table.gallery_count[slot] == expect
    # The covering person's own box is clear (20 % of it covered): it starts a gallery.
    assert tracker._table.gallery_count[tracker._table.active[1]] == 1
