"""The ground-plane world filter: calibrated on a scene whose truth is known, and its edges."""

from deepsort_ros.core.track_state import TrackOutput, TrackState
from deepsort_ros.geometry import image_to_ground
from deepsort_ros.sim.ground_camera import PETS09_CAMERA
from deepsort_ros.world import GroundFilterConfig, GroundTrackFilter
import numpy as np
import pytest

CAMERA = PETS09_CAMERA
FPS = 7.0
PERSON_HEIGHT_M = 1.75


def _pinhole():
    from deepsort_ros.geometry import PinholeCamera

    return PinholeCamera(CAMERA.intrinsics, CAMERA.width, CAMERA.height)


def _box_tlwh(foot_xy: np.ndarray) -> np.ndarray:
    # The box of a person standing at foot_xy: bottom-centre at the foot, top at the head.
    foot, head = CAMERA.project([[*foot_xy, 0.0], [*foot_xy, PERSON_HEIGHT_M]])
    height = foot[1] - head[1]
    return np.array([foot[0] - 0.2 * height, head[1], 0.4 * height, height])


def _track(track_id: int, box_tlwh: np.ndarray, detection_index: int,
           state: TrackState = TrackState.CONFIRMED, velocity_uv=(0.0, 0.0),
           velocity_var_px=1e6) -> TrackOutput:
    # The image velocity is unknown (1000 px/s sigma) unless a test says otherwise.
    box = np.array([box_tlwh[0] + box_tlwh[2] / 2, box_tlwh[1] + box_tlwh[3] / 2,
                    box_tlwh[2], box_tlwh[3]])
    covariance = np.eye(8)
    covariance[4:, 4:] *= velocity_var_px
    return TrackOutput(track_id, state, 0, 0.9, 1, 1, 0.0, box, box_tlwh,
                       np.array([*velocity_uv, 0.0, 0.0]), covariance, detection_index,
                       detection_index < 0)


def _walk(filter_, rng, start_xy, velocity_xy, frames, noise_px, std_acceleration=0.0,
          bias_px=(0.0, 0.0)):
    # One person walking (white-noise acceleration); detections' bottoms carry pixel noise,
    # white plus an offset drawn once per walk (the detector's persistent error).
    bias = rng.normal(0.0, bias_px)
    camera = _pinhole()
    results = []
    truth = np.asarray(start_xy, dtype=float)
    velocity = np.asarray(velocity_xy, dtype=float)
    for k in range(frames):
        t = k / FPS
        if k:
            truth = truth + velocity / FPS
            velocity = velocity + rng.normal(0.0, std_acceleration / np.sqrt(FPS), 2)
        box = _box_tlwh(truth)
        noisy = box.copy()
        noisy[0] += rng.normal(0.0, noise_px[0]) + bias[0]
        noisy[1] += rng.normal(0.0, noise_px[1]) + bias[1]  # the bottom moves with the box
        out = filter_.update(t, [_track(7, box, 0)], noisy[None, :], camera, CAMERA.pose)
        results.append((truth, velocity, out, noisy))
    return results


def test_positions_and_velocities_are_better_than_the_detections_and_calibrated():
    config = GroundFilterConfig(contact_std_px=(3.0, 5.0), contact_std_height=(0.0, 0.0),
                                contact_bias_std_px=(1.0, 3.0), contact_bias_std_size=(0.0, 0.0),
                                measurement_correlation_time=0.0, measurement_std_floor=0.0)
    rng = np.random.default_rng(3)
    z_position, z_velocity, errors, speed_errors, detection_errors = [], [], [], [], []
    for _ in range(40):
        filter_ = GroundTrackFilter(config)
        start = rng.uniform([-15.0, -5.0], [5.0, 5.0])
        heading = rng.uniform(0.0, 2.0 * np.pi)
        walk = _walk(filter_, rng, start, 1.2 * np.array([np.cos(heading), np.sin(heading)]),
                     35, (3.0, 5.0), config.std_acceleration, config.contact_bias_std_px)
        for k, (truth, velocity, out, noisy) in enumerate(walk):
            assert out.valid[0]
            if k < 10:
                continue
            error = out.position_xy[0] - truth
            errors.append(np.linalg.norm(error))
            foot = [[noisy[0] + noisy[2] / 2, noisy[1] + noisy[3]]]
            alone, _, _ = image_to_ground(CAMERA.intrinsics, CAMERA.pose, 0.0, foot)
            detection_errors.append(np.linalg.norm(alone[0] - truth))
            speed_errors.append(np.linalg.norm(out.velocity_xy[0] - velocity))
            z_position.append(error @ np.linalg.solve(out.position_cov[0], error))
            dv = out.velocity_xy[0] - velocity
            z_velocity.append(dv @ np.linalg.solve(out.velocity_cov[0], dv))
    assert np.median(errors) < 0.85 * np.median(detection_errors)
    assert np.median(speed_errors) < 0.5  # of a 1.2 m/s walk
    # 2-D Mahalanobis distances of a calibrated filter: mean 2 (chi-square, 2 dof).
    assert 1.4 < np.mean(z_position) < 2.8
    assert 1.4 < np.mean(z_velocity) < 2.8


def test_measurement_noise_is_long_along_the_line_of_sight():
    filter_ = GroundTrackFilter()
    foot = np.array([-10.0, 0.0])
    out = filter_.update(0.0, [_track(1, _box_tlwh(foot), 0)], _box_tlwh(foot)[None, :],
                         _pinhole(), CAMERA.pose)
    along = foot - CAMERA.centre[:2]
    along /= np.linalg.norm(along)
    across = np.array([-along[1], along[0]])
    covariance = out.position_cov[0]
    assert along @ covariance @ along > 4.0 * (across @ covariance @ across)


def test_coasting_tracks_are_predicted_and_grow_uncertain():
    filter_ = GroundTrackFilter()
    rng = np.random.default_rng(0)
    _, _, last, _ = _walk(filter_, rng, (-10.0, 0.0), (1.0, 0.0), 20, (1.0, 1.0))[-1]
    box = _box_tlwh((-7.0, 0.0))
    t = 20 / FPS
    coasting = filter_.update(t + 1.0, [_track(7, box, -1, TrackState.COASTING)],
                              np.zeros((0, 4)), _pinhole(), CAMERA.pose)
    assert coasting.valid[0]
    moved = coasting.position_xy[0] - last.position_xy[0]
    assert moved[0] == pytest.approx(last.velocity_xy[0][0] * (1.0 + 1.0 / FPS), abs=1e-6)
    assert np.trace(coasting.position_cov[0]) > np.trace(last.position_cov[0])


def test_young_tentative_and_forgotten_tracks():
    filter_ = GroundTrackFilter()
    camera = _pinhole()
    box = _box_tlwh((-10.0, 2.0))
    # A tentative track (id 0) gets its detection's projection and is not kept.
    out = filter_.update(0.0, [_track(0, box, 0, TrackState.TENTATIVE)], box[None, :], camera,
                         CAMERA.pose)
    assert out.valid[0] and len(filter_) == 0
    assert out.position_xy[0] == pytest.approx([-10.0, 2.0], abs=0.05)
    # A new id starts with the walking prior (its image velocity is unknown); a coasting id
    # without a filter is invalid.
    out = filter_.update(0.1, [_track(3, box, 0), _track(4, box, -1, TrackState.COASTING)],
                         box[None, :], camera, CAMERA.pose)
    assert out.valid.tolist() == [True, False]
    assert np.sqrt(out.velocity_cov[0][0, 0]) == pytest.approx(
        GroundFilterConfig().initial_velocity_std, rel=0.01)
    # Ids no longer reported are forgotten; a stamp earlier than a state starts it again.
    filter_.update(0.2, [], np.zeros((0, 4)), camera, CAMERA.pose)
    assert len(filter_) == 0
    filter_.update(5.0, [_track(3, box, 0)], box[None, :], camera, CAMERA.pose)
    out = filter_.update(1.0, [_track(3, box, 0)], box[None, :], camera, CAMERA.pose)
    assert np.sqrt(out.velocity_cov[0][0, 0]) == pytest.approx(
        GroundFilterConfig().initial_velocity_std, rel=0.01)


def test_a_detection_index_out_of_range_is_not_a_measurement():
    filter_ = GroundTrackFilter()
    box = _box_tlwh((-10.0, 2.0))
    out = filter_.update(0.0, [_track(3, box, 5)], box[None, :], _pinhole(), CAMERA.pose)
    assert not out.valid[0]


@pytest.mark.parametrize('settings', [
    {'contact_std_px': (1.0,)}, {'contact_std_px': (-1.0, 1.0)},
    {'contact_std_px': (0.0, 0.0), 'contact_std_height': (0.0, 0.0)},
    {'std_acceleration': 0.0}, {'initial_velocity_std': float('nan')},
    {'contact_bias_std_px': (0.0, -1.0)}, {'contact_bias_std_size': (0.01,)},
    {'contact_bias_std_size': (float('nan'), 0.01)},
    {'measurement_correlation_time': -1.0}, {'outlier_gate': 0.0},
    {'relinearise_max_ratio': 0.5}, {'relinearise_max_ratio': float('inf')}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError):
        GroundFilterConfig(**settings)


def test_a_contact_point_far_off_the_prediction_is_down_weighted_and_counted():
    filter_ = GroundTrackFilter()
    camera = _pinhole()
    rng = np.random.default_rng(1)
    _, _, last, _ = _walk(filter_, rng, (-10.0, 0.0), (1.0, 0.0), 15, (1.0, 1.0))[-1]
    assert filter_.outliers == 0
    # A box bottom cut by an occluder: the contact point lands metres short.
    truth = last.position_xy[0] + last.velocity_xy[0] / FPS
    cut = _box_tlwh(truth)
    cut[3] *= 0.6
    out = filter_.update(15 / FPS, [_track(7, _box_tlwh(truth), 0)], cut[None, :], camera,
                         CAMERA.pose)
    assert filter_.outliers == 1
    assert np.linalg.norm(out.position_xy[0] - truth) < 0.5


def test_a_young_track_velocity_fuses_the_walking_prior_with_the_image_velocity():
    camera = _pinhole()
    box = _box_tlwh((-10.0, 2.0))
    sigma = GroundFilterConfig().initial_velocity_std
    # An image velocity with no information: the walking prior, zero-mean.
    unknown = GroundTrackFilter().update(
        0.0, [_track(3, box, 0, velocity_uv=(500.0, 0.0), velocity_var_px=1e10)],
        box[None, :], camera, CAMERA.pose)
    assert np.linalg.norm(unknown.velocity_xy[0]) < 0.01
    assert np.sqrt(unknown.velocity_cov[0][0, 0]) == pytest.approx(sigma, rel=0.01)
    # A well-measured one (1 px/s): its ground velocity, far more certain than the prior.
    moving = _box_tlwh((-9.0, 2.0))
    velocity_uv = (moving[:2] + [moving[2] / 2, moving[3]]) - (box[:2] + [box[2] / 2, box[3]])
    known = GroundTrackFilter().update(
        0.0, [_track(3, box, 0, velocity_uv=velocity_uv, velocity_var_px=1.0)], box[None, :],
        camera, CAMERA.pose)
    assert known.velocity_xy[0] == pytest.approx([1.0, 0.0], abs=0.1)
    assert np.trace(known.velocity_cov[0]) < 0.1 * np.trace(unknown.velocity_cov[0])


def test_persistent_error_is_published_but_not_averaged():
    camera = _pinhole()
    box = _box_tlwh((-10.0, 2.0))
    plain = GroundTrackFilter(GroundFilterConfig(contact_bias_std_px=(0.0, 0.0),
                                                 contact_bias_std_size=(0.0, 0.0)))
    biased = GroundTrackFilter(GroundFilterConfig(contact_bias_std_px=(0.0, 5.0),
                                                  contact_bias_std_size=(0.0, 0.0)))
    for k in range(20):
        outs = [f.update(k / FPS, [_track(3, box, 0)], box[None, :], camera, CAMERA.pose)
                for f in (plain, biased)]
    # The same estimate; the published covariance keeps the persistent part, which 20
    # frames of averaging shrank away in the plain filter.
    assert outs[0].position_xy[0] == pytest.approx(outs[1].position_xy[0])
    assert outs[1].velocity_cov[0] == pytest.approx(outs[0].velocity_cov[0])
    assert np.trace(outs[1].position_cov[0]) > 3.0 * np.trace(outs[0].position_cov[0])


def test_persistent_error_grows_with_the_box():
    # The same feet seen in a box twice as large (a nearer, or longer-lens, view): the
    # persistent pixel error is a + b * size per axis, the estimate does not change.
    config = GroundFilterConfig(contact_std_height=(0.0, 0.0), contact_bias_std_px=(0.5, 1.0),
                                contact_bias_std_size=(0.01, 0.02))
    assert np.sqrt(np.diagonal(config.bias_covariance_uv([[40.0, 100.0], [80.0, 200.0]]),
                               axis1=1, axis2=2)) == pytest.approx(np.array([[0.9, 3.0],
                                                                             [1.3, 5.0]]))
    camera = _pinhole()
    small = _box_tlwh((-10.0, 2.0))
    large = small.copy()
    large[0] -= small[2] / 2
    large[1] -= small[3]
    large[2:] *= 2.0  # bottom-centre unchanged
    outs = []
    for box in (small, large):
        filter_ = GroundTrackFilter(config)
        for k in range(10):
            out = filter_.update(k / FPS, [_track(3, box, 0)], box[None, :], camera, CAMERA.pose)
        outs.append(out)
    assert outs[1].position_xy[0] == pytest.approx(outs[0].position_xy[0])
    along = np.array([-10.0, 2.0]) - CAMERA.centre[:2]
    along /= np.linalg.norm(along)
    variances = [along @ out.position_cov[0] @ along for out in outs]
    assert variances[1] > 1.5 * variances[0]


def test_depth_replaces_the_contact_point_per_track_and_is_not_an_outlier():
    from deepsort_ros.world import DepthPositions

    camera = _pinhole()
    feet = np.array([[-10.0, 2.0], [-8.0, -2.0]])
    boxes = np.array([_box_tlwh(f) for f in feet])
    tracks = [_track(1, boxes[0], 0), _track(2, boxes[1], 1)]
    filter_ = GroundTrackFilter()
    for k in range(10):  # both on the ground plane, their box bottoms 0.5 m short in range
        short = boxes.copy()
        short[:, 3] += 3.0
        filter_.update(k / FPS, tracks, short, camera, CAMERA.pose)
    # Depth sees track 1 where it is, precisely; track 2 has none.
    depth = DepthPositions(np.array([feet[0], [np.nan, np.nan]]),
                           np.array([0.01 ** 2 * np.eye(2), np.full((2, 2), np.nan)]),
                           np.array([20.0, np.nan]), np.array([True, False]))
    out = filter_.update(10 / FPS, tracks, boxes, camera, CAMERA.pose, depth=depth)
    assert filter_.from_depth.tolist() == [True, False]
    assert filter_.outliers == 0
    assert np.linalg.norm(out.position_xy[0] - feet[0]) < 0.05
    # Without the persistent contact error, its published covariance is depth's, not wider.
    assert np.trace(out.position_cov[0]) < 0.1 * np.trace(out.position_cov[1])


@pytest.mark.parametrize('shift_px', [6.0, -6.0])
def test_relinearised_noise_weighs_a_contact_by_the_estimate_range(shift_px):
    # A box bottom 6 px low lands too near: its noise, linearised where it landed, is too
    # small, so it pulls too hard; carried at the estimate's range it pulls less. One 6 px
    # high lands too far and, relinearised, pulls more.
    camera = _pinhole()
    foot = np.array([0.0, 0.0])
    box = _box_tlwh(foot)
    moved = box.copy()
    moved[1] += shift_px
    line_of_sight = (foot - CAMERA.centre[:2]) / np.linalg.norm(foot - CAMERA.centre[:2])
    pulls = []
    for relinearise in (False, True):
        filter_ = GroundTrackFilter(GroundFilterConfig(relinearise=relinearise))
        for k in range(10):
            filter_.update(k / FPS, [_track(1, box, 0)], box[None, :], camera, CAMERA.pose)
        out = filter_.update(10 / FPS, [_track(1, box, 0)], moved[None, :], camera,
                             CAMERA.pose)
        assert filter_.outliers == 0
        pulls.append((out.position_xy[0] - foot) @ line_of_sight)
    assert np.sign(pulls[0]) == np.sign(pulls[1]) == -np.sign(shift_px)
    if shift_px > 0:
        assert abs(pulls[1]) < 0.97 * abs(pulls[0])
    else:
        assert abs(pulls[1]) > 1.03 * abs(pulls[0])


def _range_bias(relinearise: bool) -> float:
    # 200 people standing 30-40 m from the PETS09 camera, their box bottoms with 10 px of
    # zero-mean noise: the mean error of the estimate along the line of sight over frames
    # 10-19 (one filter, every person a track).
    noise_px = (2.0, 10.0)
    config = GroundFilterConfig(contact_std_px=noise_px, contact_std_height=(0.0, 0.0),
                                contact_bias_std_px=(0.0, 0.0),
                                measurement_correlation_time=0.0, relinearise=relinearise)
    rng = np.random.default_rng(0)
    feet = rng.uniform([-5.0, -3.0], [5.0, 3.0], (200, 2))
    boxes = np.array([_box_tlwh(foot) for foot in feet])
    tracks = [_track(i + 1, box, i) for i, box in enumerate(boxes)]
    line_of_sight = feet - CAMERA.centre[:2]
    line_of_sight /= np.linalg.norm(line_of_sight, axis=1)[:, None]
    filter_ = GroundTrackFilter(config)
    camera = _pinhole()
    errors = []
    for k in range(20):
        noisy = boxes.copy()
        noisy[:, :2] += rng.normal(0.0, noise_px, (len(boxes), 2))
        out = filter_.update(k / FPS, tracks, noisy, camera, CAMERA.pose)
        if k >= 10:
            errors.append(np.sum((out.position_xy - feet) * line_of_sight, axis=1))
    return float(np.mean(errors))


def test_relinearising_shrinks_the_range_bias_of_noisy_box_bottoms():
    # Linearised at the measured contact, near measurements weigh more than far ones (their
    # range noise is smaller) and the estimate settles short of the person.
    linearised_at_contact = _range_bias(relinearise=False)
    relinearised = _range_bias(relinearise=True)
    assert linearised_at_contact < -0.1
    assert abs(relinearised) < 0.5 * abs(linearised_at_contact)
