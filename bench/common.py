"""
What the benchmark scripts share: paths, one BLAS thread, the CPU's name, odometry motion.

A script run as ``python bench/NAME.py`` has this folder on ``sys.path``: it imports this
module, calls :func:`one_blas_thread` before numpy loads, then puts the checkout it measures
on ``sys.path`` (:func:`use_checkout`) and imports deepsort_ros.
"""

import os
from pathlib import Path
import platform
import sys
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / 'shared'
CACHE = REPO / '.cache' / 'bench'


def one_blas_thread() -> None:
    """
    Restart the process with one BLAS and OpenMP thread, unless it has them already.

    Multi-threaded BLAS fights for the cores and makes timings meaningless (peers.md); the
    setting is read when numpy loads, hence the restart.
    """
    if os.environ.get('OPENBLAS_NUM_THREADS') != '1':
        os.environ.update(OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
        os.execv(sys.executable, [sys.executable] + sys.argv)


def use_checkout(path: Path = REPO) -> None:
    """Import deepsort_ros from ``path`` (the source tree by default, not a stale install/)."""
    sys.path.insert(0, str(path))


def cpu_model() -> str:
    """Return the CPU's model name, for the machine line of a results file."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def odometry_homographies(camera: Any, num_frames: int, fps: float) -> Any:
    """
    Return what the node's ego-motion computes from a virtual camera's odometry.

    Parameters
    ----------
    camera : VirtualCamera
        Its ``intrinsics`` and rotation ``profile`` (the base turns on the spot).
    num_frames : int
        Frames of the sequence.
    fps : float
        Frames per second; frame f is seen at ``(f - 1) / fps``.

    Returns
    -------
    ndarray, shape (F, 3, 3)
        Row f - 1 maps frame f - 1 to frame f (the identity for the first frame).

    """
    from deepsort_ros import ego_motion
    from deepsort_ros.geometry import PinholeCamera
    from deepsort_ros.settings.tracker import NodeConfig
    import numpy as np

    node = NodeConfig()
    estimator = ego_motion.EgoMotionEstimator(ego_motion.EgoMotionConfig(mode='odometry'))
    estimator.set_extrinsic(np.asarray(node.base_to_camera_xyz),
                            np.asarray(node.base_to_camera_rpy))
    estimator.set_camera(PinholeCamera(camera.intrinsics))
    motion = np.tile(np.eye(3), (num_frames, 1, 1))
    for frame in range(1, num_frames + 1):
        t = (frame - 1) / fps
        estimator.add_odometry(t, np.zeros(3), camera.profile.quaternion_xyzw_at(t))
        if frame > 1:
            motion[frame - 1] = estimator.estimate(t - 1 / fps, t).homography
    return motion
