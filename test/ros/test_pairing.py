"""Pairing of detections with images by stamp, in bounded buffers, and its clock restarts."""

from deepsort_ros.core import TrackerConfig
from deepsort_ros.pipeline.pairing import FramePairer, PairingConfig
from deepsort_ros.pipeline.tracking import TrackingPipeline
from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.convert.stamps import make_header
from deepsort_ros.settings.tracker import NodeConfig
import numpy as np
import pytest

MS = 1_000_000


def test_pairs_within_tolerance_in_either_arrival_order():
    pairer = FramePairer(PairingConfig(tolerance_s=0.005, timeout_s=0.5))
    assert pairer.add_image(100 * MS, 'img-a').frames == []
    ready = pairer.add_detections(102 * MS, 'det-a').frames
    assert [(f.stamp_ns, f.detections, f.image) for f in ready] == [(102 * MS, 'det-a', 'img-a')]
    assert pairer.add_detections(200 * MS, 'det-b').frames == []
    ready = pairer.add_image(200 * MS, 'img-b').frames
    assert [(f.detections, f.image) for f in ready] == [('det-b', 'img-b')]
    assert pairer.counters.paired == 2


def test_detection_without_image_is_tracked_motion_only_after_timeout():
    pairer = FramePairer(PairingConfig(tolerance_s=0.001, timeout_s=0.3))
    assert pairer.add_detections(0, 'lonely').frames == []
    assert pairer.add_detections(100 * MS, 'second').frames == []
    ready = pairer.add_image(350 * MS, 'late image').frames
    assert [(f.detections, f.image) for f in ready] == [('lonely', None)]
    assert pairer.counters.motion_only == 1
    # Frames leave in stamp order: 'second' still waits for its image or its own timeout.
    ready = pairer.flush()
    assert [(f.detections, f.image) for f in ready] == [('second', None)]


def test_a_lost_image_never_holds_back_the_complete_frames_behind_it():
    # Issue 26: the lone array used to wait 0.5 s of stamps, holding every later frame, and
    # then left with them all at once into the node's two-frame queue (4 of 6 dropped).
    pairer = FramePairer(PairingConfig(tolerance_s=0.001, timeout_s=0.5))
    assert pairer.add_detections(0, 'lonely').frames == []
    pairer.add_image(100 * MS, 'img-1')
    ready = pairer.add_detections(100 * MS, 'det-1').frames
    assert [(f.detections, f.image) for f in ready] == [('lonely', None), ('det-1', 'img-1')]
    assert (pairer.counters.motion_only, pairer.counters.paired) == (1, 1)
    pairer.add_image(200 * MS, 'img-2')
    assert [f.image for f in pairer.add_detections(200 * MS, 'det-2').frames] == ['img-2']


def test_a_lone_detection_array_leaves_after_the_timeout_on_the_clock():
    # Nothing newer comes (the camera stopped): the node's clock alone must release it.
    now = [5_000 * MS]
    pairer = FramePairer(PairingConfig(tolerance_s=0.001, timeout_s=0.5), clock=lambda: now[0])
    assert pairer.add_detections(0, 'lonely').frames == []
    now[0] += 499 * MS
    assert pairer.release_expired().frames == []
    now[0] += 1 * MS
    assert [(f.detections, f.image) for f in pairer.release_expired().frames] == \
        [('lonely', None)]
    assert pairer.counters.motion_only == 1
    # Without a clock (offline), only stamps count: nothing leaves on its own.
    offline = FramePairer(PairingConfig(tolerance_s=0.001, timeout_s=0.5))
    offline.add_detections(0, 'lonely')
    assert offline.release_expired().frames == []


def test_detections_older_than_released_frame_are_dropped_and_counted():
    pairer = FramePairer(PairingConfig())
    pairer.add_image(500 * MS, 'img')
    assert len(pairer.add_detections(500 * MS, 'det').frames) == 1
    late = pairer.add_detections(400 * MS, 'old')
    assert late.frames == [] and late.late_dropped == 1, 'the pairer says what it dropped'
    assert pairer.counters.late_dropped == 1


def test_a_reset_starts_a_new_session_from_any_stamp():
    pairer = FramePairer(PairingConfig())
    pairer.add_image(500 * MS, 'img')
    first = pairer.add_detections(500 * MS, 'det').frames
    pairer.add_image(600 * MS, 'pending')
    pairer.reset()  # the clock restarted: what is pending belongs to the old clock
    pairer.add_image(100 * MS, 'again-img')
    [again] = pairer.add_detections(100 * MS, 'again-det').frames
    assert (again.detections, again.image) == ('again-det', 'again-img')
    assert (first[0].session, again.session) == (0, 1)
    assert pairer.counters.late_dropped == 0


def test_a_looping_bag_restarts_pairing_instead_of_dropping_everything():
    # The clock gate of the pipeline, not the pairer, decides that the clock restarted.
    pipeline = TrackingPipeline(NodeConfig(time_jump_reset=1.0), TrackerConfig())

    def frame(stamp_ns, name):
        header = make_header(stamp_ns, 'camera')
        pipeline.add_image(bgr_to_image_msg(np.zeros((4, 4, 3), np.uint8), header))
        return pipeline.add_detections(detections_to_msg(header, np.zeros((0, 4)), [], name))

    for i in range(5):
        assert len(frame(10_000 * MS + i * 500 * MS, f'det{i}')) == 1
    pipeline.add_detections(detections_to_msg(make_header(11_900 * MS, 'camera'),
                                              np.zeros((0, 4)), [], 'reordered'))
    # Slightly late: dropped, no restart.
    assert (pipeline.pairing.late_dropped, pipeline.clock.counters.restarts) == (1, 0)
    # The bag starts again at its first stamp: 2 s back.
    ready = frame(10_000 * MS, 'again')
    assert [f.stamp_ns for f in ready] == [10_000 * MS] and ready[0].image is not None
    assert pipeline.clock.counters.restarts == 1 and pipeline.pairing.late_dropped == 1


def test_buffers_are_bounded():
    pairer = FramePairer(PairingConfig(max_pending=3, timeout_s=10.0))
    for i in range(10):
        pairer.add_image(i * 1000 * MS, f'img{i}')
    assert pairer.counters.images_without_detections == 7
    for i in range(10):
        pairer.add_detections(20_000 * MS + i * MS, f'det{i}')
    assert pairer.counters.detections_dropped_overflow == 7


@pytest.mark.parametrize('kwargs', [{'tolerance_s': -1.0}, {'timeout_s': 0.0},
                                    {'max_pending': 0}])
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        PairingConfig(**kwargs)
