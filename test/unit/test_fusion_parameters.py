"""The fusion node's parameters: one declaration, validated once, the YAML file as documented."""

from deepsort_ros.fusion.world_frames import PlanarTransform
from deepsort_ros.settings import fusion as fp
from helpers.paths import REPO
import pytest

FILE = REPO / 'config' / 'fusion.yaml'


def test_the_documented_file_holds_every_parameter_at_its_default():
    values = fp.load_params_file(FILE)
    node, cameras, fusion = fp.split_parameters(values)
    assert node.cameras == ['left', 'right'] and [c.name for c in cameras] == node.cameras
    assert cameras[0].tracks_topic == '/left/deepsort_tracker/tracks'
    assert cameras[0].appearances_topic == '/left/deepsort_tracker/appearances'
    defaults = fp.FusionConfig()
    for f in fp.fusion_fields():
        assert values[fp.FUSION_PREFIX + f.name] == getattr(defaults, f.name), f.name
        assert f.name in fp.fusion_descriptions(), f.name
    for f in fp.fields(fp.FusionNodeConfig):
        if f.name != 'cameras':
            assert values[f.name] == f.default, f.name


def test_camera_topics_default_to_the_trackers_namespaces_and_poses_are_planar():
    node, cameras, _ = fp.split_parameters({
        'cameras': ['front', 'rear'], 'camera.rear.world_pose': [1.0, 2, 0.5],
        'camera.rear.tracks_topic': '/robot/rear/people'})
    assert cameras[0].tracks_topic == '/front/deepsort_tracker/tracks'
    assert cameras[1].appearances_topic == '/robot/rear/appearances'
    assert cameras[1].world_pose == PlanarTransform(1.0, 2.0, 0.5)
    assert cameras[0].world_pose is None


@pytest.mark.parametrize('values, words', [
    ({}, 'cameras must name'),
    ({'cameras': ['a', 'a']}, 'distinct'),
    ({'cameras': ['a b']}, 'letters'),
    ({'cameras': ['a'], 'camera.b.tracks_topic': '/x'}, 'unknown parameter'),
    ({'cameras': ['a'], 'camera.a.world_pose': [1.0]}, 'world_pose'),
    ({'cameras': ['a'], 'fusion.max_delay': -1.0}, 'fusion.max_delay'),
    ({'cameras': ['a'], 'fusion.max_dely': 1.0}, 'unknown parameter'),
    ({'cameras': ['a'], 'diagnostics_period': 0.0}, 'diagnostics_period'),
    ({'cameras': ['a', 'b'], 'camera.b.tracks_topic': '/a/deepsort_tracker/tracks'},
     'share a tracks topic'),
])
def test_bad_values_are_refused_with_the_reason(values, words):
    with pytest.raises(ValueError, match=words):
        fp.split_parameters(values)


def test_a_file_keyed_for_any_namespace_is_read(tmp_path):
    path = tmp_path / 'f.yaml'
    path.write_text('/**/track_fusion:\n  ros__parameters:\n    cameras: [a]\n')
    assert fp.load_params_file(path) == {'cameras': ['a']}
    path.write_text('other:\n  ros__parameters: {}\n')
    with pytest.raises(ValueError, match='track_fusion'):
        fp.load_params_file(path)


def test_the_rig_file_matches_the_rig():
    import yaml

    from deepsort_ros.sim.camera_rig import gap_rig, overlap_rig

    document = yaml.safe_load((REPO / 'config' / 'rig_pets09.yaml').read_text())
    node, cameras, _ = fp.split_parameters(_flat(document['/**/track_fusion']))
    for rig in (overlap_rig(), gap_rig()):
        assert node.cameras == rig.names
        for camera in cameras:
            tracker = document[f'/{camera.name}/deepsort_tracker']['ros__parameters']
            assert tracker['base_to_camera_rpy'] == pytest.approx(
                rig[camera.name].base_to_camera_rpy, abs=1e-9)
            assert tracker['image_topic'] == f'/{camera.name}/camera/image_raw'
            assert camera.tracks_topic == f'/{camera.name}/deepsort_tracker/tracks'


def _flat(section):
    from deepsort_ros.settings.schema import _flatten

    values = {}
    _flatten(section['ros__parameters'], '', values)
    return values
