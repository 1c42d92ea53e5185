"""The registered depth images a tracking pipeline holds, looked up by a frame's stamp."""

from collections import deque
import threading
from typing import Any, Deque, Optional, Tuple

from deepsort_ros.ros.convert.stamps import stamp_to_ns
from deepsort_ros.world import decode_depth
import numpy as np
import numpy.typing as npt


class DepthImages:
    """
    Recent decoded depth images (stamp ns, metres), the newest ``max_images``.

    The input half adds them as they come, the processing half looks one up per frame: both
    under one lock.

    Parameters
    ----------
    max_images : int
        How many are kept (the pairing buffer's bound).
    max_pixels : int
        Larger images are refused before they are decoded.

    """

    def __init__(self, max_images: int, max_pixels: int) -> None:
        self._max_pixels = max_pixels
        self._images: Deque[Tuple[int, npt.NDArray[np.float32]]] = deque(maxlen=max_images)
        self._lock = threading.Lock()

    def add(self, msg: Any) -> Optional[str]:
        """Decode and keep a depth ``sensor_msgs/Image``; return why it cannot be used, or None."""
        try:
            stamp_ns = stamp_to_ns(msg.header.stamp)
            height, width = int(msg.height), int(msg.width)
            if height * width > self._max_pixels:
                raise ValueError(f'depth image {width}x{height} is larger than '
                                 f'max_image_pixels {self._max_pixels}')
            depth, reason = decode_depth(str(msg.encoding), height, width, int(msg.step),
                                         bytes(msg.data), bool(msg.is_bigendian))
        except (AttributeError, TypeError, ValueError, OverflowError) as error:
            depth, reason = None, f'malformed depth image: {error}'
        if depth is None:
            return reason
        with self._lock:
            self._images.append((stamp_ns, depth))
        return None

    def nearest(self, stamp_ns: int, tolerance_ns: int) -> Optional[npt.NDArray[np.float32]]:
        """Return the depth image stamped nearest ``stamp_ns``, within the tolerance, or None."""
        with self._lock:
            near = [(abs(s - stamp_ns), d) for s, d in self._images
                    if abs(s - stamp_ns) <= tolerance_ns]
        if not near:
            return None
        return min(near, key=lambda item: item[0])[1]

    def clear(self) -> None:
        """Forget them all (the clock restarted)."""
        with self._lock:
            self._images.clear()
