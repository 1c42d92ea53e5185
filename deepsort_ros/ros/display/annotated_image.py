"""
Pictures of the tracks on the image: boxes, ids and trails of a ``TrackArray``, with OpenCV.

Drawn is what a viewer should believe: confirmed tracks matched to a detection in this frame,
solid; coasting ones (predicted, unseen) dashed and thin, and only for a short time after
their last detection; never tentative tracks (they have no identity yet), nor lost or deleted
ones. Trails are made of matched positions only and break where a track jumps (a re-link to
an identity seen elsewhere), so that no line crosses the scene. A legend says what the styles
and the '?' (occluded) mean.

Drawing reads only a ``TrackArray`` and its image, nothing of the tracker node (the shape of
yolo_ros's ``debug_node``): any node or tool that has both draws the same picture.
"""

from collections import deque
from typing import Any, Deque, Dict, Iterable, List, Optional, Set, Tuple

import cv2
from deepsort_ros.ros.display.colours import track_colour_bgr
from deepsort_ros_msgs.msg import Track
import numpy as np
import numpy.typing as npt

TARGET_COLOUR_BGR = (0, 0, 255)
# The target's red box sits on a white one: an identity's colour may be near red too, and the
# person the robot follows must never be taken for another.
TARGET_HALO_BGR = (255, 255, 255)
TARGET_HALO_PX = 3
LEGEND_COLOUR_BGR = (235, 235, 235)
# Line widths, px at 720 rows: the target, matched tracks, coasting ones.
TARGET_THICKNESS, CONFIRMED_THICKNESS, OTHER_THICKNESS = 4, 2, 1
DASH_PX = 8  # dash and gap of a coasting box, px at 720 rows
DEFAULT_COAST_TIME_S = 0.5
DEFAULT_TRAIL_MAX_JUMP = 1.0
# States that have an identity and an estimate worth drawing.
DRAWN_STATES = (Track.STATE_CONFIRMED, Track.STATE_COASTING)


def is_matched(track: Any) -> bool:
    """Tell whether a ``Track`` is confirmed and was matched to a detection in its frame."""
    return track.id != 0 and track.state == Track.STATE_CONFIRMED


def is_drawn(track: Any, coast_time_s: float) -> bool:
    """Tell whether a ``Track`` is drawn: matched, or coasting for at most ``coast_time_s``."""
    if track.id == 0 or track.state not in DRAWN_STATES:
        return False
    values = (track.center_x, track.center_y, track.size_x, track.size_y)
    if not all(np.isfinite(v) for v in values):
        return False
    return track.state == Track.STATE_CONFIRMED or track.time_since_update <= coast_time_s


class TrailHistory:
    """
    Bounded past box bottom-centres per track id, for drawing trails.

    Parameters
    ----------
    length : int
        Points kept per track (0: no trails).
    max_jump : float
        A step longer than this many box heights starts the trail again (a re-link, a jump).

    """

    def __init__(self, length: int, max_jump: float = DEFAULT_TRAIL_MAX_JUMP) -> None:
        self.length = int(length)
        self.max_jump = float(max_jump)
        self._points: Dict[int, Deque[Tuple[int, int]]] = {}

    def __len__(self) -> int:
        """Return the number of tracks with a trail."""
        return len(self._points)

    def update(self, tracks: Iterable[Any]) -> None:
        """
        Append the matched tracks' points of one ``TrackArray``; forget the tracks gone.

        Parameters
        ----------
        tracks : iterable of deepsort_ros_msgs/Track
            One frame's tracks. Coasting ones keep their trail as it was; tentative, lost and
            deleted ones (and those absent) lose it.

        """
        alive: Set[int] = set()
        for track in tracks:
            if track.id == 0 or track.state not in DRAWN_STATES:
                continue
            alive.add(int(track.id))
            x, y = track.center_x, track.center_y + track.size_y / 2.0
            finite = bool(np.isfinite(x) and np.isfinite(y))
            if not is_matched(track) or self.length <= 0 or not finite:
                continue
            point = (int(round(x)), int(round(y)))
            trail = self._points.setdefault(int(track.id), deque(maxlen=self.length))
            if trail:
                step = float(np.hypot(point[0] - trail[-1][0], point[1] - trail[-1][1]))
                if step > self.max_jump * max(track.size_y, 1.0):
                    trail.clear()
            trail.append(point)
        for track_id in [t for t in self._points if t not in alive]:
            del self._points[track_id]

    def points(self, track_id: int) -> Deque[Tuple[int, int]]:
        """Return the remembered points of one track, oldest first."""
        return self._points.get(int(track_id), deque())


def _dashed_line(canvas: npt.NDArray[np.uint8], start: Tuple[int, int], end: Tuple[int, int],
                 colour: Tuple[int, int, int], thickness: int, dash: int) -> None:
    (ax, ay), (bx, by) = start, end
    length = max(abs(bx - ax), abs(by - ay))
    # Lines far outside the image would need millions of dashes: one line then.
    if length == 0 or length > 8 * max(canvas.shape[:2]):
        cv2.line(canvas, start, end, colour, thickness)
        return
    for first in range(0, length, 2 * dash):
        last = min(first + dash, length)
        cv2.line(canvas, (ax + (bx - ax) * first // length, ay + (by - ay) * first // length),
                 (ax + (bx - ax) * last // length, ay + (by - ay) * last // length), colour,
                 thickness)


def _dashed_rectangle(canvas: npt.NDArray[np.uint8], top_left: Tuple[int, int],
                      bottom_right: Tuple[int, int], colour: Tuple[int, int, int],
                      thickness: int, dash: int) -> None:
    (x0, y0), (x1, y1) = top_left, bottom_right
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    for start, end in zip(corners, corners[1:]):
        _dashed_line(canvas, start, end, colour, thickness, dash)


def _box_corners(track: Any) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    return ((int(round(track.center_x - track.size_x / 2)),
             int(round(track.center_y - track.size_y / 2))),
            (int(round(track.center_x + track.size_x / 2)),
             int(round(track.center_y + track.size_y / 2))))


def draw_legend(canvas: npt.NDArray[np.uint8], scale: float) -> None:
    """Draw what the box styles and '?' mean, in the bottom-left corner."""
    font, size = cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale
    rows: List[Tuple[str, str, Tuple[int, int, int]]] = [
        ('solid', 'tracked (seen now)', LEGEND_COLOUR_BGR),
        ('dashed', 'coasting (not seen, predicted)', LEGEND_COLOUR_BGR),
        ('?', 'occluded', LEGEND_COLOUR_BGR),
        ('target', 'followed target', TARGET_COLOUR_BGR),
    ]
    line_h = int(round(18 * scale))
    sample_w = int(round(28 * scale))
    text_w = max(cv2.getTextSize(text, font, size, 1)[0][0] for _, text, _ in rows)
    width = sample_w + text_w + int(round(16 * scale))
    height = line_h * len(rows) + int(round(8 * scale))
    x0, y0 = 4, canvas.shape[0] - height - 4
    if x0 + width >= canvas.shape[1] or y0 < 0:
        return  # an image too small for a legend
    region = canvas[y0:y0 + height, x0:x0 + width]
    region[:] = (region * 0.35).astype(np.uint8)  # darkened, not hidden
    for row, (style, text, colour) in enumerate(rows):
        y = y0 + int(round(6 * scale)) + row * line_h + line_h // 2
        a, b = (x0 + 4, y), (x0 + sample_w, y)
        if style == 'dashed':
            _dashed_line(canvas, a, b, colour, 1, max(3, int(round(5 * scale))))
        elif style == '?':
            cv2.putText(canvas, '?', (a[0] + 6, y + int(5 * scale)), font, size, colour, 1,
                        cv2.LINE_AA)
        else:
            if style == 'target':
                cv2.line(canvas, a, b, TARGET_HALO_BGR, 2 + 2 * TARGET_HALO_PX)
            cv2.line(canvas, a, b, colour, 2)
        cv2.putText(canvas, text, (x0 + sample_w + 8, y + int(5 * scale)), font, size,
                    LEGEND_COLOUR_BGR, 1, cv2.LINE_AA)


def draw_tracks(image_bgr: npt.NDArray[np.uint8], track_array: Any,
                trails: Optional[TrailHistory] = None,
                coast_time_s: float = DEFAULT_COAST_TIME_S,
                legend: bool = True, target_state: str = '') -> npt.NDArray[np.uint8]:
    """
    Draw boxes, IDs and trails of a ``TrackArray`` on a copy of an (H, W, 3) BGR image.

    Parameters
    ----------
    image_bgr : ndarray of uint8, shape (H, W, 3)
        The frame the tracks belong to.
    track_array : deepsort_ros_msgs/TrackArray
        Its tracks; ``target_index`` names the followed one.
    trails : TrailHistory, optional
        Past matched positions, drawn as polylines.
    coast_time_s : float
        Coasting tracks are drawn (dashed, thin) for this long after their last detection.
    legend : bool
        Draw the legend of styles.
    target_state : str
        The followed target's status (``TRACKED``, ``CANDIDATE``, ``SEARCHING``, ``LOST``):
        written on the target's tag and in the top-left corner, where a robot's operator
        looks; '' when no target is selected.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        Matched tracks solid in their colour, coasting ones dashed, the target thick and
        red on a white halo; tentative, lost and deleted tracks are not drawn.

    """
    canvas = image_bgr.copy()
    scale = max(canvas.shape[0] / 720.0, 0.5)
    for index, track in enumerate(track_array.tracks):
        if not is_drawn(track, coast_time_s):
            continue
        is_target = index == track_array.target_index
        matched = is_matched(track)
        colour = TARGET_COLOUR_BGR if is_target else track_colour_bgr(track.id)
        thickness = TARGET_THICKNESS if is_target and matched else (
            CONFIRMED_THICKNESS if matched or is_target else OTHER_THICKNESS)
        top_left, bottom_right = _box_corners(track)
        if is_target:
            cv2.rectangle(canvas, top_left, bottom_right, TARGET_HALO_BGR,
                          thickness + 2 * TARGET_HALO_PX)
        if matched:
            cv2.rectangle(canvas, top_left, bottom_right, colour, thickness)
        else:
            _dashed_rectangle(canvas, top_left, bottom_right, colour, thickness,
                              max(2, int(round(DASH_PX * scale))))
        if trails is not None:
            points = np.array(trails.points(track.id), dtype=np.int32)
            if len(points) > 1:
                cv2.polylines(canvas, [points.reshape(-1, 1, 2)], False, colour,
                              max(1, thickness - 1))
        label = f'{track.id}' + (' ?' if track.is_occluded else '')
        if is_target and target_state:
            label += f' TARGET {target_state}'
        x0, y0 = top_left
        (width, height), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, 2)
        if matched:
            cv2.rectangle(canvas, (x0, y0 - height - 6), (x0 + width + 4, y0), colour, -1)
            text_colour = TARGET_HALO_BGR if is_target else (0, 0, 0)
        else:
            text_colour = colour  # no filled tag: a coasting label does not look seen
        cv2.putText(canvas, label, (x0 + 2, y0 - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    text_colour, 2, cv2.LINE_AA)
    if target_state:
        # Also when the target has no box (LOST): the state must never be left to guessing.
        cv2.putText(canvas, f'target: {target_state}', (int(8 * scale), int(28 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, TARGET_COLOUR_BGR, 2, cv2.LINE_AA)
    if legend:
        draw_legend(canvas, scale)
    return canvas
