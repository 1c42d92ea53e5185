"""EgoMotionEstimator: mode selection, odometry homographies and the image fallback."""

import cv2
from deepsort_ros.ego_motion import EgoMotionConfig, EgoMotionEstimator, ImageMotionConfig
from deepsort_ros.geometry import (camera_motion, ground_plane_in_camera, make_extrinsic,
                                   PinholeCamera, plane_homography, Pose, rotation_homography)
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

K = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])
FORWARD_RPY = (-np.pi / 2.0, 0.0, -np.pi / 2.0)
EXTRINSIC_XYZ = (0.2, 0.0, 1.1)


def _estimator(**kwargs) -> EgoMotionEstimator:
    estimator = EgoMotionEstimator(EgoMotionConfig(**kwargs))
    estimator.set_camera(PinholeCamera(K))
    estimator.set_extrinsic(EXTRINSIC_XYZ, rotation_rpy=FORWARD_RPY)
    return estimator


def _add_yawing_odometry(estimator: EgoMotionEstimator, speed: float = 1.0,
                         yaw_rate: float = 0.5, until: float = 1.0) -> None:
    for stamp in np.arange(0.0, until + 1e-9, 0.02):
        yaw = yaw_rate * stamp
        estimator.add_odometry(stamp, [speed * stamp, 0.0, 0.0],
                               Rotation.from_euler('z', yaw).as_quat())


def _texture(seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0.0, 255.0, (480, 640)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 2.0)
    blurred -= blurred.min()
    return (255.0 * blurred / blurred.max()).astype(np.uint8)


def _expected_motion(stamp_a: float, stamp_b: float, speed: float = 1.0,
                     yaw_rate: float = 0.5):
    extrinsic = make_extrinsic(EXTRINSIC_XYZ, rotation_rpy=FORWARD_RPY)
    poses = [Pose(Rotation.from_euler('z', yaw_rate * t).as_matrix(), [speed * t, 0.0, 0.0])
             for t in (stamp_a, stamp_b)]
    rotation_ba, translation_ba = camera_motion(poses[0], poses[1], extrinsic)
    return rotation_ba, translation_ba, poses[0].compose(extrinsic)


def test_odometry_rotation_only():
    estimator = _estimator(mode='odometry', use_ground_plane=False)
    _add_yawing_odometry(estimator)
    result = estimator.estimate(0.3, 0.4)
    assert result.source == 'odometry'
    rotation_ba, _, _ = _expected_motion(0.3, 0.4)
    np.testing.assert_allclose(result.homography, rotation_homography(K, rotation_ba),
                               atol=1e-9)
    # 0.05 rad of yaw to the left: the image content moves ~30 px to the right.
    centre = result.homography @ [320.0, 240.0, 1.0]
    np.testing.assert_allclose(centre[:2] / centre[2], [320.0 + 600.0 * np.tan(0.05), 240.0],
                               atol=1e-9)


def test_odometry_ground_plane_between_samples():
    estimator = _estimator(mode='auto', use_ground_plane=True, ground_height=0.0)
    _add_yawing_odometry(estimator)
    # Stamps between odometry samples exercise the interpolation too.
    result = estimator.estimate(0.311, 0.347, frame=_texture(0))
    assert result.source == 'odometry' and 'ground plane' in result.reason
    rotation_ba, translation_ba, camera_a = _expected_motion(0.311, 0.347)
    normal, distance = ground_plane_in_camera(camera_a, 0.0)
    expected = plane_homography(K, rotation_ba, translation_ba, normal, distance)
    np.testing.assert_allclose(result.homography, expected, atol=1e-9)
    assert not np.allclose(result.homography, rotation_homography(K, rotation_ba), atol=1e-3)


def test_camera_on_the_ground_falls_back_to_rotation():
    estimator = _estimator(mode='odometry', use_ground_plane=True, ground_height=1.1)
    _add_yawing_odometry(estimator)
    result = estimator.estimate(0.3, 0.4)
    assert result.source == 'odometry' and 'too close' in result.reason
    rotation_ba, _, _ = _expected_motion(0.3, 0.4)
    np.testing.assert_allclose(result.homography, rotation_homography(K, rotation_ba),
                               atol=1e-9)


def test_odometry_mode_reports_stale_and_missing_calibration():
    estimator = _estimator(mode='odometry')
    _add_yawing_odometry(estimator, until=1.0)
    result = estimator.estimate(0.9, 2.0)
    assert result.homography is None and result.source == 'none'
    assert 'stale' in result.reason
    uncalibrated = EgoMotionEstimator(EgoMotionConfig(mode='odometry'))
    _add_yawing_odometry(uncalibrated)
    assert 'no intrinsics' in uncalibrated.estimate(0.3, 0.4).reason
    uncalibrated.set_camera(PinholeCamera(K))
    assert 'no extrinsic' in uncalibrated.estimate(0.3, 0.4).reason


def test_auto_falls_back_to_image_without_odometry():
    estimator = _estimator(mode='auto')
    previous = _texture(1)
    affine = np.array([[1.0, 0.0, 6.0], [0.0, 1.0, -3.0]])
    current = cv2.warpAffine(previous, affine, (640, 480), borderMode=cv2.BORDER_REFLECT)
    first = estimator.estimate(0.0, 0.0, frame=previous, boxes_tlwh=None)
    assert first.homography is None and 'first frame' in first.reason
    result = estimator.estimate(0.0, 0.1, frame=current,
                                boxes_tlwh=np.array([[10.0, 10.0, 50.0, 80.0]]))
    assert result.source == 'image', result.reason
    assert 'odometry empty' in result.reason
    np.testing.assert_allclose(result.homography[:2], affine, atol=0.05)


def test_auto_switches_from_odometry_to_image_when_odometry_goes_stale():
    estimator = _estimator(mode='auto', odom_max_gap=0.2)
    _add_yawing_odometry(estimator, until=1.0)
    frames = [_texture(2)]
    affine = np.array([[1.0, 0.0, -4.0], [0.0, 1.0, 2.0]])
    frames.append(cv2.warpAffine(frames[0], affine, (640, 480),
                                 borderMode=cv2.BORDER_REFLECT))
    # Odometry answers for 0.9 -> 1.1 and the flow keeps its reference current meanwhile.
    assert estimator.estimate(0.8, 0.9, frame=frames[0]).source == 'odometry'
    assert estimator.estimate(0.9, 1.1, frame=frames[0]).source == 'odometry'
    result = estimator.estimate(1.1, 1.3, frame=frames[1])
    assert result.source == 'image', result.reason
    np.testing.assert_allclose(result.homography[:2], affine, atol=0.05)


def test_image_mode_refuses_a_reference_from_another_stamp():
    estimator = _estimator(mode='image')
    frame = _texture(3)
    estimator.estimate(0.0, 0.0, frame=frame)
    result = estimator.estimate(0.5, 0.6, frame=frame)
    assert result.homography is None and 'not the previous frame' in result.reason
    assert estimator.estimate(0.6, 0.7, frame=frame).source == 'image'
    assert 'no frame' in estimator.estimate(0.7, 0.8).reason


def test_off_mode_returns_nothing():
    estimator = _estimator(mode='off')
    _add_yawing_odometry(estimator)
    result = estimator.estimate(0.3, 0.4, frame=_texture(4))
    assert result.homography is None and result.source == 'none'
    assert result.reason == 'mode off'


@pytest.mark.parametrize('kwargs, match', [
    ({'mode': 'gps'}, 'mode'), ({'min_camera_height': 0.0}, 'min_camera_height'),
    ({'ground_height': float('nan')}, 'ground_height'),
    ({'stamp_tolerance': -1.0}, 'stamp_tolerance'),
    ({'use_ground_plane': 'yes'}, 'use_ground_plane'),
    ({'image': {'model': 'affine'}}, 'ImageMotionConfig'),
    ({'odom_buffer_size': 1}, 'max_samples'), ({'odom_max_gap': -0.5}, 'max_gap'),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EgoMotionConfig(**kwargs)


def test_set_extrinsic_forms_agree():
    estimator = EgoMotionEstimator(EgoMotionConfig(image=ImageMotionConfig()))
    with pytest.raises(ValueError):
        estimator.set_extrinsic(Pose.identity(), rotation_rpy=FORWARD_RPY)
    with pytest.raises(ValueError):
        estimator.set_camera(K)
    estimator.set_extrinsic(make_extrinsic(EXTRINSIC_XYZ, rotation_rpy=FORWARD_RPY))
    estimator.set_camera(PinholeCamera(K))
    _add_yawing_odometry(estimator)
    from_pose = estimator.estimate(0.3, 0.4).homography
    estimator.set_extrinsic(EXTRINSIC_XYZ, quaternion_xyzw=[-0.5, 0.5, -0.5, 0.5])
    np.testing.assert_allclose(estimator.estimate(0.3, 0.4).homography, from_pose,
                               atol=1e-12)


def test_camera_pose_at_composes_odometry_and_extrinsic():
    estimator = _estimator(mode='auto')
    assert estimator.camera_pose_at(0.3) is None
    _add_yawing_odometry(estimator)
    _, _, expected = _expected_motion(0.3, 0.4)
    pose = estimator.camera_pose_at(0.3)
    np.testing.assert_allclose(pose.rotation, expected.rotation, atol=1e-12)
    np.testing.assert_allclose(pose.translation, expected.translation, atol=1e-12)
    assert estimator.camera_pose_at(5.0) is None
    assert estimator.odometry.last_miss_reason == 'stale'
