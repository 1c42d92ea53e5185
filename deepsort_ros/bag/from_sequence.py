"""
``deepsort-ros bag-from-sequence``: turn a MOTChallenge sequence or a video into a ROS 2 bag.

The bag holds what a robot's camera and detector would publish: ``sensor_msgs/Image`` (bgr8)
or ``CompressedImage`` (jpeg), ``CameraInfo``, ``vision_msgs/Detection2DArray`` from det.txt
(stamped exactly like the image) and, optionally, ``nav_msgs/Odometry``. ``--camera-pan``
makes a moving-camera variant of a static sequence: each frame (and its detections) is warped
by the homography of a camera yawing about its vertical axis, and odometry carries that yaw,
so the tracker's ego-motion compensation can be tested on real footage.
"""

import argparse
from dataclasses import dataclass
import math
from pathlib import Path
import sys
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
from deepsort_ros.bag.writer import BagExistsError, BagWriter
from deepsort_ros.offline.mot_sequence import (IMAGE_SUFFIXES, read_detections,
                                               read_sequence_info, VIDEO_SUFFIXES)
import numpy as np
import numpy.typing as npt

START_EPOCH_NS = 1_700_000_000 * 1_000_000_000  # stamp of frame 1: fixed, so bags are stable
DEFAULT_HFOV_DEG = 60.0  # field of view assumed for K when the intrinsics are unknown
CAMERA_FRAME = 'camera_optical_frame'
DETECTION_CLASS = 'person'


@dataclass(frozen=True)
class Intrinsics:
    """
    Pinhole intrinsics in pixels.

    Attributes
    ----------
    fx, fy, cx, cy : float

    """

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def plausible(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG
                  ) -> 'Intrinsics':
        """Return square-pixel intrinsics with the given horizontal field of view, centred."""
        focal = width / (2.0 * math.tan(math.radians(hfov_deg) / 2.0))
        return cls(focal, focal, width / 2.0, height / 2.0)

    def matrix(self) -> npt.NDArray[np.float64]:
        """Return K, shape (3, 3)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def pan_homography(intrinsics: Intrinsics, yaw_rad: float) -> npt.NDArray[np.float64]:
    """
    Return the homography from the unpanned image to the image after yawing the camera.

    Parameters
    ----------
    intrinsics : Intrinsics
        Camera intrinsics.
    yaw_rad : float
        Yaw of the camera (and robot base) about the vertical axis, counter-clockwise seen from
        above (REP 103): a positive yaw turns the camera left, so the scene moves right.

    Returns
    -------
    ndarray, shape (3, 3)
        ``H = K Ry(yaw) K^-1`` in the optical frame (x right, y down, z forward).

    """
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    rotation = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    k = intrinsics.matrix()
    return k @ rotation @ np.linalg.inv(k)


def warp_boxes_tlwh(boxes_tlwh: npt.NDArray[np.float64], homography: npt.NDArray[np.float64],
                    width: int, height: int) -> Tuple[npt.NDArray[np.float64],
                                                      npt.NDArray[np.bool_]]:
    """
    Map boxes through a homography, as the axis-aligned boxes of their warped corners.

    Parameters
    ----------
    boxes_tlwh : ndarray, shape (N, 4)
        Boxes in the source image, pixels.
    homography : ndarray, shape (3, 3)
        Source -> target pixels.
    width, height : int
        Target image size; boxes are clipped to it.

    Returns
    -------
    boxes_tlwh : ndarray, shape (N, 4)
        Warped, clipped boxes.
    keep : ndarray of bool, shape (N,)
        False for boxes with less than half their area left inside the image.

    """
    n = len(boxes_tlwh)
    if n == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=bool)
    x, y, w, h = boxes_tlwh.T
    corners = np.stack([np.stack([x, y], 1), np.stack([x + w, y], 1),
                        np.stack([x, y + h], 1), np.stack([x + w, y + h], 1)], 1)
    warped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2).astype(np.float64),
                                      homography).reshape(n, 4, 2)
    tl, br = warped.min(axis=1), warped.max(axis=1)
    area = np.prod(br - tl, axis=1)
    tl_clip = np.clip(tl, 0, [width, height])
    br_clip = np.clip(br, 0, [width, height])
    inside = np.prod(np.maximum(br_clip - tl_clip, 0), axis=1)
    keep = inside >= 0.5 * np.maximum(area, 1e-9)
    return np.hstack([tl_clip, br_clip - tl_clip]), keep


def triangle_yaw(t_s: float, rate_deg_s: float, amplitude_deg: float) -> Tuple[float, float]:
    """
    Return yaw and yaw rate of a camera panning back and forth at a constant speed.

    Parameters
    ----------
    t_s : float
        Time since the first frame, seconds.
    rate_deg_s : float
        Pan speed, degrees per second (the sign gives the first direction).
    amplitude_deg : float
        The pan turns round at +-amplitude; 0 or less pans on without turning.

    Returns
    -------
    yaw_rad, yaw_rate_rad_s : float

    """
    travel = rate_deg_s * t_s
    if amplitude_deg <= 0 or rate_deg_s == 0:
        return math.radians(travel), math.radians(rate_deg_s)
    period = 4.0 * amplitude_deg
    phase = (abs(travel) + amplitude_deg) % period  # 0..period, yaw 0 at phase = amplitude
    sign = math.copysign(1.0, rate_deg_s)
    if phase < 2.0 * amplitude_deg:
        return math.radians(sign * (phase - amplitude_deg)), math.radians(rate_deg_s)
    return math.radians(sign * (3.0 * amplitude_deg - phase)), -math.radians(rate_deg_s)


def iter_images(source: Path, max_frames: Optional[int]) -> Iterator[Tuple[int, npt.NDArray]]:
    """
    Yield ``(frame, image_bgr)`` with 1-based frames from a video or a folder of images.

    Parameters
    ----------
    source : Path
        Video file (frame k is MOT frame k) or folder of numbered images (``000001.jpg``).
    max_frames : int, optional
        Stop after this many frames.

    Yields
    ------
    (int, ndarray of uint8, shape (H, W, 3))

    """
    limit = max_frames if max_frames is not None else sys.maxsize
    if source.is_file():
        capture = cv2.VideoCapture(str(source))
        if not capture.isOpened():
            raise ValueError(f'cannot open video {source}')
        try:
            frame = 0
            while frame < limit:
                ok, image = capture.read()
                if not ok:
                    return
                frame += 1
                yield frame, image
        finally:
            capture.release()
        return
    files = sorted(p for p in source.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit())
    for path in files[:limit] if max_frames is not None else files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'cannot read image {path}')
        yield int(path.stem), image


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``bag-from-sequence`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--sequence', type=Path, metavar='DIR',
                        help='MOTChallenge-style folder: seqinfo.ini, img1/ or the video named '
                             'by imDir, det/det.txt')
    source.add_argument('--video', type=Path, metavar='FILE', help='a video file')
    parser.add_argument('--det', type=Path, metavar='FILE',
                        help='det.txt to publish as detections (default: DIR/det/det.txt)')
    parser.add_argument('--out', type=Path, required=True, metavar='BAG',
                        help='bag folder to create')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing bag')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--fps', type=float, help='frame rate (default: seqinfo.ini / video)')
    parser.add_argument('--max-frames', type=int, metavar='N', help='write at most N frames')
    parser.add_argument('--image-topic', default='/camera/image_raw')
    parser.add_argument('--compressed', action='store_true',
                        help='write sensor_msgs/CompressedImage (jpeg) on IMAGE_TOPIC/compressed')
    parser.add_argument('--jpeg-quality', type=int, default=90)
    parser.add_argument('--camera-info-topic', default='/camera/camera_info')
    parser.add_argument('--detections-topic', default='/detections')
    parser.add_argument('--frame-id', default=CAMERA_FRAME, help='frame of images/detections')
    for name in ('fx', 'fy', 'cx', 'cy'):
        parser.add_argument(f'--{name}', type=float,
                            help='intrinsics, pixels (default: 60 degree field of view, centred)')
    parser.add_argument('--odometry', action='store_true',
                        help='write nav_msgs/Odometry (static unless --camera-pan)')
    parser.add_argument('--odometry-topic', default='/odom')
    parser.add_argument('--camera-pan', type=float, default=0.0, metavar='DEG_PER_S',
                        help='synthesise a camera yawing at this speed: frames and detections '
                             'are warped, odometry (implied) carries the yaw')
    parser.add_argument('--pan-amplitude', type=float, default=10.0, metavar='DEG',
                        help='the pan turns round at +-DEG (0: never turns)')


@dataclass
class _Source:
    images: Path
    fps: float
    detections: Optional[Path]


def _resolve_source(args: argparse.Namespace) -> _Source:
    if args.sequence is not None:
        info = read_sequence_info(args.sequence)
        if info.image_source is None:
            raise FileNotFoundError(f'{args.sequence} has no frames (img1/ or the imDir video)')
        det = args.det if args.det is not None else args.sequence / 'det' / 'det.txt'
        fps = args.fps or info.frame_rate
        return _Source(info.image_source, fps, det if det.is_file() or args.det else None)
    if not args.video.is_file() or args.video.suffix.lower() not in VIDEO_SUFFIXES:
        raise FileNotFoundError(f'{args.video} is not a video file ({", ".join(VIDEO_SUFFIXES)})')
    fps = args.fps
    if not fps:
        capture = cv2.VideoCapture(str(args.video))
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        capture.release()
    if not fps or fps <= 0:
        raise ValueError(f'{args.video} does not say its frame rate; pass --fps')
    return _Source(args.video, fps, args.det)


def _stamp(msg_header: object, stamp_ns: int, frame_id: str) -> None:
    msg_header.stamp.sec, msg_header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg_header.frame_id = frame_id


def _camera_info(width: int, height: int, k: Intrinsics) -> object:
    from sensor_msgs.msg import CameraInfo

    msg = CameraInfo()
    msg.width, msg.height = width, height
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def _detections(boxes_tlwh: npt.NDArray[np.float64], scores: npt.NDArray[np.float64]) -> object:
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    msg = Detection2DArray()
    for (x, y, w, h), score in zip(boxes_tlwh.tolist(), scores.tolist()):
        det = Detection2D()
        det.bbox.center.position.x = x + w / 2.0
        det.bbox.center.position.y = y + h / 2.0
        det.bbox.size_x, det.bbox.size_y = w, h
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = DETECTION_CLASS
        hyp.hypothesis.score = score
        det.results.append(hyp)
        msg.detections.append(det)
    return msg


def _odometry(yaw_rad: float, yaw_rate: float) -> object:
    from nav_msgs.msg import Odometry

    msg = Odometry()
    msg.child_frame_id = 'base_link'
    msg.pose.pose.orientation.z = math.sin(yaw_rad / 2.0)
    msg.pose.pose.orientation.w = math.cos(yaw_rad / 2.0)
    msg.twist.twist.angular.z = yaw_rate
    return msg


def write_bag(args: argparse.Namespace) -> Dict[str, int]:
    """
    Write the bag that ``args`` describes.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``bag-from-sequence`` options.

    Returns
    -------
    dict of str to int
        Messages written per topic.

    """
    from sensor_msgs.msg import CompressedImage, Image
    from tqdm import tqdm

    from deepsort_ros.image_conversion import bgr_to_image_msg

    source = _resolve_source(args)
    dets_by_frame: Dict[int, List[int]] = {}
    dets = None
    if source.detections is not None:
        dets = read_detections(source.detections)
        dets_by_frame = {f: list(rows) for f, rows in dets.rows_by_frame().items()}
    odometry = args.odometry or args.camera_pan != 0.0
    image_topic = args.image_topic.rstrip('/') + ('/compressed' if args.compressed else '')
    writer = BagWriter(args.out, storage=args.storage, overwrite=args.overwrite)
    intrinsics: Optional[Intrinsics] = None
    with writer, tqdm(desc=f'bag {args.out.name}', unit='frame', total=args.max_frames,
                      disable=None) as progress:
        for frame, image in iter_images(source.images, args.max_frames):
            height, width = image.shape[:2]
            if intrinsics is None:
                default = Intrinsics.plausible(width, height)
                intrinsics = Intrinsics(*(getattr(args, n) if getattr(args, n) is not None
                                          else getattr(default, n)
                                          for n in ('fx', 'fy', 'cx', 'cy')))
            t_s = (frame - 1) / source.fps
            stamp_ns = START_EPOCH_NS + round(t_s * 1e9)
            rows = dets_by_frame.get(frame, [])
            boxes = dets.boxes_tlwh[rows] if dets is not None else np.zeros((0, 4))
            scores = dets.scores[rows] if dets is not None else np.zeros(0)
            yaw, yaw_rate = triangle_yaw(t_s, args.camera_pan, args.pan_amplitude)
            if args.camera_pan != 0.0:
                homography = pan_homography(intrinsics, yaw)
                image = cv2.warpPerspective(image, homography, (width, height))
                boxes, keep = warp_boxes_tlwh(boxes, homography, width, height)
                boxes, scores = boxes[keep], scores[keep]
            if args.compressed:
                ok, jpeg = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY,
                                                        args.jpeg_quality])
                if not ok:
                    raise ValueError(f'frame {frame}: jpeg encoding failed')
                image_msg = CompressedImage()
                image_msg.format = 'bgr8; jpeg compressed bgr8'
                image_msg.data = jpeg.tobytes()
            else:
                image_msg = bgr_to_image_msg(np.ascontiguousarray(image), Image)
            _stamp(image_msg.header, stamp_ns, args.frame_id)
            writer.write(image_topic, image_msg, stamp_ns)
            info_msg = _camera_info(width, height, intrinsics)
            _stamp(info_msg.header, stamp_ns, args.frame_id)
            writer.write(args.camera_info_topic, info_msg, stamp_ns)
            if dets is not None:
                det_msg = _detections(boxes, scores)
                _stamp(det_msg.header, stamp_ns, args.frame_id)
                writer.write(args.detections_topic, det_msg, stamp_ns)
            if odometry:
                odom_msg = _odometry(yaw, yaw_rate)
                _stamp(odom_msg.header, stamp_ns, 'odom')
                writer.write(args.odometry_topic, odom_msg, stamp_ns)
            progress.update(1)
    return dict(writer.counts)


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros bag-from-sequence``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 on success, 1 when the bag cannot be written (the reason is printed).

    """
    if args.max_frames is not None and args.max_frames <= 0:
        print('bag-from-sequence: --max-frames must be positive', file=sys.stderr)
        return 1
    if args.fps is not None and args.fps <= 0:
        print('bag-from-sequence: --fps must be positive', file=sys.stderr)
        return 1
    try:
        counts = write_bag(args)
    except (BagExistsError, FileNotFoundError, ValueError) as error:
        print(f'bag-from-sequence: {error}', file=sys.stderr)
        return 1
    print(f'wrote {args.out}: ' + ', '.join(f'{t} {n}' for t, n in sorted(counts.items())))
    return 0
