"""
The README's "existing ROS 2 workspace" recipe, executed.

A fresh workspace gets a copy of this repository in ``src/deepsort_ros``; it is built with the
README's colcon arguments over ``install_overlay/`` (the ROS 2 packages PyPI lacks, standing in
for ``/opt/ros``), without this repository's own ``install/`` anywhere on the paths, and the
node is started from it with ``ros2 launch``. Skipped where the overlay was not built.
"""

import os
from pathlib import Path
import re
import shlex
import signal
import subprocess
import sys
import time

from helpers.clones import copy_repository, environment_without_repository
from helpers.paths import REPO
import pytest

pytestmark = pytest.mark.dds

OVERLAY = REPO / 'install_overlay'
VENV = Path(sys.prefix)
README_BUILD = 'colcon build --base-paths src/deepsort_ros src/deepsort_ros/msg'


def test_readme_workspace_recipe_builds_and_launches(tmp_path, ros_domain_id):
    if not (OVERLAY / 'local_setup.bash').is_file() or not (OVERLAY / 'bin' / 'ros2').exists():
        pytest.skip('install_overlay/ with ros2 launch was not built here (the set-up builds '
                    'it when ../shared/ros2-src is present)')
    workspace = tmp_path / 'ros2_ws'
    copy_repository(workspace / 'src' / 'deepsort_ros')
    setup = (f'source {shlex.quote(str(VENV / "bin" / "activate"))} && '
             f'source {shlex.quote(str(OVERLAY / "local_setup.bash"))} && '
             f'cd {shlex.quote(str(workspace))}')
    build = subprocess.run(
        ['bash', '-c', f'{setup} && {README_BUILD} --cmake-args -DPython3_EXECUTABLE='
         f'{shlex.quote(sys.executable)} -DBUILD_TESTING=OFF --event-handlers console_direct-'],
        env=environment_without_repository(keep_overlay=True), capture_output=True, text=True,
        timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    installed = workspace / 'install' / 'deepsort_ros' / 'lib' / 'deepsort_ros' / 'tracker_node'
    assert installed.is_file()
    launch = subprocess.Popen(
        ['bash', '-c', f'{setup} && source install/setup.bash && echo "prefix: $(ros2 pkg '
         'prefix deepsort_ros)" && exec ros2 launch deepsort_ros '
         'deepsort.launch.py image:=/camera/image_raw detections:=/detections '
         'namespace:=/recipe'],
        env=dict(environment_without_repository(keep_overlay=True), PYTHONUNBUFFERED='1'),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = ''
    try:
        deadline = time.monotonic() + 90.0
        while time.monotonic() < deadline and launch.poll() is None:
            line = launch.stdout.readline()
            output += line
            if 'listening to' in line:
                break
    finally:
        if launch.poll() is None:
            os.killpg(launch.pid, signal.SIGINT)
        try:
            output += launch.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(launch.pid, signal.SIGKILL)
            output += launch.communicate()[0]
    assert 'listening to /camera/image_raw' in output, output[-3000:]
    # The node ran from the workspace, not from this repository's install/.
    assert f"prefix: {workspace / 'install' / 'deepsort_ros'}" in output, output[-3000:]
    # Ctrl-C can land while `ros2 launch` runs a weakref callback: Python then reports the
    # KeyboardInterrupt as "Exception ignored in" (seen once in CI) and launch still shuts the
    # node down cleanly. Any other traceback, from the node above all, fails.
    reported = re.sub(r'Exception ignored in: .*?\nKeyboardInterrupt: ?\n', '', output,
                      flags=re.S)
    assert launch.returncode == 0 and 'Traceback' not in reported, output[-3000:]
