"""
The tracker node's executor: rclpy's ``MultiThreadedExecutor`` without its queueing storm.

rclpy up to 10.0.3 (Kilted ships 9.1.x) yields a callback that is queued for a worker thread
but not yet started again on every turn of ``spin()``, and ``spin()`` queues it again: while
one callback of a mutually exclusive group runs, the spin thread turns ~6,000 times a second,
queues the waiting callbacks thousands of times and scans that list on every turn, holding
the GIL the callbacks need (ros2/rclpy#1452, fixed upstream by #1547 in rclpy 10.0.4).
Measured through the node on PETS09 (OSNet, lock-step): 125 ms a frame over the first 60
frames and 450 ms over the first 150, where the pipeline itself takes ~15 ms.

:class:`NodeExecutor` queues a task only when it is not queued already; while a queued task
waits for a thread, the spin thread waits on it (without the GIL) for at most
:data:`QUEUED_WAIT_S` instead of spinning. Everything else, including exceptions of a
callback raised out of ``spin()``, is rclpy's.
"""

from concurrent.futures import Future, wait
from typing import Any, Callable, Dict, Optional

from rclpy.context import Context
from rclpy.executors import (ConditionReachedException, ExternalShutdownException,
                             MultiThreadedExecutor, ShutdownException, TimeoutException)
from rclpy.task import Task

#: How long the spin thread waits for a queued callback to be taken by a worker thread
#: before it looks for new work again, s.
QUEUED_WAIT_S = 0.001


class NodeExecutor(MultiThreadedExecutor):
    """
    A ``MultiThreadedExecutor`` that queues each ready task once.

    Parameters
    ----------
    num_threads : int
        Worker threads.
    context : rclpy.context.Context, optional
        The context to run in (rclpy's default when None).

    """

    def __init__(self, num_threads: int, *, context: Optional[Context] = None) -> None:
        super().__init__(num_threads=num_threads, context=context)
        # task -> its entry in the thread pool, while the task is neither done nor re-queued
        self._queued: Dict[Task, Future] = {}

    @property
    def queued_tasks(self) -> int:
        """Return how many tasks are queued or running (each counted once)."""
        return len(self._queued)

    def _spin_once_impl(self, timeout_sec: Any = None,
                        wait_condition: Callable[[], bool] = lambda: False) -> None:
        try:
            handler, _, _ = self.wait_for_ready_callbacks(timeout_sec, None, wait_condition)
        except (ExternalShutdownException, ShutdownException, TimeoutException,
                ConditionReachedException):
            return
        queued = self._queued.get(handler)
        if queued is not None and not queued.done():
            # Queued, not started: let a worker take it rather than queue it a second time.
            wait([queued], timeout=QUEUED_WAIT_S)
        else:
            # New, or a coroutine that gave its thread back and is pending again.
            self._queued[handler] = self._executor.submit(handler)
        for task in [t for t in self._queued if t.done()]:
            del self._queued[task]
            task.result()  # a callback's exception ends spin(), as in rclpy
