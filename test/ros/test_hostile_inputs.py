"""
Hostile input against the pipeline and the seam, without DDS: bounded, refused, counted.

The campaign over DDS (test_hostile_node.py) runs the same cases against the node process;
these pin each bound and each refusal down where it is decided, in milliseconds.
"""

from typing import List

import cv2
from deepsort_ros.core import TrackerConfig
from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros.geometry import PinholeCamera
from deepsort_ros.pipeline.odometry_guard import OdometryGuard, OdometryVerdict
from deepsort_ros.pipeline.pairing import FramePairer, PairingConfig
from deepsort_ros.pipeline.tracking import TrackingPipeline
from deepsort_ros.ros.convert.camera import camera_to_camera_info
from deepsort_ros.ros.convert.detections import (detections_to_batch, detections_to_msg,
                                                 limit_detections)
from deepsort_ros.ros.convert.images import (bgr_to_image_msg, check_image_size,
                                             compressed_image_size, ImageConversionError)
from deepsort_ros.ros.convert.odometry import pose_to_odometry
from deepsort_ros.ros.convert.stamps import make_header
from deepsort_ros.settings.tracker import NodeConfig, split_parameters
from deepsort_ros_msgs.msg import Track
from helpers.node_harness import scene_frame
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

WIDTH, HEIGHT = 320, 240
FRAME_NS = 100_000_000
START_NS = 1_000_000_000_000
HOUR_NS = 3600 * 1_000_000_000
FRAME_ID = 'camera_optical_frame'
BOXES = np.array([[20.0, 40.0, 30.0, 70.0], [150.0, 60.0, 30.0, 70.0],
                  [260.0, 120.0, 30.0, 70.0]])


def _pipeline(encoder=None, **node) -> TrackingPipeline:
    return TrackingPipeline(NodeConfig(use_appearance=encoder is not None, **node),
                            TrackerConfig(), encoder)


def _frame(pipeline, frame, stamp_ns=None, boxes=BOXES, image=True, odom=None,
           labels='person'):
    stamp_ns = START_NS + frame * FRAME_NS if stamp_ns is None else stamp_ns
    header = make_header(stamp_ns, FRAME_ID)
    results = []
    if odom is not None:
        pipeline.add_odometry(odom(stamp_ns))
    if image:
        results += pipeline.track(pipeline.add_image(bgr_to_image_msg(
            scene_frame(WIDTH, HEIGHT, boxes, seed=frame), header)))
    results += pipeline.track(pipeline.add_detections(
        detections_to_msg(header, boxes, [0.9] * len(boxes), labels)))
    return results


def _ids(result) -> List[int]:
    return sorted(t.id for t in result.tracks.tracks if t.state == Track.STATE_CONFIRMED)


def _odometry(x=0.0, frame_id='odom'):
    return lambda stamp_ns: pose_to_odometry(make_header(stamp_ns, frame_id), 'base_link',
                                             [x, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0])


# ---- the work one message may ask for ---------------------------------------------------------


def test_a_huge_detection_array_keeps_the_best_and_names_them_by_their_received_index():
    rng = np.random.default_rng(1)
    boxes = np.column_stack([rng.uniform(0, 300, 10_000), rng.uniform(0, 200, 10_000),
                             np.full(10_000, 20.0), np.full(10_000, 40.0)])
    scores = rng.uniform(0.0, 0.8, 10_000)
    best = [17, 4242, 9999]
    scores[best] = [0.99, 0.98, 0.97]
    boxes[5] = np.nan  # a bad box never crowds out a good one
    scores[5] = 1.0
    msg = detections_to_msg(make_header(START_NS, FRAME_ID), boxes, scores, 'person')
    limited = limit_detections(msg, 300)
    assert len(limited.detections) == 300 and limited.dropped == 9_700
    assert 5 not in limited.source_indices.tolist()
    batch = detections_to_batch(limited, ClassRegistry(), max_detections=3)
    assert batch.message_indices.tolist() == best, 'the best three, by their received index'
    assert batch.truncated == 9_700 + 297 and batch.rejected == 0
    assert limit_detections(detections_to_msg(msg.header, boxes[:10], scores[:10], 'p'),
                            300).__class__.__name__ == 'Detection2DArray', 'small: untouched'


def test_the_encoder_is_called_in_bounded_batches():
    calls = []

    def encoder(image_bgr, boxes_tlwh):
        calls.append(len(boxes_tlwh))
        return np.ones((len(boxes_tlwh), 8), dtype=np.float32)

    pipeline = _pipeline(encoder, encode_batch_size=16, max_detections=100)
    rng = np.random.default_rng(2)
    boxes = np.column_stack([rng.uniform(0, 280, 500), rng.uniform(0, 160, 500),
                             np.full(500, 20.0), np.full(500, 40.0)])
    [result] = _frame(pipeline, 0, boxes=boxes)
    assert sum(calls) == 100 and max(calls) <= 16, calls
    assert max(calls) - min(calls) <= 1, calls  # even calls: no run of one lone crop
    assert pipeline.stats.detections_over_limit == 400
    assert len(result.tracks.tracks) == 100


def test_labels_and_the_label_table_are_bounded():
    classes = ClassRegistry(max_label_length=8, max_classes=4)
    assert classes.to_id('x' * 100_000) == classes.to_id('x' * 8)
    assert classes.counters.labels_truncated == 1 and len(classes.to_label(
        classes.to_id('x' * 100_000))) == 8
    person, car = classes.to_id('person'), classes.to_id('car')
    classes.mark_in_use([person, car])
    # Full ('', 'xxxxxxxx', person, car): the unused 'xxxxxxxx' is forgotten for 'bus'.
    bus = classes.to_id('bus')
    assert len(classes) == 4 and classes.counters.labels_forgotten == 1
    assert classes.to_label(bus) == 'bus' and bus not in (person, car)
    classes.mark_in_use([person, car, bus])
    assert classes.to_id('tram') == classes.to_id('') and classes.counters.labels_overflowed >= 1
    assert classes.find('unknown' * 10_000) is None and classes.find('plane') is None
    assert len(classes) == 4, 'a query never adds a label'


def test_distinct_long_labels_keep_the_pipelines_table_bounded():
    pipeline = _pipeline(max_label_length=16, max_classes=64)
    for frame in range(30):
        labels = [f'{frame}-{i}-' + 'z' * 100_000 for i in range(3)]
        _frame(pipeline, frame, labels=labels)
    assert len(pipeline.classes) <= 64
    assert pipeline.classes.counters.labels_truncated == 90
    assert max(len(pipeline.classes.to_label(c)) for c in range(200)) <= 16


# ---- images -----------------------------------------------------------------------------------


def test_an_image_above_max_image_pixels_is_refused_unconverted_and_its_frame_tracked():
    pipeline = _pipeline(max_image_pixels=1_000_000)
    for frame in range(5):
        [result] = _frame(pipeline, frame)
    before = _ids(result)
    header = make_header(START_NS + 5 * FRAME_NS, FRAME_ID)
    huge = Image(header=header, height=8000, width=8000, encoding='mono8', step=8000)
    assert pipeline.add_image(huge) == [], 'refused without looking at the (empty) data'
    [result] = pipeline.track(pipeline.add_detections(
        detections_to_msg(header, BOXES, [0.9] * 3, 'person')))
    assert result.image_bgr is None and _ids(result) == before, 'motion-only, same ids'
    assert pipeline.stats.images_too_large == 1 and pipeline.stats.bad_images == 1
    assert '8000x8000' in pipeline.stats.last_error


def test_image_sizes_are_read_from_headers_without_decoding():
    image = np.zeros((48, 64, 3), np.uint8)
    for ext in ('.png', '.jpg'):
        ok, data = cv2.imencode(ext, image)
        assert ok and compressed_image_size(data.tobytes()) == (64, 48), ext
        msg = CompressedImage(format=ext[1:], data=data.tobytes())
        check_image_size(msg, 64 * 48)
        with pytest.raises(ImageConversionError, match='64x48'):
            check_image_size(msg, 64 * 48 - 1)
    assert compressed_image_size(b'not an image') is None
    with pytest.raises(ImageConversionError, match='bytes') as error:
        check_image_size(CompressedImage(format='jpeg', data=bytes(3001)), 1000)
    assert error.value.kind == 'too large'
    padded = Image(height=2, width=2, encoding='mono8', step=2, data=bytes(100_000))
    with pytest.raises(ImageConversionError, match='data of 100000 bytes'):
        check_image_size(padded, 1000)


def test_pending_images_are_bounded_in_bytes():
    pairer = FramePairer(PairingConfig(max_pending=30, timeout_s=10.0,
                                       max_pending_bytes=10_000))
    for i in range(10):
        pairer.add_image(i * FRAME_NS, f'img{i}', nbytes=3_000)
    assert pairer.pending_image_bytes <= 10_000
    assert pairer.counters.images_dropped_memory == 7
    [frame] = pairer.add_detections(9 * FRAME_NS, 'det9').frames
    assert frame.image == 'img9', 'the newest images stay'


# ---- the clock ----------------------------------------------------------------------------


def test_one_detection_array_an_hour_ahead_is_dropped_and_ids_are_kept():
    pipeline = _pipeline()
    for frame in range(6):
        [result] = _frame(pipeline, frame)
    before = _ids(result)
    assert before == [1, 2, 3]
    future = make_header(START_NS + 6 * FRAME_NS + HOUR_NS, FRAME_ID)
    assert pipeline.add_detections(detections_to_msg(future, BOXES, [0.9] * 3, 'p')) == []
    results = [r for frame in range(6, 10) for r in _frame(pipeline, frame)]
    assert len(results) == 4 and all(_ids(r) == before for r in results), 'no re-numbering'
    assert pipeline.clock.counters.outliers == 1 and pipeline.clock.counters.restarts == 0
    assert pipeline.tracker.counters.time_resets == 0
    assert 'off the clock' in pipeline.stats.last_error


def test_a_looped_bag_still_restarts_on_its_first_frame_with_nothing_lost():
    pipeline = _pipeline()
    before = [r for frame in range(15) for r in _frame(pipeline, frame)]  # 1.4 s, then back
    results = [r for frame in range(5) for r in _frame(pipeline, frame)]
    assert [r.stamp_ns for r in results] == [START_NS + f * FRAME_NS for f in range(5)]
    assert results[0].image_bgr is not None, 'the held image was released with its detections'
    assert pipeline.clock.counters.restarts == 1 and pipeline.clock.counters.outliers == 0
    assert min(_ids(results[-1])) > max(_ids(before[-1])), 'ids never reused'


def test_a_confirmed_jump_ahead_is_counted_and_keeps_tracking():
    pipeline = _pipeline()
    for frame in range(6):
        [result] = _frame(pipeline, frame)
    ahead = [r for frame in range(6, 9)
             for r in _frame(pipeline, frame, stamp_ns=START_NS + 30 * 10**9 + frame * FRAME_NS)]
    assert len(ahead) == 3 and pipeline.stats.clock_jumps_ahead == 1
    assert pipeline.clock.counters.outliers == 0 and pipeline.pairing.late_dropped == 0


# ---- odometry and camera info --------------------------------------------------------------


def test_odometry_that_jumps_or_changes_frame_is_refused_and_tracks_are_not_disturbed():
    pipeline = _pipeline()
    for frame in range(6):
        [result] = _frame(pipeline, frame, odom=_odometry())
    before = _ids(result)
    buffered = len(pipeline._ego.odometry)
    [result] = _frame(pipeline, 6, odom=_odometry(x=100.0))
    [result] = _frame(pipeline, 7, odom=_odometry(frame_id='map'))
    [result] = _frame(pipeline, 8, odom=_odometry())
    counters = pipeline.odometry_guard.counters
    assert (counters.jumps, counters.other_frame, counters.resets) == (1, 1, 0)
    assert len(pipeline._ego.odometry) == buffered + 1, 'only the good sample was buffered'
    assert _ids(result) == before


def test_an_odometry_reset_is_believed_once_the_poses_after_it_agree():
    guard = OdometryGuard(max_jump_m=1.0, max_speed_mps=10.0, confirmations=2)
    assert guard.check(0, [0, 0, 0]) is OdometryVerdict.ACCEPT
    assert guard.check(FRAME_NS, [0.5, 0, 0]) is OdometryVerdict.ACCEPT
    assert guard.check(2 * FRAME_NS, [100, 0, 0]) is OdometryVerdict.JUMP
    assert guard.check(3 * FRAME_NS, [0.6, 0, 0]) is OdometryVerdict.ACCEPT, 'one outlier'
    assert guard.check(4 * FRAME_NS, [-50, 0, 0]) is OdometryVerdict.JUMP
    assert guard.check(5 * FRAME_NS, [-50.1, 0, 0]) is OdometryVerdict.RESET
    assert guard.check(6 * FRAME_NS, [-50.2, 0, 0]) is OdometryVerdict.ACCEPT
    assert (guard.counters.jumps, guard.counters.resets) == (2, 1)
    assert guard.check_frame('odom', 'base') is None
    assert 'not' in guard.check_frame('map', 'base') and guard.counters.other_frame == 1


@pytest.mark.parametrize('spoil', ['negative focal', 'nan'])
def test_a_camera_info_that_cannot_be_used_is_counted_and_the_last_good_one_kept(spoil):
    camera = PinholeCamera.from_intrinsics(300.0, 300.0, 160.0, 120.0, WIDTH, HEIGHT)
    pipeline = _pipeline()
    pipeline.add_camera_info(camera_to_camera_info(camera, make_header(START_NS, FRAME_ID)))
    bad = camera_to_camera_info(camera, make_header(START_NS, FRAME_ID))
    bad.k[0] = -300.0 if spoil == 'negative focal' else float('nan')
    pipeline.add_camera_info(bad)
    assert pipeline.stats.bad_camera_infos == 1 and pipeline.camera == camera
    assert 'camera_info' in pipeline.stats.last_error


# ---- requests -------------------------------------------------------------------------------


def test_image_points_outside_the_last_image_are_refused():
    pipeline = _pipeline()
    assert pipeline.point_refusal(5000.0, 10.0) is None, 'no image yet: nothing to judge by'
    _frame(pipeline, 0)
    assert pipeline.point_refusal(10.0, 10.0) is None
    for x, y in ((5000.0, 10.0), (-1.0, 10.0), (10.0, HEIGHT)):
        assert 'outside the last image (320x240' in pipeline.point_refusal(x, y)
    assert 'not finite' in pipeline.point_refusal(float('nan'), 1.0)


def test_unknown_parameters_name_the_closest_real_one():
    with pytest.raises(ValueError, match="did you mean 'tracker.max_age'"):
        split_parameters({'max_age': -1})
    with pytest.raises(ValueError, match='max_detections must be >= 1'):
        split_parameters({'max_detections': 0})
