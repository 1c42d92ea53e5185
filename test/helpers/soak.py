"""
A soak of the tracker node over DDS: frames in lock-step, the node's memory sampled.

People walk across the image and come back as new people, with odometry every frame, a camera
model now and then and a little hostile input sprinkled in (a NaN box, an unsupported
encoding, a detection array stamped an hour ahead), so that every path that could keep
something per frame, per track, per label or per problem runs thousands of times. Used by
``test/ros/test_hostile_soak.py`` (a few thousand frames) and ``bench/soak_node.py`` (20,000+).
"""

from dataclasses import dataclass
import time
from typing import Callable, List, Optional, Sequence
import uuid

import cv2
from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.convert.stamps import make_header
from helpers.node_harness import Harness, start_node, stop_node
from nav_msgs.msg import Odometry
import numpy as np
from sensor_msgs.msg import CameraInfo

WIDTH, HEIGHT = 320, 240
FRAME_NS = 100_000_000
START_NS = 1_000_000_000_000
HOUR_NS = 3600 * 1_000_000_000
PEOPLE = 5
# Hostile input every so many frames (primes, so that they rarely coincide).
NAN_BOX_EVERY, BAD_ENCODING_EVERY, FUTURE_EVERY = 97, 211, 503
COLOURS = [(40, 40, 220), (220, 60, 40), (40, 200, 40), (200, 200, 40), (200, 40, 200)]


@dataclass
class Sample:
    """The node's state at one point of the soak."""

    frame: int
    rss_mb: float
    elapsed_s: float
    tracks: int


def rss_mb(pid: int) -> float:
    """Return a process's resident memory (VmRSS of /proc/<pid>/status), MB."""
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'no VmRSS for {pid}')


class Scene:
    """People crossing the image left to right at their own speed, again and again."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.speed = rng.uniform(2.0, 6.0, PEOPLE)  # px a frame
        self.offset = rng.uniform(0.0, 400.0, PEOPLE)
        self.rows = np.linspace(20.0, HEIGHT - 90.0, PEOPLE)
        self.background = cv2.GaussianBlur(
            rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8), (5, 5), 0)
        self.rng = rng

    def boxes(self, frame: int) -> np.ndarray:
        # Each walks a 460 px loop: 320 px in view, then 140 px out of it (a new person).
        x = (self.offset + self.speed * frame) % 460.0 - 30.0
        visible = (x > -25.0) & (x < WIDTH - 5.0)
        boxes = np.column_stack([x, self.rows, np.full(PEOPLE, 30.0), np.full(PEOPLE, 70.0)])
        jitter = self.rng.normal(0.0, 1.0, boxes.shape)
        return (boxes + jitter)[visible]

    def image(self, boxes: np.ndarray) -> np.ndarray:
        image = self.background.copy()
        for i, (x, y, w, h) in enumerate(boxes):
            cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)),
                          COLOURS[i % len(COLOURS)], -1)
        return image


def run_soak(domain_id: int, frames: int, sample_every: int = 250,
             overrides: Sequence[str] = (), wait_s: float = 30.0,
             on_sample: Optional[Callable[[Sample], None]] = None) -> List[Sample]:
    """
    Run the node through ``frames`` frames in lock-step; return its memory samples.

    Parameters
    ----------
    domain_id : int
        The ROS domain (loopback only).
    frames : int
        Frames to publish.
    sample_every : int
        Frames between two samples of the node's VmRSS.
    overrides : sequence of str
        Node parameters, ``name:=value``.
    wait_s : float
        Longest wait for one frame's TrackArray.
    on_sample : callable, optional
        Called with each sample as it is taken (progress).

    Raises
    ------
    AssertionError
        When a good frame is not answered in ``wait_s`` or the node dies.

    """
    namespace = f'/soak{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['diagnostics_period:=1.0', *overrides])
    harness = Harness(domain_id, namespace)
    scene = Scene()
    info = CameraInfo(width=WIDTH, height=HEIGHT)
    info.k = [300.0, 0.0, WIDTH / 2, 0.0, 300.0, HEIGHT / 2, 0.0, 0.0, 1.0]
    samples: List[Sample] = []
    try:
        assert harness.wait_for_tracker(60.0), 'the node never subscribed'
        start = time.monotonic()
        for frame in range(frames):
            stamp = START_NS + frame * FRAME_NS
            header = make_header(stamp, 'camera_optical_frame')
            odometry = Odometry(header=make_header(stamp, 'odom'), child_frame_id='base_link')
            odometry.pose.pose.orientation.w = 1.0
            harness.odom_pub.publish(odometry)
            if frame % 10 == 0:
                info.header = header
                harness.camera_info_pub.publish(info)
            if frame % FUTURE_EVERY == FUTURE_EVERY - 1:
                harness.detections_pub.publish(detections_to_msg(
                    make_header(stamp + HOUR_NS, 'camera_optical_frame'), scene.boxes(frame),
                    [0.9] * len(scene.boxes(frame)), 'person'))
            boxes = scene.boxes(frame)
            image = bgr_to_image_msg(scene.image(boxes), header)
            if frame % BAD_ENCODING_EVERY == BAD_ENCODING_EVERY - 1:
                image.encoding = f'soak{frame}'
            if frame % NAN_BOX_EVERY == NAN_BOX_EVERY - 1:
                boxes = np.vstack([boxes, [[np.nan, 1.0, 5.0, 5.0]]])
            labels = ['person' if i % 4 else 'bicycle' for i in range(len(boxes))]
            count = len(harness.received['tracks'])
            harness.image_pub.publish(image)
            harness.detections_pub.publish(detections_to_msg(header, boxes,
                                                             [0.9] * len(boxes), labels))
            assert harness.spin_until(lambda: len(harness.received['tracks']) > count,
                                      wait_s), f'no TrackArray for frame {frame}'
            # Only what is needed is kept on this side.
            for key in ('tracks', 'target', 'markers', 'diagnostics'):
                del harness.received[key][:-5]
            if frame % sample_every == sample_every - 1 or frame == frames - 1:
                sample = Sample(frame + 1, rss_mb(node.pid), time.monotonic() - start,
                                len(harness.received['tracks'][-1].tracks))
                samples.append(sample)
                if on_sample is not None:
                    on_sample(sample)
        assert node.poll() is None, 'the node died'
    finally:
        harness.close()
        stop_node(node)
    return samples


def growth_mb_per_10k(samples: Sequence[Sample], warm_up_frames: int) -> float:
    """Return the least-squares slope of RSS after the warm-up, MB per 10,000 frames."""
    kept = [s for s in samples if s.frame > warm_up_frames]
    if len(kept) < 2:
        return float('nan')
    frames = np.array([s.frame for s in kept], dtype=np.float64)
    rss = np.array([s.rss_mb for s in kept], dtype=np.float64)
    return float(np.polyfit(frames, rss, 1)[0] * 10_000)
