"""World positions from a registered depth image, against a rendered scene whose truth is known."""

from deepsort_ros.geometry import PinholeCamera
from deepsort_ros.sim.depth_scene import render_depth
from deepsort_ros.sim.ground_camera import PETS09_CAMERA
from deepsort_ros.world.depth import decode_depth, depth_positions, DepthConfig
import numpy as np
import pytest

CAMERA = PETS09_CAMERA
PERSON_HEIGHT_M = 1.75
# PETS09's people are 12-35 m from its camera: a long-range sensor's depth range.
CONFIG = DepthConfig(depth_range_m=(0.2, 60.0))


def _box_tlwh(foot_xy):
    foot, head = CAMERA.project([[*foot_xy, 0.0], [*foot_xy, PERSON_HEIGHT_M]])
    height = foot[1] - head[1]
    return np.array([foot[0] - 0.2 * height, head[1], 0.4 * height, height])


def _scene():
    people = np.array([[-12.0, -8.0], [-10.0, -2.0], [-4.0, 0.0], [-8.0, 4.0]])
    camera = PinholeCamera(CAMERA.intrinsics, CAMERA.width, CAMERA.height)
    return people, camera, render_depth(CAMERA, people)


def test_depth_places_people_on_their_rendered_positions():
    people, camera, depth = _scene()
    boxes = np.array([_box_tlwh(p) for p in people])
    out = depth_positions(depth, boxes, camera, CAMERA.pose, CONFIG)
    assert out.valid.all()
    assert np.linalg.norm(out.position_xy - people, axis=1).max() < 0.1
    # The covariance is long along the line of sight (depth) and grows with depth.
    along = people - CAMERA.centre[:2]
    along /= np.linalg.norm(along, axis=1, keepdims=True)
    across = np.column_stack([-along[:, 1], along[:, 0]])
    var_along = np.einsum('ni,nij,nj->n', along, out.position_cov, along)
    var_across = np.einsum('ni,nij,nj->n', across, out.position_cov, across)
    assert np.all(var_along > 4.0 * var_across)
    order = np.argsort(out.depth_m)
    assert np.all(np.diff(var_along[order]) > 0.0)


def test_missing_depth_is_not_a_position():
    people, camera, depth = _scene()
    boxes = np.array([_box_tlwh(p) for p in people])
    holed = depth.copy()
    x, y, w, h = boxes[1].astype(int)
    holed[y:y + h, x:x + w] = np.nan  # the sensor saw nothing there
    x, y, w, h = boxes[2].astype(int)
    holed[y:y + h, x:x + w] = 0.0  # a 16UC1 sensor's "no reading"
    out = depth_positions(holed, np.vstack([boxes, [[-50.0, -50.0, 10.0, 10.0]]]), camera,
                          CAMERA.pose, CONFIG)
    assert out.valid.tolist() == [True, False, False, True, False]
    assert np.isnan(out.position_xy[~out.valid]).all()
    # Beyond the sensor's range is no reading either.
    near = depth_positions(depth, boxes, camera, CAMERA.pose, DepthConfig())
    assert not near.valid.any()


@pytest.mark.parametrize('encoding, dtype, scale', [
    ('16UC1', '<u2', 1000.0), ('32FC1', '<f4', 1.0), ('32FC1', '>f4', 1.0)])
def test_depth_images_decode_in_metres(encoding, dtype, scale):
    metres = np.array([[1.5, 0.0, 2.25], [np.nan, 3.0, 0.5]])
    raw = np.nan_to_num(metres * scale).astype(dtype)
    step = raw.shape[1] * raw.itemsize + 4  # padded rows
    data = b''.join(row.tobytes() + b'\0' * 4 for row in raw)
    depth, reason = decode_depth(encoding, 2, 3, step, data, dtype.startswith('>'))
    assert reason == ''
    expected = np.where(metres > 0, metres, np.nan)
    assert depth == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize('fields', [
    ('rgb8', 2, 3, 9, bytes(18), False), ('16UC1', 2, 3, 6, bytes(11), False),
    ('32FC1', 2, 3, 4, bytes(24), False), ('16UC1', 0, 3, 6, b'', False)])
def test_hostile_depth_is_refused_with_a_reason(fields):
    depth, reason = decode_depth(*fields)
    assert depth is None and reason


@pytest.mark.parametrize('settings', [
    {'rows': (0.8, 0.5)}, {'depth_range_m': (1.0, 0.5)}, {'width_fraction': 0.0},
    {'min_valid_fraction': 1.5}, {'depth_std_quadratic': -1.0}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        DepthConfig(**settings)
