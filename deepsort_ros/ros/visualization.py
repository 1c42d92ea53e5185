"""
Pictures of the tracks on the image: boxes, ids and trails of a ``TrackArray``, with OpenCV.

Also the colour of each identity, shared with the RViz markers that
:mod:`deepsort_ros.ros.messages` builds.
"""

from collections import defaultdict, deque
from typing import Any, Deque, Dict, Iterable, Optional, Set, Tuple

import cv2
from deepsort_ros_msgs.msg import Track
import numpy as np
import numpy.typing as npt

TARGET_COLOUR_BGR = (0, 0, 255)
# Line widths, px at 720 rows: the target, confirmed tracks, the others.
TARGET_THICKNESS, CONFIRMED_THICKNESS, OTHER_THICKNESS = 4, 2, 1


def track_colour_bgr(track_id: int) -> Tuple[int, int, int]:
    """Return a stable, well-separated BGR colour for a track id (golden-ratio hues)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    h6 = hue * 6.0
    x = 1.0 - abs(h6 % 2.0 - 1.0)
    sector = int(h6)
    rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)][sector % 6]
    return int(60 + 195 * rgb[2]), int(60 + 195 * rgb[1]), int(60 + 195 * rgb[0])


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
                trails: Optional[TrailHistory] = None) -> npt.NDArray[np.uint8]:
    """
    Draw boxes, IDs and trails of a ``TrackArray`` on a copy of an (H, W, 3) BGR image.

    Confirmed tracks are drawn in their colour, tentative and coasting ones thin (coasting:
    their predicted box), the followed target (``target_index``) thick and red.
    """
    canvas = image_bgr.copy()
    scale = max(canvas.shape[0] / 720.0, 0.5)
    for index, track in enumerate(track_array.tracks):
        is_target = index == track_array.target_index
        colour = TARGET_COLOUR_BGR if is_target else track_colour_bgr(track.id)
        thickness = TARGET_THICKNESS if is_target else (
            CONFIRMED_THICKNESS if track.state == Track.STATE_CONFIRMED else OTHER_THICKNESS)
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
