"""The tracker node's publishers, and how one tracked frame goes out on them."""

from typing import Any

from deepsort_ros.pipeline.tracking import FrameResult
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.display.annotated_image import draw_tracks, TrailHistory
from deepsort_ros.ros.display.markers import MarkerBuilder
from deepsort_ros.settings.tracker import NodeConfig
from deepsort_ros_msgs.msg import TargetStatus, TrackAppearanceArray, TrackArray
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

# TargetStatus.status -> the word drawn on ~/image_annotated (NONE draws nothing).
TARGET_STATES = {TargetStatus.STATUS_TRACKED: 'TRACKED',
                 TargetStatus.STATUS_SEARCHING: 'SEARCHING', TargetStatus.STATUS_LOST: 'LOST',
                 TargetStatus.STATUS_CANDIDATE: 'CANDIDATE'}


class TrackerOutputs:
    """
    ``~/tracks``, ``~/appearances``, ``~/target``, ``~/markers`` and ``~/image_annotated``.

    Created on ``configure`` (lifecycle publishers: silent until ``activate``), destroyed on
    ``cleanup``. Markers and the annotated image follow the run-time parameters
    ``publish_markers`` and ``annotated_image`` of the config they are given per frame.

    Parameters
    ----------
    node : rclpy.lifecycle.LifecycleNode
    config : NodeConfig
        ``trail_length`` and ``trail_max_jump`` (read-only) shape the drawn trails.

    """

    def __init__(self, node: Any, config: NodeConfig) -> None:
        self._node = node
        self._trails = TrailHistory(config.trail_length, config.trail_max_jump)
        self._markers = MarkerBuilder()
        self.tracks = node.create_lifecycle_publisher(TrackArray, '~/tracks', 10)
        # Re-ID features for a fusion node, keyed by track UUID, sent sparingly.
        self.appearances = node.create_lifecycle_publisher(
            TrackAppearanceArray, '~/appearances', 10)
        self.target = node.create_lifecycle_publisher(TargetStatus, '~/target', 10)
        self.markers = node.create_lifecycle_publisher(MarkerArray, '~/markers', 10)
        self.annotated = node.create_lifecycle_publisher(
            Image, '~/image_annotated', qos_profile_sensor_data)

    def publish(self, result: FrameResult, config: NodeConfig) -> None:
        """Publish one tracked frame's messages (markers and image as ``config`` asks)."""
        if result.appearances is not None:
            # Before the tracks: a fusion node then has a new track's feature when its
            # TrackArray comes.
            self.appearances.publish(result.appearances)
        self.tracks.publish(result.tracks)
        self.target.publish(result.target_status)
        if config.publish_markers:
            self.markers.publish(self._markers.build(result.tracks))
        self._trails.update(result.tracks.tracks)
        wanted = config.annotated_image == 'always' or (
            config.annotated_image == 'auto' and self.annotated.get_subscription_count() > 0)
        if wanted and result.image_bgr is not None:
            canvas = draw_tracks(result.image_bgr, result.tracks, self._trails,
                                 config.annotated_coast_time,
                                 target_state=TARGET_STATES.get(result.target_status.status, ''))
            self.annotated.publish(bgr_to_image_msg(canvas, result.tracks.header))

    def topics(self) -> str:
        """Return the resolved topics, for the node's start-up line."""
        return (f'{self.tracks.topic_name} (deepsort_ros_msgs/TrackArray), '
                f'{self.appearances.topic_name}, {self.markers.topic_name}, '
                f'{self.annotated.topic_name}, {self.target.topic_name}')

    def destroy(self) -> None:
        """Destroy the publishers (``cleanup``)."""
        for pub in (self.tracks, self.appearances, self.target, self.markers, self.annotated):
            self._node.destroy_lifecycle_publisher(pub)
