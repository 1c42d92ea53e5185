"""
Silent failures made loud (issue 26), through the node over real DDS.

A mistyped remap used to track every frame on motion alone under an OK ``/diagnostics``; a
node that failed ``configure`` idled with no topics and no ``/diagnostics`` at all.
"""

import subprocess
import sys
from typing import List, Optional, Sequence
import uuid

from diagnostic_msgs.msg import DiagnosticStatus
from helpers.node_harness import Harness, NODE_MODULE, source_tree_env
from helpers.paths import PARAMS
import numpy as np
import pytest
from ros.test_hostile_node import FRAME_NS, Output, START_NS, stop

pytestmark = pytest.mark.dds

WAIT_S = 30.0
BOXES = np.array([[20.0, 40.0, 30.0, 70.0], [140.0, 60.0, 30.0, 70.0]])


def _start(namespace: str, overrides: Sequence[str] = (), remaps: Sequence[str] = ()
           ) -> subprocess.Popen:
    args = [sys.executable, '-m', NODE_MODULE, '--ros-args', '--params-file', str(PARAMS),
            '-r', f'__ns:={namespace}', '-p', 'image_qos:=reliable',
            '-p', 'use_appearance:=false']
    for remap in remaps:
        args += ['-r', remap]
    for override in overrides:
        args += ['-p', override]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=source_tree_env(), text=True)


def _statuses(harness: Harness, namespace: str) -> List[DiagnosticStatus]:
    prefix = namespace.lstrip('/') + '/'
    return [status for array in list(harness.received['diagnostics'])
            for status in array.status if status.name.startswith(prefix)]


def _wait_status(harness: Harness, namespace: str, level: bytes, text: str
                 ) -> Optional[DiagnosticStatus]:
    def found():
        return next((s for s in _statuses(harness, namespace)
                     if s.level == level and text in s.message), None)
    harness.spin_until(lambda: found() is not None, WAIT_S)
    return found()


def _publish_frames(harness: Harness, count: int, images: bool = True) -> None:
    image = np.full((240, 320, 3), 90, np.uint8)
    for i in range(count):
        harness.publish_frame(START_NS + i * FRAME_NS, image if images else None, BOXES)
        harness.spin_until(lambda: False, 0.1)


def test_a_mistyped_image_remap_is_named_in_the_log_and_a_warn(ros_domain_id):
    namespace = f'/l{uuid.uuid4().hex[:8]}'
    node = _start(namespace, remaps=['image:=/camera/imag_raw'])
    output = Output(node)
    harness = Harness(ros_domain_id, namespace)
    try:
        assert harness.spin_until(lambda: harness.detections_pub.get_subscription_count() > 0,
                                  WAIT_S), output.text()
        # The start-up line names the topics as resolved, after remapping.
        assert harness.spin_until(lambda: output.count('listening to /camera/imag_raw') == 1,
                                  10.0), output.text()
        assert output.count(f'{namespace}/detections (vision_msgs/Detection2DArray)') == 1
        _publish_frames(harness, 15)
        status = _wait_status(harness, namespace, DiagnosticStatus.WARN,
                              'but no image on /camera/imag_raw')
        assert status is not None, [s.message for s in _statuses(harness, namespace)][-3:]
        assert f'detections arrive on {namespace}/detections' in status.message
        values = {kv.key: kv.value for kv in status.values}
        assert 'no image on /camera/imag_raw' in values['inputs missing']
    finally:
        harness.close()
        stop(node, output)


def test_odometry_mode_without_odometry_or_camera_info_is_a_warn(ros_domain_id):
    namespace = f'/o{uuid.uuid4().hex[:8]}'
    node = _start(namespace, ['ego_motion_mode:=odometry'])
    output = Output(node)
    harness = Harness(ros_domain_id, namespace)
    try:
        assert harness.wait_for_tracker(WAIT_S), output.text()
        _publish_frames(harness, 15)
        status = _wait_status(harness, namespace, DiagnosticStatus.WARN,
                              f'no odometry on {namespace}/odom')
        assert status is not None, [s.message for s in _statuses(harness, namespace)][-3:]
        assert f'no camera_info on {namespace}/camera_info' in status.message
        assert 'no image' not in status.message, 'the images do come'
    finally:
        harness.close()
        stop(node, output)


@pytest.mark.parametrize('override,reason', [
    ('tracker.max_age:=-5', 'tracker.max_age must be'),
    ('encoder_weights:=/nonexistent/osnet_x0_25_msmt17.pth',
     "encoder_weights '/nonexistent/osnet_x0_25_msmt17.pth' does not exist: name an OSNet"),
])
def test_a_node_that_cannot_configure_says_why_again_and_on_diagnostics(
        ros_domain_id, override, reason):
    namespace = f'/c{uuid.uuid4().hex[:8]}'
    node = _start(namespace, ['use_appearance:=true', override])
    output = Output(node)
    harness = Harness(ros_domain_id, namespace)
    try:
        status = _wait_status(harness, namespace, DiagnosticStatus.ERROR, reason)
        assert status is not None, output.text()
        assert {kv.key: kv.value for kv in status.values}['state'] == 'unconfigured'
        # Logged again while the process idles (every LOG_THROTTLE_S).
        assert harness.spin_until(lambda: output.count(reason) >= 2, WAIT_S), output.text()
        assert node.poll() is None, 'a refusal must not end the process'
        # The first line about it says what to do, before any other word from the loader.
        first = next(line for line in output.lines if 'osnet' in line or 'max_age' in line)
        assert reason in first, output.text()
    finally:
        harness.close()
        stop(node, output)
