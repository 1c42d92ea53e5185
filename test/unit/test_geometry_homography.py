"""Camera geometry: extrinsics, camera motion and homographies checked against 3D projection."""

from deepsort_ros.geometry import (camera_motion, ground_plane_in_camera, make_extrinsic,
                                   plane_homography, Pose, rotation_homography)
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

K = np.array([[600.0, 0.0, 320.0], [0.0, 610.0, 240.0], [0.0, 0.0, 1.0]])
FORWARD_RPY = (-np.pi / 2.0, 0.0, -np.pi / 2.0)
CAMERA_HEIGHT = 1.2
CAMERA_PITCH_DOWN = np.radians(12.0)


def _realistic_extrinsic() -> Pose:
    # Forward-looking optical frame, pitched down, 0.3 m ahead of and 1.2 m above the base.
    forward = Rotation.from_euler('xyz', FORWARD_RPY)
    pitched = Rotation.from_euler('y', CAMERA_PITCH_DOWN) * forward
    return make_extrinsic([0.3, 0.05, CAMERA_HEIGHT], quaternion_xyzw=pitched.as_quat())


def _base_pose(x: float, y: float, yaw: float) -> Pose:
    return Pose(Rotation.from_euler('z', yaw).as_matrix(), [x, y, 0.0])


def _project(pose_world_camera: Pose, points_world: np.ndarray) -> np.ndarray:
    points_camera = pose_world_camera.inverse().transform_points(points_world)
    assert np.all(points_camera[:, 2] > 0.0), 'test points must be in front of the camera'
    pixels = points_camera @ K.T
    return pixels[:, :2] / pixels[:, 2:]


def _apply(homography: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    mapped = np.column_stack([pixels, np.ones(len(pixels))]) @ homography.T
    return mapped[:, :2] / mapped[:, 2:]


def _ground_points(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(4.0, 25.0, count), rng.uniform(-4.0, 4.0, count),
                            np.zeros(count)])


def test_forward_extrinsic_axes():
    extrinsic = make_extrinsic([0.0, 0.0, 0.0], rotation_rpy=FORWARD_RPY)
    # Columns are the optical axes in the base frame: x right = -y, y down = -z, z = +x.
    np.testing.assert_allclose(extrinsic.rotation[:, 0], [0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(extrinsic.rotation[:, 1], [0.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(extrinsic.rotation[:, 2], [1.0, 0.0, 0.0], atol=1e-12)
    from_quaternion = make_extrinsic([0.0, 0.0, 0.0],
                                     quaternion_xyzw=[-0.5, 0.5, -0.5, 0.5])
    np.testing.assert_allclose(from_quaternion.rotation, extrinsic.rotation, atol=1e-12)


def test_make_extrinsic_needs_exactly_one_rotation():
    with pytest.raises(ValueError, match='exactly one'):
        make_extrinsic([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match='exactly one'):
        make_extrinsic([0.0, 0.0, 0.0], FORWARD_RPY, [0.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError):
        make_extrinsic([0.0, 0.0, 0.0], quaternion_xyzw=[0.0, 0.0, 0.0, 0.0])


def test_camera_motion_maps_static_points_between_cameras():
    extrinsic = _realistic_extrinsic()
    pose_a, pose_b = _base_pose(1.0, 2.0, 0.3), _base_pose(1.4, 2.1, 0.35)
    rotation_ba, translation_ba = camera_motion(pose_a, pose_b, extrinsic)
    points = _ground_points(20) + [0.0, 0.0, 0.7]
    in_a = pose_a.compose(extrinsic).inverse().transform_points(points)
    in_b = pose_b.compose(extrinsic).inverse().transform_points(points)
    np.testing.assert_allclose(in_a @ rotation_ba.T + translation_ba, in_b, atol=1e-12)


def test_rotation_homography_matches_a_yaw_of_the_base():
    extrinsic = _realistic_extrinsic()
    pose_a, pose_b = _base_pose(0.0, 0.0, 0.0), _base_pose(0.0, 0.0, 0.08)
    rotation_ba, translation_ba = camera_motion(pose_a, pose_b, extrinsic)
    homography = rotation_homography(K, rotation_ba)
    assert homography[2, 2] == pytest.approx(1.0)
    # A yaw to the left moves distant content to the right in the image.
    centre = _apply(homography, np.array([[320.0, 240.0]]))
    assert centre[0, 0] > 320.0 + 40.0
    # Points 1e6 m away: the camera's 0.3 m swing around the base origin does not matter.
    directions = np.column_stack([np.ones(30), np.linspace(-0.4, 0.4, 30),
                                  np.linspace(-0.1, 0.3, 30)])
    far = directions * 1e6
    error = np.abs(_apply(homography, _project(pose_a.compose(extrinsic), far))
                   - _project(pose_b.compose(extrinsic), far))
    assert error.max() < 1e-3
    # With the camera on the yaw axis the map is exact at any depth.
    on_axis = Pose(extrinsic.rotation, [0.0, 0.0, CAMERA_HEIGHT])
    rotation_ba, translation_ba = camera_motion(pose_a, pose_b, on_axis)
    np.testing.assert_allclose(translation_ba, 0.0, atol=1e-12)
    near = _ground_points(30, seed=1)
    error = np.abs(_apply(rotation_homography(K, rotation_ba),
                          _project(pose_a.compose(on_axis), near))
                   - _project(pose_b.compose(on_axis), near))
    assert error.max() < 1e-9


def test_ground_plane_in_camera():
    extrinsic = _realistic_extrinsic()
    camera = _base_pose(3.0, -1.0, 0.7).compose(extrinsic)
    normal, distance = ground_plane_in_camera(camera, ground_height=0.2)
    assert distance == pytest.approx(CAMERA_HEIGHT - 0.2)
    assert np.linalg.norm(normal) == pytest.approx(1.0)
    # Pitched down by 12 degrees: the down normal has a positive optical-y (down) component
    # cos(12 deg) and a positive optical-z (forward) component sin(12 deg).
    np.testing.assert_allclose(normal, [0.0, np.cos(CAMERA_PITCH_DOWN),
                                        np.sin(CAMERA_PITCH_DOWN)], atol=1e-12)
    points = _ground_points(10) + [0.0, 0.0, 0.2]
    in_camera = camera.inverse().transform_points(points)
    np.testing.assert_allclose(in_camera @ normal, distance, atol=1e-12)


@pytest.mark.parametrize('forward, lateral, yaw', [(0.6, 0.0, 0.04), (0.3, -0.1, -0.07),
                                                   (-0.4, 0.2, 0.0)])
def test_plane_homography_maps_ground_points_exactly(forward, lateral, yaw):
    extrinsic = _realistic_extrinsic()
    pose_a = _base_pose(5.0, 1.0, 0.2)
    step = Rotation.from_euler('z', 0.2).apply([forward, lateral, 0.0])
    pose_b = _base_pose(5.0 + step[0], 1.0 + step[1], 0.2 + yaw)
    camera_a, camera_b = pose_a.compose(extrinsic), pose_b.compose(extrinsic)
    rotation_ba, translation_ba = camera_motion(pose_a, pose_b, extrinsic)
    normal, distance = ground_plane_in_camera(camera_a, ground_height=0.0)
    homography = plane_homography(K, rotation_ba, translation_ba, normal, distance)
    assert homography[2, 2] == pytest.approx(1.0)
    points = _ground_points(50) + [5.0, 1.0, 0.0]
    pixels_a, pixels_b = _project(camera_a, points), _project(camera_b, points)
    assert np.abs(_apply(homography, pixels_a) - pixels_b).max() < 1e-6
    # The opposite sign (the textbook form with this downward normal) is far off, and so is
    # ignoring the translation: the test would catch either mistake.
    wrong_sign = plane_homography(K, rotation_ba, -translation_ba, normal, distance)
    assert np.abs(_apply(wrong_sign, pixels_a) - pixels_b).max() > 1.0
    rotation_only = rotation_homography(K, rotation_ba)
    assert np.abs(_apply(rotation_only, pixels_a) - pixels_b).max() > 1.0


def test_plane_homography_rejects_bad_planes():
    with pytest.raises(ValueError, match='distance_a'):
        plane_homography(K, np.eye(3), np.zeros(3), [0.0, 1.0, 0.0], 0.0)
    with pytest.raises(ValueError, match='normal_a'):
        plane_homography(K, np.eye(3), np.zeros(3), [0.0, 0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match='K'):
        rotation_homography(np.zeros((3, 3)), np.eye(3))


def test_pose_rejects_non_rotations():
    with pytest.raises(ValueError, match='orthonormal'):
        Pose(2.0 * np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match='reflection'):
        Pose(np.diag([1.0, 1.0, -1.0]), np.zeros(3))
