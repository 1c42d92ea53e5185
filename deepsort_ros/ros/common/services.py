"""Services both nodes offer the same way, and what both do on ``deactivate``."""

from typing import Any, Callable, Iterable, Optional

from rclpy.node import Node
from rclpy.service import Service
from rclpy.subscription import Subscription
from rclpy.timer import Timer


def reset_handler(forgettable: Callable[[], Optional[Any]], forgotten: str,
                  absent: str) -> Callable[[Any, Any], Any]:
    """
    Return the ``std_srvs/Trigger`` callback of a node's ``~/reset``.

    Parameters
    ----------
    forgettable : callable
        ``forgettable() -> object with forget()`` (the tracker, the fusion), None while the
        node has none.
    forgotten : str
        The answer's message when it forgot.
    absent : str
        The answer's message (unsuccessful) while there is nothing to forget.

    """
    def handle(request: Any, response: Any) -> Any:
        target = forgettable()
        if target is None:
            response.success, response.message = False, absent
            return response
        target.forget()
        response.success, response.message = True, forgotten
        return response
    return handle


def destroy_entities(node: Node, entities: Iterable[Any]) -> None:
    """
    Destroy what a node made on ``activate`` (``deactivate``): subscriptions, services, timers.

    Parameters
    ----------
    node : rclpy.node.Node
        Their node.
    entities : iterable
        Subscriptions, services and timers of ``node``, in any order; None is skipped.

    """
    for entity in entities:
        if isinstance(entity, Subscription):
            node.destroy_subscription(entity)
        elif isinstance(entity, Service):
            node.destroy_service(entity)
        elif isinstance(entity, Timer):
            node.destroy_timer(entity)
        elif entity is not None:
            raise TypeError(f'cannot destroy a {type(entity).__name__}')
