"""
``deepsort-ros bag-from-sequence``: a ROS 2 bag from a MOTChallenge sequence or a video.

The messages come from :mod:`deepsort_ros.recordings.sequence_to_bag`; this module only reads the
options.
"""

import argparse
from pathlib import Path
import sys
from typing import Any, Tuple

# The defaults of deepsort_ros.recordings.sequence_to_bag.BagTopics, repeated so that building the
# parser imports nothing heavy; a test checks that they agree.
IMAGE_TOPIC = '/camera/image_raw'
CAMERA_INFO_TOPIC = '/camera/camera_info'
DETECTIONS_TOPIC = '/detections'
ODOMETRY_TOPIC = '/odom'
CAMERA_FRAME = 'camera_optical_frame'


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
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                        help='rosbag2 storage format')
    parser.add_argument('--fps', type=float, help='frame rate (default: seqinfo.ini / video)')
    parser.add_argument('--max-frames', type=int, metavar='N',
                        help='write at most N frames (default: all)')
    parser.add_argument('--image-topic', default=IMAGE_TOPIC, help='topic of the images')
    parser.add_argument('--compressed', action='store_true',
                        help='write sensor_msgs/CompressedImage (jpeg) on IMAGE_TOPIC/compressed')
    parser.add_argument('--jpeg-quality', type=int, default=90,
                        help='with --compressed: jpeg quality, 1-100')
    parser.add_argument('--camera-info-topic', default=CAMERA_INFO_TOPIC,
                        help='topic of sensor_msgs/CameraInfo')
    parser.add_argument('--detections-topic', default=DETECTIONS_TOPIC,
                        help='topic of vision_msgs/Detection2DArray')
    parser.add_argument('--frame-id', default=CAMERA_FRAME, help='frame of images/detections')
    for name in ('fx', 'fy', 'cx', 'cy'):
        parser.add_argument(f'--{name}', type=float,
                            help='intrinsics, pixels (default: 60 degree field of view, centred)')
    parser.add_argument('--odometry', action='store_true',
                        help='write nav_msgs/Odometry (static unless the camera moves)')
    parser.add_argument('--odometry-topic', default=ODOMETRY_TOPIC,
                        help='topic of nav_msgs/Odometry')
    motion = parser.add_argument_group(
        'virtual camera motion', 'turn a static sequence into moving-camera footage: the robot '
        "base rotates, frames and detections are warped by the rotation's homography, and "
        'odometry (implied) carries the orientation. Each angle sweeps at its speed and turns '
        'round at +-its amplitude')
    for axis, what in (('pan', 'yaw'), ('tilt', 'pitch'), ('roll', 'roll')):
        motion.add_argument(f'--camera-{axis}', type=float, default=0.0, metavar='DEG_PER_S',
                            help=f'{what} speed of the base, degrees per second')
        motion.add_argument(f'--{axis}-amplitude', type=float, default=10.0, metavar='DEG',
                            help=f'{what} turns round at +-DEG (0: never turns)')


def profile_from_args(args: argparse.Namespace) -> Any:
    """Return the virtual camera's rotation profile that the options describe."""
    from deepsort_ros.sim.virtual_camera import RotationProfile

    return RotationProfile(rates_deg_s=(args.camera_roll, args.camera_tilt, args.camera_pan),
                           amplitudes_deg=(args.roll_amplitude, args.tilt_amplitude,
                                           args.pan_amplitude))


def options_from_args(args: argparse.Namespace) -> Tuple[Any, Any]:
    """Turn parsed ``bag-from-sequence`` options into a source and message options."""
    from deepsort_ros.recordings.sequence_to_bag import BagTopics, MessageOptions, SequenceSource

    if args.sequence is not None:
        source = SequenceSource.from_sequence(args.sequence, args.det, args.fps)
    else:
        source = SequenceSource.from_video(args.video, args.det, args.fps)
    options = MessageOptions(
        topics=BagTopics(args.image_topic, args.camera_info_topic, args.detections_topic,
                         args.odometry_topic),
        frame_id=args.frame_id, intrinsics=(args.fx, args.fy, args.cx, args.cy),
        compressed=args.compressed, jpeg_quality=args.jpeg_quality, odometry=args.odometry,
        profile=profile_from_args(args), max_frames=args.max_frames)
    return source, options


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
    from deepsort_ros.recordings.bag_writer import BagExistsError
    from deepsort_ros.recordings.sequence_to_bag import write_sequence_bag

    try:
        source, options = options_from_args(args)
        counts = write_sequence_bag(source, options, args.out, args.storage, args.overwrite)
    except (BagExistsError, FileNotFoundError, ValueError) as error:
        print(f'bag-from-sequence: {error}', file=sys.stderr)
        return 1
    print(f'wrote {args.out}: ' + ', '.join(f'{t} {n}' for t, n in sorted(counts.items())))
    return 0
