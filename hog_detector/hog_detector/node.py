"""
``hog_detector``: the stand-in detector node, image in, ``vision_msgs/Detection2DArray`` out.

Replace it with your own detector: the tracker needs only a ``Detection2DArray`` whose header
is the image's header. This node runs :class:`HogPeopleDetector` on every image it can keep up
with (the subscription keeps only the newest image, so a slow detector skips frames instead of
falling behind) and publishes one array per processed image, stamped exactly like it.
"""

import sys
from typing import Any, List, Optional

from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import (compressed_msg_to_bgr, image_msg_to_bgr,
                                             ImageConversionError)
from hog_detector.detector import HogPeopleDetector, HogPeopleDetectorConfig
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray

# name -> (default, description); every HogPeopleDetectorConfig field is a read-only parameter.
DETECTOR_PARAMETERS = {
    'resize': (1.5, 'image scale factor before the pyramid (> 1 finds smaller people)'),
    'scale_step': (1.1, 'ratio between pyramid levels, > 1'),
    'win_stride_px': (8, 'window stride in pixels of the resized image'),
    'padding_px': (16, 'replicated border so people cut by the image edge are found'),
    'hit_threshold': (1.0, 'classifier margin a window needs'),
    'nms_iou': (0.4, 'non-maximum suppression IoU, (0, 1]'),
    'nms_containment': (0.7, 'a box whose overlap with a better one covers more than this '
                        'fraction of the smaller is dropped (nested boxes), (0, 1]'),
    'min_score': (0.0, 'minimum detection score, [0, 1]'),
    'min_height_px': (0.0, 'smallest box height reported, pixels'),
    'backend': ('auto', "'auto', 'numpy' (built-in HOG) or 'opencv' (cv2.HOGDescriptor)"),
}


class HogDetectorNode(Node):
    """
    Subscribe to images, publish people detections stamped like each image.

    Parameters (ROS): ``image_topic`` (``/camera/image_raw``), ``image_transport`` (``raw`` or
    ``compressed``: ``<image_topic>/compressed``), ``detections_topic`` (``/detections``),
    ``class_id`` (``person``), and the detector settings of :data:`DETECTOR_PARAMETERS`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('hog_detector', **kwargs)
        read_only = {'read_only': True}
        image_topic = self.declare_parameter(
            'image_topic', '/camera/image_raw',
            ParameterDescriptor(description='input image topic', **read_only)).value
        transport = self.declare_parameter(
            'image_transport', 'raw',
            ParameterDescriptor(description="'raw' (sensor_msgs/Image) or 'compressed'",
                                **read_only)).value
        detections_topic = self.declare_parameter(
            'detections_topic', '/detections',
            ParameterDescriptor(description='output Detection2DArray topic', **read_only)).value
        self.class_id = self.declare_parameter(
            'class_id', 'person',
            ParameterDescriptor(description='class label of the detections', **read_only)).value
        settings = {name: self.declare_parameter(
            name, default, ParameterDescriptor(description=text, **read_only)).value
            for name, (default, text) in DETECTOR_PARAMETERS.items()}
        if transport not in ('raw', 'compressed'):
            raise ValueError(f"image_transport must be 'raw' or 'compressed', got {transport!r}")
        self.detector = HogPeopleDetector(HogPeopleDetectorConfig(**settings))
        self.detections_pub = self.create_publisher(
            Detection2DArray, detections_topic,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        # Best effort matches reliable and best-effort cameras; depth 1 keeps only the newest.
        image_qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                               reliability=ReliabilityPolicy.BEST_EFFORT)
        if transport == 'compressed':
            self.create_subscription(CompressedImage, image_topic.rstrip('/') + '/compressed',
                                     self._on_compressed, image_qos)
        else:
            self.create_subscription(Image, image_topic, self._on_image, image_qos)
        self.get_logger().info(
            f'stand-in HOG people detector ({self.detector.backend} backend): {image_topic} '
            f'({transport}) -> {detections_topic}')

    def _on_image(self, msg: Image) -> None:
        self._detect(msg, image_msg_to_bgr)

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._detect(msg, compressed_msg_to_bgr)

    def _detect(self, msg: Any, convert: Any) -> None:
        try:
            image_bgr = convert(msg)
        except ImageConversionError as error:
            self.get_logger().warning(f'image skipped: {error}', throttle_duration_sec=5.0)
            return
        boxes_tlwh, scores = self.detector.detect(np.ascontiguousarray(image_bgr))
        self.detections_pub.publish(detections_to_msg(msg.header, boxes_tlwh, scores,
                                                      self.class_id))


def main(args: Optional[List[str]] = None) -> int:
    """Run the ``hog_detector`` node until shutdown (Ctrl-C)."""
    rclpy.init(args=args)
    node = HogDetectorNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
