"""Kalman filter: dt-scaled prediction, updates and Mahalanobis gating."""

from deepsort_ros.core import KalmanFilterCV
import numpy as np
import pytest


@pytest.fixture
def kalman() -> KalmanFilterCV:
    return KalmanFilterCV(std_position=0.5, std_velocity=0.6, std_measurement=0.08,
                          initial_velocity_std=1.0)


def test_predict_moves_by_velocity_times_dt(kalman):
    mean, cov = kalman.initiate(np.array([[100.0, 50.0, 20.0, 40.0]]))
    mean[0, 4:] = [10.0, -4.0, 2.0, 0.0]
    half, _ = kalman.predict(mean, cov, 0.5)
    assert np.allclose(half[0, :4], [105.0, 48.0, 21.0, 40.0])
    two, _ = kalman.predict(mean, cov, 2.0)
    assert np.allclose(two[0, :4], [120.0, 42.0, 24.0, 40.0])
    assert np.allclose(two[0, 4:], mean[0, 4:])


def test_predict_uncertainty_grows_with_dt(kalman):
    mean, cov = kalman.initiate(np.array([[100.0, 50.0, 20.0, 40.0]]))
    _, short = kalman.predict(mean, cov, 0.1)
    _, long = kalman.predict(mean, cov, 1.0)
    assert np.all(np.diag(long[0]) > np.diag(short[0]))
    same_mean, same_cov = kalman.predict(mean, cov, 0.0)
    assert np.allclose(same_mean, mean) and np.allclose(same_cov, cov)
    with pytest.raises(ValueError, match='dt'):
        kalman.predict(mean, cov, -0.1)


def test_two_half_steps_equal_one_step_for_the_mean(kalman):
    mean, cov = kalman.initiate(np.array([[0.0, 0.0, 10.0, 10.0]]))
    mean[0, 4] = 7.0
    m1, _ = kalman.predict(*kalman.predict(mean, cov, 0.25), 0.25)
    m2, _ = kalman.predict(mean, cov, 0.5)
    assert np.allclose(m1, m2)


def test_batched_predict_matches_single(kalman):
    boxes = np.array([[10.0, 10.0, 5.0, 10.0], [200.0, 100.0, 40.0, 80.0]])
    mean, cov = kalman.initiate(boxes)
    mean[:, 4] = [3.0, -8.0]
    batch_mean, batch_cov = kalman.predict(mean, cov, 0.3)
    for i in range(2):
        one_mean, one_cov = kalman.predict(mean[i:i + 1], cov[i:i + 1], 0.3)
        assert np.allclose(one_mean[0], batch_mean[i])
        assert np.allclose(one_cov[0], batch_cov[i])


def test_update_pulls_towards_measurement_and_shrinks_covariance(kalman):
    mean, cov = kalman.initiate(np.array([[100.0, 100.0, 20.0, 40.0]]))
    mean, cov = kalman.predict(mean, cov, 1.0)
    new_mean, new_cov = kalman.update(mean, cov, np.array([[110.0, 100.0, 20.0, 40.0]]))
    assert 100.0 < new_mean[0, 0] < 110.0
    assert new_mean[0, 4] > 0.0  # velocity learned from the innovation
    assert np.all(np.diag(new_cov[0])[:4] < np.diag(cov[0])[:4])


def test_gating_distance_separates_near_and_far(kalman):
    mean, cov = kalman.initiate(np.array([[100.0, 100.0, 20.0, 40.0]]))
    mean, cov = kalman.predict(mean, cov, 0.1)
    boxes = np.array([[101.0, 100.5, 20.0, 40.0], [300.0, 300.0, 20.0, 40.0]])
    d2 = kalman.gating_distance(mean, cov, boxes)
    assert d2.shape == (1, 2)
    assert d2[0, 0] < 9.4877 < d2[0, 1]


def _spd(rng: np.random.Generator, count: int, coupled: bool) -> np.ndarray:
    """Innovation-like covariances: block (cx, cy) and two variances, or fully coupled."""
    root = rng.normal(size=(count, 4, 4))
    if not coupled:
        root[:, :2, 2:] = root[:, 2:, :2] = 0.0
        root[:, 2, 3] = root[:, 3, 2] = 0.0
    return root @ np.swapaxes(root, 1, 2) + 0.5 * np.eye(4)


@pytest.mark.parametrize('coupled', [False, True])
def test_innovation_inverse_is_the_inverse(coupled):
    from deepsort_ros.core.kalman_algebra import innovation_inverse

    matrices = _spd(np.random.default_rng(3), 50, coupled)
    np.testing.assert_allclose(innovation_inverse(matrices), np.linalg.inv(matrices),
                               rtol=1e-10, atol=1e-12)


def test_the_filter_keeps_the_structure_the_closed_form_inverse_needs(kalman):
    # after start, predict, a camera motion (rotation mixes cx and cy) and an update, the
    # innovation covariance still couples only cx with cy
    mean, cov = kalman.initiate(np.array([[100.0, 80.0, 30.0, 60.0], [300.0, 90.0, 20.0, 50.0]]))
    mean, cov = kalman.predict(mean, cov, 0.1)
    angle = np.radians(3.0)
    homography = np.array([[np.cos(angle), -np.sin(angle), 5.0],
                           [np.sin(angle), np.cos(angle), -2.0], [1e-5, 0.0, 1.0]])
    mean, cov = KalmanFilterCV.warp(mean, cov, homography)
    mean, cov = kalman.update(mean, cov, mean[:, :4] + 1.0)
    _, innovation = kalman.project(mean, cov)
    assert np.abs(innovation[:, 0, 1]).min() > 0, 'the rotation couples cx with cy'
    assert not innovation[:, :2, 2:].any() and not innovation[:, 2, 3].any()
    # and the gain from it is the one a solve gives
    expected_gain = np.swapaxes(np.linalg.solve(innovation, np.swapaxes(cov[:, :, :4], 1, 2)),
                                1, 2)
    updated, _ = kalman.update(mean, cov, mean[:, :4] + 2.0)
    np.testing.assert_allclose(updated, mean + expected_gain @ np.full(4, 2.0), rtol=1e-12)
