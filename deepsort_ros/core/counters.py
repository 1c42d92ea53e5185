"""What the tracker dropped, ignored or repaired: its counters, reported in diagnostics."""

from dataclasses import dataclass


@dataclass
class TrackerCounters:
    """
    Counts since the tracker was made (a clock restart does not reset them).

    Attributes
    ----------
    frames : int
        Updates processed (a frame with a non-finite timestamp is not one).
    dropped_detections : int
        Detection rows dropped as bad data: a non-finite box, score, class id or feature, a
        non-positive width or height, a coordinate beyond ``max_box_coordinate``.
    relinked : int
        New tracks given a remembered identity (re-identification).
    target_reacquired : int
        Tracks that became the followed target after it was lost (confirmed candidates).
    time_resets : int
        Updates whose timestamp was earlier than the previous one's: the clock restarted.
    bad_timestamps : int
        Updates ignored for a non-finite timestamp.
    bad_camera_motions : int
        Camera motions given to ``update`` and ignored as unusable.
    diverged_tracks : int
        Tracks deleted, unreported, because their state left the coordinate range.

    """

    frames: int = 0
    dropped_detections: int = 0
    relinked: int = 0
    time_resets: int = 0
    bad_timestamps: int = 0
    bad_camera_motions: int = 0
    diverged_tracks: int = 0
    target_reacquired: int = 0
