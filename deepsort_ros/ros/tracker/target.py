"""Single-object mode: the tracker node's ``~/select_target`` service and ``~/select_point``."""

from typing import Any, Callable, Optional

from deepsort_ros.pipeline.tracking import TrackingPipeline
from deepsort_ros_msgs.srv import SelectTarget

Log = Callable[..., None]


def select_target(pipeline: Optional[TrackingPipeline], request: Any, response: Any,
                  log: Log) -> Any:
    """
    Answer a ``SelectTarget`` request: follow a track by id, class or image point, or clear.

    Parameters
    ----------
    pipeline : TrackingPipeline or None
        None while the node is not configured.
    request : SelectTarget.Request
        What to follow.
    response : SelectTarget.Response
        Filled in and returned.
    log : callable
        The node's throttled ``log(level, text, key)``; refusals are counted in
        ``pipeline.stats.select_refused``.

    """
    if pipeline is None:
        response.success, response.message = False, 'the node is not configured'
        return response
    tracker = pipeline.tracker  # the one owner of the target
    if request.mode == SelectTarget.Request.CLEAR:
        tracker.clear_target()
        response.success, response.message = True, 'target cleared'
        return response
    refusal = None
    if request.mode == SelectTarget.Request.BY_TRACK_ID:
        chosen = tracker.select_target(track_id=int(request.track_id))
    elif request.mode == SelectTarget.Request.BY_CLASS:
        # A query must not grow the label table: an unknown class has no track.
        class_id = pipeline.classes.find(request.class_id)
        chosen = None if class_id is None else tracker.select_target(class_id=class_id)
        if class_id is None:
            refusal = f'no detection of class {request.class_id[:64]!r} was seen'
    elif request.mode == SelectTarget.Request.BY_POINT:
        refusal = pipeline.point_refusal(request.x, request.y)
        chosen = None if refusal else tracker.select_target(point_xy=(request.x, request.y))
    else:
        refusal, chosen = f'unknown mode {request.mode}', None
    if refusal is not None:
        pipeline.stats.select_refused += 1
        log('warn', f'select_target refused: {refusal}', key='select refused')
    response.success = chosen is not None
    response.message = 'following' if response.success else (
        refusal or 'no matching track now')
    response.target_id = int(tracker.target_id or 0)
    return response


def select_point(pipeline: Optional[TrackingPipeline], msg: Any, log: Log) -> None:
    """Follow the track at a ``geometry_msgs/PointStamped`` image point (``~/select_point``)."""
    if pipeline is None:
        return
    refusal = pipeline.point_refusal(msg.point.x, msg.point.y)
    if refusal is not None:
        pipeline.stats.select_refused += 1
        log('warn', f'~/select_point refused: {refusal}', key='select refused')
        return
    pipeline.tracker.select_target(point_xy=(msg.point.x, msg.point.y))
