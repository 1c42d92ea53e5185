"""Pairing of detections with images by stamp, in bounded buffers."""

from deepsort_ros.ros.pairing import FramePairer, PairingConfig
import pytest

MS = 1_000_000


def test_pairs_within_tolerance_in_either_arrival_order():
    pairer = FramePairer(PairingConfig(tolerance_s=0.005, timeout_s=0.5))
    assert pairer.add_image(100 * MS, 'img-a') == []
    ready = pairer.add_detections(102 * MS, 'det-a')
    assert [(f.stamp_ns, f.detections, f.image) for f in ready] == [(102 * MS, 'det-a', 'img-a')]
    assert pairer.add_detections(200 * MS, 'det-b') == []
    ready = pairer.add_image(200 * MS, 'img-b')
    assert [(f.detections, f.image) for f in ready] == [('det-b', 'img-b')]
    assert pairer.counters.paired == 2


def test_detection_without_image_is_tracked_motion_only_after_timeout():
    pairer = FramePairer(PairingConfig(tolerance_s=0.001, timeout_s=0.3))
    assert pairer.add_detections(0, 'lonely') == []
    assert pairer.add_detections(100 * MS, 'second') == []
    ready = pairer.add_image(350 * MS, 'late image')
    assert [(f.detections, f.image) for f in ready] == [('lonely', None)]
    assert pairer.counters.motion_only == 1
    # Frames leave in stamp order: 'second' still waits for its image or its own timeout.
    ready = pairer.flush()
    assert [(f.detections, f.image) for f in ready] == [('second', None)]


def test_detections_older_than_released_frame_are_dropped_and_counted():
    pairer = FramePairer(PairingConfig())
    pairer.add_image(500 * MS, 'img')
    assert len(pairer.add_detections(500 * MS, 'det')) == 1
    assert pairer.add_detections(400 * MS, 'old') == []
    assert pairer.counters.late_dropped == 1


def test_a_looping_bag_restarts_pairing_instead_of_dropping_everything():
    pairer = FramePairer(PairingConfig(jump_reset_s=1.0))
    for i in range(5):
        pairer.add_image(10_000 * MS + i * 500 * MS, f'img{i}')
        assert len(pairer.add_detections(10_000 * MS + i * 500 * MS, f'det{i}')) == 1
    pairer.add_detections(11_900 * MS, 'reordered')  # slightly late: dropped, no restart
    assert (pairer.counters.late_dropped, pairer.counters.clock_resets) == (1, 0)
    # The bag starts again at its first stamp: 2 s back.
    pairer.add_image(10_000 * MS, 'again-img0')
    ready = pairer.add_detections(10_000 * MS, 'again-det0')
    assert [(f.detections, f.image) for f in ready] == [('again-det0', 'again-img0')]
    assert pairer.counters.clock_resets == 1 and pairer.counters.late_dropped == 1


def test_buffers_are_bounded():
    pairer = FramePairer(PairingConfig(max_pending=3, timeout_s=10.0))
    for i in range(10):
        pairer.add_image(i * 1000 * MS, f'img{i}')
    assert pairer.counters.images_without_detections == 7
    for i in range(10):
        pairer.add_detections(20_000 * MS + i * MS, f'det{i}')
    assert pairer.counters.detections_dropped_overflow == 7


@pytest.mark.parametrize('kwargs', [{'tolerance_s': -1.0}, {'timeout_s': 0.0},
                                    {'max_pending': 0}, {'jump_reset_s': 0.0}])
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        PairingConfig(**kwargs)
