"""
yolo_ros's detections as the tracker's input (``detections_type: yolo_msgs``).

- the conversion keeps each detection's box, class name and score, in order;
- over DDS, a node given ``yolo_msgs/DetectionArray`` tracks two people as it does from
  ``vision_msgs/Detection2DArray``, with yolo's class names and the received indices;
- the launch example wires yolo_ros's detections into the tracker.

``yolo_msgs`` is yolo_ros's package where installed, else the field-for-field copy in
``third_party/yolo_msgs`` that the set-up builds.
"""

import uuid

from deepsort_ros.ros.convert.detections import yolo_to_detection_array
from deepsort_ros.ros.convert.stamps import make_header
from helpers.node_harness import Harness, scene_frame, start_node, stop_node
from helpers.paths import REPO
import numpy as np
import pytest
from yolo_msgs.msg import Detection, DetectionArray

pytestmark = pytest.mark.dds

WAIT_S = 60.0
FRAME_NS = 100_000_000


def _yolo(stamp_ns: int, boxes_tlwh: np.ndarray, names=('person', 'bicycle'),
          scores=(0.9, 0.8)) -> DetectionArray:
    msg = DetectionArray(header=make_header(stamp_ns, 'camera_optical_frame'))
    for box, name, score in zip(boxes_tlwh, names, scores):
        detection = Detection(class_id=0, class_name=name, score=score)
        detection.bbox.center.position.x = float(box[0] + box[2] / 2)
        detection.bbox.center.position.y = float(box[1] + box[3] / 2)
        detection.bbox.size.x, detection.bbox.size.y = float(box[2]), float(box[3])
        msg.detections.append(detection)
    return msg


def test_conversion_keeps_boxes_classes_scores_and_order():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [100.0, 50.0, 20.0, 40.0]])
    converted = yolo_to_detection_array(_yolo(5_000_000_123, boxes))
    assert converted.header.stamp.sec == 5 and converted.header.stamp.nanosec == 123
    assert len(converted.detections) == 2
    for detection, box, name, score in zip(converted.detections, boxes, ('person', 'bicycle'),
                                           (0.9, 0.8)):
        bbox = detection.bbox
        assert bbox.center.position.x - bbox.size_x / 2 == pytest.approx(box[0])
        assert bbox.center.position.y - bbox.size_y / 2 == pytest.approx(box[1])
        assert (bbox.size_x, bbox.size_y) == pytest.approx((box[2], box[3]))
        assert detection.results[0].hypothesis.class_id == name
        assert detection.results[0].hypothesis.score == pytest.approx(score)


def test_a_node_tracks_yolo_detections_over_dds(ros_domain_id):
    namespace = f'/y{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['detections_type:=yolo_msgs', 'use_appearance:=false'])
    # The harness's own Detection2DArray publisher goes elsewhere: one type per topic.
    harness = Harness(ros_domain_id, namespace, topics={'detections': f'{namespace}/unused'})
    yolo_pub = harness.node.create_publisher(DetectionArray, f'{namespace}/detections', 10)
    try:
        assert harness.spin_until(lambda: yolo_pub.get_subscription_count() > 0
                                  and harness.image_pub.get_subscription_count() > 0
                                  and harness.tracks_sub.get_publisher_count() > 0, WAIT_S), \
            'the node never subscribed to yolo_msgs/DetectionArray'
        for frame in range(8):
            stamp = 1_000_000_000_000 + frame * FRAME_NS
            boxes = np.array([[40.0 + 3 * frame, 60.0, 40.0, 90.0],
                              [220.0 - 2 * frame, 50.0, 40.0, 90.0]])
            count = len(harness.received['tracks'])
            for _ in range(5):  # sent again while unanswered (discovery on a loaded machine)
                harness.image_pub.publish(_image(stamp, boxes, frame))
                yolo_pub.publish(_yolo(stamp, boxes))
                if harness.spin_until(lambda: len(harness.received['tracks']) > count, 2.0):
                    break
        last = harness.received['tracks'][-1] if harness.received['tracks'] else None
    finally:
        harness.close()
        output = stop_node(node)
    assert last is not None, output[-3000:]
    confirmed = [t for t in last.tracks if t.state == t.STATE_CONFIRMED]
    assert len(confirmed) == 2, (last, output[-3000:])
    assert {t.class_id for t in confirmed} == {'person', 'bicycle'}
    assert sorted(t.detection_index for t in confirmed) == [0, 1]
    assert 'yolo_msgs/DetectionArray' in output, 'the start-up line names the input type'


def _image(stamp_ns: int, boxes: np.ndarray, frame: int):
    from deepsort_ros.ros.convert.images import bgr_to_image_msg
    return bgr_to_image_msg(scene_frame(320, 240, boxes, frame),
                            make_header(stamp_ns, 'camera_optical_frame'))


def test_launch_example_feeds_yolo_detections_to_the_tracker():
    # launch_ros, not launch: the repository's launch/ folder imports as a namespace package.
    pytest.importorskip('launch_ros', reason='launch is not installed here (the set-up builds '
                        'it into install_overlay/ when it has the sources; a ROS install has it)')
    import launch
    import launch.launch_description_sources
    import launch.utilities
    import launch_ros.actions
    import launch_ros.utilities
    source = launch.launch_description_sources.PythonLaunchDescriptionSource(
        str(REPO / 'launch' / 'yolo_tracker.launch.py'))
    context = launch.LaunchContext()
    description = source.get_launch_description(context)
    arguments = {a.name for a in description.get_launch_arguments()}
    assert {'image', 'yolo_detections', 'start_yolo', 'model', 'device'} <= arguments
    trackers = [e for e in description.entities if isinstance(e, launch_ros.actions.Node)]
    assert len(trackers) == 1
    node = trackers[0]
    for argument in description.get_launch_arguments():  # the defaults, as ros2 launch does
        context.launch_configurations[argument.name] = launch.utilities.perform_substitutions(
            context, argument.default_value)
    remaps = {launch.utilities.perform_substitutions(context, list(k)):
              launch.utilities.perform_substitutions(context, list(v))
              for k, v in node._Node__remappings}
    assert remaps['detections'] == '/yolo/detections'
    assert remaps['image'] == '/camera/rgb/image_raw'
    evaluated = launch_ros.utilities.evaluate_parameters(context, node._Node__parameters)
    assert {'detections_type': 'yolo_msgs'} in [p for p in evaluated if isinstance(p, dict)]
