"""A node's throttled log: one line per kind of problem per period, counting the rest."""

import math
import time
from typing import Any, Callable, Dict, Optional, Tuple

#: Seconds between two lines of one kind.
LOG_THROTTLE_S = 5.0


class ThrottledLog:
    """
    ``log(level, text, key)``: one line per ``key`` every ``period_s``, saying how many more.

    A stream of distinct bad values is one problem, not many: the first line of a kind is
    logged, the next ones within ``period_s`` are counted, and the next line logged says how
    many there were. This is the ``logger`` the pipelines take.

    Parameters
    ----------
    get_logger : callable
        ``get_logger() -> rclpy logger``, the node's.
    period_s : float
        Seconds between two lines of one kind.

    """

    def __init__(self, get_logger: Callable[[], Any], period_s: float = LOG_THROTTLE_S) -> None:
        self._get_logger = get_logger
        self._period_s = period_s
        # key -> (monotonic time of its last line, lines suppressed since)
        self._last: Dict[str, Tuple[float, int]] = {}

    def __call__(self, level: str, text: str, key: Optional[str] = None) -> None:
        """Log ``text`` at ``level`` ('warn' or 'info') unless ``key`` was logged recently."""
        now = time.monotonic()
        key = key or text[:60]
        last, suppressed = self._last.get(key, (-math.inf, 0))
        if now - last < self._period_s:
            self._last[key] = (last, suppressed + 1)
            return
        self._last[key] = (now, 0)
        if suppressed:
            text += f' ({suppressed} more like it in the last {now - last:.0f} s)'
        # One call site per severity: rclpy refuses one site logging at two.
        if level == 'warn':
            self._get_logger().warning(text)
        else:
            self._get_logger().info(text)
