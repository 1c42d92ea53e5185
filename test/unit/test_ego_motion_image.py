"""Optical-flow camera motion on synthetic textured frames with known warps."""

import cv2
from deepsort_ros.ego_motion import ImageMotionConfig, ImageMotionEstimator
import numpy as np
import pytest

WIDTH, HEIGHT = 640, 480
# Sample points away from the border, where the warp moved content in from outside.
GRID = np.stack(np.meshgrid(np.linspace(80.0, 560.0, 7), np.linspace(80.0, 400.0, 5)),
                axis=-1).reshape(-1, 2)


def _texture(seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.0, 255.0, (height, width)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 2.0)
    blurred -= blurred.min()
    return (255.0 * blurred / blurred.max()).astype(np.uint8)


def _affine(angle_deg: float, shift_xy: tuple) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D((WIDTH / 2.0, HEIGHT / 2.0), angle_deg, 1.0)
    matrix[:, 2] += shift_xy
    return matrix


def _apply(homography: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    mapped = np.column_stack([pixels, np.ones(len(pixels))]) @ homography.T
    return mapped[:, :2] / mapped[:, 2:]


def _max_error(homography: np.ndarray, affine: np.ndarray) -> float:
    expected = GRID @ affine[:, :2].T + affine[:, 2]
    return float(np.abs(_apply(homography, GRID) - expected).max())


def _warp(image: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(image, affine, (image.shape[1], image.shape[0]),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize('model', ['affine', 'homography'])
@pytest.mark.parametrize('angle_deg, shift_xy', [(0.0, (7.0, -4.0)), (1.5, (-3.0, 5.0))])
def test_recovers_a_known_warp_in_full_resolution_pixels(model, angle_deg, shift_xy):
    estimator = ImageMotionEstimator(ImageMotionConfig(model=model))
    previous = _texture(1)
    affine = _affine(angle_deg, shift_xy)
    assert estimator.estimate(previous, 0.0) is None
    assert estimator.last_reason == 'first frame'
    homography = estimator.estimate(cv2.cvtColor(_warp(previous, affine), cv2.COLOR_GRAY2BGR),
                                    0.033)
    assert homography is not None, estimator.last_reason
    assert homography[2, 2] == pytest.approx(1.0)
    assert estimator.last_inliers >= estimator.config.min_inliers
    assert _max_error(homography, affine) < 1.0
    assert estimator.previous_stamp == pytest.approx(0.033)


def test_masked_moving_region_is_ignored():
    # The target covers two thirds of the frame, so without the mask it wins RANSAC.
    background = _texture(4)
    patch = _texture(5, 520, 400)
    camera = _affine(0.0, (5.0, 3.0))
    box_tlwh = np.array([[60.0, 40.0, 520.0, 400.0]])
    previous = background.copy()
    previous[40:440, 60:580] = patch
    current = _warp(background, camera)
    # The target moves 16 px right and 12 px down on its own while the camera shifts.
    current[52:452, 76:596] = patch
    masked = ImageMotionEstimator()
    masked.estimate(previous, 0.0)
    homography = masked.estimate(current, 0.05, boxes_tlwh_to_mask=box_tlwh)
    assert homography is not None, masked.last_reason
    assert _max_error(homography, camera) < 1.0
    unmasked = ImageMotionEstimator()
    unmasked.estimate(previous, 0.0)
    pulled = unmasked.estimate(current, 0.05)
    assert pulled is None or _max_error(pulled, camera) > 5.0


def test_failures_and_reset():
    estimator = ImageMotionEstimator()
    frame = _texture(6)
    estimator.estimate(frame, 0.0)
    assert estimator.estimate(cv2.resize(frame, (320, 240)), 0.1) is None
    assert estimator.last_reason == 'resolution changed'
    # The new resolution is the reference now, so the next frame at it works again.
    assert estimator.estimate(cv2.resize(frame, (320, 240)), 0.2) is not None
    flat = np.full((HEIGHT, WIDTH), 128, dtype=np.uint8)
    estimator.estimate(flat, 0.3)
    assert estimator.estimate(flat, 0.4) is None
    assert estimator.last_reason == 'too few features'
    estimator.estimate(frame, 0.5)
    whole_frame = np.array([[0.0, 0.0, WIDTH, HEIGHT]])
    assert estimator.estimate(frame, 0.6, boxes_tlwh_to_mask=whole_frame) is None
    assert estimator.last_reason == 'too few features'
    estimator.reset()
    assert estimator.estimate(frame, 0.7) is None
    assert estimator.last_reason == 'first frame'


def test_observe_sets_the_reference_without_estimating():
    estimator = ImageMotionEstimator()
    previous = _texture(7)
    affine = _affine(0.0, (-6.0, 2.0))
    estimator.observe(previous, 1.0)
    assert estimator.previous_stamp == 1.0
    homography = estimator.estimate(_warp(previous, affine), 1.1)
    assert homography is not None and _max_error(homography, affine) < 1.0


def test_an_observed_reference_gives_the_estimate_an_estimated_one_gives():
    # observe defers the grey and resize work to the estimate that needs it: same answer
    previous = cv2.cvtColor(_texture(8), cv2.COLOR_GRAY2BGR)
    current = _warp(previous, _affine(0.8, (4.0, -3.0)))
    estimated, observed = ImageMotionEstimator(), ImageMotionEstimator()
    estimated.estimate(previous, 1.0)
    observed.observe(previous, 1.0)
    expected = estimated.estimate(current, 1.1)
    assert expected is not None
    np.testing.assert_array_equal(observed.estimate(current, 1.1), expected)
    # a new frame replaces an observed one before it was ever used, and reset forgets both
    observed.observe(_texture(9), 2.0)
    observed.observe(previous, 2.1)
    np.testing.assert_array_equal(observed.estimate(current, 2.2), expected)
    observed.observe(previous, 3.0)
    observed.reset()
    assert observed.estimate(current, 3.1) is None and observed.last_reason == 'first frame'


def test_rejects_non_uint8_frames():
    with pytest.raises(ValueError, match='uint8'):
        ImageMotionEstimator().estimate(np.zeros((48, 64), dtype=np.float32), 0.0)
    with pytest.raises(ValueError, match='uint8'):
        ImageMotionEstimator().observe(np.zeros((48, 64), dtype=np.float32), 0.0)


@pytest.mark.parametrize('kwargs', [
    {'model': 'projective'}, {'downscale_width': 0}, {'max_corners': 10},
    {'quality_level': 0.0}, {'ransac_threshold': -1.0}, {'ransac_confidence': 1.0},
    {'min_inliers': 3, 'model': 'homography'}, {'min_features': 5}, {'mask_margin': -0.1},
    {'lk_levels': -1}, {'max_forward_backward_error': float('nan')},
])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        ImageMotionConfig(**kwargs)
