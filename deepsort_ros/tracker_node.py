"""
The deepsort_ros tracker node: images and detections in, tracks out.

The node is thin: it converts messages, calls the ROS-free tracker core and publishes.
"""

import sys
from typing import List, Optional

from deepsort_ros_msgs.msg import TrackArray
import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray


class TrackerNode(Node):
    """Subscribe to images and detections; publish ``deepsort_ros_msgs/TrackArray``."""

    def __init__(self) -> None:
        super().__init__('deepsort_tracker')
        self.declare_parameter('image_topic', 'image')
        self.declare_parameter('detections_topic', 'detections')
        image_topic = self.get_parameter('image_topic').value
        detections_topic = self.get_parameter('detections_topic').value
        self._image_sub = self.create_subscription(
            Image, image_topic, self._on_image, qos_profile_sensor_data)
        self._detections_sub = self.create_subscription(
            Detection2DArray, detections_topic, self._on_detections, 10)
        self._tracks_pub = self.create_publisher(TrackArray, '~/tracks', 10)
        self.get_logger().info(
            f'listening to {self._image_sub.topic_name} (sensor_msgs/Image) and '
            f'{self._detections_sub.topic_name} (vision_msgs/Detection2DArray); '
            f'publishing {self._tracks_pub.topic_name} (deepsort_ros_msgs/TrackArray)')

    def _on_image(self, msg: Image) -> None:
        pass

    def _on_detections(self, msg: Detection2DArray) -> None:
        out = TrackArray()
        out.header = msg.header
        out.target_index = -1
        self._tracks_pub.publish(out)


def main(args: Optional[List[str]] = None) -> int:
    """Run the tracker node until shutdown."""
    rclpy.init(args=args)
    node = TrackerNode()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
