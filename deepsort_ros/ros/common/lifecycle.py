"""The one ``main`` of both nodes: spin a lifecycle node until shutdown, Ctrl-C included."""

import signal
from typing import Callable, List, Optional

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node


def run_node(make_node: Callable[[], Node], make_executor: Callable[[], Executor],
             args: Optional[List[str]] = None,
             started: Optional[Callable[[Node], None]] = None) -> int:
    """
    Run a node until shutdown (Ctrl-C), also when Ctrl-C comes during start-up.

    Parameters
    ----------
    make_node, make_executor : callable
        Build the node and its executor, once rclpy is initialised.
    args : list of str, optional
        Command-line arguments for ``rclpy.init`` (``--ros-args ...``).
    started : callable, optional
        ``started(node)`` once the node is built, before it spins (start-up warnings).

    Returns
    -------
    int
        The exit status, 0.

    """
    rclpy.init(args=args)
    node: Optional[Node] = None
    executor: Optional[Executor] = None
    try:
        node = make_node()
        if started is not None:
            started(node)
        executor = make_executor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # Ctrl-C in a terminal reaches the whole process group and ros2 launch forwards one
        # more: a second SIGINT must not interrupt the teardown (or the interpreter's exit)
        # with a traceback. Ignored first thing, once: rclpy's shutdown leaves it ignored.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
