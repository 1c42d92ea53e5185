"""A copy of the repository as ``git clone`` would give it, and an environment without ours."""

import os
from pathlib import Path
import shutil
import subprocess
from typing import Dict

from helpers.paths import REPO


def copy_repository(target: Path) -> None:
    """Copy what git would clone (tracked and untracked-but-not-ignored files) to ``target``."""
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others',
                             '--exclude-standard'], cwd=REPO, capture_output=True,
                            check=True).stdout.split(b'\0')
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())


def environment_without_repository(keep_overlay: bool) -> Dict[str, str]:
    """
    Return this environment without this repository's install/ on any path list.

    Parameters
    ----------
    keep_overlay : bool
        Keep ``install_overlay/`` (the ROS 2 packages PyPI lacks, standing in for /opt/ros);
        without it the environment looks like a machine with no ROS install.

    """
    env = dict(os.environ)
    ours = [str(REPO / 'install') + os.sep]
    if not keep_overlay:
        ours.append(str(REPO / 'install_overlay') + os.sep)
    for name in ('AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH', 'PYTHONPATH', 'LD_LIBRARY_PATH',
                 'PATH', 'COLCON_PREFIX_PATH'):
        parts = [p for p in env.get(name, '').split(os.pathsep)
                 if p and not any((p + os.sep).startswith(o) for o in ours) and p != str(REPO)]
        env[name] = os.pathsep.join(parts)
    return env
