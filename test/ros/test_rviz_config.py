"""
``rviz/deepsort.rviz`` shows what our nodes publish (rviz2 itself cannot run here).

The tracker and the fusion node run in one namespace, as ``rviz:=true`` starts rviz2 in the
tracker's; every topic display of the view must resolve to a topic one of them publishes, with
the message type the display subscribes with. The launch file declares ``rviz`` and starts
rviz2 with the installed view.
"""

import subprocess
import sys
from typing import Dict, List, Set, Tuple
import uuid

from helpers.node_harness import Harness, source_tree_env, start_node, stop_node
from helpers.paths import REPO
import pytest
import yaml

pytestmark = pytest.mark.dds

VIEW = REPO / 'rviz' / 'deepsort.rviz'
WAIT_S = 60.0
# What each rviz2 display class subscribes with.
DISPLAY_TYPES = {
    'rviz_default_plugins/Image': 'sensor_msgs/msg/Image',
    'rviz_default_plugins/MarkerArray': 'visualization_msgs/msg/MarkerArray',
}


def _topic_displays() -> List[Tuple[str, str, str]]:
    view = yaml.safe_load(VIEW.read_text())
    return [(d['Name'], d['Class'], d['Topic']['Value'])
            for d in view['Visualization Manager']['Displays'] if 'Topic' in d]


def test_view_names_topics_relative_to_the_namespace():
    displays = _topic_displays()
    assert {cls for _, cls, _ in displays} == set(DISPLAY_TYPES)
    names = {topic for _, _, topic in displays}
    assert {'deepsort_tracker/image_annotated', 'deepsort_tracker/markers',
            'track_fusion/markers'} <= names
    assert not [t for t in names if t.startswith('/')], 'absolute topics ignore namespace:='


def test_every_display_subscribes_to_a_topic_our_nodes_publish(ros_domain_id, tmp_path):
    namespace = f'/v{uuid.uuid4().hex[:8]}'
    fusion_params = tmp_path / 'fusion.yaml'
    fusion_params.write_text('/**/track_fusion:\n  ros__parameters:\n    cameras: [cam]\n')
    tracker = start_node(namespace, ['use_appearance:=false'])
    fusion = subprocess.Popen(
        [sys.executable, '-m', 'deepsort_ros.ros.track_fusion.node', '--ros-args', '--params-file',
         str(fusion_params), '-r', f'__ns:={namespace}'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=source_tree_env())
    harness = Harness(ros_domain_id, namespace)
    published: Dict[str, Set[str]] = {}

    def collect() -> bool:
        published.clear()
        for node in ('deepsort_tracker', 'track_fusion'):
            try:
                pairs = harness.node.get_publisher_names_and_types_by_node(node, namespace)
            except Exception:  # noqa: B902 - the node is not discovered yet
                return False
            for topic, types in pairs:
                published.setdefault(topic, set()).update(types)
        wanted = {f'{namespace}/{topic}' for _, _, topic in _topic_displays()}
        return wanted <= set(published)

    try:
        found = harness.spin_until(collect, WAIT_S)
    finally:
        harness.close()
        output = stop_node(tracker)
        fusion.terminate()
        try:
            output += fusion.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            fusion.kill()
    assert found, (published, output[-3000:])
    for name, cls, topic in _topic_displays():
        assert DISPLAY_TYPES[cls] in published[f'{namespace}/{topic}'], (name, published)


def test_launch_file_starts_rviz_with_the_installed_view():
    # launch_ros, not launch: the repository's launch/ folder imports as a namespace package.
    pytest.importorskip('launch_ros', reason='launch is not installed here (the set-up builds '
                        'it into install_overlay/ when it has the sources; a ROS install has it)')
    import launch
    import launch.launch_description_sources
    import launch.utilities
    import launch_ros.actions
    installed = REPO / 'install' / 'deepsort_ros' / 'share' / 'deepsort_ros' / 'rviz'
    assert (installed / 'deepsort.rviz').read_text() == VIEW.read_text(), \
        'install/ is stale or setup.py does not install rviz/: run ./dev.sh setup'
    source = launch.launch_description_sources.PythonLaunchDescriptionSource(
        str(REPO / 'launch' / 'deepsort.launch.py'))
    context = launch.LaunchContext()
    description = source.get_launch_description(context)
    arguments = {a.name: a.default_value for a in description.get_launch_arguments()}
    assert 'rviz' in arguments and 'rviz_fixed_frame' in arguments
    # The executable as the node would run it (launch_ros keeps it as substitutions).
    nodes = [e for e in description.entities if isinstance(e, launch_ros.actions.Node)
             and launch.utilities.perform_substitutions(
                 context, launch.utilities.normalize_to_list_of_substitutions(
                     e._Node__node_executable)) == 'rviz2']
    assert len(nodes) == 1
    for value, starts in (('true', True), ('false', False)):
        context.launch_configurations['rviz'] = value
        assert nodes[0].condition.evaluate(context) is starts, f'rviz:={value}'
