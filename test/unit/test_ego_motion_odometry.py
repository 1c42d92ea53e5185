"""Odometry buffer: interpolation, slerp, ordering, rejection, staleness and extrapolation."""

from deepsort_ros.ego_motion import OdometryBuffer, OdometryBufferConfig
import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp


def _yaw_quaternion(yaw: float) -> np.ndarray:
    return Rotation.from_euler('z', yaw).as_quat()


def _yaw_of(rotation: np.ndarray) -> float:
    return float(Rotation.from_matrix(rotation).as_euler('xyz')[2])


def test_midpoint_interpolates_position_and_slerps_yaw():
    buffer = OdometryBuffer(max_gap=2.0)
    assert buffer.add(10.0, [0.0, 0.0, 0.0], _yaw_quaternion(0.0))
    assert buffer.add(11.0, [2.0, -1.0, 0.5], _yaw_quaternion(0.8))
    pose = buffer.pose_at(10.5)
    assert pose is not None
    np.testing.assert_allclose(pose.translation, [1.0, -0.5, 0.25], atol=1e-12)
    assert _yaw_of(pose.rotation) == pytest.approx(0.4, abs=1e-12)
    quarter = buffer.pose_at(10.25)
    assert _yaw_of(quarter.rotation) == pytest.approx(0.2, abs=1e-12)
    assert buffer.last_miss_reason == ''


def test_slerp_matches_scipy_for_a_general_rotation():
    rotations = Rotation.from_euler('xyz', [[0.1, -0.2, 0.3], [0.5, 0.4, -1.2]])
    buffer = OdometryBuffer()
    buffer.add(0.0, np.zeros(3), rotations[0].as_quat())
    buffer.add(0.2, np.ones(3), rotations[1].as_quat())
    expected = Slerp([0.0, 0.2], rotations)([0.05, 0.1, 0.15]).as_matrix()
    for stamp, matrix in zip([0.05, 0.1, 0.15], expected):
        np.testing.assert_allclose(buffer.pose_at(stamp).rotation, matrix, atol=1e-12)


def test_out_of_order_samples_are_sorted_and_duplicates_rejected():
    buffer = OdometryBuffer(max_gap=2.0)
    for stamp in [3.0, 1.0, 2.0, 0.0]:
        assert buffer.add(stamp, [stamp, 0.0, 0.0], _yaw_quaternion(0.1 * stamp))
    assert not buffer.add(2.0, [9.0, 9.0, 9.0], _yaw_quaternion(0.0))
    assert buffer.rejected['duplicate'] == 1
    assert buffer.span == (0.0, 3.0)
    pose = buffer.pose_at(1.5)
    np.testing.assert_allclose(pose.translation, [1.5, 0.0, 0.0], atol=1e-12)
    assert _yaw_of(pose.rotation) == pytest.approx(0.15, abs=1e-12)


@pytest.mark.parametrize('stamp, position, quaternion, reason', [
    (float('nan'), [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], 'non-finite'),
    (1.0, [0.0, float('nan'), 0.0], [0.0, 0.0, 0.0, 1.0], 'non-finite'),
    (1.0, [0.0, 0.0, 0.0], [0.0, float('inf'), 0.0, 1.0], 'non-finite'),
    (1.0, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], 'zero quaternion'),
])
def test_bad_samples_are_rejected_with_a_counted_reason(stamp, position, quaternion, reason):
    buffer = OdometryBuffer()
    assert not buffer.add(stamp, position, quaternion)
    assert buffer.rejected[reason] == 1
    assert len(buffer) == 0
    assert buffer.pose_at(1.0) is None
    assert buffer.last_miss_reason == 'empty'


def test_unnormalised_quaternion_is_normalised():
    buffer = OdometryBuffer()
    buffer.add(0.0, np.zeros(3), 3.0 * _yaw_quaternion(0.3))
    pose = buffer.pose_at(0.0)
    np.testing.assert_allclose(pose.rotation @ pose.rotation.T, np.eye(3), atol=1e-12)
    assert _yaw_of(pose.rotation) == pytest.approx(0.3)


def test_buffer_is_bounded_and_drops_the_oldest():
    buffer = OdometryBuffer(max_samples=5, max_gap=0.5)
    for index in range(10):
        buffer.add(float(index), [float(index), 0.0, 0.0], _yaw_quaternion(0.0))
    assert len(buffer) == 5
    assert buffer.span == (5.0, 9.0)
    assert buffer.pose_at(2.0) is None
    assert buffer.last_miss_reason == 'out of range'
    assert not buffer.add(1.0, [1.0, 0.0, 0.0], _yaw_quaternion(0.0))
    assert buffer.rejected['too old'] == 1
    assert buffer.add(6.5, [6.5, 0.0, 0.0], _yaw_quaternion(0.0))
    assert buffer.span == (6.0, 9.0) and len(buffer) == 5


def test_stale_gap_and_extrapolation():
    buffer = OdometryBuffer(max_gap=0.5)
    buffer.add(0.0, [0.0, 0.0, 0.0], _yaw_quaternion(0.0))
    buffer.add(0.1, [0.1, 0.0, 0.0], _yaw_quaternion(0.05))
    # Within max_gap past the newest sample: constant-velocity extrapolation.
    ahead = buffer.pose_at(0.3)
    assert ahead is not None
    np.testing.assert_allclose(ahead.translation, [0.3, 0.0, 0.0], atol=1e-12)
    assert _yaw_of(ahead.rotation) == pytest.approx(0.15, abs=1e-12)
    behind = buffer.pose_at(-0.2)
    np.testing.assert_allclose(behind.translation, [-0.2, 0.0, 0.0], atol=1e-12)
    assert buffer.pose_at(0.7) is None
    assert buffer.last_miss_reason == 'stale'
    assert buffer.pose_at(-0.7) is None
    assert buffer.last_miss_reason == 'out of range'
    buffer.add(2.0, [2.0, 0.0, 0.0], _yaw_quaternion(0.0))
    assert buffer.pose_at(1.0) is None
    assert buffer.last_miss_reason == 'gap'
    assert buffer.pose_at(0.05) is not None
    assert buffer.last_miss_reason == ''


def test_extrapolation_uses_a_baseline_not_two_nearly_simultaneous_samples():
    buffer = OdometryBuffer(config=OdometryBufferConfig(min_extrapolation_baseline=0.05))
    buffer.add(0.0, [0.0, 0.0, 0.0], _yaw_quaternion(0.0))
    buffer.add(0.1, [0.1, 0.0, 0.0], _yaw_quaternion(0.0))
    # A jittered sample 1 ms after the previous one would give 10 m/s on its own.
    buffer.add(0.101, [0.111, 0.0, 0.0], _yaw_quaternion(0.0))
    pose = buffer.pose_at(0.2)
    assert pose.translation[0] == pytest.approx(0.111 + 0.099 * 0.111 / 0.101, rel=1e-9)
    assert pose.translation[0] < 0.25


def test_covariance_is_interpolated():
    buffer = OdometryBuffer(max_gap=2.0)
    buffer.add(0.0, np.zeros(3), _yaw_quaternion(0.0), np.eye(3))
    buffer.add(1.0, np.zeros(3), _yaw_quaternion(0.0), 3.0 * np.eye(3))
    np.testing.assert_allclose(buffer.pose_at(0.5).position_covariance, 2.0 * np.eye(3))


@pytest.mark.parametrize('kwargs', [
    {'max_samples': 1}, {'max_samples': 2.5}, {'max_gap': -0.1}, {'max_gap': float('nan')},
    {'duplicate_tolerance': -1.0}, {'min_extrapolation_baseline': float('inf')},
])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        OdometryBufferConfig(**kwargs)


def test_wrong_shapes_raise():
    buffer = OdometryBuffer()
    with pytest.raises(ValueError, match='position_xyz'):
        buffer.add(0.0, [0.0, 0.0], [0.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match='orientation_xyzw'):
        buffer.add(0.0, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0])
