"""
Every parameter of the tracker node, declared once, validated once.

ROS-free, written in the schema of :mod:`deepsort_ros.settings.schema`: the node
(:mod:`deepsort_ros.ros.tracker`) turns these declarations into ROS parameters with
descriptors, and the offline runner (``deepsort-ros track --bag --params-file``) reads the
same YAML file through :func:`load_params_file`. Tracker thresholds are the fields of the
core's ``TrackerConfig``, exposed as ``tracker.<name>`` parameters.
"""

from dataclasses import dataclass, fields
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.settings import schema
from deepsort_ros.settings.schema import param as _param
from deepsort_ros.world.depth import DepthConfig
from deepsort_ros.world.ground_filter import GroundFilterConfig

NODE_NAME = 'deepsort_tracker'
TRACKER_PREFIX = 'tracker.'

EGO_MOTION_MODES = ('odometry', 'image', 'auto', 'off')
IMAGE_TRANSPORTS = ('raw', 'compressed')
# vision_msgs/Detection2DArray, or yolo_ros's yolo_msgs/DetectionArray.
DETECTION_TYPES = ('vision_msgs', 'yolo_msgs')
QOS_PROFILES = ('sensor_data', 'reliable')
ANNOTATED_MODES = ('auto', 'always', 'never')
ENCODER_BACKENDS = ('auto', 'torch', 'torchscript', 'onnx')
# deepsort_ros.reid.int8.MODES (that module needs numpy)
ENCODER_INT8_MODES = ('auto', 'on', 'off')
ENCODER_RUNTIMES = ('auto', 'onnxruntime', 'openvino')  # deepsort_ros.reid.onnx_encoder.RUNTIMES
# The parameters that name topics (checked against ROS's name rules at configure).
TOPIC_PARAMETERS = ('image_topic', 'detections_topic', 'camera_info_topic', 'odom_topic')
# Standard rotation from a REP 103 body frame (x forward, y left, z up) to a camera optical
# frame (z forward, x right, y down), as roll-pitch-yaw of the optical frame in the body frame.
OPTICAL_RPY = [-math.pi / 2.0, 0.0, -math.pi / 2.0]


@dataclass(frozen=True)
class NodeConfig:
    """The node's own settings (topics, pairing, ego-motion, encoder, outputs)."""

    image_topic: str = _param('image', 'sensor_msgs/Image topic (compressed: plus /compressed)')
    image_transport: str = _param('raw', 'raw: sensor_msgs/Image; compressed: '
                                  'sensor_msgs/CompressedImage on <image_topic>/compressed',
                                  choices=IMAGE_TRANSPORTS)
    image_qos: str = _param('sensor_data', 'QoS of the image subscription', choices=QOS_PROFILES)
    detections_topic: str = _param('detections', 'detections topic (detections_type), stamped '
                                   'like the image the detector ran on')
    detections_type: str = _param('vision_msgs', 'vision_msgs: vision_msgs/Detection2DArray; '
                                  "yolo_msgs: yolo_ros's yolo_msgs/DetectionArray",
                                  choices=DETECTION_TYPES)
    camera_info_topic: str = _param('camera_info', 'sensor_msgs/CameraInfo topic for intrinsics')
    odom_topic: str = _param('odom', 'nav_msgs/Odometry topic for ego-motion')
    sync_tolerance: float = _param(0.005, 'largest image/detection stamp difference to pair, s',
                                   low=0.0, high=1.0)
    detection_timeout: float = _param(0.5, 'detections whose image has not come after this long '
                                      "(of stamps, or of the node's clock) are tracked "
                                      'motion-only, s; at once when a later frame has its image',
                                      low=0.001, high=60.0)
    max_pending: int = _param(30, 'bound of the image and detection buffers while pairing',
                              low=1, high=10000)
    max_queued_frames: int = _param(2, 'paired frames waiting for the tracker; the oldest is '
                                    'dropped (and counted) beyond this', low=1, high=1000)
    min_score: float = _param(0.0, 'detections below this score are ignored (can be changed '
                              'at run time)', low=0.0, high=1.0, read_only=False)
    time_jump_reset: float = _param(1.0, 'a stamp this much older than the newest seen means the '
                                    'clock restarted (a looped bag): pairing, odometry and '
                                    'tracks start again, s; as far ahead, the clock jumped',
                                    low=0.001, high=3600.0)
    clock_jump_confirmations: int = _param(
        2, 'stamps in a row (of any input) that must agree with a jump beyond time_jump_reset '
        'before it is believed: what they brought is then tracked after a restart; a lone stamp '
        'the next one contradicts is dropped and counted (1: believe the first)', low=1, high=64)
    max_detections: int = _param(300, 'detections tracked per frame: beyond it the lowest scores '
                                 'are dropped and counted (bounds the work one message can ask '
                                 'for)', low=1, high=100000)
    max_label_length: int = _param(128, 'characters kept of a detection class label (longer ones '
                                   'are cut and counted)', low=1, high=65536)
    max_classes: int = _param(4096, 'class labels remembered at once; a new one beyond it '
                              'replaces the least recently seen label no track holds, or '
                              "takes the class '' when all are held (counted)",
                              low=1, high=1000000)
    max_image_pixels: int = _param(16777216, 'images larger than this (width x height; a '
                                   'compressed one by its PNG/JPEG header) are refused before '
                                   'conversion and counted (default 4096 x 4096)',
                                   low=1, high=1 << 31)
    max_pending_image_bytes: int = _param(134217728, 'bytes of images held while waiting for '
                                          'their detections; beyond it the oldest is dropped '
                                          'and counted (0: max_pending alone bounds them)',
                                          low=0, high=1 << 40)
    ego_motion_mode: str = _param('auto', 'camera-motion compensation: odometry, image '
                                  '(optical flow), auto (odometry when fresh, else image), off',
                                  choices=EGO_MOTION_MODES)
    odom_buffer_size: int = _param(400, 'odometry samples kept for interpolation',
                                   low=2, high=100000)
    odom_max_gap: float = _param(0.5, 'odometry older or newer than an image stamp by more than '
                                 'this is stale, s', low=0.001, high=60.0)
    odom_max_jump: float = _param(1.0, 'an odometry position farther than this plus '
                                  'odom_max_speed x the time since the last accepted one is a '
                                  'jump: refused and counted, m', low=0.0, high=1e6)
    odom_max_speed: float = _param(30.0, 'fastest the base may move between odometry samples '
                                   '(see odom_max_jump), m/s', low=0.0, high=1e6)
    odom_jump_confirmations: int = _param(
        2, 'odometry poses in a row that must agree with a jump before it is believed (the '
        'odometry was reset: its buffer starts again); fewer are refused (1: believe the first)',
        low=1, high=100)
    base_to_camera_xyz: List[float] = _param(
        [0.0, 0.0, 1.0], 'position of the camera optical frame in the odometry child frame '
        '(base), m')
    base_to_camera_rpy: List[float] = _param(
        OPTICAL_RPY, 'roll, pitch, yaw of the camera optical frame in the base frame, rad '
        '(default: camera looking forward along base x)')
    extrinsic_from_tf: bool = _param(False, 'look the camera optical frame up in TF, relative to '
                                     'the base frame (needs tf2_ros), every second; '
                                     'base_to_camera_* are used until it is found, the last '
                                     'transform when TF stops answering (diagnostics: '
                                     '"camera extrinsic")')
    base_frame_id: str = _param('', 'base frame of the TF lookup; empty: the odometry child '
                                'frame')
    use_ground_plane: bool = _param(True, 'use the ground plane z = ground_height (odometry '
                                    'frame) for plane-induced homographies and world positions')
    ground_height: float = _param(0.0, 'height of the ground plane in the odometry frame, m',
                                  low=-1000.0, high=1000.0)
    world_frame_id: str = _param('', 'frame of world positions; empty: the odometry header frame')
    world_contact_std_px: List[float] = _param(
        [2.8, 4.0], 'frame-to-frame detector error of a box bottom-centre (u, v) that does not '
        'grow with the box, px; with world_contact_std_height the measurement noise of world '
        'positions')
    world_contact_std_height: List[float] = _param(
        [0.022, 0.04], 'detector error of a box bottom-centre (u, v) per px of box height, '
        'added in quadrature to world_contact_std_px')
    world_contact_bias_std_px: List[float] = _param(
        [0.24, 0.67], 'detector error of a box bottom-centre (u, v) that persists over a '
        'track life and does not grow with the box, px: not averaged away by the filter, added '
        'to the published position covariance through the ray geometry')
    world_contact_bias_std_size: List[float] = _param(
        [0.0064, 0.012], 'persistent detector error of a box bottom-centre per px of box width '
        '(u) and of box height (v), added to world_contact_bias_std_px (a near person is '
        'misplaced by more pixels than a far one)')
    world_std_acceleration: float = _param(0.38, 'white-noise acceleration of tracked objects '
                                           'on the ground, m/s^2', low=0.01, high=100.0)
    world_correlation_time: float = _param(0.15, 'seconds over which the detector error at a box '
                                           'bottom persists: measurements closer in time count '
                                           'as less than independent (0: all independent)',
                                           low=0.0, high=10.0)
    world_initial_velocity_std: float = _param(1.0, 'zero-mean velocity sigma per axis of a '
                                               'walking person, fused with the velocity of the '
                                               'image track to start a track, m/s',
                                               low=0.01, high=100.0)
    world_relinearise: bool = _param(True, 'carry the detector pixel error to the ground at the '
                                     'range of the estimate (an iterated update), not at the '
                                     'measured contact point: a contact measured too near is '
                                     'not over-weighted')
    world_relinearise_max_ratio: float = _param(2.0, 'bound of the estimate / measured range '
                                                'ratio of world_relinearise, clipped to '
                                                '[1 / max, max]', low=1.0, high=100.0)
    depth_topic: str = _param('', 'sensor_msgs/Image depth registered to the colour image '
                              '(16UC1 mm or 32FC1 m), paired with it by stamp; world positions '
                              'come from it where valid; empty: no depth')
    depth_max_range: float = _param(10.0, 'depths beyond this are no reading, m',
                                    low=0.5, high=1000.0)
    depth_std_quadratic: float = _param(0.005, 'k of the depth noise sigma = 0.02 m + k z^2, '
                                        '1/m (RealSense D435: about 0.005)', low=0.0,
                                        high=10.0)
    camera_frame_id: str = _param('', 'optical frame of TrackArray; empty: the image frame')
    fx: float = _param(0.0, 'focal length x when no camera_info arrives, px (0: unknown)',
                       low=0.0, high=1e6)
    fy: float = _param(0.0, 'focal length y when no camera_info arrives, px (0: unknown)',
                       low=0.0, high=1e6)
    cx: float = _param(0.0, 'principal point x when no camera_info arrives, px', low=0.0, high=1e6)
    cy: float = _param(0.0, 'principal point y when no camera_info arrives, px', low=0.0, high=1e6)
    use_appearance: bool = _param(True, 'compute Re-ID features for the matching cascade')
    reuse_features: bool = _param(True, 'a confirmed track alone in the image whose box '
                                  'barely moved, seen by a camera that barely moved, reuses '
                                  'its last Re-ID feature for up to 2 frames instead of '
                                  'encoding its detection again (on PETS09: 42% fewer '
                                  'encodes, IDF1 unchanged)')
    # The default of deepsort_ros.reid.planner.EncodePlannerConfig (that module needs numpy).
    encode_budget: int = _param(12, 'crops a frame should encode at most (0: no budget); '
                                'above it, refreshes of the reused features of lone tracks '
                                'wait up to 2 more frames, the stalest refreshed first; '
                                'detections that need appearance are always encoded',
                                low=0, high=4096)
    encoder_weights: str = _param('', 'Re-ID weights (.pth state dict, TorchScript, .onnx); '
                                  'empty: the built-in default model')
    encoder_device: str = _param('auto', 'auto (CUDA when available), cpu, cuda, cuda:N')
    encoder_backend: str = _param('auto', 'auto (onnxruntime for .onnx and, on a CPU, for .pth '
                                  'state dicts and the default model; torch on CUDA), torch, '
                                  'torchscript, onnx',
                                  choices=ENCODER_BACKENDS)
    encoder_int8: str = _param('auto', 'auto: fp32, the precision that tracks as well as fp32 '
                               'on every benchmark sequence (no int8 recipe did: '
                               'bench/results/encoder_paths.md); on (opt-in, costs accuracy: '
                               'PETS09 IDF1 -7 to -9 points on an Intel AMX CPU): with .pth '
                               'weights on a CPU, quantise to int8 once (calibrated on the first '
                               '80 crops, cached) and switch to it where this CPU runs it faster '
                               '(2.4x with AMX); off: always fp32',
                               choices=ENCODER_INT8_MODES)
    encoder_runtime: str = _param('onnxruntime', 'what runs ONNX models (and .pth exports): '
                                  'onnxruntime; openvino (on an Intel CPU: bf16 on AMX, 30 '
                                  'people a frame in 35 ms against 44 on onnxruntime int8, '
                                  '~200 MB more memory); auto (OpenVINO on a CPU when the '
                                  'openvino package is installed, else onnxruntime)',
                                  choices=ENCODER_RUNTIMES)
    encode_batch_size: int = _param(16, 'most crops per Re-ID encoder call (bounds the memory a '
                                    'frame with many detections needs: onnxruntime on a CPU '
                                    'keeps ~6 MB a crop); a frame with more is split in calls '
                                    'of even size',
                                    low=1, high=4096)
    publish_markers: bool = _param(True, 'publish visualization_msgs/MarkerArray on ~/markers '
                                   '(can be changed at run time)', read_only=False)
    annotated_image: str = _param('auto', 'publish ~/image_annotated: auto (only while '
                                  'subscribed), always, never (can be changed at run time)',
                                  choices=ANNOTATED_MODES, read_only=False)
    trail_length: int = _param(20, 'past positions drawn per track (matched ones only)',
                               low=0, high=1000)
    trail_max_jump: float = _param(1.0, 'a trail step longer than this many box heights (a '
                                   're-link, a jump) starts the trail again there', low=0.01,
                                   high=1000.0)
    annotated_coast_time: float = _param(0.5, 'coasting tracks are drawn (dashed) for this long '
                                         'after their last detection, s (0: never)', low=0.0,
                                         high=3600.0)
    diagnostics_period: float = _param(1.0, 'period of /diagnostics, s', low=0.05, high=3600.0)
    autostart: bool = _param(True, 'configure and activate at start (unmanaged use)')

    def __post_init__(self) -> None:
        """Check every value; raise ValueError naming the parameter."""
        schema.check_fields(self)
        for name in ('base_to_camera_xyz', 'base_to_camera_rpy'):
            value = getattr(self, name)
            if len(value) != 3 or not all(math.isfinite(float(v)) for v in value):
                raise ValueError(f'{name} must be three finite numbers, got {value!r}')
        self.ground_filter()  # raises ValueError on bad world_* settings
        if self.encoder_device != 'auto' and self.encoder_device != 'cpu' and \
                not self.encoder_device.startswith('cuda'):
            raise ValueError(f'encoder_device must be auto, cpu, cuda or cuda:N, '
                             f'got {self.encoder_device!r}')

    def ground_filter(self) -> GroundFilterConfig:
        """Return the settings of the world estimate (``world_*``)."""
        return GroundFilterConfig(
            contact_std_px=tuple(float(v) for v in self.world_contact_std_px),
            contact_std_height=tuple(float(v) for v in self.world_contact_std_height),
            contact_bias_std_px=tuple(float(v) for v in self.world_contact_bias_std_px),
            contact_bias_std_size=tuple(float(v) for v in self.world_contact_bias_std_size),
            std_acceleration=self.world_std_acceleration,
            measurement_correlation_time=self.world_correlation_time,
            initial_velocity_std=self.world_initial_velocity_std,
            relinearise=self.world_relinearise,
            relinearise_max_ratio=self.world_relinearise_max_ratio)

    def depth(self) -> DepthConfig:
        """Return the settings of depth-based world positions (``depth_*``)."""
        return DepthConfig(depth_range_m=(0.2, self.depth_max_range),
                           depth_std_quadratic=self.depth_std_quadratic)

    def camera(self) -> Optional[PinholeCamera]:
        """Return the ideal camera of the fx, fy, cx, cy parameters, or None when not set."""
        if self.fx > 0.0 and self.fy > 0.0:
            return PinholeCamera.from_intrinsics(self.fx, self.fy, self.cx, self.cy)
        return None


def runtime_fields() -> List[str]:
    """Return the names of the node parameters that may change while it runs."""
    return schema.runtime_names(NodeConfig)


def node_fields() -> List[Any]:
    """Return the dataclass fields of :class:`NodeConfig`, the node's own parameters."""
    return list(fields(NodeConfig))


def tracker_config_class() -> Any:
    """Return the core's ``TrackerConfig`` class (imported late: it is the core's)."""
    from deepsort_ros.core import TrackerConfig
    return TrackerConfig


def tracker_fields() -> List[Any]:
    """Return the fields of the core's ``TrackerConfig``, exposed as ``tracker.<name>``."""
    return [f for f in fields(tracker_config_class()) if f.init]


def tracker_descriptions() -> Dict[str, str]:
    """Return ``name -> description`` of the tracker settings, from their docstring."""
    return schema.docstring_descriptions(tracker_config_class())


def parameter_names() -> List[str]:
    """Return the names of every parameter the node declares (``tracker.<name>`` included)."""
    return [f.name for f in node_fields()] + [TRACKER_PREFIX + f.name for f in tracker_fields()]


def unknown_parameter_text(name: str) -> str:
    """Return what to say about a parameter the node does not have."""
    return schema.unknown_text(name, parameter_names(), TRACKER_PREFIX)


def split_parameters(values: Dict[str, Any]) -> Tuple[NodeConfig, Any]:
    """
    Build and validate both configs from flat parameter values.

    Parameters
    ----------
    values : dict
        ``name -> value`` for node parameters and ``tracker.<name> -> value`` for tracker ones;
        missing names take their defaults.

    Returns
    -------
    (NodeConfig, TrackerConfig)

    Raises
    ------
    ValueError
        Naming the parameter and the reason, for unknown names and invalid values.

    """
    tracker_names = [f.name for f in tracker_fields()]
    node_values, tracker_values, _ = schema.route_values(values, NodeConfig, TRACKER_PREFIX,
                                                         tracker_names)
    tracker_config = schema.build_core(tracker_config_class(), TRACKER_PREFIX, tracker_names,
                                       tracker_values)
    return NodeConfig(**node_values), tracker_config


def load_params_file(path: Path, node_name: str = NODE_NAME) -> Dict[str, Any]:
    """Read a ROS 2 parameters YAML file into flat ``name -> value`` for the tracker node."""
    return schema.load_params_file(path, node_name)
