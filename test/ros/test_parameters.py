"""The node's parameters: one table, documented in config/deepsort.yaml, validated once."""

from dataclasses import fields

from deepsort_ros.core import TrackerConfig
from deepsort_ros.settings import tracker as nc
from helpers.paths import REPO
import pytest

PARAMS = REPO / 'config' / 'deepsort.yaml'


def test_config_file_documents_every_parameter_with_its_default():
    values = nc.load_params_file(PARAMS)
    node_defaults = nc.NodeConfig()
    tracker_defaults = TrackerConfig()
    expected = {f.name: getattr(node_defaults, f.name) for f in fields(nc.NodeConfig)}
    expected.update({nc.TRACKER_PREFIX + f.name: getattr(tracker_defaults, f.name)
                     for f in nc.tracker_fields()})
    assert set(values) == set(expected), 'config/deepsort.yaml and the declarations differ'
    for name, default in expected.items():
        got = values[name]
        if isinstance(default, float):
            assert got == pytest.approx(default), name
        else:
            assert got == default, name


def test_every_tracker_setting_has_a_description():
    descriptions = nc.tracker_descriptions()
    missing = [f.name for f in nc.tracker_fields() if not descriptions.get(f.name)]
    assert not missing


def test_the_config_file_builds_valid_configs():
    node, tracker = nc.split_parameters(nc.load_params_file(PARAMS))
    assert node.ego_motion_mode == 'auto'
    assert isinstance(tracker, TrackerConfig)


@pytest.mark.parametrize('name,value,reason', [
    ('ego_motion_mode', 'sideways', 'ego_motion_mode must be one of'),
    ('sync_tolerance', -0.1, 'sync_tolerance must be >='),
    ('max_pending', 0, 'max_pending must be >='),
    ('base_to_camera_xyz', [0.0, 1.0], 'three finite numbers'),
    ('encoder_device', 'tpu', 'encoder_device'),
    ('encoder_int8', 'always', 'encoder_int8 must be one of'),
    ('encoder_runtime', 'tensorrt', 'encoder_runtime must be one of'),
    ('nonsense', 1, "unknown parameter 'nonsense'"),
    ('tracker.nn_budget', -5, r'^tracker\.nn_budget must be >= 1'),
    # The full parameter name, as a user sets it (issue 26: it said max_age).
    ('tracker.max_age', -5, r'^tracker\.max_age must be'),
])
def test_invalid_values_are_rejected_with_the_reason(name, value, reason):
    with pytest.raises(ValueError, match=reason):
        nc.split_parameters({name: value})


def test_params_file_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match='does not exist'):
        nc.load_params_file(tmp_path / 'missing.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('other_node:\n  ros__parameters:\n    a: 1\n')
    with pytest.raises(ValueError, match='deepsort_tracker'):
        nc.load_params_file(bad)
    wildcard = tmp_path / 'wild.yaml'
    wildcard.write_text('/**:\n  ros__parameters:\n    tracker:\n      n_init: 5\n')
    assert nc.load_params_file(wildcard) == {'tracker.n_init': 5}
