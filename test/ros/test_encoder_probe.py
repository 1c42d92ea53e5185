"""A broken Re-ID model is refused at configure; one that breaks mid-run leaves motion tracking."""

import uuid

from deepsort_ros.core import TrackerConfig
from deepsort_ros.pipeline.diagnostics import DiagnosticsCollector, Level
from deepsort_ros.pipeline.encoder import load_encoder
from deepsort_ros.pipeline.tracking import TrackingPipeline
from deepsort_ros.reid import create_encoder
from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.convert.stamps import make_header
from deepsort_ros.settings.tracker import NodeConfig
from helpers.node_harness import Harness, scene_frame, start_node, stop_node
from helpers.onnx_models import write_model
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
import numpy as np
import pytest

WIDTH, HEIGHT = 320, 240
FRAME_NS = 100_000_000  # 10 Hz
START_NS = 1_000_000_000_000
WAIT_S = 30.0


def _boxes(frame: int) -> np.ndarray:
    x = 20.0 + 3.0 * frame
    return np.array([[x, 40.0, 30.0, 70.0], [260.0 - x, 120.0, 30.0, 70.0]])


@pytest.mark.parametrize('kind,reason', [
    ('wrong_channels', 'failed on a probe crop'),
    ('nan', 'returned non-finite (NaN or inf) features'),
])
def test_load_encoder_refuses_a_broken_model_saying_why(tmp_path, kind, reason):
    path = write_model(tmp_path / f'{kind}.onnx', kind)
    with pytest.raises(RuntimeError) as refused:
        load_encoder(NodeConfig(encoder_weights=str(path)), live=False)
    first_line = str(refused.value).splitlines()[0]
    assert first_line.startswith('cannot load the Re-ID encoder'), first_line
    assert reason in first_line and str(path) in first_line, 'what is wrong, on the first line'
    assert 'use_appearance:=false' in first_line, 'and what to do'


def test_features_that_turn_nan_mid_run_leave_tracking_on_motion_with_a_warning(tmp_path):
    """Frames 8-12 are bright (the model answers NaN there): tracks go on, on motion."""
    encoder = create_encoder(str(write_model(tmp_path / 'bright.onnx', 'bright_nan')),
                             device='cpu')
    pipeline = TrackingPipeline(NodeConfig(ego_motion_mode='off', reuse_features=False),
                                TrackerConfig(), encoder)
    bright = range(8, 13)
    ids_by_frame = []
    for frame in range(18):
        header = make_header(START_NS + frame * FRAME_NS, 'camera_optical_frame')
        boxes = _boxes(frame)
        image = scene_frame(WIDTH, HEIGHT, boxes, seed=frame)
        if frame in bright:
            image[:] = 255
        pipeline.add_image(bgr_to_image_msg(image, header))
        results = pipeline.track(pipeline.add_detections(
            detections_to_msg(header, boxes, [0.9, 0.9], 'person')))
        assert len(results) == 1, f'frame {frame} was not tracked'
        matched = {t.detection_index: t.id for t in results[0].tracks.tracks
                   if t.state == t.STATE_CONFIRMED and t.detection_index >= 0}
        ids_by_frame.append(matched)
    before, during, after = ids_by_frame[7], ids_by_frame[8:13], ids_by_frame[13:]
    assert sorted(before) == [0, 1], 'both people confirmed before the light changes'
    assert all(m == before for m in during), f'NaN features must not drop people: {during}'
    assert all(m == before for m in after), f'identities kept after it: {after}'
    assert pipeline.stats.bad_features == 2 * len(bright)
    assert pipeline.tracker.counters.dropped_detections == 0, 'never dropped'
    report = DiagnosticsCollector().collect(pipeline)
    assert report.level == Level.WARN
    assert report.as_dict()['bad features (tracked on motion)'] == str(2 * len(bright))


@pytest.mark.dds
def test_the_node_stays_unconfigured_with_a_wrong_channel_model(ros_domain_id, tmp_path):
    namespace = f'/t{uuid.uuid4().hex[:8]}'
    path = write_model(tmp_path / 'wrong_channels.onnx', 'wrong_channels')
    node = start_node(namespace, [f'encoder_weights:={path}'])
    harness = Harness(ros_domain_id, namespace)
    try:
        client = harness.node.create_client(GetState, f'{namespace}/deepsort_tracker/get_state')
        assert harness.spin_until(client.service_is_ready, WAIT_S), 'no lifecycle service'
        future = client.call_async(GetState.Request())
        assert harness.spin_until(future.done, WAIT_S), 'get_state did not answer'
        # autostart tried to configure before the node could answer
        assert future.result().current_state.id == State.PRIMARY_STATE_UNCONFIGURED
        assert harness.detections_pub.get_subscription_count() == 0
        assert node.poll() is None, 'a refused model must not kill the process'
    finally:
        harness.close()
        output = stop_node(node)
    assert 'failed on a probe crop' in output, output
