"""
The node's executor queues each ready callback once (rclpy#1452), over real Fast DDS.

A mutually exclusive group holds a slow callback (as the tracker's processing) and a fast one
beside it; while the slow one runs, the fast one's messages wait. rclpy 9's
``MultiThreadedExecutor`` queues the waiting callback again on every turn of ``spin()``
(thousands of turns a second); :class:`NodeExecutor` must queue it once, take every message,
and raise a callback's exception out of ``spin()`` as rclpy does.
"""

import threading
import time

from deepsort_ros.ros.common.executor import NodeExecutor
import pytest
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Int32

pytestmark = pytest.mark.dds

MESSAGES = 40
SLOW_S = 0.02
WAIT_S = 30.0


class CountingExecutor(NodeExecutor):
    """A NodeExecutor that counts the turns of spin() and the tasks it holds at most."""

    def __init__(self, context) -> None:
        super().__init__(num_threads=4, context=context)
        self.turns = 0
        self.most_queued = 0

    def wait_for_ready_callbacks(self, *args, **kwargs):
        self.turns += 1
        self.most_queued = max(self.most_queued, self.queued_tasks)
        return super().wait_for_ready_callbacks(*args, **kwargs)


def _graph(ros_domain_id, on_fast=None):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    node = rclpy.create_node('executor_test', context=context)
    group = MutuallyExclusiveCallbackGroup()
    qos = QoSProfile(depth=MESSAGES, reliability=ReliabilityPolicy.RELIABLE)
    taken = {'slow': [], 'fast': []}

    def slow(msg):
        time.sleep(SLOW_S)
        taken['slow'].append(msg.data)

    def fast(msg):
        if on_fast is not None:
            on_fast(msg)
        taken['fast'].append(msg.data)

    node.create_subscription(Int32, '/executor_test/slow', slow, qos, callback_group=group)
    node.create_subscription(Int32, '/executor_test/fast', fast, qos, callback_group=group)
    publishers = [node.create_publisher(Int32, f'/executor_test/{name}', qos)
                  for name in ('slow', 'fast')]
    return context, node, publishers, taken


def _close(context, node, executor) -> None:
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)


def test_a_waiting_callback_is_queued_once(ros_domain_id):
    context, node, publishers, taken = _graph(ros_domain_id)
    executor = CountingExecutor(context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while any(p.get_subscription_count() == 0 for p in publishers):
            assert time.monotonic() < deadline, 'the subscriptions were never matched'
            time.sleep(0.01)
        turns_before = executor.turns
        for i in range(MESSAGES):
            for publisher in publishers:
                publisher.publish(Int32(data=i))
        while len(taken['slow']) + len(taken['fast']) < 2 * MESSAGES:
            assert time.monotonic() < deadline, taken
            time.sleep(0.01)
        turns = executor.turns - turns_before
    finally:
        _close(context, node, executor)
        spinner.join(timeout=5)
    assert taken == {'slow': list(range(MESSAGES)), 'fast': list(range(MESSAGES))}
    # Two subscriptions (and rclpy's own guard conditions): a handful of tasks at most. rclpy
    # 9's own executor holds thousands here and turns ~6,000 times a second.
    assert executor.most_queued <= 4, executor.most_queued
    assert turns < 20 * 2 * MESSAGES, f'{turns} turns of spin() for {2 * MESSAGES} messages'


def test_a_callback_exception_ends_spin(ros_domain_id):
    def fail(msg):
        raise RuntimeError(f'bad message {msg.data}')

    context, node, publishers, _ = _graph(ros_domain_id, on_fast=fail)
    executor = NodeExecutor(num_threads=2, context=context)
    executor.add_node(node)
    try:
        deadline = time.monotonic() + WAIT_S
        while publishers[1].get_subscription_count() == 0:
            assert time.monotonic() < deadline, 'the subscription was never matched'
            time.sleep(0.01)
        publishers[1].publish(Int32(data=7))
        with pytest.raises(RuntimeError, match='bad message 7'):
            while time.monotonic() < deadline:
                executor.spin_once(timeout_sec=0.1)
    finally:
        _close(context, node, executor)
