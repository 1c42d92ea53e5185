"""ClockGate: a looped bag or reset clock restarts, one bad stamp is dropped, nothing is lost."""

from deepsort_ros.core.clock import ClockGate
import pytest

S = 1_000_000_000


def _stamps(admission):
    return [stamp for stamp, _ in admission.items]


def test_stamps_near_the_newest_pass_in_any_order():
    gate = ClockGate(jump_s=1.0)
    assert _stamps(gate.admit(10 * S, 'a')) == [10 * S]
    assert _stamps(gate.admit(10 * S + S // 2, 'b')) == [10 * S + S // 2]
    # Another stream a little behind (camera latency) is not a jump.
    out = gate.admit(10 * S - S // 2, 'c')
    assert _stamps(out) == [10 * S - S // 2] and not out.restart
    assert gate.newest_ns == 10 * S + S // 2


def test_one_confirmation_restarts_on_the_first_stamp_that_jumps_back():
    gate = ClockGate(jump_s=1.0, confirmations=1)
    gate.admit(100 * S)
    out = gate.admit(5 * S, 'first of the loop')
    assert out.restart and out.items == [(5 * S, 'first of the loop')]
    assert gate.counters.restarts == 1 and gate.newest_ns == 5 * S
    # Forward jumps are taken as they come with one confirmation.
    out = gate.admit(500 * S)
    assert not out.restart and _stamps(out) == [500 * S]


def test_a_lone_stamp_from_the_future_is_dropped_and_the_clock_goes_on():
    gate = ClockGate(jump_s=1.0, confirmations=2)
    gate.admit(10 * S, 'ok')
    held = gate.admit(3610 * S, 'an hour ahead')
    assert held.items == [] and held.dropped == [] and not held.restart
    out = gate.admit(10 * S + S // 10, 'next')
    assert out.dropped == [(3610 * S, 'an hour ahead')]
    assert out.items == [(10 * S + S // 10, 'next')] and not out.restart
    assert gate.counters.outliers == 1 and gate.counters.restarts == 0


def test_a_confirmed_restart_releases_what_was_held_in_order():
    gate = ClockGate(jump_s=1.0, confirmations=2)
    gate.admit(100 * S, 'end of the bag')
    assert gate.admit(0, 'image 0').items == []
    out = gate.admit(S // 100, 'detections 0')
    assert out.restart
    assert out.items == [(0, 'image 0'), (S // 100, 'detections 0')]
    assert gate.newest_ns == S // 100 and gate.counters.restarts == 1
    assert _stamps(gate.admit(S // 10)) == [S // 10]


def test_a_second_suspect_far_from_the_first_replaces_it():
    gate = ClockGate(jump_s=1.0, confirmations=2)
    gate.admit(100 * S)
    gate.admit(0, 'bad')
    out = gate.admit(50 * S, 'also bad')
    assert out.dropped == [(0, 'bad')] and out.items == []
    assert gate.counters.outliers == 1


def test_the_hold_is_bounded():
    gate = ClockGate(jump_s=1.0, confirmations=5, max_held=2)
    gate.admit(100 * S)
    gate.admit(0, 'a')
    gate.admit(1, 'b')
    out = gate.admit(2, 'c')
    assert out.dropped == [(0, 'a')]


@pytest.mark.parametrize('kwargs', [{'jump_s': 0.0}, {'jump_s': 1.0, 'confirmations': 0},
                                    {'jump_s': 1.0, 'max_held': 0}])
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        ClockGate(**kwargs)
