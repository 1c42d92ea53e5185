"""Features sent sparingly (the tracker's side) and kept by track UUID (the fusion's side)."""

from deepsort_ros.fusion.appearance_feed import (AppearanceCache, AppearanceSchedule,
                                                 AppearanceScheduleConfig)
import numpy as np
import pytest


def unit(*values):
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_feature_is_sent_at_confirmation_then_at_most_once_a_period_when_it_changed():
    schedule = AppearanceSchedule(AppearanceScheduleConfig(period=1.0, min_change=0.02,
                                                           refresh=5.0))
    same, moved = unit(1, 0, 0), unit(1, 0.3, 0)
    assert schedule.due([7], [same], 0.0) == [0]           # confirmed: sent at once
    assert schedule.due([7], [moved], 0.5) == []           # changed, but within the period
    assert schedule.due([7], [same], 1.5) == []            # a period on, unchanged
    assert schedule.due([7], [moved], 1.6) == [0]          # a period on and changed
    assert schedule.due([7], [moved], 3.0) == []           # unchanged since
    assert schedule.due([7], [moved], 6.6) == [0]          # refreshed, unchanged
    assert (schedule.sent, schedule.offered) == (3, 6)


def test_tracks_without_features_are_skipped_and_gone_tracks_forgotten():
    schedule = AppearanceSchedule()
    f = unit(0, 1)
    assert schedule.due([1, 2, 3], [f, None, np.array([np.nan, 1.0])], 0.0) == [0]
    assert schedule.due([2], [f], 0.1) == [0]              # track 1 left, 2 got a feature
    assert schedule.due([1], [f], 0.2) == [0]              # 1 is new again: sent
    # a clock going back (a looped bag) makes everything due again
    assert schedule.due([1], [f], 0.0) == [0]


def test_ten_tracks_for_ten_seconds_at_seven_fps_send_a_fraction_of_every_frame():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(10, 512))
    schedule = AppearanceSchedule()
    frames = 70
    for k in range(frames):
        drift = base + 0.002 * k * rng.normal(size=base.shape)
        schedule.due(list(range(10)), list(drift / np.linalg.norm(drift, axis=1)[:, None]),
                     k / 7.0)
    assert schedule.offered == 700
    assert schedule.sent <= 10 + 10 * 10  # once at start, at most once a second after


@pytest.mark.parametrize('kwargs', [{'period': -1.0}, {'min_change': 3.0},
                                    {'period': 2.0, 'refresh': 1.0}, {'refresh': float('nan')}])
def test_bad_schedule_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        AppearanceScheduleConfig(**kwargs)


def test_the_cache_hands_an_update_the_rows_of_its_tracks_by_uuid():
    cache = AppearanceCache(max_age=10.0)
    a, b = unit(1, 0, 0), unit(0, 1, 0)
    assert cache.add('sha256:aa', [b'a', b'b'], [a, b], now=0.0) == 2
    rows = cache.lookup([b'b', b'x', b'a'], now=1.0)
    assert rows.found == 2 and rows.encoder == 'sha256:aa'
    assert np.allclose(rows.features, [b, [0, 0, 0], a])
    nothing = cache.lookup([b'y'], now=1.0)
    assert nothing.features is None and nothing.encoder == ''


def test_rows_of_a_minority_encoder_or_length_are_left_out_and_counted():
    cache = AppearanceCache()
    cache.add('sha256:aa', [b'a'], [unit(1, 0, 0)], now=0.0)
    cache.add('sha256:bb', [b'b', b'c', b'd'], [unit(0, 1, 0), unit(0, 0, 1), unit(1, 1)],
              now=0.1)
    rows = cache.lookup([b'a', b'b', b'c', b'd'], now=0.2)
    assert rows.encoder == 'sha256:bb' and rows.found == 2
    assert rows.refused == {'encoder_changed': 1, 'feature_length': 1}


def test_the_cache_forgets_old_entries_and_stays_bounded():
    cache = AppearanceCache(max_age=5.0, max_entries=3)
    cache.add('e', [b'a'], [unit(1, 0)], now=0.0)
    cache.add('e', [b'b', b'c', b'd'], [unit(1, 0)] * 3, now=1.0)
    assert len(cache) == 3                                 # a left: the oldest, beyond 3
    cache.lookup([b'b'], now=4.0)                          # asked for: kept
    cache.add('e', [b'e'], [unit(0, 1)], now=6.5)
    assert cache.lookup([b'c', b'b', b'e'], now=6.5).found == 2
