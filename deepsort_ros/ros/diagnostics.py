"""
Everything the node reports on ``/diagnostics``, gathered in one place, ROS-free.

:class:`DiagnosticsCollector` reads the node's input rates and overload drops, the pipeline's
stats (stage latencies, bad input), the pairer's, the clock gate's and the core tracker's
counters, and returns the key/value pairs of one :class:`DiagnosticReport`;
:func:`deepsort_ros.ros.messages.diagnostics_to_msg` makes the ``DiagnosticArray``.
"""

from collections import deque
from dataclasses import dataclass, fields
import enum
import time
from typing import Any, Deque, Dict, List, Optional, Tuple

STREAMS = ('image', 'detections', 'odom')
RATE_WINDOW = 50  # arrivals a rate is measured over
RATE_STALE_S = 2.0  # a stream silent this long has rate 0
# Stages of TrackingPipeline.process whose latencies are reported.
STAGES = ('convert', 'ego_motion', 'encode', 'track', 'publish')


class Level(enum.IntEnum):
    """Levels of ``diagnostic_msgs/DiagnosticStatus``, by the same names and values."""

    OK = 0
    WARN = 1
    ERROR = 2


class RateMeter:
    """
    Arrival rate of one stream over its last :data:`RATE_WINDOW` messages.

    Parameters
    ----------
    window : int
        Arrivals kept.
    stale_s : float
        Seconds of silence after which the rate is 0.

    """

    def __init__(self, window: int = RATE_WINDOW, stale_s: float = RATE_STALE_S) -> None:
        self._times: Deque[float] = deque(maxlen=window)
        self._stale_s = stale_s

    def tick(self, now: Optional[float] = None) -> None:
        """Record one arrival at ``now`` (monotonic seconds; the current time when omitted)."""
        self._times.append(time.monotonic() if now is None else now)

    def rate_hz(self, now: Optional[float] = None) -> float:
        """Return the arrivals per second, 0 before two arrivals or after a silence."""
        times = list(self._times)
        now = time.monotonic() if now is None else now
        if len(times) < 2 or now - times[-1] > self._stale_s:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


@dataclass(frozen=True)
class DiagnosticReport:
    """
    One diagnostic status of the tracker.

    Attributes
    ----------
    level : Level
        WARN once input was bad or frames were dropped for overload.
    message : str
        What the node is doing.
    hardware_id : str
        Where the encoder runs.
    values : tuple of (str, str)
        Key/value pairs, in a stable order.

    """

    level: Level
    message: str
    hardware_id: str
    values: Tuple[Tuple[str, str], ...]

    def as_dict(self) -> Dict[str, str]:
        """Return the values as a dict."""
        return dict(self.values)


class DiagnosticsCollector:
    """
    Gather what the node, the pipeline and the core count into one report.

    Parameters
    ----------
    encoder_name, encoder_device : str
        The Re-ID encoder and where it runs ('none' without appearance).
    ego_motion_mode : str
        The configured ego-motion mode.

    Attributes
    ----------
    rates : dict of str to RateMeter
        Input rates by stream (:data:`STREAMS`).
    frames_dropped_overload : int
        Paired frames the node dropped because the tracker was busy.
    extrinsic_source : str
        Where the camera extrinsic comes from: the parameters, TF, or TF gone stale.

    """

    def __init__(self, encoder_name: str = 'none', encoder_device: str = 'none',
                 ego_motion_mode: str = '') -> None:
        self.encoder_name = encoder_name
        self.encoder_device = encoder_device
        self.ego_motion_mode = ego_motion_mode
        self.rates = {stream: RateMeter() for stream in STREAMS}
        self.frames_dropped_overload = 0
        self.extrinsic_source = 'parameters base_to_camera_xyz/rpy'

    def received(self, stream: str, now: Optional[float] = None) -> None:
        """Count one message of ``stream`` for its rate."""
        self.rates[stream].tick(now)

    def collect(self, pipeline: Any, now: Optional[float] = None) -> DiagnosticReport:
        """
        Return the report of a pipeline and of this node now.

        Parameters
        ----------
        pipeline : TrackingPipeline
            Read, never changed: ``stats``, ``pairing``, ``clock.counters``,
            ``odometry_guard.counters``, ``classes``, ``tracker.counters`` and
            ``tracker.tracks``.
        now : float, optional
            Monotonic seconds for the rates.

        """
        stats, pairing = pipeline.stats, pipeline.pairing
        clock, core = pipeline.clock.counters, pipeline.tracker.counters
        odometry, classes = pipeline.odometry_guard.counters, pipeline.classes
        # Copies first: the processing callback may add a key while this runs.
        sources = sorted(dict(stats.ego_motion_sources).items())
        values: List[Tuple[str, Any]] = [
            ('image rate (Hz)', f'{self.rates["image"].rate_hz(now):.1f}'),
            ('detection rate (Hz)', f'{self.rates["detections"].rate_hz(now):.1f}'),
            ('odometry rate (Hz)', f'{self.rates["odom"].rate_hz(now):.1f}'),
            ('frames tracked', stats.frames),
            ('frames dropped (overload)', self.frames_dropped_overload),
            ('paired', pairing.paired),
            ('motion-only (image missing)', pairing.motion_only),
            ('images without detections', pairing.images_without_detections),
            ('detections dropped (overflow)', pairing.detections_dropped_overflow),
            ('images dropped (memory budget)', pairing.images_dropped_memory),
            ('bad images', stats.bad_images),
            ('images too large (refused)', stats.images_too_large),
            ('bad detections', stats.bad_detections),
            ('detections over max_detections (dropped)', stats.detections_over_limit),
            ('bad odometry', stats.bad_odometry),
            ('odometry jumps (refused)', odometry.jumps),
            ('odometry resets', odometry.resets),
            ('odometry in another frame (refused)', odometry.other_frame),
            ('bad camera info', stats.bad_camera_infos),
            ('time went backwards (dropped)', stats.time_backwards),
            ('clock restarts', clock.restarts),
            ('clock jumps ahead', stats.clock_jumps_ahead),
            ('clock outliers dropped', clock.outliers),
            ('class labels', len(classes)),
            ('class labels cut (max_label_length)', classes.counters.labels_truncated),
            ('class labels forgotten (max_classes)', classes.counters.labels_forgotten),
            ('class labels refused (max_classes)', classes.counters.labels_overflowed),
            ('target requests refused', stats.select_refused),
            ('encoder', self.encoder_name),
            ('encoder device', self.encoder_device),
            ('detections encoded', stats.encoded),
            ('features reused (not encoded)', stats.reused),
            ('refreshes waiting for encode_budget', stats.refreshes_waited),
            ('bad features (tracked on motion)', stats.bad_features),
            ('ego-motion mode', self.ego_motion_mode),
            ('ego-motion sources', ', '.join(f'{k}: {v}' for k, v in sources)),
            ('ego-motion last reason', stats.ego_motion_reason),
            ('camera extrinsic', self.extrinsic_source),
            ('tracks', len(pipeline.tracker.tracks)),
            ('last error', stats.last_error),
        ]
        values += [(f'tracker {f.name.replace("_", " ")}', getattr(core, f.name))
                   for f in fields(core)]
        values += [(f'latency {stage} p50/p99 (ms)',
                    f'{stats.percentile_ms(stage, 50):.2f}/{stats.percentile_ms(stage, 99):.2f}')
                   for stage in STAGES]
        problems = (stats.bad_images + stats.bad_detections + stats.time_backwards
                    + stats.bad_odometry + stats.bad_camera_infos + stats.detections_over_limit
                    + odometry.jumps + odometry.other_frame + clock.outliers
                    + pairing.images_dropped_memory + stats.bad_features)
        level = Level.WARN if problems or self.frames_dropped_overload else Level.OK
        return DiagnosticReport(level, 'tracking' if stats.frames else 'waiting for detections',
                                self.encoder_device, tuple((k, str(v)) for k, v in values))
