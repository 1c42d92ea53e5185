"""A core tracker's output as the fusion's input: the node's world estimate or the image one."""

from deepsort_ros.core import Tracker, TrackerConfig, TrackState
from deepsort_ros.fusion.from_tracker import batch_from_tracker
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.ground_projection import image_to_ground
from deepsort_ros.geometry.homography import make_extrinsic
from deepsort_ros.geometry.pose import Pose
from deepsort_ros.world import GroundTrackFilter
import numpy as np
import pytest

K = np.array([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])


def camera_pose() -> Pose:
    """Return a camera 3 m above the ground, looking forward and 20 degrees down."""
    base = Pose(np.eye(3), np.array([1.0, 2.0, 3.0]))
    return base.compose(make_extrinsic(np.zeros(3), np.radians([-110.0, 0.0, -90.0])))


def tracked(frames: int = 4, world_filter=None):
    """
    Return a tracker's output after ``frames`` updates of two people (one appears late).

    With ``world_filter`` (a GroundTrackFilter) also its rows of the last update, the filter
    run on every update as the node's pipeline runs it.
    """
    tracker = Tracker(TrackerConfig(n_init=2, confirm_first_frame=False))
    features = np.eye(2, 8, dtype=np.float32)
    out, world = [], None
    for k in range(frames):
        boxes = [[300.0 + 2 * k, 200.0, 40.0, 100.0]]
        feats = features[:1]
        if k == frames - 1:
            boxes.append([100.0, 250.0, 40.0, 100.0])
            feats = features
        out = tracker.update(np.array(boxes), features=feats, timestamp=0.1 * k)
        if world_filter is not None:
            world = world_filter.update(0.1 * k, out, np.array(boxes),
                                        PinholeCamera(K, 640, 480), camera_pose())
    return (out, world) if world_filter is not None else out


def test_positions_are_the_ground_points_of_the_box_bottoms():
    tracks = tracked()
    confirmed = [t for t in tracks if t.state is TrackState.CONFIRMED]
    assert len(confirmed) == 1 and any(t.state is TrackState.TENTATIVE for t in tracks)
    batch = batch_from_tracker(tracks, PinholeCamera(K, 640, 480), camera_pose(), 0.0,
                               'osnet:sha256:00', 'run-1')
    assert list(batch.local_ids) == [confirmed[0].track_id]
    assert batch.detected.tolist() == [True] and batch.world_valid.tolist() == [True]
    box = confirmed[0].box_cxcywh
    expected, _, ok = image_to_ground(K, camera_pose(), 0.0,
                                      [[box[0], box[1] + box[3] / 2.0]])
    assert ok[0] and np.allclose(batch.position_xy, expected, atol=1e-6)
    assert np.all(np.linalg.eigvalsh(batch.position_cov[0]) > 0.0)
    assert np.allclose(batch.features[0], confirmed[0].feature)
    assert (batch.encoder, batch.source_id) == ('osnet:sha256:00', 'run-1')


def test_without_a_camera_or_pose_nothing_is_on_the_ground():
    batch = batch_from_tracker(tracked(), None, None)
    assert len(batch) == 1 and not batch.world_valid.any()
    assert len(batch_from_tracker([], PinholeCamera(K, 640, 480), camera_pose())) == 0


def test_the_world_estimate_is_taken_as_the_node_publishes_it():
    tracks, world = tracked(world_filter=GroundTrackFilter())
    rows = [i for i, t in enumerate(tracks) if t.state is TrackState.CONFIRMED]
    assert len(rows) == 1 and len(world.valid) == len(tracks) == 2
    batch = batch_from_tracker(tracks, None, None, world=world)
    assert list(batch.local_ids) == [tracks[rows[0]].track_id]
    assert batch.world_valid.tolist() == [True]
    assert np.array_equal(batch.position_xy, world.position_xy[rows])
    assert np.array_equal(batch.position_cov, world.position_cov[rows])
    assert np.array_equal(batch.velocity_xy, world.velocity_xy[rows])
    assert np.array_equal(batch.velocity_cov, world.velocity_cov[rows])
    # The world filter's velocity is not the image estimate's: the two paths differ.
    image = batch_from_tracker(tracks, PinholeCamera(K, 640, 480), camera_pose())
    assert not np.allclose(batch.velocity_cov, image.velocity_cov)


def test_a_world_estimate_of_other_tracks_is_refused():
    tracks, world = tracked(world_filter=GroundTrackFilter())
    with pytest.raises(ValueError, match='rows for'):
        batch_from_tracker(tracks[:1], None, None, world=world)
