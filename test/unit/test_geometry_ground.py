"""Ground projection: ray-plane intersection, validity, Jacobian and uncertainty propagation."""

import cv2
from deepsort_ros.geometry import (GroundProjectionConfig, image_to_ground, make_extrinsic,
                                   PinholeCamera, Pose, project_tracks_to_ground,
                                   propagate_to_ground)
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
HEIGHT = 1.5
PITCH_DOWN = np.radians(20.0)
GROUND = 0.1


def _camera(x: float = 2.0, y: float = -1.0, yaw: float = 0.0) -> Pose:
    forward = Rotation.from_euler('xyz', (-np.pi / 2.0, 0.0, -np.pi / 2.0))
    extrinsic = make_extrinsic([0.0, 0.0, HEIGHT + GROUND], quaternion_xyzw=(
        Rotation.from_euler('y', PITCH_DOWN) * forward).as_quat())
    base = Pose(Rotation.from_euler('z', yaw).as_matrix(), [x, y, 0.0])
    return base.compose(extrinsic)


def test_principal_point_lands_at_the_expected_distance():
    camera = _camera(2.0, -1.0, 0.0)
    ground, jacobian, valid = image_to_ground(K, camera, GROUND, [[320.0, 240.0]])
    assert valid[0]
    np.testing.assert_allclose(ground[0], [2.0 + HEIGHT / np.tan(PITCH_DOWN), -1.0],
                               atol=1e-9)
    # A pixel to the right is to the right of the robot: world -y when facing +x.
    right, _, _ = image_to_ground(K, camera, GROUND, [[420.0, 240.0]])
    assert right[0, 1] < -1.0


def test_round_trip_and_jacobian_against_finite_differences():
    camera = _camera(0.5, 3.0, 0.9)
    rng = np.random.default_rng(0)
    uv = np.column_stack([rng.uniform(0.0, 640.0, 40), rng.uniform(260.0, 480.0, 40)])
    ground, jacobian, valid = image_to_ground(K, camera, GROUND, uv)
    assert valid.all()
    points = np.column_stack([ground, np.full(len(ground), GROUND)])
    in_camera = camera.inverse().transform_points(points)
    pixels = in_camera @ K.T
    np.testing.assert_allclose(pixels[:, :2] / pixels[:, 2:], uv, atol=1e-8)
    step = 1e-4
    for axis in range(2):
        offset = np.zeros(2)
        offset[axis] = step
        plus, _, _ = image_to_ground(K, camera, GROUND, uv + offset)
        minus, _, _ = image_to_ground(K, camera, GROUND, uv - offset)
        np.testing.assert_allclose(jacobian[:, :, axis], (plus - minus) / (2.0 * step),
                                   rtol=1e-5, atol=1e-9)


def test_horizon_behind_and_range_are_invalid():
    camera = _camera()
    # v = 240 - 500 tan(20 deg) is the horizon row; above it rays rise.
    horizon_v = 240.0 - 500.0 * np.tan(PITCH_DOWN)
    uv = [[320.0, horizon_v - 5.0], [320.0, horizon_v], [320.0, horizon_v + 3.0],
          [320.0, 470.0]]
    ground, jacobian, valid = image_to_ground(
        K, camera, GROUND, uv, GroundProjectionConfig(max_range=50.0))
    assert valid.tolist() == [False, False, False, True]
    assert np.isnan(ground[:3]).all() and np.isnan(jacobian[:3]).all()
    assert np.isfinite(ground[3]).all()
    below = Pose(camera.rotation, camera.translation - [0.0, 0.0, 5.0])
    _, _, valid_below = image_to_ground(K, below, GROUND, [[320.0, 470.0]])
    assert not valid_below[0]


def test_propagation_of_covariance_and_velocity():
    camera = _camera()
    uv = np.array([[300.0, 400.0], [500.0, 350.0]])
    _, jacobian, valid = image_to_ground(K, camera, GROUND, uv)
    covariance_uv = np.stack([np.diag([4.0, 9.0]), np.array([[2.0, 0.5], [0.5, 1.0]])])
    velocity_uv = np.array([[10.0, 0.0], [0.0, -5.0]])
    covariance_xy, velocity_xy = propagate_to_ground(jacobian, covariance_uv, velocity_uv)
    for index in range(2):
        np.testing.assert_allclose(
            covariance_xy[index], jacobian[index] @ covariance_uv[index] @ jacobian[index].T)
        assert np.all(np.linalg.eigvalsh(covariance_xy[index]) > 0.0)
    # Velocity against a finite step of the pixel over a short time.
    dt = 1e-3
    moved, _, _ = image_to_ground(K, camera, GROUND, uv + velocity_uv * dt)
    start, _, _ = image_to_ground(K, camera, GROUND, uv)
    np.testing.assert_allclose(velocity_xy, (moved - start) / dt, rtol=1e-3, atol=1e-9)
    only_covariance, no_velocity = propagate_to_ground(jacobian, covariance_uv)
    assert no_velocity is None
    np.testing.assert_allclose(only_covariance, covariance_xy)


@pytest.mark.parametrize('kwargs', [{'max_range': 0.0}, {'max_range': float('inf')},
                                    {'min_ray_descent': 0.0}, {'min_ray_descent': 1.0}])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        GroundProjectionConfig(**kwargs)


def test_project_tracks_to_ground_bundles_positions_velocities_and_covariances():
    camera = _camera()
    uv = np.array([[300.0, 400.0], [320.0, 50.0]])
    covariance_uv = np.stack([np.diag([4.0, 9.0])] * 2)
    velocity_uv = np.array([[10.0, 0.0], [0.0, 1.0]])
    velocity_covariance_uv = np.stack([np.diag([25.0, 16.0])] * 2)
    tracks = project_tracks_to_ground(PinholeCamera(K), camera, GROUND, uv, covariance_uv,
                                      velocity_uv, velocity_covariance_uv)
    ground, jacobian, valid = image_to_ground(K, camera, GROUND, uv)
    assert tracks.valid.tolist() == [True, False]
    np.testing.assert_allclose(tracks.position_xy[0], ground[0])
    np.testing.assert_allclose(tracks.velocity_xy[0], jacobian[0] @ velocity_uv[0])
    np.testing.assert_allclose(tracks.velocity_cov[0],
                               jacobian[0] @ velocity_covariance_uv[0] @ jacobian[0].T)
    assert np.isnan(tracks.position_cov[1]).all() and np.isnan(tracks.velocity_xy[1]).all()


def test_a_distorted_camera_projects_its_raw_pixels_like_the_ideal_one():
    camera = _camera(1.0, 0.5, 0.3)
    distortion = np.array([-0.28, 0.09, 0.001, -0.002, 0.0])
    lens = PinholeCamera(K, 640, 480, distortion, 'plumb_bob')
    ideal_uv = np.array([[100.0, 420.0], [320.0, 300.0], [600.0, 460.0]])
    # The raw pixels where this lens images the same rays as the ideal camera's pixels.
    rays = np.column_stack([ideal_uv, np.ones(3)]) @ np.linalg.inv(K).T
    raw_uv, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, distortion)
    raw_uv = raw_uv.reshape(-1, 2)
    assert np.abs(raw_uv - ideal_uv).max() > 5.0, 'the lens must matter for this test'
    np.testing.assert_allclose(lens.rectify_points(raw_uv), ideal_uv, atol=1e-3)
    cov, velocity = np.stack([np.eye(2)] * 3), np.zeros((3, 2))
    tracks = project_tracks_to_ground(lens, camera, GROUND, raw_uv, cov, velocity, cov)
    expected, _, _ = image_to_ground(K, camera, GROUND, ideal_uv)
    assert tracks.valid.all()
    np.testing.assert_allclose(tracks.position_xy, expected, atol=1e-3)
    # Covariances go through the rectification too: near the edge the lens stretches pixels.
    ideal = project_tracks_to_ground(PinholeCamera(K), camera, GROUND, ideal_uv, cov, velocity,
                                     cov)
    assert not np.allclose(tracks.position_cov[0], ideal.position_cov[0], rtol=0.05)
