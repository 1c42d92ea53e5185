"""Re-identification after deletion, crossing under occlusion, and single-object mode."""

from deepsort_ros.core import TargetStatus, Tracker, TrackerConfig, TrackState
from helpers.scenes import frame, identity_features, noisy
import numpy as np
import pytest

FPS = 10.0


def _run(tracker, boxes_by_step, feats_by_step, start_step=0):
    outputs = []
    for k, (boxes, feats) in enumerate(zip(boxes_by_step, feats_by_step)):
        outputs.append(tracker.update(**frame(boxes, feats), timestamp=(start_step + k) / FPS))
    return outputs


def test_identity_survives_deletion_and_reappearance():
    rng = np.random.default_rng(1)
    feats = identity_features(3, seed=7)
    tracker = Tracker(TrackerConfig(max_age=1.0))
    # A walks right, B stays elsewhere; A vanishes for 3 s (deleted after 1 s), then returns.
    steps = [([[100 + 3 * k, 200, 30, 70], [600, 300, 30, 70]],
              [noisy(feats[0], rng), noisy(feats[1], rng)]) for k in range(20)]
    steps += [([[600, 300, 30, 70]], [noisy(feats[1], rng)]) for _ in range(30)]
    steps += [([[200, 205, 30, 70], [600, 300, 30, 70]],
               [noisy(feats[0], rng), noisy(feats[1], rng)]) for _ in range(10)]
    outputs = _run(tracker, [s[0] for s in steps], [s[1] for s in steps])
    a_id = [t.track_id for t in outputs[10] if t.detection_index == 0][0]
    b_id = [t.track_id for t in outputs[10] if t.detection_index == 1][0]
    assert any(t.track_id == a_id and t.state is TrackState.DELETED
               for out in outputs[20:50] for t in out)
    final = {t.detection_index: t for t in outputs[-1]}
    assert final[0].track_id == a_id and final[0].state is TrackState.CONFIRMED
    assert final[1].track_id == b_id
    assert tracker.counters.relinked >= 1
    # A stranger at the same place does not inherit A's identity.
    stranger = tracker.update(**frame([[205, 205, 30, 70]], [feats[2]]), timestamp=9.0)
    assert all(t.track_id not in (a_id, b_id) for t in stranger if t.detection_index == 0)


def test_crossing_with_occlusion_keeps_both_ids():
    rng = np.random.default_rng(2)
    feats = identity_features(2, seed=11)
    tracker = Tracker()
    ids_before = ids_after = None
    for k in range(60):
        xa, xb = 100 + 8 * k, 580 - 8 * k
        boxes, fs = [[xa, 200, 30, 70]], [noisy(feats[0], rng)]
        if not 25 <= k <= 36:  # B hidden behind A while they cross
            boxes.append([xb, 205, 30, 70])
            fs.append(noisy(feats[1], rng))
        out = tracker.update(**frame(boxes, fs), timestamp=k / FPS)
        pairs = {t.detection_index: t.track_id for t in out if t.detection_index >= 0}
        if k == 20:
            ids_before = (pairs[0], pairs[1])
        if k == 59:
            ids_after = (pairs[0], pairs[1])
    assert ids_before == ids_after


def test_single_object_follows_through_occlusion_with_statuses():
    rng = np.random.default_rng(3)
    feats = identity_features(2, seed=5)
    config = TrackerConfig(max_age=1.0, target_search_time=1.5)
    tracker = Tracker(config)
    for k in range(10):
        tracker.update(**frame([[100 + 2 * k, 200, 30, 70], [500, 200, 60, 40]],
                               [noisy(feats[0], rng), noisy(feats[1], rng)], [0, 2]),
                       timestamp=k / FPS)
    with pytest.raises(ValueError, match='exactly one'):
        tracker.select_target(track_id=1, class_id=0)
    target = tracker.select_target(class_id=0)
    assert target is not None and tracker.target_status is TargetStatus.TRACKED
    assert tracker.select_target(point_xy=(530, 220)) != target
    assert tracker.select_target(point_xy=(130, 235)) == target
    other = [t.track_id for t in tracker.tracks if t.class_id == 2][0]
    statuses = []
    for k in range(10, 60):
        boxes, fs, cls = [[500, 200, 60, 40]], [noisy(feats[1], rng)], [2]
        if k >= 45:  # the target comes back (a new track) near where it vanished
            boxes.append([200, 210, 30, 70])
            fs.append(noisy(feats[0], rng))
            cls.append(0)
        out = tracker.update(**frame(boxes, fs, cls), timestamp=k / FPS)
        statuses.append(tracker.target_status)
        assert [t.state for t in out if t.track_id == other] == [TrackState.CONFIRMED]
    assert statuses[0] is TargetStatus.SEARCHING
    assert TargetStatus.LOST in statuses[:35]
    # Confirmed as a candidate for target_confirm_time before it is followed.
    assert statuses[-1] is TargetStatus.TRACKED
    assert TargetStatus.CANDIDATE in statuses[35:]
    assert tracker.counters.target_reacquired == 1
    assert tracker.target_id != other
    followed = [t for t in tracker.tracks if t.is_target]
    assert len(followed) == 1 and followed[0].detection_index == 1
    tracker.clear_target()
    assert tracker.target_status is TargetStatus.NONE and tracker.target_id is None


def test_identity_relinked_in_its_deleting_update_is_not_also_reported_deleted():
    # Deleted (unseen 0.3 s > max_age) in the very update where a look-alike appears 100 px
    # away: beyond the motion gate, inside the re-link radius, so it inherits the identity.
    tracker = Tracker(TrackerConfig(n_init=1, max_age=0.25))
    feature = np.array([[1.0, 0.0, 0.0, 0.0]])
    [first] = tracker.update([[100.0, 100.0, 40.0, 100.0]], [0.9], [0], feature, 0.0)
    for t in (0.1, 0.2):
        tracker.update(np.zeros((0, 4)), None, None, np.zeros((0, 4)), t)
    out = tracker.update([[200.0, 100.0, 40.0, 100.0]], [0.9], [0], feature, 0.3)
    assert tracker.counters.relinked == 1
    assert [(t.track_id, t.state) for t in out] == [(first.track_id, TrackState.CONFIRMED)]


def test_outputs_carry_the_tracks_appearance_representative():
    feats = identity_features(2, seed=3)
    tracker = Tracker(TrackerConfig(n_init=1))
    out = tracker.update(**frame([[0, 0, 20, 40], [100, 0, 20, 40]], feats), timestamp=0.0)
    by_row = {t.detection_index: t for t in out}
    for row in (0, 1):
        feature = by_row[row].feature
        assert feature is not None and feature.shape == (32,)
        assert abs(float(np.linalg.norm(feature)) - 1.0) < 1e-5
        assert float(feature @ feats[row]) > 0.999
    motion_only = Tracker(TrackerConfig(n_init=1)).update(np.array([[0, 0, 20, 40.0]]),
                                                          timestamp=0.0)
    assert motion_only[0].feature is None
