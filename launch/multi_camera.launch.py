"""
Start one tracker node per camera and the fusion node, all from one rig YAML.

The rig file (default ``config/rig_pets09.yaml``) is a ROS parameters file: its
``/**/track_fusion`` section is the fusion node's (``cameras`` names them), and a
``/<camera>/deepsort_tracker`` section per camera holds what differs from the trackers'
common file (``tracker_params``, default ``config/deepsort.yaml``): topics, mount, encoder.
Tracker ``<camera>`` runs in namespace ``/<camera>`` (its outputs ``/<camera>/deepsort_tracker/
tracks`` and ``.../appearances``, where the fusion listens by default).
"""

import os
from typing import Any, Dict, List

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node
import yaml

FUSION_KEYS = ('/**/track_fusion', 'track_fusion', '/track_fusion')


def _flatten(tree: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def _section(document: Dict[str, Any], keys: List[str]) -> Dict[str, Any]:
    for key in keys:
        section = document.get(key)
        if isinstance(section, dict) and isinstance(section.get('ros__parameters'), dict):
            return _flatten(section['ros__parameters'])
    return {}


def _read(path: str) -> Dict[str, Any]:
    with open(path) as stream:
        document = yaml.safe_load(stream)
    if not isinstance(document, dict):
        raise RuntimeError(f'{path} must map node names to ros__parameters')
    return document


def _nodes(context: LaunchContext) -> List[Node]:
    rig_path = LaunchConfiguration('rig_config').perform(context)
    tracker_path = LaunchConfiguration('tracker_params').perform(context)
    use_sim_time = LaunchConfiguration('use_sim_time').perform(context).lower() == 'true'
    arrival = LaunchConfiguration('use_arrival_time').perform(context).lower() == 'true'
    weights = LaunchConfiguration('encoder_weights').perform(context)
    rig = _read(rig_path)
    fusion = _section(rig, list(FUSION_KEYS))
    cameras = fusion.get('cameras') or []
    if not cameras:
        raise RuntimeError(f'{rig_path} names no cameras: its /**/track_fusion section needs '
                           'cameras: [name, ...]')
    # Read here and passed as values: a file keyed `deepsort_tracker:` would not reach a node
    # in a namespace.
    common = _section(_read(tracker_path), ['/**', '/**/deepsort_tracker', 'deepsort_tracker',
                                            '/deepsort_tracker'])
    nodes = []
    for camera in cameras:
        own = _section(rig, [f'/{camera}/deepsort_tracker', f'{camera}/deepsort_tracker'])
        values = {**common, **own, 'use_sim_time': use_sim_time}
        if weights:
            values['encoder_weights'] = weights
        nodes.append(Node(package='deepsort_ros', executable='tracker_node',
                          name='deepsort_tracker', namespace=camera, output='screen',
                          parameters=[values]))
    fusion_values = {**fusion, 'use_sim_time': use_sim_time, 'use_arrival_time': arrival}
    nodes.append(Node(package='deepsort_ros', executable='track_fusion', name='track_fusion',
                      namespace=LaunchConfiguration('fusion_namespace'), output='screen',
                      parameters=[fusion_values]))
    return nodes


def generate_launch_description() -> LaunchDescription:
    """Describe the trackers and the fusion node of a rig."""
    share = get_package_share_directory('deepsort_ros')
    config = os.path.join(share, 'config')
    # Fast DDS's default shared-memory segment loses camera images (see deepsort.launch.py).
    dds_profile = EnvironmentVariable(
        'FASTDDS_DEFAULT_PROFILES_FILE',
        default_value=os.path.join(config, 'fastdds_large_data.xml'))
    return LaunchDescription([
        SetEnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', dds_profile),
        DeclareLaunchArgument('rig_config', default_value=os.path.join(config, 'rig_pets09.yaml'),
                              description='rig YAML: the fusion node and one tracker section '
                              'per camera'),
        DeclareLaunchArgument('tracker_params',
                              default_value=os.path.join(config, 'deepsort.yaml'),
                              description="the trackers' common parameters file"),
        DeclareLaunchArgument('encoder_weights', default_value='',
                              description='Re-ID weights for every tracker (empty: as the '
                              'files say)'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='every node follows /clock'),
        DeclareLaunchArgument('use_arrival_time', default_value='true',
                              description='the fusion checks stamps against their arrival; '
                              'false for bags played without /clock'),
        DeclareLaunchArgument('fusion_namespace', default_value='',
                              description='namespace of the fusion node'),
        OpaqueFunction(function=_nodes),
    ])
