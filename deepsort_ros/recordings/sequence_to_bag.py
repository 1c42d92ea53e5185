"""
The messages a robot would record, made from a MOTChallenge sequence or a video.

The bag holds what a robot's camera and detector would publish: ``sensor_msgs/Image`` (bgr8)
or ``CompressedImage`` (jpeg), ``CameraInfo``, ``vision_msgs/Detection2DArray`` from det.txt
(stamped exactly like the image) and, optionally, ``nav_msgs/Odometry``. ``--camera-pan``,
``--camera-tilt`` and ``--camera-roll`` make a moving-camera variant of a static sequence
(:mod:`deepsort_ros.sim.virtual_camera`): each frame and its detections are warped by the
homography of the rotating camera, and odometry carries the rotation, so the tracker's
ego-motion compensation can be tested on real footage. ``MessageOptions.view`` makes the
messages of one camera of a rig (:class:`deepsort_ros.sim.camera_rig.RigView`): its own image
size and K, its frames and detections warped from the real ones, odometry with the drone's
position and orientation, its dropped frames left out; :meth:`MessageOptions.for_view` gives it
its own topics and frame ids (``deepsort-ros rig``). :func:`iter_sequence_messages` makes
the same messages for live publishing; ``deepsort-ros bag-from-sequence``
(:mod:`deepsort_ros.cli.bag_from_sequence`) writes them into a bag.
"""

from dataclasses import dataclass
from pathlib import Path
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple, TYPE_CHECKING

import cv2
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.recordings.bag_writer import BagWriter
from deepsort_ros.recordings.mot import (IMAGE_SUFFIXES, read_detections,
                                         read_sequence_info, VIDEO_SUFFIXES)
from deepsort_ros.sim.virtual_camera import RotationProfile, VirtualCamera, warp_boxes_tlwh
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from deepsort_ros.sim.camera_rig import RigView

START_EPOCH_NS = 1_700_000_000 * 1_000_000_000  # stamp of frame 1: fixed, so bags are stable
CAMERA_FRAME = 'camera_optical_frame'
ODOMETRY_FRAME = 'odom'
BASE_FRAME = 'base_link'
DETECTION_CLASS = 'person'
# The world frame of a rig's cameras (PETS09's ground plane): all drones share it.
RIG_WORLD_FRAME = 'map'


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


@dataclass(frozen=True)
class BagTopics:
    """
    Topic names of the messages made from a sequence.

    Attributes
    ----------
    image : str
        ``sensor_msgs/Image`` (``<image>/compressed`` for ``CompressedImage``).
    camera_info, detections, odometry : str

    """

    image: str = '/camera/image_raw'
    camera_info: str = '/camera/camera_info'
    detections: str = '/detections'
    odometry: str = '/odom'


def frame_of_stamp(stamp_ns: int, fps: float) -> int:
    """
    Return the 1-based sequence frame a bag of ours stamped ``stamp_ns``.

    The inverse of the stamping of :func:`iter_sequence_messages` (frame k at
    ``START_EPOCH_NS + (k - 1) / fps``), so that results name the sequence's own frames.
    """
    return int(round((stamp_ns - START_EPOCH_NS) * 1e-9 * fps)) + 1


@dataclass(frozen=True)
class SequenceSource:
    """
    Where a sequence's frames and detections come from.

    Attributes
    ----------
    images : Path
        Video file or folder of numbered frames.
    fps : float
        Frames per second; frame k is stamped ``START_EPOCH_NS + (k - 1) / fps``.
    detections : Path or None
        A det.txt, or None for images only.

    """

    images: Path
    fps: float
    detections: Optional[Path]

    @classmethod
    def from_sequence(cls, directory: Path, det: Optional[Path] = None,
                      fps: Optional[float] = None) -> 'SequenceSource':
        """Describe a MOTChallenge-style folder (``det`` overrides ``det/det.txt``)."""
        info = read_sequence_info(directory)
        if info.image_source is None:
            raise FileNotFoundError(f'{directory} has no frames (img1/ or the imDir video)')
        det_path = det if det is not None else Path(directory) / 'det' / 'det.txt'
        return cls(info.image_source, fps or info.frame_rate,
                   det_path if det_path.is_file() or det is not None else None)

    @classmethod
    def from_video(cls, video: Path, det: Optional[Path] = None,
                   fps: Optional[float] = None) -> 'SequenceSource':
        """Describe a video file; its frame rate is read from the file unless given."""
        if not video.is_file() or video.suffix.lower() not in VIDEO_SUFFIXES:
            raise FileNotFoundError(f'{video} is not a video file ({", ".join(VIDEO_SUFFIXES)})')
        if not fps:
            capture = cv2.VideoCapture(str(video))
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            capture.release()
        if not fps or fps <= 0:
            raise ValueError(f'{video} does not say its frame rate; pass --fps')
        return cls(video, fps, det)


@dataclass(frozen=True)
class MessageOptions:
    """
    How the messages of a sequence are made.

    Attributes
    ----------
    topics : BagTopics
    frame_id : str
        Optical frame of images, camera info and detections.
    intrinsics : tuple of 4 optional floats
        fx, fy, cx, cy; a None takes the 60-degree, centred default.
    compressed : bool
        ``CompressedImage`` (jpeg) instead of ``Image`` (bgr8).
    jpeg_quality : int
    odometry : bool
        Also make ``nav_msgs/Odometry`` (always when the virtual camera moves).
    profile : RotationProfile
        The virtual camera's rotation (none by default).
    max_frames : int, optional
    view : RigView, optional
        One camera of a rig: its size, K, warps, odometry (position and orientation) and
        dropped frames; ``intrinsics`` and ``profile`` are then not used.
    odometry_frame, base_frame : str
        Frame ids of the odometry (its header) and of the base (its child frame).
    latency_s : float
        Seconds after its stamp that each frame's messages are recorded at (their log time
        in a bag): a camera whose messages arrive late.

    """

    topics: BagTopics = BagTopics()
    frame_id: str = CAMERA_FRAME
    intrinsics: Tuple[Optional[float], ...] = (None, None, None, None)
    compressed: bool = False
    jpeg_quality: int = 90
    odometry: bool = False
    profile: RotationProfile = RotationProfile()
    max_frames: Optional[int] = None
    view: Optional['RigView'] = None
    odometry_frame: str = ODOMETRY_FRAME
    base_frame: str = BASE_FRAME
    latency_s: float = 0.0

    @classmethod
    def for_view(cls, view: 'RigView', **options: Any) -> 'MessageOptions':
        """
        Return the options of one rig camera: its view, topics and frame ids under its name.

        Topics ``/<name>/camera/image_raw``, ``/<name>/camera/camera_info``,
        ``/<name>/detections``, ``/<name>/odom``; frames ``<name>/camera_optical_frame`` and
        ``<name>/base_link``; the odometry frame is the rig's world, ``map``. ``options``
        override any field.
        """
        name = view.name
        fields: Dict[str, Any] = {
            'topics': BagTopics(f'/{name}/camera/image_raw', f'/{name}/camera/camera_info',
                                f'/{name}/detections', f'/{name}/odom'),
            'frame_id': f'{name}/{CAMERA_FRAME}', 'view': view, 'odometry': True,
            'odometry_frame': RIG_WORLD_FRAME, 'base_frame': f'{name}/{BASE_FRAME}'}
        fields.update(options)
        return cls(**fields)


def _camera(intrinsics: Tuple[Optional[float], ...], width: int, height: int) -> PinholeCamera:
    # Each intrinsic not given takes the 60-degree, centred default.
    default = PinholeCamera.plausible(width, height)
    fx, fy, cx, cy = (given if given is not None else fallback for given, fallback in
                      zip(intrinsics, (default.fx, default.fy, default.cx, default.cy)))
    return PinholeCamera.from_intrinsics(fx, fy, cx, cy, width, height)


def iter_sequence_messages(source: SequenceSource, options: MessageOptions = MessageOptions()
                           ) -> Iterator[Tuple[int, int, List[Tuple[str, Any]]]]:
    """
    Yield, frame by frame, the messages a robot's camera and detector would publish.

    Parameters
    ----------
    source : SequenceSource
        Frames and detections.
    options : MessageOptions
        Topics, encoding, intrinsics, odometry and the virtual camera's motion.

    Yields
    ------
    (frame, stamp_ns, [(topic, message), ...])
        1-based frame, its stamp (every message of the frame carries it), and, in this
        order: odometry (when asked for or the camera moves), camera info, the image, and
        detections (when there is a det.txt). A rig view's dropped frames are not yielded.

    """
    # The message seam is imported here: the rest of this module needs no rclpy.
    from deepsort_ros.ros.convert.images import bgr_to_compressed_msg, bgr_to_image_msg
    from deepsort_ros.ros.convert.camera import camera_to_camera_info
    from deepsort_ros.ros.convert.detections import detections_to_msg
    from deepsort_ros.ros.convert.odometry import pose_to_odometry
    from deepsort_ros.ros.convert.stamps import make_header

    dets = read_detections(source.detections) if source.detections is not None else None
    dets_by_frame = ({f: list(rows) for f, rows in dets.rows_by_frame().items()}
                     if dets is not None else {})
    profile = options.profile
    topics = options.topics
    image_topic = topics.image.rstrip('/') + ('/compressed' if options.compressed else '')
    camera: Optional[PinholeCamera] = None
    virtual: Optional[VirtualCamera] = None
    view = options.view
    for frame, image in iter_images(source.images, options.max_frames):
        height, width = image.shape[:2]
        if view is not None and not view.keeps(frame):
            continue
        if camera is None:
            camera = view.camera if view is not None else _camera(options.intrinsics, width,
                                                                  height)
            virtual = VirtualCamera(camera.matrix, profile)
        t_s = (frame - 1) / source.fps
        stamp_ns = START_EPOCH_NS + round(t_s * 1e9)
        rows = dets_by_frame.get(frame, [])
        boxes = dets.boxes_tlwh[rows] if dets is not None else np.zeros((0, 4))
        scores = dets.scores[rows] if dets is not None else np.zeros(0)
        if view is not None:
            image = view.warp_image(image, t_s)
            boxes, keep = warp_boxes_tlwh(boxes, view.homography_at(t_s), view.width,
                                          view.height)
            boxes, scores = boxes[keep], scores[keep]
        elif profile.moving:
            homography = virtual.homography_at(t_s)
            image = cv2.warpPerspective(image, homography, (width, height))
            boxes, keep = warp_boxes_tlwh(boxes, homography, width, height)
            boxes, scores = boxes[keep], scores[keep]
        image = np.ascontiguousarray(image)
        header = make_header(stamp_ns, options.frame_id)
        image_msg = bgr_to_compressed_msg(image, options.jpeg_quality, header) \
            if options.compressed else bgr_to_image_msg(image, header)
        # The order a robot delivers them in: odometry (fast, cheap) before the frame, and the
        # detector's output last, so the node can interpolate odometry at the frame's stamp.
        messages: List[Tuple[str, Any]] = []
        odometry_header = make_header(stamp_ns, options.odometry_frame)
        if view is not None:
            messages.append((topics.odometry, pose_to_odometry(
                odometry_header, options.base_frame, view.base_pose_at(t_s).translation,
                view.quaternion_xyzw_at(t_s), view.angular_velocity_at(t_s))))
        elif options.odometry or profile.moving:
            messages.append((topics.odometry, pose_to_odometry(
                odometry_header, options.base_frame, np.zeros(3),
                profile.quaternion_xyzw_at(t_s), profile.angular_velocity_at(t_s))))
        messages += [(topics.camera_info, camera_to_camera_info(camera, header)),
                     (image_topic, image_msg)]
        if dets is not None:
            messages.append((topics.detections,
                             detections_to_msg(header, boxes, scores, DETECTION_CLASS)))
        yield frame, stamp_ns, messages


def write_sequence_bag(source: SequenceSource, options: MessageOptions, out: Path,
                       storage: str = 'mcap', overwrite: bool = False,
                       progress: bool = True) -> Dict[str, int]:
    """
    Write the messages of a sequence into a new bag.

    Parameters
    ----------
    source : SequenceSource
        Frames and detections.
    options : MessageOptions
        Topics, intrinsics, compression, odometry and virtual camera motion.
    out : Path
        Bag folder to create.
    storage : str
        'mcap' or 'sqlite3'.
    overwrite : bool
        Replace an existing bag.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict of str to int
        Messages written per topic.

    """
    from tqdm import tqdm

    writer = BagWriter(out, storage=storage, overwrite=overwrite)
    latency_ns = int(round(options.latency_s * 1e9))
    with writer, tqdm(desc=f'bag {Path(out).name}', unit='frame', total=options.max_frames,
                      disable=None if progress else True) as bar:
        for _, stamp_ns, messages in iter_sequence_messages(source, options):
            for topic, msg in messages:
                writer.write(topic, msg, stamp_ns + latency_ns)
            bar.update(1)
    return dict(writer.counts)
