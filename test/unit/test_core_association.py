"""Association: gating, appearance before IoU, class awareness, low-score second pass."""

from deepsort_ros.core import Tracker, TrackerConfig, TrackState
from deepsort_ros.core.matching import assign
from helpers.scenes import frame, identity_features, noisy
import numpy as np
import pytest


def _by_id(tracks):
    return {t.track_id: t for t in tracks}


def test_assign_respects_max_cost():
    cost = np.array([[0.1, 0.9], [0.8, 0.95]])
    matches, rows, cols = assign(cost, 0.85)
    assert matches.tolist() == [[0, 0]]
    assert rows.tolist() == [1] and cols.tolist() == [1]


@pytest.mark.parametrize('density', [0.01, 0.05, 0.3, 1.0])
def test_assign_shortcut_keeps_the_optimum(density):
    # assign takes pairs that are each other's only option without the solver; the result
    # must still be a largest, then cheapest, feasible matching: the solver's on the whole.
    from scipy.optimize import linear_sum_assignment
    rng = np.random.default_rng(int(density * 100))
    for trial in range(20):
        n_rows, n_cols = rng.integers(1, 40, size=2)
        cost = rng.random((n_rows, n_cols))
        cost[rng.random((n_rows, n_cols)) > density] = np.inf
        if trial % 5 == 0:
            cost[0, 0] = np.nan
        matches, rows, cols = assign(cost, np.inf)
        feasible = np.isfinite(cost)
        r, c = linear_sum_assignment(np.where(feasible, cost, 1e5))
        keep = feasible[r, c]
        assert len(matches) == keep.sum()
        total = cost[matches[:, 0], matches[:, 1]].sum()
        assert total == pytest.approx(cost[r[keep], c[keep]].sum())
        assert len(set(matches[:, 0])) == len(matches) == len(set(matches[:, 1]))
        assert np.isfinite(cost[matches[:, 0], matches[:, 1]]).all()
        assert sorted([*matches[:, 0], *rows]) == list(range(n_rows))
        assert sorted([*matches[:, 1], *cols]) == list(range(n_cols))


def test_gate_rejects_far_detection_with_same_appearance():
    feats = identity_features(1)
    tracker = Tracker(TrackerConfig(n_init=1))
    first = tracker.update(**frame([[100, 100, 20, 40]], feats), timestamp=0.0)
    far = tracker.update(**frame([[600, 400, 20, 40]], feats), timestamp=0.1)
    ids = {t.track_id for t in far if t.state is not TrackState.DELETED}
    assert first[0].track_id in ids
    moved = [t for t in far if t.track_id == first[0].track_id][0]
    assert moved.state is TrackState.COASTING and moved.detection_index == -1
    assert len(ids) == 2  # the far detection started its own track


@pytest.mark.parametrize('cascade, ema', [(False, 0.0), (True, 0.0), (False, 0.9)])
def test_appearance_wins_over_iou(cascade, ema):
    feats = identity_features(2, seed=3)
    rng = np.random.default_rng(0)
    tracker = Tracker(TrackerConfig(n_init=1, matching_cascade=cascade, feature_ema_alpha=ema))
    out = []
    for k in range(5):
        out = tracker.update(**frame([[100, 100, 40, 80], [106, 100, 40, 80]],
                                     [noisy(feats[0], rng), noisy(feats[1], rng)]),
                             timestamp=0.1 * k)
    a, b = sorted(t.track_id for t in out)
    # Swap positions: IoU prefers the swap, appearance says who is who.
    out = _by_id(tracker.update(**frame([[106, 100, 40, 80], [100, 100, 40, 80]],
                                        [noisy(feats[0], rng), noisy(feats[1], rng)]),
                                timestamp=0.5))
    assert out[a].detection_index == 0
    assert out[b].detection_index == 1


def test_class_aware_never_matches_other_class():
    feats = identity_features(1)
    for aware, expect_same in ((True, False), (False, True)):
        tracker = Tracker(TrackerConfig(n_init=1, class_aware=aware))
        first = tracker.update(**frame([[100, 100, 20, 40]], feats, [0]), timestamp=0.0)
        out = tracker.update(**frame([[101, 100, 20, 40]], feats, [1]), timestamp=0.1)
        matched = [t for t in out if t.detection_index == 0][0]
        assert (matched.track_id == first[0].track_id) is expect_same
        if aware:
            assert matched.class_id == 1


def test_low_score_detection_keeps_track_alive_only_with_second_association():
    for second, expect in ((True, 0), (False, -1)):
        tracker = Tracker(TrackerConfig(n_init=1, second_association=second))
        tracker.update(np.array([[100, 100, 20, 40.0]]), np.array([0.9]), np.array([0]),
                       None, 0.0)
        out = tracker.update(np.array([[101, 100, 20, 40.0]]), np.array([0.3]), np.array([0]),
                             None, 0.1)
        assert [t.detection_index for t in out if t.track_id == 1] == [expect]
        assert len(out) == 1  # a low-score detection never starts a track


def test_motion_only_tracks_without_features():
    tracker = Tracker(TrackerConfig(n_init=2))
    for k in range(6):
        out = tracker.update(np.array([[100 + 5 * k, 100, 20, 40.0]]), None, None, None,
                             0.1 * k)
    assert [(t.track_id, t.state) for t in out] == [(1, TrackState.CONFIRMED)]
    assert out[0].velocity_cxcywh[0] > 20.0  # 50 px/s, approached from zero


@pytest.mark.parametrize('first, expect', [(True, 0), (False, -1)])
def test_confirmed_tracks_take_iou_matches_before_tentative_ones(first, expect):
    tracker = Tracker(TrackerConfig(confirmed_first=first))
    tracker.update(np.array([[100, 100, 20, 40.0]]), None, None, None, 0.0)
    # A second box beside the confirmed person starts a tentative track...
    tracker.update(np.array([[100, 100, 20, 40.0], [112, 100, 20, 40.0]]), None, None, None,
                   0.1)
    # ...which overlaps the one box of the next frame more than the confirmed track does.
    out = tracker.update(np.array([[110, 100, 20, 40.0]]), None, None, None, 0.2)
    assert [t.detection_index for t in out if t.track_id == 1] == [expect]


@pytest.mark.parametrize('recovery, expect', [(True, 0), (False, -1)])
def test_observation_recovery_finds_a_person_who_stopped_unseen(recovery, expect):
    tracker = Tracker(TrackerConfig(observation_recovery=recovery))
    for k in range(10):  # walking right at 100 px/s
        tracker.update(np.array([[100 + 10 * k, 100, 20, 40.0]]), None, None, None, 0.1 * k)
    for k in range(10, 13):  # unseen: the prediction walks on
        tracker.update(np.zeros((0, 4)), None, None, None, 0.1 * k)
    # Found again where last seen: no overlap with the prediction (x ~ 230), IoU 0.82 with
    # the last detection's box.
    out = tracker.update(np.array([[192, 100, 20, 40.0]]), None, None, None, 1.3)
    assert [t.detection_index for t in out if t.track_id == 1] == [expect]


@pytest.mark.parametrize('features, max_gap, expect',
                         [(True, 0.5, -1), (True, 2.0, 0), (False, 0.5, 0)])
def test_observation_recovery_waits_for_appearance_after_a_long_gap(features, max_gap, expect):
    # Hidden 1 s: its last box may now be another person's; with appearance, only the
    # appearance stage may give the track its person back.
    feats = identity_features(2, seed=7) if features else None
    tracker = Tracker(TrackerConfig(recovery_max_gap=max_gap))
    for k in range(10):  # walking right at 100 px/s
        tracker.update(np.array([[100 + 10 * k, 100, 20, 40.0]]), None, None,
                       None if feats is None else feats[:1], 0.1 * k)
    for k in range(10, 20):
        tracker.update(np.zeros((0, 4)), None, None, None, 0.1 * k)
    # Someone else where the track was last seen, no overlap with the prediction (x ~ 290).
    out = tracker.update(np.array([[192, 100, 20, 40.0]]), None, None,
                         None if feats is None else feats[1:], 2.0)
    assert [t.detection_index for t in out if t.track_id == 1] == [expect]


@pytest.mark.parametrize('fusion, expect', [(True, 1), (False, 0)])
def test_score_fusion_gives_a_track_the_confident_of_two_overlapping_boxes(fusion, expect):
    tracker = Tracker(TrackerConfig(iou_score_fusion=fusion))
    tracker.update(np.array([[100, 100, 20, 40.0]]), None, None, None, 0.0)
    # IoU 0.74 at score 0.6 against IoU 0.54 at score 1.0.
    out = tracker.update(np.array([[103, 100, 20, 40.0], [106, 100, 20, 40.0]]),
                         np.array([0.6, 1.0]), None, None, 0.1)
    assert [t.detection_index for t in out if t.track_id == 1] == [expect]
