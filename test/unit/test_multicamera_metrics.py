"""Multi-camera scores on hand-made rows: MTMC IDF1, camera transitions, per-camera IDF1."""

from deepsort_ros.evaluation.multicamera import (camera_transitions, evaluate_multicamera,
                                                 keep_rate, match_identities, offset_rows)
import numpy as np
import pytest

FPS = 7.0


def rows(frames, track_id, x=100.0, flag=1.0):
    """Return MOT rows of one box per frame (gt-like: with a flag column)."""
    return np.array([[f, track_id, x, 50.0, 40.0, 90.0, flag, -1, -1, -1] for f in frames],
                    dtype=float)


def cameras(**by_camera):
    """Stack each camera's row blocks."""
    return {name: np.concatenate(blocks) if blocks else np.zeros((0, 10))
            for name, blocks in by_camera.items()}


def test_offset_rows_moves_each_cameras_frames():
    stacked = offset_rows({'a': rows([1, 2], 1), 'b': rows([1], 1)}, ['a', 'b'], 100)
    assert stacked[:, 0].tolist() == [1, 2, 101]


def test_one_identity_over_two_cameras_scores_fully_only_with_one_id():
    gt = cameras(a=[rows(range(1, 11), 7)], b=[rows(range(1, 11), 7)])
    same = cameras(a=[rows(range(1, 11), 3)], b=[rows(range(1, 11), 3)])
    split = cameras(a=[rows(range(1, 11), 3)], b=[rows(range(1, 11), 4)])
    assert evaluate_multicamera(gt, same).union.idf1 == pytest.approx(1.0)
    scores = evaluate_multicamera(gt, split)
    # Per camera both are perfect; over the union one id can match only half the rows.
    assert scores.per_camera['a'].idf1 == pytest.approx(1.0)
    assert scores.mean_camera_idf1 == pytest.approx(1.0)
    assert scores.union.idf1 == pytest.approx(0.5)


def test_a_camera_without_results_scores_zero():
    gt = cameras(a=[rows(range(1, 5), 1)], b=[rows(range(1, 5), 1)])
    scores = evaluate_multicamera(gt, {'a': rows(range(1, 5), 9)})
    assert scores.per_camera['b'].idf1 == 0.0
    # 2 IDTP / (gt rows + result rows) = 2 * 4 / (8 + 4)
    assert scores.union.idf1 == pytest.approx(2.0 / 3.0)


def test_matching_skips_unscored_rows_and_poor_overlaps():
    gt = np.concatenate([rows([1], 1), rows([1], 2, x=300.0, flag=0.0)])
    result = np.concatenate([rows([1], 5, x=110.0), rows([1], 6, x=300.0)])
    assert match_identities(gt, result) == {1: {1: 5}}
    assert match_identities(gt, rows([1], 5, x=140.0)) == {}  # IoU 0.14


def test_overlap_transition_kept_and_broken():
    gt = cameras(a=[rows(range(1, 21), 1)], b=[rows(range(10, 31), 1)])
    kept = camera_transitions(gt, cameras(a=[rows(range(1, 21), 5)],
                                          b=[rows(range(10, 31), 5)]), FPS)
    assert [(t.to_camera, t.frame, t.from_frame, t.gap_s, t.kept) for t in kept] == [
        ('b', 10, 10, 0.0, True)]
    broken = camera_transitions(gt, cameras(a=[rows(range(1, 21), 5)],
                                            b=[rows(range(10, 31), 6)]), FPS)
    assert [(t.predicted_id, t.from_ids, t.kept) for t in broken] == [(6, (5,), False)]


def test_gap_transitions_and_a_return():
    gt = cameras(a=[rows(range(1, 11), 1), rows(range(40, 51), 1)], b=[rows(range(25, 31), 1)])
    result = cameras(a=[rows(range(1, 11), 5), rows(range(40, 51), 8)],
                     b=[rows(range(25, 31), 5)])
    transitions = camera_transitions(gt, result, FPS)
    assert [(t.to_camera, t.from_cameras, t.frame, t.from_frame, t.kept)
            for t in transitions] == [('b', ('a',), 25, 10, True), ('a', ('b',), 40, 30, False)]
    assert transitions[0].gap_s == pytest.approx(15 / FPS)
    assert keep_rate(transitions) == (1, 2, 0.5)
    assert keep_rate(transitions, max_gap_s=2.0) == (0, 1, 0.0)
    assert np.isnan(keep_rate(transitions, max_gap_s=0.1)[2])


def test_flicker_and_reentry_into_the_same_camera_are_no_transitions():
    # b misses the person for two frames (less than min_absence_s) during the overlap, and a
    # sees them again after they were seen by nobody else: neither is a transition.
    gt = cameras(a=[rows(range(1, 41), 1), rows(range(60, 70), 1)],
                 b=[rows(range(10, 15), 1), rows(range(17, 25), 1)])
    result = cameras(a=[rows(range(1, 41), 5), rows(range(60, 70), 5)],
                     b=[rows(range(10, 15), 5), rows(range(17, 25), 5)])
    transitions = camera_transitions(gt, result, FPS)
    assert [(t.to_camera, t.frame) for t in transitions] == [('b', 10)]


def test_first_seen_by_two_cameras_at_once_is_one_transition_into_each():
    gt = cameras(a=[rows(range(1, 5), 1)], b=[rows(range(1, 5), 1)])
    transitions = camera_transitions(gt, cameras(a=[rows(range(1, 5), 3)],
                                                 b=[rows(range(1, 5), 3)]), FPS)
    assert [(t.to_camera, t.frame, t.kept) for t in transitions] == [
        ('a', 1, True), ('b', 1, True)]


def test_purity_shows_merged_people_and_completeness_split_ones():
    gt = cameras(a=[rows(range(1, 11), 1)], b=[rows(range(1, 11), 2)])
    merged = evaluate_multicamera(gt, cameras(a=[rows(range(1, 11), 5)],
                                              b=[rows(range(1, 11), 5)]))
    assert merged.purity == pytest.approx(0.5) and merged.completeness == pytest.approx(1.0)
    split = evaluate_multicamera(gt, cameras(a=[rows(range(1, 6), 5), rows(range(6, 11), 6)],
                                             b=[rows(range(1, 11), 7)]))
    assert split.purity == pytest.approx(1.0) and split.completeness == pytest.approx(0.75)
