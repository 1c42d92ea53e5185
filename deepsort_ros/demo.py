"""
The main job of ``./dev.sh demo``: start the tracker node with its default parameters.

The node runs as its own ROS 2 process (the installed executable, as ``ros2 run`` would start
it) until Ctrl-C or ``--duration`` seconds have passed.
"""

import argparse
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import List, Optional

from ament_index_python.packages import get_package_prefix, get_package_share_directory


def main(argv: Optional[List[str]] = None) -> int:
    """Start the tracker node and relay its output until it stops."""
    parser = argparse.ArgumentParser(prog='./dev.sh demo', description=__doc__)
    parser.add_argument('--duration', type=float, default=0.0,
                        help='stop after this many seconds (0: run until Ctrl-C)')
    parser.add_argument('--params-file', type=Path, default=None,
                        help='parameters file (default: the installed config/deepsort.yaml)')
    args = parser.parse_args(argv)
    params = args.params_file or Path(
        get_package_share_directory('deepsort_ros')) / 'config' / 'deepsort.yaml'
    if not params.is_file():
        print(f'demo: parameters file {params} does not exist', file=sys.stderr)
        return 2
    exe = Path(get_package_prefix('deepsort_ros')) / 'lib' / 'deepsort_ros' / 'tracker_node'
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    print(f'demo: starting {exe.name} with {params} (Ctrl-C stops it)', flush=True)
    node = subprocess.Popen([str(exe), '--ros-args', '--params-file', str(params)], env=env)
    start = time.monotonic()
    try:
        while node.poll() is None:
            if args.duration and time.monotonic() - start > args.duration:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        if node.poll() is None:
            node.send_signal(subprocess.signal.SIGINT)
            try:
                node.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.kill()
    return 0


if __name__ == '__main__':
    sys.exit(main())
