"""
A core tracker's output as the fusion's input: the :class:`CameraBatch` of one camera update.

Two ground estimates can fill it. Given ``world`` (the rows of
:meth:`deepsort_ros.world.GroundTrackFilter.update`), the batch holds what the node's pipeline
publishes in the world fields of its ``TrackArray``: a ground-plane filter per track, fed by
its detection's contact point. Without it, the image estimate is carried to the ground by
:func:`deepsort_ros.geometry.ground_projection.ground_tracks` (the bottom-centre of the image
Kalman box, its covariance and velocity from that filter, through the camera pose): what the
node published before the ground filter, no longer what any node sends. ``bench_fusion.py``
builds both (its "node world fields" and "image KF projected" rows); the node and
``deepsort-ros fuse`` read the world fields from ``TrackArray`` messages
(:func:`deepsort_ros.ros.convert.global_tracks.track_array_to_camera_batch`) instead.

:mod:`deepsort_ros.geometry` is imported when a batch is made, not with this module: its
package also holds the OpenCV camera model, and the fusion must import without OpenCV.
"""

from typing import Optional, Sequence, TYPE_CHECKING

from deepsort_ros.core.track_state import TrackOutput, TrackState
from deepsort_ros.fusion.inputs import CameraBatch
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from deepsort_ros.geometry.camera_model import PinholeCamera
    from deepsort_ros.geometry.ground_projection import GroundProjectionConfig, GroundTracks
    from deepsort_ros.geometry.pose import Pose


def ground_tracks(tracks: Sequence[TrackOutput], camera: 'PinholeCamera',
                  pose_world_camera: 'Pose', ground_height: float = 0.0,
                  config: Optional['GroundProjectionConfig'] = None) -> 'GroundTracks':
    """
    Project tracks' image estimates (box bottom-centres, velocities, covariances) to the ground.

    :func:`deepsort_ros.geometry.ground_projection.ground_tracks`, imported when called (the
    ground filter starts a new track's world state from it).

    Parameters
    ----------
    tracks : sequence of TrackOutput
        N tracks of one update (boxes in the image of ``pose_world_camera``).
    camera : PinholeCamera
        The camera of that image.
    pose_world_camera : Pose
        Camera optical frame in the world frame at the update's stamp.
    ground_height : float
        Height of the ground plane in the world frame, m.
    config : GroundProjectionConfig, optional
        Range and horizon limits of the projection.

    Returns
    -------
    GroundTracks
        N rows.

    """
    from deepsort_ros.geometry.ground_projection import ground_tracks as project

    return project(tracks, camera, pose_world_camera, ground_height, config)


def batch_from_tracker(tracks: Sequence[TrackOutput], camera: Optional['PinholeCamera'],
                       pose_world_camera: Optional['Pose'], ground_height: float = 0.0,
                       encoder: str = '', source_id: str = '', world_frame: str = '',
                       config: Optional['GroundProjectionConfig'] = None,
                       world: Optional['GroundTracks'] = None) -> CameraBatch:
    """
    Make the fusion input of one camera update from the core tracker's output.

    Parameters
    ----------
    tracks : sequence of TrackOutput
        One ``Tracker.update``'s output; only CONFIRMED and COASTING tracks are kept.
    camera : PinholeCamera, optional
        The camera; None leaves every track without a world estimate.
    pose_world_camera : Pose, optional
        Camera in the world frame; None leaves every track without a world estimate.
    ground_height : float
        m.
    encoder : str
        Name and weights digest of the encoder behind the tracks' features.
    source_id : str
        The tracker run's identity (its track-UUID namespace).
    world_frame : str
        Frame of ``pose_world_camera`` (the node's ``world_frame_id``).
    config : GroundProjectionConfig, optional
        Range and horizon limits of the projection.
    world : GroundTracks, optional
        Rows aligned with ``tracks`` (all of them): the node's world estimate of each track
        (:meth:`deepsort_ros.world.GroundTrackFilter.update`), used as it is instead of the
        image estimate's projection; ``camera`` and ``pose_world_camera`` are then unused.

    Returns
    -------
    CameraBatch
        With features when the tracks carry them (zero rows for those without).

    """
    rows = [i for i, t in enumerate(tracks)
            if t.state in (TrackState.CONFIRMED, TrackState.COASTING)]
    kept = [tracks[i] for i in rows]
    if not kept:
        return CameraBatch.empty(encoder, source_id, world_frame)
    n = len(kept)
    if world is not None:
        if len(world.valid) != len(tracks):
            raise ValueError(f'world has {len(world.valid)} rows for {len(tracks)} tracks')
        position, position_cov = world.position_xy[rows], world.position_cov[rows]
        velocity, velocity_cov = world.velocity_xy[rows], world.velocity_cov[rows]
        valid = world.valid[rows]
    elif camera is not None and pose_world_camera is not None:
        ground = ground_tracks(kept, camera, pose_world_camera, ground_height, config)
        position, position_cov = ground.position_xy, ground.position_cov
        velocity, velocity_cov, valid = ground.velocity_xy, ground.velocity_cov, ground.valid
    else:
        position = velocity = np.full((n, 2), np.nan)
        position_cov = velocity_cov = np.full((n, 2, 2), np.nan)
        valid = np.zeros(n, dtype=bool)
    dims = {len(t.feature) for t in kept if t.feature is not None}
    features = None
    if len(dims) == 1:
        features = np.zeros((n, dims.pop()), dtype=np.float32)
        for i, t in enumerate(kept):
            if t.feature is not None:
                features[i] = t.feature
    return CameraBatch(np.array([t.track_id for t in kept], dtype=np.int64),
                       np.array([t.state is TrackState.CONFIRMED for t in kept]),
                       position, position_cov, velocity, velocity_cov, valid, features, encoder,
                       source_id, world_frame)
