"""The world estimate is ROS-free: importing it loads no rclpy, messages or torch."""

import subprocess
import sys

from helpers.paths import REPO

CHECK = """
import sys
import deepsort_ros.world
heavy = sorted(m for m in sys.modules
               if m.split('.')[0] in ('rclpy', 'torch', 'torchvision')
               or m.split('.')[0].endswith('_msgs'))
print(','.join(heavy))
"""


def test_world_imports_no_ros_no_torch():
    result = subprocess.run([sys.executable, '-c', CHECK], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env={'PYTHONPATH': str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ''
