"""Camera-motion warp of track states and covariances."""

from deepsort_ros.core import KalmanFilterCV, Tracker, TrackerConfig
from helpers.scenes import frame, identity_features
import numpy as np
import pytest


def _state():
    kalman = KalmanFilterCV(0.5, 0.6, 0.08, 1.0)
    mean, cov = kalman.initiate(np.array([[100.0, 50.0, 20.0, 40.0], [300.0, 200.0, 10.0, 30.0]]))
    mean[:, 4:] = [[5.0, -3.0, 1.0, 0.5], [0.0, 2.0, 0.0, 0.0]]
    mean, cov = kalman.predict(mean, cov, 0.7)  # correlated position and velocity
    return kalman, mean, cov


def test_pure_translation_moves_centres_only():
    kalman, mean, cov = _state()
    h = np.array([[1.0, 0.0, 12.0], [0.0, 1.0, -7.0], [0.0, 0.0, 1.0]])
    new_mean, new_cov = kalman.warp(mean, cov, h)
    expected = mean.copy()
    expected[:, 0] += 12.0
    expected[:, 1] -= 7.0
    assert np.allclose(new_mean, expected)
    assert np.allclose(new_cov, cov)


def test_scaling_scales_positions_sizes_velocities_and_covariance():
    kalman, mean, cov = _state()
    s = 1.5
    new_mean, new_cov = kalman.warp(mean, cov, np.diag([s, s, 1.0]))
    assert np.allclose(new_mean, mean * s)
    assert np.allclose(new_cov, cov * s * s)


def test_rotation_rotates_velocity_and_keeps_covariance_symmetric():
    kalman, mean, cov = _state()
    c, s = np.cos(0.3), np.sin(0.3)
    h = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    new_mean, new_cov = kalman.warp(mean, cov, h)
    rot = np.array([[c, -s], [s, c]])
    assert np.allclose(new_mean[:, 4:6], mean[:, 4:6] @ rot.T)
    assert np.allclose(new_mean[:, 2:4], mean[:, 2:4])  # columns of a rotation are unit
    assert np.allclose(new_cov, np.swapaxes(new_cov, 1, 2))


def test_projective_homography_maps_centre_exactly():
    kalman, mean, cov = _state()
    h = np.array([[1.1, 0.05, 3.0], [0.02, 0.95, -2.0], [1e-4, 2e-4, 1.0]])
    new_mean, _ = kalman.warp(mean, cov, h)
    p = np.c_[mean[:, :2], np.ones(2)] @ h.T
    assert np.allclose(new_mean[:, :2], p[:, :2] / p[:, 2:])
    with pytest.raises(ValueError, match='3x3'):
        kalman.warp(mean, cov, np.eye(2))


def test_update_with_camera_motion_keeps_identity_through_a_jump():
    feats = identity_features(1)
    shift = np.array([[1.0, 0.0, 80.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    results = {}
    for use_motion in (True, False):
        tracker = Tracker(TrackerConfig(n_init=1))
        for k in range(5):
            tracker.update(**frame([[100, 100, 20, 40]], feats), timestamp=0.1 * k)
        out = tracker.update(**frame([[180, 100, 20, 40]], feats), timestamp=0.5,
                             camera_motion=shift if use_motion else None)
        results[use_motion] = [t.track_id for t in out if t.detection_index == 0]
        if use_motion:
            assert [t.time_since_update for t in out] == [0.0]
    assert results[True] == [1]
    assert results[False] != [1]
