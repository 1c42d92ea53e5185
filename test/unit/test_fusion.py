"""Multi-camera fusion: overlap, handover, time alignment and every kind of bad input."""

from typing import Callable, Dict, Sequence
import uuid

from deepsort_ros.core import TrackState
from deepsort_ros.fusion import (CameraBatch, CameraTrack, FusionConfig, GlobalState,
                                 identity_uuid, TrackFusion)
import numpy as np
import pytest

DIM = 16
ENCODER = 'osnet_x0_25_msmt17:sha256:0123456789abcdef'


def look(seed: int) -> np.ndarray:
    """Return a person's unit appearance (well apart from other seeds' in 16-d)."""
    feature = np.random.default_rng(seed).normal(size=DIM)
    return feature / np.linalg.norm(feature)


def batch(rows: Sequence[tuple], encoder: str = ENCODER, source: str = '',
          world: bool = True, sigma: float = 0.2) -> CameraBatch:
    """
    Make a camera update from ``(local_id, (x, y), (vx, vy), feature or None[, detected])``.

    ``world`` False sends the rows without a ground position (a camera without a pose).
    """
    tracks = []
    for row in rows:
        local_id, xy, v, feature = row[:4]
        detected = row[4] if len(row) > 4 else True
        tracks.append(CameraTrack(
            local_id, TrackState.CONFIRMED if detected else TrackState.COASTING,
            np.asarray(xy, float) if world else None, sigma ** 2 * np.eye(2) if world else None,
            np.asarray(v, float) if world else None, 0.05 * np.eye(2) if world else None,
            world, feature))
    return CameraBatch.from_tracks(tracks, encoder, source)


def run(fusion: TrackFusion, stop_s: float, rows_at: Callable[[str, float], list],
        cameras: Sequence[str] = ('a', 'b'), start_s: float = 0.0, dt: float = 0.1) -> list:
    """
    Let every camera report every ``dt`` (camera i ``i * dt / 10`` later) until ``stop_s``.

    ``rows_at(camera, t)`` gives that camera's rows at t (an empty list: it sees nobody, as a
    tracker publishes empty arrays). Returns the outputs of the last update.
    """
    out = []
    for k in range(int(round((stop_s - start_s) / dt))):
        for i, camera in enumerate(cameras):
            t = start_s + k * dt + i * dt / 10.0
            out = fusion.update(camera, t, batch(rows_at(camera, t)))
    return out


def walker(local_ids: Dict[str, int], start_xy, velocity, feature: np.ndarray,
           visible: Callable[[str, float], bool]) -> Callable[[str, float], list]:
    """Return ``rows_at`` of one person walking at constant velocity, seen where visible."""
    def rows_at(camera: str, t: float) -> list:
        if not visible(camera, t):
            return []
        xy = np.asarray(start_xy, float) + t * np.asarray(velocity, float)
        return [(local_ids[camera], xy, velocity, feature)]
    return rows_at


def test_config_is_validated():
    with pytest.raises(ValueError, match='handover_window'):
        FusionConfig(handover_window=-1.0)
    with pytest.raises(ValueError, match='overlap_max_cosine'):
        FusionConfig(overlap_max_cosine=3.0)
    with pytest.raises(ValueError, match='keep_position_gate'):
        FusionConfig(position_gate=20.0, keep_position_gate=10.0)
    with pytest.raises(ValueError, match='feature_ema_alpha'):
        FusionConfig(feature_ema_alpha=1.0)
    with pytest.raises(ValueError, match='encoder'):
        FusionConfig(encoder=3)
    with pytest.raises(ValueError, match='finite'):
        FusionConfig(max_speed=float('nan'))
    assert FusionConfig(max_speed=3).max_speed == 3.0


def test_api_misuse_raises():
    fusion = TrackFusion()
    with pytest.raises(ValueError, match='camera'):
        fusion.update('', 0.0, CameraBatch.empty())
    with pytest.raises(ValueError, match='position_xy'):
        CameraBatch(np.array([1]), np.array([True]), np.zeros((1, 3)), np.zeros((1, 2, 2)),
                    np.zeros((1, 2)), np.zeros((1, 2, 2)), np.array([True]))
    with pytest.raises(ValueError, match='features'):
        CameraBatch(np.array([1]), np.array([True]), np.zeros((1, 2)), np.zeros((1, 2, 2)),
                    np.zeros((1, 2)), np.zeros((1, 2, 2)), np.array([True]),
                    np.zeros((2, DIM)))
    with pytest.raises(ValueError, match='config'):
        TrackFusion(config=object())


def test_overlapping_views_make_one_identity():
    fusion = TrackFusion()
    for k in range(20):
        t = 0.1 * k
        fusion.update('a', t, batch([(5, (t, 0.0), (1, 0), look(1))]))
        # b sees the same person 5 cm off, 30 ms later, at its own rate.
        out = fusion.update('b', t + 0.03, batch([(9, (t + 0.03, 0.05), (1, 0), look(1))]))
    assert len(out) == 1
    assert dict(out[0].members) == {'a': 5, 'b': 9}
    assert out[0].state is GlobalState.TRACKED
    assert fusion.global_id_of('a', 5) == fusion.global_id_of('b', 9) == out[0].global_id
    assert fusion.counters.associations['overlap'] == 1
    assert np.allclose(out[0].position_xy, [1.93, 0.02], atol=0.15)
    assert set(dict(out[0].last_seen_s)) == {'a', 'b'}


def test_two_people_standing_apart_stay_two():
    fusion = TrackFusion()
    for k in range(20):
        t = 0.1 * k
        # The same look, 3 m apart: position alone must keep them apart.
        fusion.update('a', t, batch([(1, (0.0, 0.0), (0, 0), look(1))]))
        out = fusion.update('b', t + 0.05, batch([(1, (3.0, 0.0), (0, 0), look(1))]))
    assert len(out) == 2
    assert fusion.global_id_of('a', 1) != fusion.global_id_of('b', 1)
    assert fusion.counters.associations['overlap'] == 0


def test_two_people_side_by_side_told_apart_by_appearance():
    fusion = TrackFusion()
    for k in range(20):
        t = 0.1 * k
        fusion.update('a', t, batch([(1, (0.0, 0.0), (0, 0), look(1)),
                                     (2, (0.4, 0.0), (0, 0), look(2))]))
        fusion.update('b', t + 0.05, batch([(7, (0.4, 0.0), (0, 0), look(2)),
                                            (8, (0.0, 0.0), (0, 0), look(1))]))
    assert fusion.global_id_of('a', 1) == fusion.global_id_of('b', 8)
    assert fusion.global_id_of('a', 2) == fusion.global_id_of('b', 7)
    assert len(fusion.tracks) == 2


def gap_walk(velocity=(1.2, 0.0), feature_a=None, feature_b=None, exit_s=3.0, enter_s=9.0,
             config: FusionConfig = None) -> TrackFusion:
    """One person walking from a's view, through an unseen strip, into b's view."""
    fusion = TrackFusion(config)
    feature_a = look(4) if feature_a is None else feature_a
    feature_b = feature_a if feature_b is None else feature_b

    def rows_at(camera: str, t: float) -> list:
        xy = t * np.asarray(velocity, float)
        if camera == 'a' and t < exit_s:
            return [(3, xy, velocity, feature_a)]
        if camera == 'b' and t >= enter_s:
            return [(11, xy, velocity, feature_b)]
        return []
    run(fusion, enter_s + 1.0, rows_at)
    return fusion


def test_handover_after_a_gap_keeps_the_identity():
    fusion = gap_walk()
    out = fusion.tracks
    assert fusion.global_id_of('b', 11) == 1
    assert [t.global_id for t in out] == [1]
    assert fusion.counters.associations['handover'] == 1
    assert fusion.counters.new_globals == 1


def test_handover_refused_when_the_walk_is_implausible():
    # 6 s through the strip at 15 m/s: the same look, but nobody walks that fast.
    fusion = gap_walk(velocity=(15.0, 0.0))
    assert fusion.global_id_of('b', 11) == 2
    assert fusion.counters.associations['handover'] == 0


def test_handover_refused_against_the_walking_direction():
    # The person reappears 2 m behind where they left, 6 s later, walking away from there:
    # farther than handover_spread allows from where their walk predicts them.
    fusion = TrackFusion(FusionConfig(handover_spread=1.0))

    def rows_at(camera: str, t: float) -> list:
        if camera == 'a' and t < 3.0:
            return [(3, (1.2 * t, 0.0), (1.2, 0.0), look(4))]
        if camera == 'b' and t >= 9.0:
            return [(11, (1.6 - 1.2 * (t - 9.0), 0.0), (-1.2, 0.0), look(4))]
        return []
    run(fusion, 10.0, rows_at)
    assert fusion.global_id_of('b', 11) == 2


def test_handover_refused_for_another_look_and_after_the_window():
    fusion = gap_walk(feature_b=look(5))
    assert fusion.global_id_of('b', 11) == 2
    # Past the handover window the identity is forgotten, even for the right look.
    fusion = gap_walk(exit_s=1.0, enter_s=12.0, config=FusionConfig(handover_window=10.0))
    assert fusion.global_id_of('b', 11) == 2
    assert fusion.counters.deleted_globals == 1


def test_refused_encoder_features_are_never_compared():
    fusion = TrackFusion()
    for k in range(10):
        fusion.update('a', 0.1 * k, batch([(1, (0, 0), (0, 0), look(1))]))
    # b has no ground positions and another encoder: its features are refused, so it cannot
    # be associated at all (appearance is all it has).
    for k in range(5):
        fusion.update('b', 1.0 + 0.1 * k,
                      batch([(2, None, None, look(1))], encoder='mobilenetv2:sha256:ffff',
                            world=False))
    assert fusion.global_id_of('b', 2) != fusion.global_id_of('a', 1)
    assert fusion.counters.camera('b').refused['encoder_mismatch'] == 5
    assert fusion.counters.associations['appearance_only'] == 0
    assert fusion.encoder == ENCODER


def test_a_configured_encoder_refuses_the_first_other_one():
    fusion = TrackFusion(FusionConfig(encoder='osnet:sha256:aaaa'))
    fusion.update('a', 0.0, batch([(1, (0, 0), (0, 0), look(1))]))
    assert fusion.counters.camera('a').refused == {'encoder_mismatch': 1}
    assert fusion.encoder == 'osnet:sha256:aaaa'


def test_features_of_another_length_are_refused():
    fusion = TrackFusion()
    fusion.update('a', 0.0, batch([(1, (0, 0), (0, 0), look(1))]))
    short = look(1)[:8]
    fusion.update('b', 0.3, batch([(2, None, None, short)], world=False))
    assert fusion.counters.camera('b').refused == {'feature_length': 1}
    assert fusion.global_id_of('b', 2) != fusion.global_id_of('a', 1)


def test_appearance_only_path_for_tracks_without_a_world_estimate():
    fusion = TrackFusion()
    for k in range(10):
        fusion.update('a', 0.1 * k, batch([(1, (2, 1), (0, 0), look(6)),
                                           (2, (9, 9), (0, 0), look(7))]))
    out = fusion.update('b', 0.95, batch([(4, None, None, look(6))], world=False))
    assert fusion.global_id_of('b', 4) == fusion.global_id_of('a', 1)
    assert fusion.counters.associations['appearance_only'] == 1
    assert fusion.counters.camera('b').no_world == 1
    fused = [t for t in out if t.global_id == fusion.global_id_of('a', 1)][0]
    # The position comes from the camera that has one.
    assert fused.world_valid and np.allclose(fused.position_xy, [2.0, 1.0], atol=0.2)


def test_appearance_only_identity_has_no_position():
    fusion = TrackFusion()
    out = fusion.update('b', 0.0, batch([(4, None, None, look(6))], world=False))
    assert len(out) == 1 and not out[0].world_valid
    assert np.all(np.isnan(out[0].position_xy))


def test_a_stopped_camera_ages_out_and_the_others_go_on():
    config = FusionConfig(camera_timeout=1.0, coast_max_age=2.0)
    fusion = TrackFusion(config)
    for k in range(10):
        t = 0.1 * k
        fusion.update('a', t, batch([(1, (0, 0), (0, 0), look(1))]))
        fusion.update('b', t + 0.05, batch([(1, (8, 0), (0, 0), look(2))]))
    only_a = fusion.global_id_of('a', 1)
    # a's stream stops; b goes on.
    states = {}
    for k in range(10, 50):
        t = 0.1 * k
        out = fusion.update('b', t + 0.05, batch([(1, (8, 0), (0, 0), look(2))]))
        states[round(t, 1)] = {o.global_id: o.state for o in out}
    assert fusion.counters.camera('a').stale == 1
    assert fusion.bindings('a') == {}
    assert states[1.5][only_a] is GlobalState.TRACKED  # a is late, not yet stale
    assert states[2.5][only_a] is GlobalState.COASTING
    assert only_a not in states[4.9]
    assert all(fusion.global_id_of('b', 1) in s for s in states.values())
    assert out[0].state is GlobalState.TRACKED


def test_clock_seconds_off_is_refused():
    fusion = TrackFusion()
    fusion.update('a', 100.0, batch([(1, (0, 0), (0, 0), look(1))]), received_s=100.01)
    # b's clock is 5 s ahead of its arrival time, c's 5 s behind.
    fusion.update('b', 105.1, batch([(1, (0, 0), (0, 0), look(1))]), received_s=100.1)
    fusion.update('c', 95.1, batch([(1, (0, 0), (0, 0), look(1))]), received_s=100.1)
    assert fusion.counters.camera('b').refused == {'clock_ahead': 1}
    assert fusion.counters.camera('c').refused == {'too_late': 1}
    assert fusion.time == 100.0 and len(fusion.tracks) == 1
    # Without arrival times, the fusion's own time is the reference.
    fusion.update('b', 106.0, batch([(1, (0, 0), (0, 0), look(1))]))
    assert fusion.counters.camera('b').refused == {'clock_ahead': 2}


def test_late_input_is_predicted_forward():
    fusion = TrackFusion()
    for k in range(20):
        t = 0.1 * k
        fusion.update('a', t, batch([(1, (1.5 * t, 0), (1.5, 0), look(1))]))
        # b's update of the same instant arrives after a's next one: 0.1 s late.
        if k:
            fusion.update('b', t - 0.1, batch([(2, (1.5 * (t - 0.1), 0.05), (1.5, 0),
                                               look(1))]))
    assert fusion.counters.camera('b').delayed == 19
    assert fusion.global_id_of('a', 1) == fusion.global_id_of('b', 2)
    fusion.update('b', 0.5, batch([(2, (0.75, 0), (1.5, 0), look(1))]))
    assert fusion.counters.camera('b').refused == {'too_late': 1}


def test_stamps_going_back_and_non_finite_are_refused():
    fusion = TrackFusion()
    fusion.update('a', 1.0, batch([(1, (0, 0), (0, 0), look(1))]))
    fusion.update('a', 0.9, batch([(1, (0, 0), (0, 0), look(1))]))
    fusion.update('a', float('nan'), batch([(1, (0, 0), (0, 0), look(1))]))
    fusion.update('a', 1.1, batch([(1, (0, 0), (0, 0), look(1))]), received_s=float('inf'))
    assert fusion.counters.camera('a').refused == {'stamp_backwards': 1, 'bad_stamp': 2}
    assert fusion.counters.camera('a').updates == 1


def test_nan_and_broken_poses_are_counted_and_tracked_without_a_position():
    fusion = TrackFusion()
    for k in range(5):
        fusion.update('a', 0.1 * k, batch([(1, (0, 0), (0, 0), look(1))]))
    bad = CameraBatch(np.array([2, 3, 4, 5]), np.ones(4, bool),
                      np.array([[np.nan, 0.0], [0.0, 0.0], [1e9, 0.0], [0.0, 0.0]]),
                      np.stack([np.eye(2), -np.eye(2), np.eye(2), [[1.0, 5.0], [0.0, 1.0]]]),
                      np.array([[0.0, 0.0], [np.inf, 0.0], [0.0, 0.0], [0.0, 0.0]]),
                      np.tile(np.eye(2), (4, 1, 1)), np.ones(4, bool),
                      np.stack([look(1), look(9), look(10), look(11)]), ENCODER)
    out = fusion.update('b', 0.5, bad)
    counters = fusion.counters.camera('b')
    assert counters.refused == {'bad_pose': 4}
    assert counters.no_world == 4
    # The first row went the appearance-only way to the person a sees.
    assert fusion.global_id_of('b', 2) == fusion.global_id_of('a', 1)
    assert all(np.all(np.isfinite(o.covariance)) for o in out if o.world_valid)


def test_bad_rows_bad_features_and_repeated_ids():
    fusion = TrackFusion()
    features = np.stack([look(1), np.full(DIM, np.nan), look(3), look(4)])
    given = CameraBatch(np.array([1, 2, 2, 0]), np.ones(4, bool), np.zeros((4, 2)),
                        np.tile(0.04 * np.eye(2), (4, 1, 1)), np.zeros((4, 2)),
                        np.tile(np.eye(2), (4, 1, 1)), np.ones(4, bool), features, ENCODER)
    fusion.update('a', 0.0, given)
    assert fusion.counters.camera('a').refused == {
        'bad_feature': 1, 'duplicate_local_id': 1, 'bad_local_id': 1}
    assert set(fusion.bindings('a')) == {1, 2}


def test_two_senders_under_one_name():
    fusion = TrackFusion(FusionConfig(camera_timeout=1.0))
    for k in range(30):
        t = 0.1 * k
        fusion.update('other', t, batch([]))
        if t < 0.45:
            fusion.update('cam', t + 0.01, batch([(1, (0, 0), (0, 0), look(1))],
                                                 source='robot-1'))
        fusion.update('cam', t + 0.02, batch([(1, (5, 5), (0, 0), look(2))], source='robot-2'))
        if k == 4:
            first = fusion.global_id_of('cam', 1)
            assert len(fusion.tracks) == 1
    counters = fusion.counters.camera('cam')
    # robot-2 is refused while robot-1 is live; once robot-1 is stale (1 s silent), robot-2
    # (a restarted tracker, say) takes the name over with fresh bindings.
    assert counters.refused == {'duplicate_name': 15}
    assert counters.takeovers == 1
    assert fusion.global_id_of('cam', 1) not in (None, first)


def test_after_every_camera_paused_the_fusion_follows():
    fusion = TrackFusion(FusionConfig(camera_timeout=1.0))
    for k in range(5):
        fusion.update('a', 0.1 * k, batch([(1, (0, 0), (0, 0), look(1))]))
    # Nothing for 10 s, then a goes on: refused as ahead until 1 s of its stamps show that
    # nothing else moves the fusion's time, then followed.
    for k in range(20):
        fusion.update('a', 10.0 + 0.1 * k, batch([(1, (0, 0), (0, 0), look(1))]))
    assert fusion.counters.camera('a').refused == {'clock_ahead': 10}
    assert fusion.time == 11.9


def test_a_bound_track_keeps_its_identity_until_it_contradicts_the_others():
    fusion = TrackFusion()
    for k in range(10):
        t = 0.1 * k
        fusion.update('a', t, batch([(1, (0, 0), (0, 0), look(1))]))
        fusion.update('b', t + 0.05, batch([(2, (0.1, 0), (0, 0), look(1))]))
    shared = fusion.global_id_of('a', 1)
    assert fusion.global_id_of('b', 2) == shared
    # b's local track jumps 6 m away (its tracker swapped people) while a still sees the
    # person where it was: b's binding breaks and it is a new identity.
    fusion.update('a', 1.0, batch([(1, (0, 0), (0, 0), look(1))]))
    fusion.update('b', 1.05, batch([(2, (6.0, 0), (0, 0), look(1))]))
    assert fusion.counters.camera('b').broken_bindings == 1
    assert fusion.global_id_of('b', 2) not in (None, shared)
    assert fusion.global_id_of('a', 1) == shared


def test_coasting_rows_keep_bindings_and_absent_rows_drop_them():
    fusion = TrackFusion()
    fusion.update('a', 0.0, batch([(1, (0, 0), (0, 0), look(1)), (2, (5, 0), (0, 0), look(2))]))
    # A coasting local track stays bound but does not correct the filter; a missing one is
    # unbound.
    out = fusion.update('a', 0.1, batch([(1, (3, 3), (0, 0), look(1), False)]))
    assert fusion.bindings('a') == {1: fusion.global_id_of('a', 1)}
    assert {o.global_id: o.state for o in out} == {
        fusion.global_id_of('a', 1): GlobalState.COASTING, 2: GlobalState.COASTING}
    first = [o for o in out if o.global_id == fusion.global_id_of('a', 1)][0]
    assert np.allclose(first.position_xy, [0, 0], atol=0.1)


def test_a_new_local_track_replaces_a_coasting_one_of_the_same_camera():
    fusion = TrackFusion()
    for k in range(5):
        fusion.update('a', 0.1 * k, batch([(1, (0, 0), (0, 0), look(1))]))
        fusion.update('b', 0.1 * k + 0.05, batch([(1, (0, 0), (0, 0), look(1))]))
    shared = fusion.global_id_of('a', 1)
    # a's tracker lost the person (track 1 coasting) and started track 7 on them.
    fusion.update('a', 0.5, batch([(1, (0.5, 0), (0, 0), look(1), False),
                                   (7, (0, 0), (0, 0), look(1))]))
    assert fusion.global_id_of('a', 7) == shared
    assert fusion.global_id_of('a', 1) is None


def test_uuids_are_stable_per_run_and_differ_between_runs():
    namespace = uuid.UUID(int=42)
    fusion = TrackFusion(namespace=namespace)
    out = fusion.update('a', 0.0, batch([(1, (0, 0), (0, 0), look(1))]))
    assert out[0].uuid == identity_uuid(namespace, out[0].global_id)
    assert TrackFusion().update('a', 0.0, batch([(1, (0, 0), (0, 0), look(1))]))[0].uuid \
        != out[0].uuid


def test_ids_are_never_reused():
    fusion = TrackFusion(FusionConfig(handover_window=1.0, coast_max_age=0.5))
    seen = set()
    for k in range(5):
        out = fusion.update('a', 3.0 * k, batch([(k + 1, (0, 0), (0, 0), look(k))]),
                            received_s=3.0 * k)
        seen |= {o.global_id for o in out}
    assert len(seen) == 5


def test_two_identities_of_one_person_seen_together_are_merged():
    fusion = TrackFusion(FusionConfig(merge_after=1.0))
    outputs = []
    for k in range(40):
        t = 0.1 * k
        fusion.update('a', t, batch([(1, (0, 0), (0, 0), look(1))]))
        # b's first second is 4 m off (a bad pose estimate at start), then right.
        offset = 4.0 if t < 1.0 else 0.0
        outputs.append(fusion.update('b', t + 0.05,
                                     batch([(2, (offset, 0.1), (0, 0), look(1))])))
    assert fusion.counters.merges == 1
    assert fusion.global_id_of('b', 2) == fusion.global_id_of('a', 1) == 1
    assert [len(o) for o in outputs[:10]] == [2] * 10 and len(outputs[-1]) == 1
    assert dict(outputs[-1][0].members) == {'a': 1, 'b': 2}


def test_two_people_side_by_side_in_different_cameras_are_not_merged():
    fusion = TrackFusion(FusionConfig(merge_after=0.5))
    for k in range(40):
        t = 0.1 * k
        fusion.update('a', t, batch([(1, (0, 0), (0, 0), look(1))]))
        fusion.update('b', t + 0.05, batch([(2, (0.3, 0), (0, 0), look(2))]))
    assert fusion.counters.merges == 0
    assert len(fusion.tracks) == 2


def test_positions_in_another_world_frame_are_refused():
    fusion = TrackFusion()
    for k in range(10):
        fusion.update('a', 0.1 * k, CameraBatch.from_tracks(
            [CameraTrack(1, TrackState.CONFIRMED, np.zeros(2), 0.04 * np.eye(2), np.zeros(2),
                         0.05 * np.eye(2), True, None)], ENCODER, world_frame='map'))
        # Another robot's odometry frame: the same numbers mean another place.
        fusion.update('b', 0.1 * k + 0.05, CameraBatch.from_tracks(
            [CameraTrack(2, TrackState.CONFIRMED, np.zeros(2), 0.04 * np.eye(2), np.zeros(2),
                         0.05 * np.eye(2), True, None)], ENCODER, world_frame='robot2/odom'))
    assert fusion.world_frame == 'map'
    assert fusion.counters.camera('b').refused == {'world_frame_mismatch': 10}
    assert fusion.global_id_of('a', 1) != fusion.global_id_of('b', 2)
