"""
Everything the node reports on ``/diagnostics``, gathered in one place, ROS-free.

:class:`DiagnosticsCollector` reads the node's input rates and overload drops, the pipeline's
stats (stage latencies, bad input), the pairer's, the clock gate's and the core tracker's
counters, and returns the key/value pairs of one :class:`DiagnosticReport`;
:func:`deepsort_ros.ros.convert.diagnostics.diagnostics_to_msg` makes the ``DiagnosticArray``.
"""

from collections import deque
from dataclasses import dataclass, fields
import enum
import math
import time
from typing import Any, Deque, Dict, List, Optional, Tuple

STREAMS = ('image', 'detections', 'odom', 'camera_info')
RATE_WINDOW = 50  # arrivals a rate is measured over
RATE_STALE_S = 2.0  # a stream silent this long has rate 0
# While detections arrive, a stream they need whose last message is this much older than
# the last detections is named in a WARN: with the default 1 s diagnostics period, within 2 s
# of the first detections. Measured against the detections, not the clock, so that a slow
# camera (one frame every few seconds) is not taken for a silent one.
INPUT_SILENCE_S = 1.0
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

    def last_s(self) -> float:
        """Return the monotonic seconds of the last arrival (minus infinity before the first)."""
        return self._times[-1] if self._times else -math.inf


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
    topics : dict of str to str
        The resolved topic of each stream (after remapping), named when it is silent.

    """

    def __init__(self, encoder_name: str = 'none', encoder_device: str = 'none',
                 ego_motion_mode: str = '') -> None:
        self.encoder_name = encoder_name
        self.encoder_device = encoder_device
        self.ego_motion_mode = ego_motion_mode
        self.rates = {stream: RateMeter() for stream in STREAMS}
        self.frames_dropped_overload = 0
        self.extrinsic_source = 'parameters base_to_camera_xyz/rpy'
        self.topics = {stream: stream for stream in STREAMS}

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
            ('depth images', stats.depth_images),
            ('bad depth images (ground plane used)', stats.bad_depth),
            ('frames without depth', stats.frames_without_depth),
            ('track positions from depth', stats.tracks_from_depth),
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
                    + pairing.images_dropped_memory + stats.bad_features + stats.bad_depth)
        missing = self.missing_inputs(pipeline, now)
        values.append(('inputs missing', '; '.join(missing)))
        level = Level.WARN if problems or missing or self.frames_dropped_overload else Level.OK
        message = 'tracking' if stats.frames else 'waiting for detections'
        return DiagnosticReport(level, '; '.join(missing) if missing else message,
                                self.encoder_device, tuple((k, str(v)) for k, v in values))

    def missing_inputs(self, pipeline: Any, now: Optional[float] = None) -> List[str]:
        """
        Return why the detections arriving now are tracked with less than they should be.

        While detections arrive: no image within :data:`INPUT_SILENCE_S` of them (a mistyped
        remap tracks every frame on motion alone); no odometry in ``odometry`` ego-motion mode;
        no camera model (camera_info or fx/fy) while odometry needs one. Empty when nothing is
        missing.
        """
        now = time.monotonic() if now is None else now
        last = {stream: meter.last_s() for stream, meter in self.rates.items()}
        if now - last['detections'] > RATE_STALE_S:
            return []
        missing = []

        def behind(stream: str) -> bool:
            return last['detections'] - last[stream] > INPUT_SILENCE_S

        def silence(stream: str) -> str:
            silent = now - last[stream]
            return 'none yet' if math.isinf(silent) else f'none for {silent:.0f} s'

        if behind('image'):
            missing.append(f'detections arrive on {self.topics["detections"]} but no image on '
                           f'{self.topics["image"]} ({silence("image")}): tracking on motion '
                           'alone; check the topic and its remapping')
        odometry_mode = self.ego_motion_mode == 'odometry'
        if odometry_mode and behind('odom'):
            missing.append(f'ego_motion_mode is odometry but no odometry on {self.topics["odom"]} '
                           f'({silence("odom")}): camera motion is not compensated')
        odometry_seen = now - last['odom'] <= RATE_STALE_S
        if getattr(pipeline, 'camera', None) is None and (odometry_mode or odometry_seen):
            missing.append(f'no camera model: no camera_info on {self.topics["camera_info"]} '
                           f'({silence("camera_info")}) and no fx/fy parameters; ego-motion '
                           'from odometry and world positions need it')
        return missing
