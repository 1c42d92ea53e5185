"""The pinhole camera model: validation, constructors, rectification and its Jacobian."""

import math

import cv2
from deepsort_ros.geometry import PinholeCamera
import numpy as np
import pytest

K = np.array([[500.0, 0.0, 320.0], [0.0, 480.0, 240.0], [0.0, 0.0, 1.0]])
DISTORTION = np.array([-0.3, 0.1, 0.001, -0.001, 0.0])


def test_from_intrinsics_and_plausible():
    camera = PinholeCamera.from_intrinsics(500.0, 480.0, 320.0, 240.0, 640, 480)
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (500.0, 480.0, 320.0, 240.0)
    np.testing.assert_array_equal(camera.matrix, K)
    np.testing.assert_array_equal(camera.projection, np.hstack([K, np.zeros((3, 1))]))
    assert not camera.distorted and (camera.width, camera.height) == (640, 480)
    wide = PinholeCamera.plausible(768, 576)
    assert wide.fx == wide.fy == pytest.approx(384.0 / math.tan(math.radians(30.0)))
    assert (wide.cx, wide.cy) == (384.0, 288.0)


@pytest.mark.parametrize('matrix, match', [
    (np.zeros((3, 3)), 'focal lengths must be positive'),
    (np.diag([-1.0, 1.0, 1.0]), 'focal lengths must be positive'),
    (np.diag([np.nan, 1.0, 1.0]), 'must be finite'),
    (np.eye(2), '3x3'),
])
def test_invalid_matrices_are_refused_with_the_reason(matrix, match):
    with pytest.raises(ValueError, match=match):
        PinholeCamera(matrix)


def test_other_invalid_settings():
    with pytest.raises(ValueError, match='distortion model'):
        PinholeCamera(K, distortion=DISTORTION, distortion_model='kannala')
    with pytest.raises(ValueError, match='finite'):
        PinholeCamera(K, distortion=[np.inf, 0, 0, 0, 0])
    with pytest.raises(ValueError, match='image size'):
        PinholeCamera(K, width=-1)
    # An unknown model with no distortion is an ideal lens; an all-zero P is [K | 0].
    camera = PinholeCamera(K, distortion=np.zeros(5), distortion_model='',
                           projection=np.zeros((3, 4)))
    assert not camera.distorted and camera.projection[0, 0] == 500.0


def test_an_ideal_lens_does_not_move_pixels():
    camera = PinholeCamera(K)
    uv = np.array([[0.0, 0.0], [630.0, 470.0]])
    np.testing.assert_array_equal(camera.rectify_points(uv), uv)
    np.testing.assert_array_equal(camera.rectification_jacobian(uv), np.stack([np.eye(2)] * 2))


@pytest.mark.parametrize('model, coefficients', [
    ('plumb_bob', DISTORTION),
    ('equidistant', np.array([0.05, -0.01, 0.002, 0.0])),
])
def test_rectify_points_undoes_the_lens(model, coefficients):
    projection = np.hstack([K * [[0.9], [0.9], [1.0]], np.zeros((3, 1))])
    camera = PinholeCamera(K, 640, 480, coefficients, model, projection)
    rectified_uv = np.array([[50.0, 60.0], [320.0, 240.0], [600.0, 420.0]])
    rays = np.column_stack([rectified_uv, np.ones(3)]) @ np.linalg.inv(projection[:, :3]).T
    if model == 'equidistant':
        raw, _ = cv2.fisheye.projectPoints(rays.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), K,
                                           coefficients)
    else:
        raw, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, coefficients)
    np.testing.assert_allclose(camera.rectify_points(raw.reshape(-1, 2)), rectified_uv,
                               atol=1e-2)
    np.testing.assert_array_equal(camera.rectified_matrix, projection[:, :3])


def test_rectification_jacobian_matches_small_steps():
    camera = PinholeCamera(K, 640, 480, DISTORTION)
    uv = np.array([[40.0, 30.0], [500.0, 400.0]])
    jacobian = camera.rectification_jacobian(uv)
    step = np.array([0.1, -0.2])
    moved = camera.rectify_points(uv + step) - camera.rectify_points(uv)
    np.testing.assert_allclose(moved, jacobian @ step, atol=2e-3)
    assert not np.allclose(jacobian[0], np.eye(2), atol=0.05)
