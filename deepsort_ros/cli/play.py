"""
``deepsort-ros play``: publish a bag's topics over DDS, a stand-in for ``ros2 bag play``.

The playing itself is :func:`deepsort_ros.recordings.bag_player.play_bag`.
"""

import argparse
from pathlib import Path
import signal
import sys
import threading


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """
    Add the ``play`` options to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.

    """
    parser.add_argument('bag', type=Path, metavar='BAG', help='bag folder or .mcap file')
    parser.add_argument('--rate', type=float, default=1.0, help='speed factor')
    parser.add_argument('--loop', action='store_true', help='play again at the end')
    parser.add_argument('--clock', action='store_true',
                        help='publish rosgraph_msgs/Clock on /clock (for use_sim_time)')
    parser.add_argument('--topics', nargs='+', metavar='TOPIC',
                        help='only these topics (default: all)')
    parser.add_argument('--start-paused', action='store_true',
                        help='wait for Enter on stdin before publishing')
    parser.add_argument('--wait-for-subscribers', type=float, default=0.0, metavar='SEC',
                        help='wait up to SEC for every topic to have a subscriber')
    parser.add_argument('--lockstep', metavar='TOPIC',
                        help="ignore the recorded pace: once a frame's image and (when the "
                        'bag has them) its detections are out, wait until TOPIC has a message '
                        'stamped like them, e.g. /deepsort_tracker/tracks (default: none, play '
                        'at the recorded pace)')
    parser.add_argument('--lockstep-timeout', type=float, default=10.0, metavar='SEC',
                        help='longest wait for the lockstep answer')
    parser.add_argument('--frame-subscribers', type=int, default=1, metavar='N',
                        help='with --wait-for-subscribers: subscribers every image topic needs')
    parser.add_argument('--timing-log', type=Path, metavar='CSV',
                        help='write "stamp_ns,wall_ns" of every image published (default: '
                        'none)')


def main(args: argparse.Namespace) -> int:
    """
    Run ``deepsort-ros play``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`).

    Returns
    -------
    int
        0 when the bag was played (or stopped by Ctrl-C / SIGTERM), 1 on an error.

    """
    if not args.bag.exists():
        print(f'play: bag {args.bag} does not exist', file=sys.stderr)
        return 1
    if not args.rate > 0:
        print(f'play: --rate must be > 0, got {args.rate}', file=sys.stderr)
        return 1
    import rclpy

    from deepsort_ros.recordings.bag_player import play_bag

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    start = None
    if args.start_paused:
        start = threading.Event()
        print('play: paused; press Enter to start', file=sys.stderr)

        def wait_enter() -> None:
            sys.stdin.readline()
            start.set()

        threading.Thread(target=wait_enter, daemon=True).start()
    from rclpy.signals import SignalHandlerOptions

    rclpy.init(args=None, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('bag_player')
    try:
        summary = play_bag(args.bag, node, rate=args.rate, loop=args.loop, topics=args.topics,
                           clock=args.clock, stop_event=stop, start_event=start,
                           wait_for_subscribers=args.wait_for_subscribers,
                           lockstep_topic=args.lockstep, lockstep_timeout=args.lockstep_timeout,
                           frame_subscribers=args.frame_subscribers)
    except ValueError as error:
        print(f'play: {error}', file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.timing_log is not None:
        args.timing_log.write_text(''.join(f'{stamp},{wall}\n'
                                           for stamp, wall in summary.frame_times))
    print(summary.describe())
    return 0
