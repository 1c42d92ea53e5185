"""The fusion is ROS-free: importing any of its modules loads no rclpy, messages, torch or cv2."""

import subprocess
import sys

from helpers.paths import REPO

CHECK = """
import pkgutil
import sys
import deepsort_ros.fusion
for module in pkgutil.iter_modules(deepsort_ros.fusion.__path__):
    __import__('deepsort_ros.fusion.' + module.name)
heavy = sorted(m for m in sys.modules
               if m.split('.')[0] in ('rclpy', 'torch', 'torchvision', 'cv2')
               or m.split('.')[0].endswith('_msgs'))
print(','.join(heavy))
"""


def test_fusion_imports_no_ros_no_torch_no_opencv():
    result = subprocess.run([sys.executable, '-c', CHECK], cwd=REPO, capture_output=True,
                            text=True, timeout=60, env={'PYTHONPATH': str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ''
