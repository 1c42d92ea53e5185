"""Services both nodes offer the same way."""

from typing import Any, Callable, Optional


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
