"""The colour of a track identity: the same on the annotated image and the RViz markers."""

from typing import Tuple


def track_colour_bgr(track_id: int) -> Tuple[int, int, int]:
    """Return a stable, well-separated BGR colour for a track id (golden-ratio hues)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    h6 = hue * 6.0
    x = 1.0 - abs(h6 % 2.0 - 1.0)
    sector = int(h6)
    rgb = [(1, x, 0), (x, 1, 0), (0, 1, x), (0, x, 1), (x, 0, 1), (1, 0, x)][sector % 6]
    return int(60 + 195 * rgb[2]), int(60 + 195 * rgb[1]), int(60 + 195 * rgb[0])
