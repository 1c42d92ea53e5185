"""The stand-in HOG people detector: its maths, a real PETS09 frame, and its node over DDS."""

import threading
import time

import cv2
from deepsort_ros.core.boxes import iou_matrix_tlwh
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from helpers.paths import SHARED
from hog_detector import features as hf
from hog_detector.detector import (default_model, HogPeopleDetector, HogPeopleDetectorConfig,
                                   nms_tlwh)
from hog_detector.node import HogDetectorNode
import numpy as np
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

PETS09_VIDEO = SHARED / 'data' / 'PETS09-S2L1' / 'vtest.avi'
PETS09_GT = SHARED / 'data' / 'PETS09-S2L1' / 'gt' / 'gt.txt'
WAIT_SECONDS = 20.0


def pets09_frame(frame: int):
    """Return (image, people_tlwh) of a PETS09-S2L1 frame, or skip when shared is absent."""
    if not PETS09_VIDEO.is_file():
        pytest.skip(f'shared data {PETS09_VIDEO} is absent')
    capture = cv2.VideoCapture(str(PETS09_VIDEO))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
    ok, image = capture.read()
    capture.release()
    assert ok, f'cannot read frame {frame} of {PETS09_VIDEO}'
    gt = np.loadtxt(PETS09_GT, delimiter=',')
    rows = gt[(gt[:, 0] == frame) & (gt[:, 6] == 1)]
    return image, rows[:, 2:6]


def test_sliding_scores_equal_window_descriptors():
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 256, (200, 120, 3), dtype=np.uint8), (5, 5), 1)
    model = default_model()
    scores = hf.window_scores(hf.image_blocks(image), model.weights, model.bias)
    assert scores.shape == (200 // 8 - 1 - 14, 120 // 8 - 1 - 6)
    for row, col in [(0, 0), (3, 5), (scores.shape[0] - 1, scores.shape[1] - 1)]:
        x, y = col * 8, row * 8
        window = image[y:y + 128, x:x + 64]
        # Cells are the same only where the window's gradients do not see past its border.
        blocks = hf.block_features(hf.cell_histograms(image)[row:row + 16, col:col + 8])
        assert blocks.reshape(-1) @ model.weights + model.bias == pytest.approx(
            scores[row, col], rel=1e-4, abs=1e-3)
        assert hf.window_descriptor(window).shape == (hf.WINDOW_DIM,)


def test_nms_and_config_validation():
    boxes = np.array([[0, 0, 10, 20], [1, 1, 10, 20], [50, 50, 10, 20]], float)
    keep = nms_tlwh(boxes, np.array([0.5, 0.9, 0.7]), 0.4)
    assert keep.tolist() == [1, 2]
    for bad in ({'scale_step': 1.0}, {'nms_iou': 0.0}, {'min_score': 2.0}, {'resize': 0},
                {'backend': 'yolo'}, {'win_stride_px': 0}):
        with pytest.raises(ValueError):
            HogPeopleDetectorConfig(**bad)


def test_nms_drops_a_box_nested_in_a_better_one():
    whole = [0.0, 0.0, 40.0, 100.0]
    torso = [5.0, 10.0, 30.0, 45.0]  # inside the whole person: IoU 0.34 only
    boxes, scores = np.array([whole, torso, [100.0, 0.0, 40.0, 100.0]]), np.array([.9, .8, .7])
    assert nms_tlwh(boxes, scores, 0.4).tolist() == [0, 1, 2], 'IoU alone keeps it'
    assert nms_tlwh(boxes, scores, 0.4, 0.7).tolist() == [0, 2]
    # The better box nested in a worse, larger one: the larger goes.
    assert nms_tlwh(boxes, np.array([.5, .8, .7]), 0.4, 0.7).tolist() == [1, 2]
    with pytest.raises(ValueError, match='nms_containment'):
        HogPeopleDetectorConfig(nms_containment=0.0)


@pytest.mark.parametrize('frame', [401, 500])
def test_no_nested_or_duplicate_boxes_on_pets09_frames(frame):
    # Issue 26: the demo showed nested and duplicate boxes (frame 401: three boxes more than
    # 95% inside another one).
    image, _ = pets09_frame(frame)
    config = HogPeopleDetectorConfig(backend='numpy')
    boxes_tlwh, _ = HogPeopleDetector(config).detect(image)
    assert len(boxes_tlwh) >= 2
    pairs = np.triu_indices(len(boxes_tlwh), k=1)
    iou = iou_matrix_tlwh(boxes_tlwh, boxes_tlwh)[pairs]
    assert iou.max() <= config.nms_iou, 'duplicates'
    top_left = np.maximum(boxes_tlwh[pairs[0], :2], boxes_tlwh[pairs[1], :2])
    bottom_right = np.minimum(boxes_tlwh[pairs[0], :2] + boxes_tlwh[pairs[0], 2:],
                              boxes_tlwh[pairs[1], :2] + boxes_tlwh[pairs[1], 2:])
    intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    areas = boxes_tlwh[:, 2] * boxes_tlwh[:, 3]
    inside = intersection / np.minimum(areas[pairs[0]], areas[pairs[1]])
    assert inside.max() <= 0.9, 'one box inside another'
    assert inside.max() <= config.nms_containment


def test_finds_people_in_a_pets09_frame():
    image, people = pets09_frame(530)
    detector = HogPeopleDetector(HogPeopleDetectorConfig(backend='numpy'))
    started = time.monotonic()
    boxes, scores = detector.detect(image)
    elapsed = time.monotonic() - started
    assert boxes.shape[1] == 4 and scores.shape == (len(boxes),)
    assert np.all((scores >= 0) & (scores <= 1)) and np.all(np.diff(scores) <= 0)
    matched = (iou_matrix_tlwh(people, boxes).max(axis=1) >= 0.5).sum() if len(boxes) else 0
    assert matched >= max(1, len(people) // 2), f'{matched} of {len(people)} people found'
    assert len(boxes) <= 2 * len(people) + 3, 'too many false alarms'
    assert elapsed < 5.0
    # Nothing in a flat grey image.
    empty_boxes, _ = detector.detect(np.full((576, 768, 3), 128, np.uint8))
    assert len(empty_boxes) == 0


@pytest.mark.dds
def test_detector_node_publishes_with_the_image_stamp(ros_domain_id):
    if PETS09_VIDEO.is_file():
        image_bgr, people = pets09_frame(1)
    else:  # still checks the wiring; no person needs to be found
        image_bgr, people = np.zeros((256, 192, 3), np.uint8), np.zeros((0, 4))
    node_context, test_context = rclpy.Context(), rclpy.Context()
    rclpy.init(context=node_context, domain_id=ros_domain_id)
    rclpy.init(context=test_context, domain_id=ros_domain_id)
    node = HogDetectorNode(context=node_context, parameter_overrides=[
        Parameter('image_topic', value='/hog_test/image'),
        Parameter('detections_topic', value='/hog_test/detections')])
    node_executor = SingleThreadedExecutor(context=node_context)
    node_executor.add_node(node)
    test_node = rclpy.create_node('hog_test_driver', context=test_context)
    received = []
    test_node.create_subscription(Detection2DArray, '/hog_test/detections', received.append, 10)
    image_pub = test_node.create_publisher(Image, '/hog_test/image', 10)
    test_executor = SingleThreadedExecutor(context=test_context)
    test_executor.add_node(test_node)
    running = threading.Event()
    running.set()

    def spin_node() -> None:
        while running.is_set():
            node_executor.spin_once(timeout_sec=0.05)

    thread = threading.Thread(target=spin_node, daemon=True)
    thread.start()
    image = bgr_to_image_msg(image_bgr)
    image.header.stamp.sec, image.header.stamp.nanosec = 1700000123, 456
    image.header.frame_id = 'camera_optical_frame'
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        next_publish = 0.0
        while not received and time.monotonic() < deadline:
            # Best-effort image subscription: publish again until a result comes back.
            if image_pub.get_subscription_count() and time.monotonic() >= next_publish:
                image_pub.publish(image)
                next_publish = time.monotonic() + 2.0
            test_executor.spin_once(timeout_sec=0.05)
    finally:
        running.clear()
        thread.join(timeout=10)
        node_executor.shutdown()
        test_executor.shutdown()
        node.destroy_node()
        test_node.destroy_node()
        rclpy.shutdown(context=node_context)
        rclpy.shutdown(context=test_context)
    assert received, f'no Detection2DArray within {WAIT_SECONDS} s'
    msg = received[0]
    assert msg.header == image.header
    for det in msg.detections:
        assert det.results[0].hypothesis.class_id == 'person'
        assert 0 <= det.results[0].hypothesis.score <= 1
    if len(people):
        centres = np.array([[d.bbox.center.position.x - d.bbox.size_x / 2,
                             d.bbox.center.position.y - d.bbox.size_y / 2,
                             d.bbox.size_x, d.bbox.size_y] for d in msg.detections])
        assert len(centres) and (iou_matrix_tlwh(people, centres).max(axis=1) >= 0.5).any()
