"""
Start the tracker node as its own process and talk to it over real DDS.

Used by the node tests: the node runs as users start it (``--ros-args --params-file``), on the
test session's private domain on loopback, from the source tree (``python -m``) so that an
edit is tested without rebuilding install/; the launch tests run the installed executable.
"""

import os
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import cv2
from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros.ros.convert.tracks import track_array_to_mot
from deepsort_ros_msgs.msg import TargetStatus, TrackArray
from diagnostic_msgs.msg import DiagnosticArray
from helpers.paths import PARAMS, REPO
from nav_msgs.msg import Odometry
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

NODE_MODULE = 'deepsort_ros.ros.tracker.node'


def start_node(namespace: str, overrides: Sequence[str] = (), autostart: bool = True
               ) -> subprocess.Popen:
    """Start the tracker node in ``namespace`` with the default parameters file."""
    # Reliable images (the harness publishes them reliably too): a lock-step test must not
    # lose a frame to best effort on a loaded machine. Overrides may say otherwise.
    args = [sys.executable, '-m', NODE_MODULE, '--ros-args', '--params-file', str(PARAMS), '-r',
            f'__ns:={namespace}', '-p', f'autostart:={str(autostart).lower()}',
            '-p', 'image_qos:=reliable']
    for override in overrides:
        args += ['-p', override]
    env = source_tree_env()
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            text=True)


def source_tree_env() -> Dict[str, str]:
    """Return this environment with the repository's source tree first on PYTHONPATH."""
    path = os.pathsep.join([str(REPO)] + [p for p in os.environ.get('PYTHONPATH', '').split(
        os.pathsep) if p])
    return dict(os.environ, PYTHONPATH=path, PYTHONUNBUFFERED='1')


def stop_node(process: subprocess.Popen) -> str:
    """Stop the node with SIGINT (as Ctrl-C) and return everything it printed."""
    if process.poll() is None:
        process.send_signal(subprocess.signal.SIGINT)
        try:
            return process.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            process.kill()
    return process.communicate(timeout=15)[0]


def scene_frame(width: int, height: int, boxes_tlwh: np.ndarray, seed: int = 0) -> np.ndarray:
    """Draw a textured background and one distinctly coloured person-sized block per box."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (5, 5), 0)
    for i, (x, y, w, h) in enumerate(boxes_tlwh):
        colour = [(40, 40, 220), (220, 60, 40), (40, 200, 40), (200, 200, 40)][i % 4]
        cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)), colour, -1)
    return image


def list_ahead(items: Iterable[Any]) -> Iterator[Tuple[Any, Optional[Any]]]:
    """Yield ``(item, next item or None)`` pairs."""
    iterator = iter(items)
    current = next(iterator, None)
    while current is not None:
        upcoming = next(iterator, None)
        yield current, upcoming
        current = upcoming


def tracks_to_mot_rows(arrays: Sequence[TrackArray], frame_of_stamp: Dict[int, int]
                       ) -> np.ndarray:
    """Turn received TrackArrays into (N, 6) MOT rows: frame, id, left, top, width, height."""
    rows = [np.zeros((0, 6))]
    for array in arrays:
        frame = frame_of_stamp.get(stamp_to_ns(array.header.stamp))
        if frame is not None:
            shown = track_array_to_mot(array)
            rows.append(np.column_stack([np.full(len(shown.track_ids), frame), shown.track_ids,
                                         shown.boxes_tlwh]))
    return np.concatenate(rows).astype(np.float64)


class Harness:
    """A test-side node: publishes inputs to the tracker and records what it publishes."""

    def __init__(self, domain_id: int, namespace: str, reliable_images: bool = True,
                 topics: Optional[Dict[str, str]] = None) -> None:
        # ``topics`` renames inputs ('image', 'odom', 'detections', 'camera_info') and
        # outputs ('tracks'), e.g. for a node started with remappings by ros2 launch.
        names = {'image': f'{namespace}/image', 'odom': f'{namespace}/odom',
                 'detections': f'{namespace}/detections',
                 'camera_info': f'{namespace}/camera_info',
                 'tracks': f'{namespace}/deepsort_tracker/tracks', **(topics or {})}
        self.namespace = namespace
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node('deepsort_test_harness', context=self.context)
        # Reliable images (for a node started with image_qos:=reliable) are never lost, so a
        # lock-step test can wait for every frame.
        image_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE) \
            if reliable_images else qos_profile_sensor_data
        self.image_pub = self.node.create_publisher(Image, names['image'], image_qos)
        self.odom_pub = self.node.create_publisher(Odometry, names['odom'], 50)
        self.detections_pub = self.node.create_publisher(Detection2DArray,
                                                         names['detections'], 10)
        self.camera_info_pub = self.node.create_publisher(CameraInfo,
                                                          names['camera_info'], 10)
        self.received: Dict[str, List[Any]] = {'tracks': [], 'diagnostics': [], 'target': [],
                                               'annotated': [], 'markers': []}
        self._lock = threading.Lock()
        self.tracks_sub = self.node.create_subscription(
            TrackArray, names['tracks'], self._keep('tracks'), 50)
        self.node.create_subscription(TargetStatus, f'{namespace}/deepsort_tracker/target',
                                      self._keep('target'), 50)
        self.node.create_subscription(DiagnosticArray, '/diagnostics',
                                      self._keep('diagnostics'), 50)
        self.node.create_subscription(MarkerArray, f'{namespace}/deepsort_tracker/markers',
                                      self._keep('markers'), 50)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def _keep(self, key: str) -> Callable[[Any], None]:
        def callback(msg: Any) -> None:
            with self._lock:
                self.received[key].append(msg)
        return callback

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Spin until ``predicate()`` holds or ``timeout`` seconds pass; return whether it held."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return predicate()

    def wait_for_tracker(self, timeout: float = 30.0) -> bool:
        """
        Wait until the tracker subscribes to our inputs and we to its tracks.

        Both directions matter: a TrackArray published before our subscription matched the
        node's publisher is never delivered (volatile durability), and a lock-step test would
        then wait for it in vain.
        """
        return self.spin_until(lambda: self.detections_pub.get_subscription_count() > 0
                               and self.image_pub.get_subscription_count() > 0
                               and self.tracks_sub.get_publisher_count() > 0, timeout)

    def publish_frame(self, stamp_ns: int, image_bgr: Optional[np.ndarray],
                      boxes_tlwh: np.ndarray, labels: Optional[Sequence[str]] = None,
                      scores: Optional[Sequence[float]] = None, encoding: str = 'bgr8'
                      ) -> None:
        """Publish one image (unless None) and its detections with the same stamp."""
        header = make_header(stamp_ns, 'camera_optical_frame')
        if image_bgr is not None:
            image = bgr_to_image_msg(image_bgr, header)
            image.encoding = encoding  # a test may mislabel the pixels on purpose
            self.image_pub.publish(image)
        count = len(boxes_tlwh)
        self.detections_pub.publish(detections_to_msg(
            header, boxes_tlwh, scores if scores else [0.9] * count,
            labels if labels else 'person'))

    def play_sequence(self, frames: Iterable[Tuple[int, int, List[Tuple[str, Any]]]],
                      timeout: float = 30.0) -> Dict[int, int]:
        """
        Publish frames from :func:`iter_sequence_messages` in lock-step with the node.

        Each frame's odometry goes out one frame early (a robot's odometry is ahead of its
        camera), then camera info, image and detections; the next frame waits for this one's
        ``TrackArray`` (at most ``timeout`` s). Returns ``stamp_ns -> frame`` of what was
        published.
        """
        publishers = {CameraInfo: self.camera_info_pub, Image: self.image_pub,
                      Detection2DArray: self.detections_pub}
        frame_of_stamp: Dict[int, int] = {}
        first = True
        for (frame, stamp_ns, messages), upcoming in list_ahead(frames):
            ahead = ([m for _, m in messages] if first else []) + \
                ([m for _, m in upcoming[2]] if upcoming is not None else [])
            for msg in ahead:
                if isinstance(msg, Odometry):
                    self.odom_pub.publish(msg)
            first = False
            frame_of_stamp[stamp_ns] = frame
            count = len(self.received['tracks'])
            for _, msg in messages:
                if not isinstance(msg, Odometry):
                    publishers[type(msg)].publish(msg)
            self.spin_until(lambda: len(self.received['tracks']) > count, timeout)
        return frame_of_stamp

    def subscribe_annotated(self) -> None:
        """Subscribe to ~/image_annotated (the node draws it only while someone listens)."""
        self.node.create_subscription(Image, f'{self.namespace}/deepsort_tracker/image_annotated',
                                      self._keep('annotated'), qos_profile_sensor_data)

    def close(self) -> None:
        """Destroy the harness node and its context."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def diagnostics_values(array: DiagnosticArray) -> Dict[str, str]:
    """Return the key-values of the tracker's diagnostic status."""
    for status in array.status:
        if 'deepsort_tracker' in status.name:
            return {kv.key: kv.value for kv in status.values}
    return {}
