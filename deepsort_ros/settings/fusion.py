"""
Every parameter of the fusion node (``track_fusion``), declared once, validated once.

ROS-free, written in the schema of :mod:`deepsort_ros.settings.schema` like
:mod:`deepsort_ros.settings.tracker`: the node turns these declarations into ROS parameters with
descriptors, and the offline runner (``deepsort-ros
fuse --fusion-params``) reads the same YAML file. Three kinds: the node's own settings
(:class:`FusionNodeConfig`), one set per camera named in ``cameras``
(``camera.<name>.tracks_topic``, ``appearances_topic``, ``world_pose``:
:class:`CameraInput`), and the fusion core's thresholds, the fields of
:class:`deepsort_ros.fusion.FusionConfig`, as ``fusion.<name>``.
"""

from dataclasses import dataclass, fields
from pathlib import Path
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from deepsort_ros.fusion.config import FusionConfig
from deepsort_ros.fusion.world_frames import PlanarTransform
from deepsort_ros.settings import schema
from deepsort_ros.settings.schema import param as _param

NODE_NAME = 'track_fusion'
FUSION_PREFIX = 'fusion.'
CAMERA_PREFIX = 'camera.'
# FusionConfig fields the node sets itself (world_frame: from world_frame_id).
NODE_OWNED_FUSION_FIELDS = ('world_frame',)
CAMERA_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]{0,62}$')


@dataclass(frozen=True)
class FusionNodeConfig:
    """The fusion node's own settings (cameras, frames, clock, outputs)."""

    cameras: List[str] = _param([], 'names of the cameras to fuse (letters, digits, _); each '
                                'has camera.<name>.tracks_topic, appearances_topic and '
                                'world_pose')
    world_frame_id: str = _param('', "frame of the global tracks; empty: the first camera's "
                                 'world frame (TrackArray.world_frame_id)')
    use_tf: bool = _param(True, 'look up each camera world frame in world_frame_id in TF '
                          '(needs tf2_ros); camera.<name>.world_pose when TF does not answer')
    use_arrival_time: bool = _param(True, 'check each camera stamp against its arrival on '
                                    "this node's clock (clock_ahead, too_late); false trusts "
                                    'the stamps (replays without /clock)')
    ground_height: float = _param(0.0, "z of the global tracks' poses, m",
                                  low=-1000.0, high=1000.0)
    appearance_max_age: float = _param(30.0, 'a track feature not sent again nor used for this '
                                       'long is forgotten, s', low=0.1, high=3600.0)
    publish_markers: bool = _param(True, 'publish visualization_msgs/MarkerArray on ~/markers '
                                   '(can be changed at run time)', read_only=False)
    diagnostics_period: float = _param(1.0, 'period of /diagnostics, s', low=0.05, high=3600.0)
    autostart: bool = _param(True, 'configure and activate at start (unmanaged use)')

    def __post_init__(self) -> None:
        """Check every value; raise ValueError naming the parameter."""
        schema.check_fields(self)
        if not self.cameras:
            raise ValueError('cameras must name at least one camera, e.g. cameras:=[left, '
                             'right]')
        for name in self.cameras:
            if not isinstance(name, str) or not CAMERA_NAME.match(name):
                raise ValueError(f'camera name {name!r} must start with a letter and hold '
                                 'letters, digits and _ only (at most 63)')
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f'cameras must be distinct, got {self.cameras}')


@dataclass(frozen=True)
class CameraInput:
    """
    One camera's inputs.

    Attributes
    ----------
    name : str
    tracks_topic : str
        Its tracker's ``TrackArray`` topic.
    appearances_topic : str
        Its tracker's ``TrackAppearanceArray`` topic.
    world_pose : PlanarTransform or None
        Its world frame in the fusion's, when TF does not say (None: not given).

    """

    name: str
    tracks_topic: str
    appearances_topic: str
    world_pose: Optional[PlanarTransform] = None


# Per-camera parameters: name -> (description, default of camera <name> or None when unset).
CAMERA_PARAMETERS = {
    'tracks_topic': "deepsort_ros_msgs/TrackArray topic of this camera's tracker (default "
                    '/<name>/deepsort_tracker/tracks)',
    'appearances_topic': 'deepsort_ros_msgs/TrackAppearanceArray topic (default: beside the '
                         'tracks topic, .../appearances)',
    'world_pose': "[x, y, yaw] (m, m, rad) of this camera's world frame in world_frame_id, "
                  'used when the frames differ and TF does not answer; unset: only TF',
}


def default_tracks_topic(camera: str) -> str:
    """Return where a camera's tracker publishes by default (node in namespace ``/camera``)."""
    return f'/{camera}/deepsort_tracker/tracks'


def sibling_topic(tracks_topic: str, name: str = 'appearances') -> str:
    """Return the topic beside a tracker's tracks topic (``.../tracks`` -> ``.../<name>``)."""
    head, _, _ = tracks_topic.rstrip('/').rpartition('/')
    return f'{head}/{name}' if head or tracks_topic.startswith('/') else name


def camera_parameter(camera: str, name: str) -> str:
    """Return the full parameter name of one camera's setting."""
    return f'{CAMERA_PREFIX}{camera}.{name}'


def fusion_fields() -> List[Any]:
    """Return the FusionConfig fields exposed as ``fusion.<name>`` parameters."""
    return [f for f in fields(FusionConfig) if f.name not in NODE_OWNED_FUSION_FIELDS]


def fusion_descriptions() -> Dict[str, str]:
    """Return ``name -> description`` of FusionConfig's settings, from its docstring."""
    return schema.docstring_descriptions(FusionConfig)


def runtime_fields() -> List[str]:
    """Return the names of the node parameters that may change while it runs."""
    return schema.runtime_names(FusionNodeConfig)


def unknown_parameter_text(name: str) -> str:
    """Return what to say about a parameter the node does not have."""
    names = [f.name for f in fields(FusionNodeConfig)] + [
        FUSION_PREFIX + f.name for f in fusion_fields()]
    return schema.unknown_text(name, names, FUSION_PREFIX)


def split_parameters(values: Dict[str, Any]
                     ) -> Tuple[FusionNodeConfig, List[CameraInput], FusionConfig]:
    """
    Build and validate the node's, the cameras' and the core's settings from flat values.

    Parameters
    ----------
    values : dict
        ``name -> value``; None (a declared, unset parameter) and missing names take their
        defaults.

    Returns
    -------
    (FusionNodeConfig, list of CameraInput, FusionConfig)

    Raises
    ------
    ValueError
        Naming the parameter and the reason: unknown names, invalid values, a world_pose
        that is not three finite numbers.

    """
    fusion_names = [f.name for f in fusion_fields()]
    given = {name: value for name, value in values.items() if value is not None}
    node_values, fusion_values, camera_values = schema.route_values(
        given, FusionNodeConfig, FUSION_PREFIX, fusion_names, CAMERA_PREFIX)
    node = FusionNodeConfig(**node_values)
    known = {camera_parameter(c, n) for c in node.cameras for n in CAMERA_PARAMETERS}
    for name in camera_values:
        if name not in known:
            raise ValueError(f'unknown parameter {name!r}: camera parameters are '
                             f'camera.<one of {node.cameras}>.<{"|".join(CAMERA_PARAMETERS)}>')
    cameras = [_camera_input(c, camera_values) for c in node.cameras]
    topics = [c.tracks_topic for c in cameras]
    if len(set(topics)) != len(topics):
        raise ValueError(f'two cameras share a tracks topic: {topics}')
    fusion = schema.build_core(FusionConfig, FUSION_PREFIX, fusion_names, fusion_values,
                               world_frame=node.world_frame_id)
    return node, cameras, fusion


def _camera_input(camera: str, values: Dict[str, Any]) -> CameraInput:
    tracks = values.get(camera_parameter(camera, 'tracks_topic')) or default_tracks_topic(camera)
    appearances = values.get(camera_parameter(camera, 'appearances_topic')) or \
        sibling_topic(tracks)
    pose_name = camera_parameter(camera, 'world_pose')
    pose_value: Sequence[float] = values.get(pose_name) or []
    world_pose = None
    if len(pose_value):
        try:
            world_pose = PlanarTransform.from_xy_yaw([float(v) for v in pose_value])
        except (TypeError, ValueError):
            raise ValueError(f'{pose_name} must be [x, y, yaw], three finite numbers, got '
                             f'{list(pose_value)!r}') from None
    for name, topic in (('tracks_topic', tracks), ('appearances_topic', appearances)):
        if not isinstance(topic, str) or not topic:
            raise ValueError(f'{camera_parameter(camera, name)} must be a topic name, got '
                             f'{topic!r}')
    return CameraInput(camera, tracks, appearances, world_pose)


def load_params_file(path: Path, node_name: str = NODE_NAME) -> Dict[str, Any]:
    """
    Read the fusion node's section of a ROS 2 parameters YAML file into flat ``name -> value``.

    The sections ``/**``, ``/**/track_fusion``, ``track_fusion`` and ``/track_fusion``
    (:func:`deepsort_ros.settings.schema.load_params_file`).

    Raises
    ------
    ValueError
        When the file is missing, is not YAML, or holds no parameters for the node.

    """
    return schema.load_params_file(path, node_name)
