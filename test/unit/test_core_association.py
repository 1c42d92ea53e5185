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
