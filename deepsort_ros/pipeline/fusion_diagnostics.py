"""
What the fusion node reports on ``/diagnostics``, gathered in one place, ROS-free.

:func:`fusion_report` reads a :class:`~deepsort_ros.pipeline.fusion.FusionPipeline`: the
fusion core's counters (updates, associations by kind, new, merged and forgotten identities;
per camera what was taken, delayed, stale and refused, by reason) and the node's own per camera
(arrival rate, delay of arrival after the stamp, features received and refused, how its world
frame is carried over). :func:`deepsort_ros.ros.convert.diagnostics.diagnostics_to_msg` makes
the message.
"""

from typing import Any, List, Optional, Tuple

from deepsort_ros.pipeline.diagnostics import DiagnosticReport, Level
import numpy as np


def _counts(counts: dict) -> str:
    return ', '.join(f'{k}: {v}' for k, v in sorted(counts.items()) if v) or 'none'


def fusion_report(pipeline: Any, now: Optional[float] = None) -> DiagnosticReport:
    """
    Return the report of a fusion pipeline now.

    Parameters
    ----------
    pipeline : FusionPipeline
        Read, never changed.
    now : float, optional
        Monotonic seconds for the rates.

    Returns
    -------
    DiagnosticReport
        WARN once any camera's input was refused or a camera went stale; per-camera keys are
        prefixed with the camera's name.

    """
    fusion = pipeline.fusion
    counters = fusion.counters
    values: List[Tuple[str, Any]] = [
        ('world frame', pipeline.world_frame or "(first camera's)"),
        ('encoder compared', fusion.encoder or '(none yet)'),
        ('cameras', ', '.join(pipeline.cameras)),
        ('global tracks', len(fusion.tracks)),
        ('updates taken', counters.updates),
        ('associations', _counts(counters.associations)),
        ('new global ids', counters.new_globals),
        ('merges', counters.merges),
        ('global ids forgotten', counters.deleted_globals),
        ('features kept', len(pipeline.cache)),
        ('global track arrays published', pipeline.published),
    ]
    problems = 0
    live = 0
    for name in pipeline.cameras:
        stats = pipeline.stats[name]
        core = counters.cameras.get(name)
        delays = np.asarray(stats.delays_s, dtype=np.float64)
        rate = stats.rate.rate_hz(now)
        live += rate > 0.0
        refused = dict(core.refused) if core is not None else {}
        problems += sum(refused.values()) + sum(stats.features_refused.values()) + \
            stats.no_world_transform + (core.stale if core is not None else 0)
        values += [
            (f'{name}: rate (Hz)', f'{rate:.1f}'),
            (f'{name}: delay p50/max (s)',
             f'{np.median(delays):.3f}/{delays.max():.3f}' if len(delays) else 'n/a'),
            (f'{name}: track arrays', stats.track_arrays),
            (f'{name}: updates taken', core.updates if core else 0),
            (f'{name}: tracks taken', core.tracks if core else 0),
            (f'{name}: without world estimate (appearance only)', core.no_world if core else 0),
            (f'{name}: delayed (predicted forward)', core.delayed if core else 0),
            (f'{name}: stale (silent, bindings released)', core.stale if core else 0),
            (f'{name}: takeovers (new sender)', core.takeovers if core else 0),
            (f'{name}: broken bindings', core.broken_bindings if core else 0),
            (f'{name}: refused', _counts(refused)),
            (f'{name}: appearance arrays', stats.appearance_arrays),
            (f'{name}: features received', stats.features),
            (f'{name}: features refused', _counts(stats.features_refused)),
            (f'{name}: world transform', stats.world_transform),
            (f'{name}: updates without a world transform', stats.no_world_transform),
            (f'{name}: senders', len(stats.senders)),
        ]
    level = Level.WARN if problems else Level.OK
    message = (f'fusing {live} of {len(pipeline.cameras)} cameras' if counters.updates
               else 'waiting for tracks')
    return DiagnosticReport(level, message, 'track_fusion',
                            tuple((k, str(v)) for k, v in values))
