"""
Publish one sample message repeatedly from a separate process (used by test_dds_messages).

Usage: python dds_publisher.py SAMPLE TOPIC. Exits after a subscriber has been matched for a
while, or after a bounded time, so that a failing test never leaves it behind.
"""

import sys
import time

from helpers.message_samples import SAMPLES
import rclpy

MAX_SECONDS = 30.0
AFTER_MATCH_SECONDS = 5.0


def main() -> int:
    """Publish until a subscriber has had time to receive, then exit."""
    sample, topic = sys.argv[1], sys.argv[2]
    msg_type, build = SAMPLES[sample]
    rclpy.init()
    node = rclpy.create_node('dds_test_publisher')
    publisher = node.create_publisher(msg_type, topic, 10)
    msg = build()
    start = time.monotonic()
    matched_at = None
    while time.monotonic() - start < MAX_SECONDS:
        if publisher.get_subscription_count() > 0 and matched_at is None:
            matched_at = time.monotonic()
        if matched_at is not None:
            publisher.publish(msg)
            if time.monotonic() - matched_at > AFTER_MATCH_SECONDS:
                break
        time.sleep(0.05)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if matched_at is not None else 3


if __name__ == '__main__':
    sys.exit(main())
