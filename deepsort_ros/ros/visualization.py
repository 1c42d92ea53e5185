"""
Pictures of the tracks: annotated images (OpenCV) and RViz markers (world frame).

Annotation is ROS-free; markers are built from a ``TrackArray`` with the message classes passed
in, so this module imports no message package.
"""

from collections import defaultdict, deque
from typing import Any, Deque, Dict, Iterable, Optional, Set, Tuple

import cv2
from deepsort_ros.ros.messages import track_colour_bgr
import numpy as np
import numpy.typing as npt

TARGET_COLOUR_BGR = (0, 0, 255)


class TrailHistory:
    """Bounded past box bottom-centres per track id, for drawing trails."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._points: Dict[int, Deque[Tuple[int, int]]] = defaultdict(
            lambda: deque(maxlen=max(length, 1)))

    def update(self, track_ids: Iterable[int], points_xy: npt.NDArray[np.float64]) -> None:
        """Append this frame's points and forget tracks that are gone."""
        alive: Set[int] = set()
        for track_id, (x, y) in zip(track_ids, points_xy):
            alive.add(int(track_id))
            if self.length > 0 and np.isfinite(x) and np.isfinite(y):
                self._points[int(track_id)].append((int(round(x)), int(round(y))))
        for track_id in list(self._points):
            if track_id not in alive:
                del self._points[track_id]

    def points(self, track_id: int) -> Deque[Tuple[int, int]]:
        """Return the remembered points of one track, oldest first."""
        return self._points.get(int(track_id), deque())


def draw_tracks(image_bgr: npt.NDArray[np.uint8], track_array: Any,
                trails: Optional[TrailHistory] = None,
                target_id: Optional[int] = None) -> npt.NDArray[np.uint8]:
    """
    Draw boxes, IDs and trails of a ``TrackArray`` on a copy of an (H, W, 3) BGR image.

    Tentative tracks are drawn thin, coasting ones dashed-looking (thin, with their
    predicted box), the followed target thick and red.
    """
    canvas = image_bgr.copy()
    scale = max(canvas.shape[0] / 720.0, 0.5)
    for track in track_array.tracks:
        colour = TARGET_COLOUR_BGR if target_id is not None and track.id == target_id \
            else track_colour_bgr(track.id)
        thickness = 4 if colour == TARGET_COLOUR_BGR else (2 if track.state == 1 else 1)
        x0 = int(round(track.center_x - track.size_x / 2))
        y0 = int(round(track.center_y - track.size_y / 2))
        x1 = int(round(track.center_x + track.size_x / 2))
        y1 = int(round(track.center_y + track.size_y / 2))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness)
        if trails is not None:
            points = np.array(trails.points(track.id), dtype=np.int32)
            if len(points) > 1:
                cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, colour,
                              max(1, thickness - 1))
        label = f'{track.id}' + (' ?' if track.is_occluded else '')
        (width, height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, 2)
        cv2.rectangle(canvas, (x0, y0 - height - 6), (x0 + width + 4, y0), colour, -1)
        cv2.putText(canvas, label, (x0 + 2, y0 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (0, 0, 0), 2, cv2.LINE_AA)
    return canvas


class MarkerBuilder:
    """
    Build RViz markers for world-frame tracks and delete those of tracks that ended.

    Parameters
    ----------
    marker_types : module
        ``visualization_msgs.msg``.
    namespace : str
        Marker namespace.

    """

    def __init__(self, marker_types: Any, namespace: str = 'deepsort') -> None:
        self._types = marker_types
        self._namespace = namespace
        self._shown: Set[int] = set()

    def build(self, track_array: Any) -> Any:
        """Return a ``MarkerArray`` for the world-valid tracks of ``track_array``."""
        marker_cls = self._types.Marker
        out = self._types.MarkerArray()
        shown: Set[int] = set()
        for track in track_array.tracks:
            if not track.world_valid or track.state > 2:
                continue
            shown.add(track.id)
            b, g, r = track_colour_bgr(track.id)
            for kind, offset in (('body', 0), ('text', 1), ('velocity', 2)):
                marker = marker_cls()
                marker.header = track_array.header
                marker.header.frame_id = track_array.world_frame_id
                marker.ns = self._namespace
                marker.id = int(track.id) * 3 + offset
                marker.action = marker_cls.ADD
                marker.pose = track.pose.pose
                marker.color.r, marker.color.g, marker.color.b = r / 255.0, g / 255.0, b / 255.0
                marker.color.a = 0.9
                if kind == 'body':
                    marker.type = marker_cls.CYLINDER
                    marker.scale.x = marker.scale.y = 0.5
                    marker.scale.z = 1.7
                    marker.pose.position.z = track.pose.pose.position.z + 0.85
                elif kind == 'text':
                    marker.type = marker_cls.TEXT_VIEW_FACING
                    marker.text = f'{track.id} {track.class_id}'
                    marker.scale.z = 0.4
                    marker.pose.position.z = track.pose.pose.position.z + 2.0
                else:
                    marker.type = marker_cls.ARROW
                    marker.scale.x, marker.scale.y, marker.scale.z = 0.08, 0.15, 0.15
                    start = track.pose.pose.position
                    velocity = track.twist.twist.linear
                    marker.points = [self._point(start.x, start.y, start.z),
                                     self._point(start.x + velocity.x, start.y + velocity.y,
                                                 start.z)]
                    marker.pose = type(track.pose.pose)()
                    marker.pose.orientation.w = 1.0
                out.markers.append(marker)
        for gone in sorted(self._shown - shown):
            for offset in range(3):
                marker = marker_cls()
                marker.header = track_array.header
                marker.header.frame_id = track_array.world_frame_id
                marker.ns = self._namespace
                marker.id = int(gone) * 3 + offset
                marker.action = marker_cls.DELETE
                out.markers.append(marker)
        self._shown = shown
        return out

    def _point(self, x: float, y: float, z: float) -> Any:
        from geometry_msgs.msg import Point
        return Point(x=float(x), y=float(y), z=float(z))
