"""
Multi-camera fusion, ROS-free (numpy, scipy): camera tracks in, global identities out.

``TrackFusion(FusionConfig(...)).update(camera, stamp_s, CameraBatch(...))`` returns one
:class:`GlobalTrackOutput` per person seen by any camera. One module per concept: ``config``
(every threshold), ``inputs`` (what a camera sends, and its checks), ``from_tracker`` (a core
tracker's output as that input, with the node's world estimate or the image one),
``ground_kalman`` (the world-frame filter), ``global_table`` (the stacked global tracks),
``association`` (overlap, handover and appearance-only cost regimes, one assignment),
``cameras`` (names, senders, clocks), ``bindings`` (which local track is bound to which global
track), ``merging`` (one person started twice), ``counters``, ``global_track`` (states and
outputs) and ``fusion`` (the update, a short list of those steps).
"""

from deepsort_ros.fusion.config import FusionConfig
from deepsort_ros.fusion.counters import CameraCounters, FusionCounters
from deepsort_ros.fusion.fusion import TrackFusion
from deepsort_ros.fusion.global_track import GlobalState, GlobalTrackOutput, identity_uuid
from deepsort_ros.fusion.inputs import CameraBatch, CameraTrack

__all__ = ['CameraBatch', 'CameraCounters', 'CameraTrack', 'FusionConfig', 'FusionCounters',
           'GlobalState', 'GlobalTrackOutput', 'identity_uuid', 'TrackFusion']
