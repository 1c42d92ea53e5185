"""The followed target is a hypothesis: strangers never take it, the other tracks never change."""

from deepsort_ros.core import TargetStatus, Tracker, TrackerConfig, TrackState
from helpers.scenes import frame, identity_features, noisy
import numpy as np
import pytest

FPS = 10.0


def _walk(tracker, steps, start=0):
    """Track ``steps`` of (boxes, features); return the statuses and outputs of each."""
    statuses, outputs = [], []
    for k, (boxes, feats) in enumerate(steps):
        outputs.append(tracker.update(**frame(boxes, feats), timestamp=(start + k) / FPS))
        statuses.append(tracker.target_status)
    return statuses, outputs


def _selected(config=None, seed=0):
    """Return a tracker following A (left) with B seen beside it, and the features."""
    rng = np.random.default_rng(seed)
    feats = identity_features(4, seed=seed + 20)
    tracker = Tracker(config or TrackerConfig(max_age=1.0))
    steps = [([[100 + 2 * k, 200, 30, 70], [400, 200, 30, 70]],
              [noisy(feats[0], rng), noisy(feats[1], rng)]) for k in range(10)]
    _walk(tracker, steps)
    assert tracker.select_target(point_xy=(130, 235)) is not None
    return tracker, feats, rng


def test_a_stranger_where_the_target_left_is_never_followed():
    tracker, feats, rng = _selected()
    target = tracker.target_id
    # A leaves for good; a stranger (another look) walks in where A was, and stays.
    steps = [([[400, 200, 30, 70]], [noisy(feats[1], rng)]) for _ in range(10)]
    steps += [([[125, 200, 30, 70], [400, 200, 30, 70]],
               [noisy(feats[2], rng), noisy(feats[1], rng)]) for _ in range(150)]
    statuses, outputs = _walk(tracker, steps, start=10)
    assert TargetStatus.TRACKED not in statuses
    assert statuses[-1] is TargetStatus.LOST and tracker.target_id == target
    assert not any(t.is_target for out in outputs for t in out if t.detection_index >= 0)
    assert tracker.counters.target_reacquired == 0


def test_the_person_seen_beside_the_target_never_becomes_it():
    tracker, feats, rng = _selected()
    # A leaves as B (seen beside A) jumps onto A's place: A's track takes B's detection by
    # overlap, but B's look is known as not A's: doubted at once, then dropped.
    steps = [([[110 + 3 * k, 200, 30, 70]], [noisy(feats[1], rng)]) for k in range(40)]
    statuses, _ = _walk(tracker, steps, start=10)
    assert TargetStatus.TRACKED not in statuses
    assert statuses[-1] in (TargetStatus.SEARCHING, TargetStatus.LOST)


def test_a_look_alike_far_away_after_the_window_is_not_followed():
    config = TrackerConfig(max_age=1.0, target_reacquire_window=2.0,
                           target_confident_cosine_distance=0.0)
    tracker, feats, rng = _selected(config)
    steps = [([[400, 200, 30, 70]], [noisy(feats[1], rng)]) for _ in range(30)]
    # Looks like A (same identity feature, noisy), but appears after the window.
    steps += [([[600, 300, 30, 70], [400, 200, 30, 70]],
               [noisy(feats[0], rng), noisy(feats[1], rng)]) for _ in range(30)]
    statuses, _ = _walk(tracker, steps, start=10)
    assert TargetStatus.TRACKED not in statuses
    assert statuses[-1] is TargetStatus.LOST


def test_the_target_returning_near_is_a_candidate_first_then_tracked():
    # No re-link to deleted identities: A comes back as a new identity, confirmed in full.
    config = TrackerConfig(max_age=1.0, target_confirm_time=0.5, lost_gallery_size=0)
    tracker, feats, rng = _selected(config)
    steps = [([[400, 200, 30, 70]], [noisy(feats[1], rng)]) for _ in range(15)]
    steps += [([[130, 205, 30, 70], [400, 200, 30, 70]],
               [noisy(feats[0], rng), noisy(feats[1], rng)]) for _ in range(15)]
    statuses, outputs = _walk(tracker, steps, start=10)
    back = statuses[15:]
    first_candidate = back.index(TargetStatus.CANDIDATE)
    first_tracked = back.index(TargetStatus.TRACKED)
    # Confirmed over target_confirm_time (0.5 s = 5 frames), never before.
    assert first_candidate < first_tracked and first_tracked - first_candidate >= 5
    assert 0.0 < max(0.0, tracker.target_confidence) <= 1.0
    assert tracker.counters.target_reacquired == 1
    followed = [t for t in outputs[-1] if t.is_target]
    assert len(followed) == 1 and followed[0].detection_index == 0


def test_the_target_relinked_to_its_own_identity_is_confirmed_sooner():
    config = TrackerConfig(max_age=1.0, target_confirm_time=0.5,
                           target_same_id_confirm_time=0.2)
    tracker, feats, rng = _selected(config)
    target = tracker.target_id
    # A is deleted while unseen (1.5 s > max_age) and comes back near, looking just as before:
    # the tracker's re-identification gives the new track A's identity.
    steps = [([[400, 200, 30, 70]], [noisy(feats[1], rng)]) for _ in range(15)]
    steps += [([[130, 205, 30, 70], [400, 200, 30, 70]], [feats[0], noisy(feats[1], rng)])
              for _ in range(15)]
    statuses, outputs = _walk(tracker, steps, start=10)
    back = statuses[15:]
    first_candidate = back.index(TargetStatus.CANDIDATE)
    first_tracked = back.index(TargetStatus.TRACKED)
    # Confirmed over target_same_id_confirm_time (0.2 s = 2 frames), not target_confirm_time.
    assert 2 <= first_tracked - first_candidate < 5
    assert tracker.target_id == target and tracker.counters.target_reacquired == 1
    followed = [t for t in outputs[-1] if t.is_target]
    assert len(followed) == 1 and followed[0].detection_index == 0


def test_the_followed_track_back_from_a_doubt_is_confirmed_sooner():
    config = TrackerConfig(max_age=1.0, target_confirm_time=0.5,
                           target_same_id_confirm_time=0.2)
    tracker, feats, rng = _selected(config)
    target = tracker.target_id
    # A's track shows B's look (seen beside A) for 1 s: doubted, dropped after 0.5 s. Then it
    # shows A again: the same track, same identity, a candidate again.
    steps = [([[120, 200, 30, 70], [400, 200, 30, 70]],
              [noisy(feats[1], rng), noisy(feats[1], rng)]) for _ in range(10)]
    steps += [([[120, 200, 30, 70], [400, 200, 30, 70]],
               [noisy(feats[0], rng), noisy(feats[1], rng)]) for _ in range(10)]
    statuses, outputs = _walk(tracker, steps, start=10)
    assert TargetStatus.TRACKED not in statuses[:10]
    back = statuses[10:]
    first_candidate = back.index(TargetStatus.CANDIDATE)
    first_tracked = back.index(TargetStatus.TRACKED)
    assert 2 <= first_tracked - first_candidate < 5
    assert tracker.target_id == target
    followed = [t for t in outputs[-1] if t.is_target]
    assert len(followed) == 1 and followed[0].detection_index == 0


def _hidden_walks_in(feats, rng):
    """Return 10 steps in which look 2 walks into A's box: its crops turn from A's to it."""
    steps = []
    for k in range(10):
        mix = (10 - k) * feats[0] + k * feats[2]
        steps.append(([[120 + 2 * k, 200, 30, 70], [400, 200, 30, 70]],
                      [noisy(mix / np.linalg.norm(mix), rng), noisy(feats[1], rng)]))
    return steps


def test_the_person_coming_out_of_the_followed_box_keeps_the_target():
    # B walks hidden in A's box: the track's crops turn from A's look to B's, and the gallery
    # learns both. When the box splits, the followed track stays on B and A comes out of it on
    # a new track: the crops the app pointed at (A alone) decide who the target is.
    tracker, feats, rng = _selected()
    hidden = feats[2]
    steps = _hidden_walks_in(feats, rng)
    for k in range(10, 30):
        # A undetected behind B for a second: the followed track takes B alone.
        boxes = [[120 + 2 * k, 200, 30, 70], [400, 200, 30, 70]]
        looks = [noisy(hidden, rng), noisy(feats[1], rng)]
        if k >= 20:  # A comes out of the box, walking faster
            boxes.append([130 + 4 * (k - 20) + 2 * k, 200, 30, 70])
            looks.append(noisy(feats[0], rng, 0.08))
        steps.append((boxes, looks))
    statuses, outputs = _walk(tracker, steps, start=10)
    followed = [t for t in outputs[-1] if t.is_target]
    assert statuses[-1] is TargetStatus.TRACKED
    assert len(followed) == 1 and followed[0].detection_index == 2


def _mix(a, b, share_a):
    """Return the unit feature of a crop showing ``share_a`` of look ``a`` and the rest ``b``."""
    out = share_a * a + (1.0 - share_a) * b
    return out / np.linalg.norm(out)


def test_the_person_walking_out_beside_the_followed_box_is_judged_once_apart():
    # As above, but A walks out slowly beside B: while the boxes overlap each crop shows part of
    # the other (A's mostly B in front, B's box half A), and those crops look nearer the app's
    # crops of A on B's track. Only once the boxes are apart do the crops show who is who.
    tracker, feats, rng = _selected()
    hidden = feats[2]
    steps = _hidden_walks_in(feats, rng)
    for k in range(10, 50):
        boxes = [[120 + 2 * k, 200, 30, 70], [400, 200, 30, 70]]
        looks = [noisy(hidden, rng), noisy(feats[1], rng)]
        if k >= 20:  # A comes out of the box, 2 px a frame faster than B
            offset = 10 + 2 * (k - 20)
            boxes.append([120 + 2 * k + offset, 200, 30, 70])
            apart = offset >= 26  # IoU under occlusion_iou (0.1)
            looks[0] = noisy(hidden if apart else _mix(feats[0], hidden, 0.5), rng)
            looks.append(noisy(feats[0] if apart else _mix(feats[0], hidden, 0.3), rng))
        steps.append((boxes, looks))
    statuses, outputs = _walk(tracker, steps, start=10)
    followed = [t for t in outputs[-1] if t.is_target]
    assert statuses[-1] is TargetStatus.TRACKED
    assert len(followed) == 1 and followed[0].detection_index == 2


def _crossing(b_from):
    """Return a tracker following A from frame 10, B walking in A's box from ``b_from``."""
    rng = np.random.default_rng(5)
    feats = identity_features(3, seed=7)
    tracker = Tracker(TrackerConfig(max_age=1.0))
    steps = []
    for k in range(10):
        boxes, looks = [[100 + 2 * k, 200, 30, 70], [400, 200, 30, 70]], \
            [noisy(feats[0], rng), noisy(feats[1], rng)]
        if k >= b_from:
            boxes.append([112 + 2 * k, 200, 30, 70])  # IoU 0.43 with A's box
            looks.append(noisy(_mix(feats[0], feats[2], 0.7), rng))
        steps.append((boxes, looks))
    _walk(tracker, steps)
    assert tracker.select_target(point_xy=(133, 235)) is not None
    # A's box goes on holding both for a second, then A leaves the view; B walks on.
    steps = [([[120 + 2 * k, 200, 30, 70], [400, 200, 30, 70], [132 + 2 * k, 200, 30, 70]],
              [noisy(feats[0], rng), noisy(feats[1], rng),
               noisy(_mix(feats[0], feats[2], 0.7), rng)]) for k in range(10)]
    steps += [([[400, 200, 30, 70], [152 + 2 * k, 200, 30, 70]],
               [noisy(feats[1], rng), noisy(_mix(feats[0], feats[2], 0.7), rng)])
              for k in range(40)]
    statuses, outputs = _walk(tracker, steps, start=10)
    followed = [t for t in outputs[-1] if t.is_target]
    return statuses, followed


def test_someone_born_in_a_box_never_seen_alone_may_be_the_person():
    # The app points at A's box while B, just born in it, overlaps it: the box was never seen
    # holding one person. A leaves; B, on the track born in that box and looking like the
    # crops pointed at, may be who the app meant: confirmed as a CANDIDATE, then followed.
    statuses, followed = _crossing(b_from=8)
    assert statuses[-1] is TargetStatus.TRACKED
    assert len(followed) == 1 and followed[0].detection_index == 1
    assert TargetStatus.CANDIDATE in statuses


def test_someone_born_in_a_box_seen_alone_before_is_not_the_person():
    # The same, but the app pointed at A alone: B, born in the box later, is someone else.
    statuses, followed = _crossing(b_from=10)
    assert TargetStatus.TRACKED not in statuses[15:]
    assert not followed


def test_following_a_target_changes_no_track():
    rng = np.random.default_rng(4)
    feats = identity_features(3, seed=9)
    steps = []
    for k in range(80):
        boxes = [[100 + 4 * k, 200, 30, 70], [420 - 3 * k, 210, 30, 70]]
        fs = [noisy(feats[0], rng), noisy(feats[1], rng)]
        if 30 <= k < 45:  # A occluded, then back; C enters
            boxes, fs = boxes[1:], fs[1:]
        if k >= 50:
            boxes.append([150, 300, 30, 70])
            fs.append(noisy(feats[2], rng))
        steps.append((boxes, fs))
    plain, followed = Tracker(TrackerConfig(max_age=1.0)), Tracker(TrackerConfig(max_age=1.0))
    _walk(plain, steps[:5])
    _walk(followed, steps[:5])
    assert followed.select_target(point_xy=(130, 235)) is not None
    _, out_plain = _walk(plain, steps[5:], start=5)
    _, out_followed = _walk(followed, steps[5:], start=5)
    for a, b in zip(out_plain, out_followed):
        assert [(t.track_id, t.state, t.box_tlwh.tolist()) for t in a] == \
            [(t.track_id, t.state, t.box_tlwh.tolist()) for t in b]


def test_forget_keeps_ids_counting_and_reports_the_forgotten_deleted():
    tracker, feats, rng = _selected()
    before = {t.track_id for t in tracker.tracks}
    tracker.forget()
    assert tracker.target_status is TargetStatus.NONE and tracker.target_id is None
    out = tracker.update(**frame([[100, 200, 30, 70]], [feats[0]]), timestamp=0.0)
    deleted = {t.track_id for t in out if t.state is TrackState.DELETED}
    assert deleted == before
    for k in range(1, 4):
        out = tracker.update(**frame([[100, 200, 30, 70]], [feats[0]]), timestamp=k / FPS)
    fresh = [t.track_id for t in out if t.state is TrackState.CONFIRMED]
    assert fresh and min(fresh) > max(before)


@pytest.mark.parametrize('name, value', [
    ('target_confirm_time', -1.0), ('target_same_id_confirm_time', -1.0),
    ('target_margin', -0.1), ('target_margin', 2.5),
    ('target_reacquire_window', -1.0), ('target_confident_cosine_distance', 3.0),
    ('target_gallery_size', 0), ('target_negatives_size', 0), ('target_max_speed', 0.0)])
def test_target_settings_are_validated(name, value):
    with pytest.raises(ValueError, match=name):
        TrackerConfig(**{name: value})
