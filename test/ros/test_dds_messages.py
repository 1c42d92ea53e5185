"""Messages cross a process boundary over real Fast DDS on loopback and arrive intact."""

import subprocess
import sys
import time

from helpers.message_samples import SAMPLES
from helpers.paths import REPO
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor

WAIT_SECONDS = 20.0


@pytest.mark.dds
@pytest.mark.parametrize('sample', sorted(SAMPLES))
def test_message_roundtrip_over_dds(sample, ros_domain_id):
    msg_type, build = SAMPLES[sample]
    topic = f'/deepsort_test/{sample}'
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('dds_test_subscriber', context=context)
    received = []
    node.create_subscription(msg_type, topic, received.append, 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    publisher = subprocess.Popen(
        [sys.executable, '-m', 'helpers.dds_publisher', sample, topic],
        cwd=REPO / 'test', stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    publishers = 0
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not received and time.monotonic() < deadline and publisher.poll() is None:
            executor.spin_once(timeout_sec=0.1)
            publishers = max(publishers, node.count_publishers(topic))
    finally:
        publisher.kill()
        output = publisher.communicate(timeout=10)[0].decode(errors='replace')
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=context)
    assert received, f'no {msg_type.__name__} arrived within {WAIT_SECONDS} s; ' \
                     f'publisher said:\n{output}'
    assert received[0] == build(), 'the message changed on its way through DDS'
    # Our node only subscribes: the one publisher on the topic is the other process's.
    assert publishers == 1, f'{publishers} publishers on {topic}'
