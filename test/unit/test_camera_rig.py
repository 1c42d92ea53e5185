"""The PETS09 camera rig: a fitted real camera, virtual cameras with consistent world poses."""

from deepsort_ros.ego_motion import EgoMotionConfig, EgoMotionEstimator
from deepsort_ros.recordings.mot import load_mot_rows
from deepsort_ros.sim.camera_rig import CameraRig, gap_rig, ground_points, overlap_rig, RigCamera
from deepsort_ros.sim.ground_camera import fit_ground_camera, GroundCamera, PETS09_CAMERA
import numpy as np
import pytest


def scored_gt(shared_dir):
    """Return PETS09-S2L1's scored gt rows."""
    gt = load_mot_rows(shared_dir / 'data' / 'PETS09-S2L1' / 'gt' / 'gt.txt')
    return gt[gt[:, 6] == 1]


def feet(rows):
    """Return the bottom-centres of rows' boxes, (N, 2)."""
    return np.stack([rows[:, 2] + rows[:, 4] / 2.0, rows[:, 3] + rows[:, 5]], axis=1)


def test_the_fit_reproduces_the_pets09_camera(shared_dir):
    gt = scored_gt(shared_dir)
    rough = GroundCamera(1000.0, 768, 576, (-25.0, -20.0), 6.0, 30.0, 15.0, 0.0)
    fitted, residual = fit_ground_camera(feet(gt), gt[:, 7:9], 768, 576, rough)
    assert np.median(residual) < 0.7
    assert abs(fitted.focal_px - PETS09_CAMERA.focal_px) < 1.0
    assert np.allclose(fitted.position_xy, PETS09_CAMERA.position_xy, atol=0.01)
    assert abs(fitted.height_m - PETS09_CAMERA.height_m) < 0.01
    for name in ('heading_deg', 'pitch_deg', 'roll_deg'):
        assert abs(getattr(fitted, name) - getattr(PETS09_CAMERA, name)) < 0.02
    world = np.column_stack([gt[:, 7:9], np.zeros(len(gt))])
    assert np.median(np.linalg.norm(PETS09_CAMERA.project(world) - feet(gt), axis=1)) < 0.7


@pytest.mark.parametrize('make', [overlap_rig, gap_rig])
def test_the_pixel_map_is_exact_for_every_scene_point(make):
    rig = make()
    points = np.random.default_rng(0).uniform([-15, -12, 0], [-2, -2, 2], (50, 3))
    real_uv = PETS09_CAMERA.project(points)
    for view in rig.views.values():
        for t in (0.0, 3.3, 17.0):
            pose = view.camera_pose_at(t)
            camera = (points - pose.translation) @ pose.rotation
            expected = camera[:, :2] / camera[:, 2:3] * view.intrinsics[0, 0] \
                + view.intrinsics[:2, 2]
            mapped = np.column_stack([real_uv, np.ones(len(points))]) @ view.homography_at(t).T
            assert np.allclose(mapped[:, :2] / mapped[:, 2:3], expected, atol=1e-6)


def test_layouts_look_where_they_were_asked():
    for make, width, columns in ((overlap_rig, 460, (230.0, 538.0)),
                                 (gap_rig, 284, (142.0, 626.0))):
        rig = make()
        assert rig.names == ['left', 'right']
        for view, column in zip(rig.views.values(), columns):
            assert (view.width, view.height) == (width, 576)
            centre = np.linalg.solve(view.homography_at(0.0), [width / 2.0, 288.0, 1.0])
            assert abs(centre[0] / centre[2] - column) < 1e-6
        assert rig['left'].yaw_offset_deg > 0 > rig['right'].yaw_offset_deg
        assert rig['left'].keeps(3) and not rig['right'].keeps(3) and rig['right'].keeps(4)


def test_the_motion_a_node_computes_from_the_odometry_is_the_rigs():
    view = overlap_rig()['right']
    estimator = EgoMotionEstimator(EgoMotionConfig(mode='odometry'))
    estimator.set_extrinsic(view.base_to_camera)
    estimator.set_camera(view.camera)
    for t in (0.0, 1 / 7, 2 / 7):
        base = view.base_pose_at(t)
        estimator.add_odometry(t, base.translation, view.quaternion_xyzw_at(t))
    homography = estimator.estimate(1 / 7, 2 / 7).homography
    expected = view.frame_to_frame(1 / 7, 2 / 7)
    assert np.allclose(homography / homography[2, 2], expected / expected[2, 2], atol=1e-6)
    pose = estimator.camera_pose_at(2 / 7)
    assert np.allclose(pose.rotation, view.camera_pose_at(2 / 7).rotation, atol=1e-9)
    assert np.allclose(pose.translation, [-28.933, -19.544, 7.128])


def test_two_cameras_put_one_person_on_one_ground_point(shared_dir):
    gt = load_mot_rows(shared_dir / 'data' / 'PETS09-S2L1' / 'gt' / 'gt.txt')
    rig = overlap_rig()
    points = {}
    for name, view in rig.views.items():
        rows = view.warp_rows(gt, 7.0)
        assert np.all([view.keeps(f) for f in rows[:, 0].astype(int)])
        xy, valid = ground_points(view, rows, 7.0)
        assert valid.all()
        # Each camera alone lands where PETS09 says the person stands.
        assert np.median(np.linalg.norm(xy - rows[:, 7:9], axis=1)) < 0.1
        points[name] = {(int(f), int(i)): p for (f, i), p in zip(rows[:, :2], xy)}
    shared = sorted(set(points['left']) & set(points['right']))
    assert len(shared) > 300
    distance = [np.linalg.norm(points['left'][k] - points['right'][k]) for k in shared]
    assert np.median(distance) < 0.15


def test_the_gap_layout_sees_nobody_twice(shared_dir):
    gt = load_mot_rows(shared_dir / 'data' / 'PETS09-S2L1' / 'gt' / 'gt.txt')
    rig = gap_rig()
    left, right = (rig[name].warp_rows(gt, 7.0) for name in rig.names)
    both = {tuple(r) for r in left[:, :2].astype(int).tolist()} & \
        {tuple(r) for r in right[:, :2].astype(int).tolist()}
    assert len(left) > 500 and len(right) > 500 and not both


def test_bad_rigs_are_refused():
    with pytest.raises(ValueError, match='distinct'):
        CameraRig([RigCamera('a', 300, 200.0), RigCamera('a', 300, 500.0)])
    with pytest.raises(ValueError, match='drop_every'):
        CameraRig([RigCamera('a', 300, 200.0, drop_every=1)])
