"""
RViz markers of world-frame tracks: a camera's ``TrackArray`` and the fusion's global tracks.

Per track a body, its id as text, its velocity as an arrow and the 2-sigma ellipse of its
position on the ground (what a planner inflates obstacles by), in the identity's colour
(:func:`~deepsort_ros.ros.display.colours.track_colour_bgr`, as on the annotated image);
markers of tracks that ended are deleted.
"""

from typing import Any, Iterable, List, NamedTuple, Set

from deepsort_ros.ros.display.colours import track_colour_bgr
from deepsort_ros_msgs.msg import Track
from geometry_msgs.msg import Point, Pose
import numpy as np
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray


# Markers per track: a body, its id as text, its velocity as an arrow, the 2-sigma ellipse of
# its position on the ground (what a planner inflates obstacles by).
MARKERS_PER_TRACK = 4
ELLIPSE_SIGMAS = 2.0
ELLIPSE_THICKNESS_M = 0.02
ELLIPSE_ALPHA = 0.35
BODY_DIAMETER_M = 0.5
BODY_HEIGHT_M = 1.7
LABEL_HEIGHT_M = 2.0
LABEL_SIZE_M = 0.4
ARROW_SHAFT_M, ARROW_HEAD_M = 0.08, 0.15
MARKER_ALPHA = 0.9
# Tracks that are no longer estimated have no marker (and their old ones are deleted).
UNSHOWN_STATES = (Track.STATE_LOST, Track.STATE_DELETED)


class MarkerBuilder:
    """
    Build RViz markers for world-frame tracks and delete those of tracks that ended.

    Parameters
    ----------
    namespace : str
        Marker namespace.

    """

    def __init__(self, namespace: str = 'deepsort') -> None:
        self._namespace = namespace
        self._shown: Set[int] = set()

    def build(self, track_array: Any) -> MarkerArray:
        """Return a ``MarkerArray`` for the world-valid tracks of ``track_array``."""
        out = MarkerArray()
        shown: Set[int] = set()
        for track in track_array.tracks:
            if not track.world_valid or track.state in UNSHOWN_STATES:
                continue
            shown.add(track.id)
            out.markers += self._track_markers(track_array, track)
        out.markers += self._deletions(track_array, sorted(self._shown - shown))
        self._shown = shown
        return out

    def _marker(self, track_array: Any, track_id: int, offset: int, action: int) -> Marker:
        # A header of its own: the TrackArray's keeps naming the camera frame.
        header = Header(stamp=track_array.header.stamp, frame_id=track_array.world_frame_id)
        return Marker(header=header, ns=self._namespace, action=action,
                      id=int(track_id) * MARKERS_PER_TRACK + offset)

    def _track_markers(self, track_array: Any, track: Any) -> List[Marker]:
        b, g, r = track_colour_bgr(track.id)
        ground = track.pose.pose.position
        body, text, arrow, ellipse = (self._marker(track_array, track.id, offset, Marker.ADD)
                                      for offset in range(MARKERS_PER_TRACK))
        for marker in (body, text, arrow, ellipse):
            marker.pose = Pose()
            marker.pose.orientation.w = 1.0
            marker.color.r, marker.color.g, marker.color.b = r / 255.0, g / 255.0, b / 255.0
            marker.color.a = MARKER_ALPHA
        body.type = Marker.CYLINDER
        body.scale.x = body.scale.y = BODY_DIAMETER_M
        body.scale.z = BODY_HEIGHT_M
        body.pose.position = Point(x=ground.x, y=ground.y, z=ground.z + BODY_HEIGHT_M / 2.0)
        text.type = Marker.TEXT_VIEW_FACING
        text.text = f'{track.id} {track.class_id}'
        text.scale.z = LABEL_SIZE_M
        text.pose.position = Point(x=ground.x, y=ground.y, z=ground.z + LABEL_HEIGHT_M)
        arrow.type = Marker.ARROW
        arrow.scale.x, arrow.scale.y, arrow.scale.z = ARROW_SHAFT_M, ARROW_HEAD_M, ARROW_HEAD_M
        velocity = track.twist.twist.linear
        arrow.points = [Point(x=ground.x, y=ground.y, z=ground.z),
                        Point(x=ground.x + velocity.x, y=ground.y + velocity.y, z=ground.z)]
        ellipse.type = Marker.CYLINDER
        ellipse.color.a = ELLIPSE_ALPHA
        covariance = np.nan_to_num(np.asarray(track.pose.covariance).reshape(6, 6)[:2, :2])
        variances, axes = np.linalg.eigh(0.5 * (covariance + covariance.T))
        # A cylinder's x and y scales are its diameters: twice ELLIPSE_SIGMAS sigmas.
        ellipse.scale.x, ellipse.scale.y = (
            float(2.0 * ELLIPSE_SIGMAS * np.sqrt(max(v, 0.0))) for v in variances[::-1])
        ellipse.scale.z = ELLIPSE_THICKNESS_M
        yaw = float(np.arctan2(axes[1, 1], axes[0, 1]))  # of the major axis
        ellipse.pose.orientation.z, ellipse.pose.orientation.w = np.sin(yaw / 2), np.cos(yaw / 2)
        ellipse.pose.position = Point(x=ground.x, y=ground.y,
                                      z=ground.z + ELLIPSE_THICKNESS_M / 2.0)
        return [body, text, arrow, ellipse]

    def _deletions(self, track_array: Any, track_ids: Iterable[int]) -> List[Marker]:
        return [self._marker(track_array, track_id, offset, Marker.DELETE)
                for track_id in track_ids for offset in range(MARKERS_PER_TRACK)]


class GlobalMarkerBuilder:
    """
    RViz markers of global tracks (bodies, ids with their cameras, velocity arrows).

    The same markers as a camera's (:class:`MarkerBuilder`), labelled with the cameras whose
    tracks make up each identity; those of identities that ended are deleted.

    Parameters
    ----------
    namespace : str
        Marker namespace.

    """

    def __init__(self, namespace: str = 'track_fusion') -> None:
        self._builder = MarkerBuilder(namespace)

    def build(self, global_tracks: Any) -> MarkerArray:
        """Return a ``MarkerArray`` for the world-valid tracks of a ``GlobalTrackArray``."""
        view = _MarkerArrayView(global_tracks.header, global_tracks.header.frame_id, [
            _MarkerTrackView(t.id, t.world_valid, Track.STATE_CONFIRMED, t.pose, t.twist,
                             '+'.join(m.camera for m in t.members if m.local_id))
            for t in global_tracks.tracks])
        return self._builder.build(view)


class _MarkerTrackView(NamedTuple):
    # What MarkerBuilder reads of a Track.
    id: int  # noqa: A003 - the message field's name
    world_valid: bool
    state: int
    pose: Any
    twist: Any
    class_id: str


class _MarkerArrayView(NamedTuple):
    # What MarkerBuilder reads of a TrackArray.
    header: Any
    world_frame_id: str
    tracks: List[_MarkerTrackView]
