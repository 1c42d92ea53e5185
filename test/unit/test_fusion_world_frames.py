"""A camera's ground estimates carried into the fusion's world frame."""

import math

from deepsort_ros.fusion import CameraBatch
from deepsort_ros.fusion.world_frames import PlanarTransform
import numpy as np
import pytest
from scipy.spatial.transform import Rotation


def batch():
    return CameraBatch([1], [True], [[1.0, 0.0]], [np.diag([0.04, 0.01])], [[0.5, 0.0]],
                       [np.diag([0.2, 0.1])], [True], world_frame='left/odom')


def test_positions_velocities_and_covariances_turn_and_shift():
    moved = PlanarTransform(10.0, -2.0, math.pi / 2).apply(batch(), 'map')
    assert moved.world_frame == 'map'
    assert np.allclose(moved.position_xy, [[10.0, -1.0]])
    assert np.allclose(moved.velocity_xy, [[0.0, 0.5]])
    assert np.allclose(moved.position_cov, [np.diag([0.01, 0.04])])
    assert np.allclose(moved.velocity_cov, [np.diag([0.1, 0.2])])


def test_a_tf_transform_gives_its_yaw_and_shift_and_a_tilted_one_is_refused():
    q = Rotation.from_euler('xyz', [0.0, 0.0, 0.7]).as_quat()
    planar = PlanarTransform.from_xyz_quaternion([1.0, 2.0, 0.3], q)
    assert (planar.x, planar.y) == (1.0, 2.0) and planar.yaw == pytest.approx(0.7)
    tilted = Rotation.from_euler('xyz', [0.2, 0.0, 0.7]).as_quat()
    with pytest.raises(ValueError, match='tilts'):
        PlanarTransform.from_xyz_quaternion([0.0, 0.0, 0.0], tilted)
    with pytest.raises(ValueError):
        PlanarTransform.from_xyz_quaternion([0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0])


def test_parameters_give_x_y_yaw():
    assert PlanarTransform.from_xy_yaw([1, 2, 0.5]) == PlanarTransform(1.0, 2.0, 0.5)
    with pytest.raises(ValueError):
        PlanarTransform.from_xy_yaw([1.0, 2.0])
    with pytest.raises(ValueError):
        PlanarTransform(float('nan'), 0.0, 0.0)
