"""
Synthetic tracking scenes with ground truth, detections and appearance features.

Objects move at roughly constant velocity (with small random accelerations), bounce off the
image border and occlude each other by depth: a detection is missed when a nearer object
covers most of it and gets a low score when partly covered. Every identity has its own unit
feature; detections carry it plus noise. Used by the tests and by bench/bench_tracker.py.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from deepsort_ros.core.boxes import iou_matrix_tlbr
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class SyntheticScene:
    """
    A generated scene, in MOTChallenge row layout.

    Attributes
    ----------
    gt_rows : ndarray, shape (G, 9)
        ``frame, id, left, top, width, height, 1, 1, 1``: every object is scored (class 1,
        "pedestrian", in MOT16/17 terms; the detector classes are in det_class_ids).
    det_rows : ndarray, shape (N, 10)
        ``frame, -1, left, top, width, height, score, -1, -1, -1``.
    det_class_ids : ndarray of int, shape (N,)
    det_features : ndarray of float32, shape (N, D)
        Unit rows; row i belongs to det_rows[i].
    frame_rate : float
    num_frames : int
    width, height : int
        Image size, pixels.
    camera_motion : ndarray, shape (num_frames, 3, 3)
        Entry f - 1 maps image f - 1 to image f (identity for the first frame): what a
        robot's odometry would give the tracker for a shaking camera.

    """

    gt_rows: npt.NDArray[np.float64]
    det_rows: npt.NDArray[np.float64]
    det_class_ids: npt.NDArray[np.int64]
    det_features: npt.NDArray[np.float32]
    frame_rate: float
    num_frames: int
    width: int
    height: int
    camera_motion: npt.NDArray[np.float64]

    def frame_rows(self) -> Dict[int, npt.NDArray[np.int64]]:
        """Return ``frame -> detection row indices`` for every frame 1..num_frames."""
        frames = self.det_rows[:, 0].astype(np.int64)
        return {f: np.flatnonzero(frames == f) for f in range(1, self.num_frames + 1)}

    def write_mot_folder(self, directory: Path, name: str = 'synthetic') -> Path:
        """
        Write seqinfo.ini, det/det.txt, gt/gt.txt and features.npy into a folder.

        Parameters
        ----------
        directory : Path
            Created when missing.
        name : str
            Sequence name in seqinfo.ini.

        Returns
        -------
        Path
            The folder.

        """
        directory = Path(directory)
        (directory / 'det').mkdir(parents=True, exist_ok=True)
        (directory / 'gt').mkdir(parents=True, exist_ok=True)
        (directory / 'seqinfo.ini').write_text(
            f'[Sequence]\nname={name}\nimDir=img1\nframeRate={self.frame_rate:g}\n'
            f'seqLength={self.num_frames}\nimWidth={self.width}\nimHeight={self.height}\n'
            'imExt=.jpg\n')
        np.savetxt(directory / 'det' / 'det.txt', self.det_rows, delimiter=',',
                   fmt=['%d', '%d', '%.2f', '%.2f', '%.2f', '%.2f', '%.4f', '%d', '%d', '%d'])
        np.savetxt(directory / 'gt' / 'gt.txt', self.gt_rows, delimiter=',',
                   fmt=['%d', '%d', '%.2f', '%.2f', '%.2f', '%.2f', '%d', '%d', '%d'])
        np.save(directory / 'features.npy', self.det_features)
        return directory


def make_scene(num_objects: int = 10, num_frames: int = 200, frame_rate: float = 10.0,
               width: int = 1920, height: int = 1080, feature_dim: int = 128,
               feature_noise: float = 0.35, box_noise: float = 0.04,
               miss_rate: float = 0.05, false_positive_rate: float = 0.02,
               num_classes: int = 2, speed_px_s: float = 60.0, camera_shake_px: float = 0.0,
               seed: int = 0) -> SyntheticScene:
    """
    Generate a scene.

    Parameters
    ----------
    num_objects : int
        Objects present from the first to the last frame.
    num_frames : int
        Frames.
    frame_rate : float
        Frames per second.
    width, height : int
        Image size, pixels.
    feature_dim : int
        Appearance feature size.
    feature_noise : float
        Standard deviation of the noise added to each feature entry, relative to 1/sqrt(D).
    box_noise : float
        Standard deviation of detection box jitter, fraction of box size.
    miss_rate : float
        Probability that a visible object is not detected.
    false_positive_rate : float
        Expected false detections per object and frame.
    num_classes : int
        Classes drawn uniformly (class 0 is most common: half of the objects).
    speed_px_s : float
        Typical speed, pixels per second.
    camera_shake_px : float
        Standard deviation of the camera's image shift per frame and axis (0: static).
    seed : int
        Random seed.

    Returns
    -------
    SyntheticScene

    """
    rng = np.random.default_rng(seed)
    n = num_objects
    heights = rng.uniform(50, 130, n)
    aspect = rng.uniform(0.35, 0.55, n)
    classes = np.where(rng.random(n) < 0.5, 0, rng.integers(0, max(num_classes, 1), n))
    # Wider boxes for the other classes so a class is visible in the geometry too.
    aspect = np.where(classes == 0, aspect, aspect * 2.0)
    size = np.stack([heights * aspect, heights], axis=1)
    position = rng.uniform([0, 0], [width, height], (n, 2))
    angle = rng.uniform(0, 2 * np.pi, n)
    speed = speed_px_s * rng.uniform(0.3, 1.5, n)
    velocity = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
    depth = rng.random(n)
    identity_features = rng.normal(size=(n, feature_dim))
    identity_features /= np.linalg.norm(identity_features, axis=1, keepdims=True)
    dt = 1.0 / frame_rate
    camera_motion = np.tile(np.eye(3), (num_frames, 1, 1))
    camera_offset = np.zeros(2)
    gt: List[npt.NDArray[np.float64]] = []
    dets: List[npt.NDArray[np.float64]] = []
    det_classes: List[npt.NDArray[np.int64]] = []
    feats: List[npt.NDArray[np.float64]] = []
    for frame in range(1, num_frames + 1):
        velocity += rng.normal(0, 0.15 * speed_px_s, (n, 2)) * np.sqrt(dt)
        position += velocity * dt
        for axis, limit in ((0, width), (1, height)):
            low = position[:, axis] < 0
            high = position[:, axis] > limit
            velocity[low | high, axis] *= -1
            position[:, axis] = np.clip(position[:, axis], 0, limit)
        if frame > 1 and camera_shake_px > 0:
            shift = rng.normal(0, camera_shake_px, 2)
            camera_offset += shift
            camera_motion[frame - 1, :2, 2] = shift
        tlwh = np.concatenate([position + camera_offset - size / 2, size], axis=1)
        tlbr = np.concatenate([tlwh[:, :2], tlwh[:, :2] + tlwh[:, 2:]], axis=1)
        gt.append(np.column_stack([np.full(n, frame), np.arange(1, n + 1), tlwh,
                                   np.ones(n), np.ones(n), np.ones(n)]))
        # Visible fraction: 1 - the largest share covered by a nearer object.
        inter_w = np.clip(np.minimum(tlbr[:, None, 2], tlbr[None, :, 2])
                          - np.maximum(tlbr[:, None, 0], tlbr[None, :, 0]), 0, None)
        inter_h = np.clip(np.minimum(tlbr[:, None, 3], tlbr[None, :, 3])
                          - np.maximum(tlbr[:, None, 1], tlbr[None, :, 1]), 0, None)
        covered = inter_w * inter_h / (size[:, 0] * size[:, 1])[:, None]
        covered = np.where(depth[None, :] < depth[:, None], covered, 0.0)
        visible = 1.0 - covered.max(axis=1, initial=0.0)
        detected = (visible > 0.35) & (rng.random(n) > miss_rate)
        index = np.flatnonzero(detected)
        jitter = rng.normal(0, box_noise, (len(index), 4)) * np.tile(size[index], 2)
        det_tlwh = tlwh[index] + jitter
        det_tlwh[:, 2:] = np.maximum(det_tlwh[:, 2:], 4.0)
        visibility_factor = np.minimum(1.0, visible[index] + 0.3)
        score = np.clip(rng.uniform(0.55, 1.0, len(index)) * visibility_factor, 0.15, 1.0)
        noise = rng.normal(0, feature_noise / np.sqrt(feature_dim), (len(index), feature_dim))
        # Occluded crops look like the occluder: mix in its feature.
        occluder = covered[index].argmax(axis=1)
        mix = np.clip(1.0 - visible[index], 0, 0.6)[:, None]
        feature = ((1 - mix) * identity_features[index] + mix * identity_features[occluder]
                   + noise)
        n_fp = rng.poisson(false_positive_rate * n)
        fp_size = size[rng.integers(0, n, n_fp)] * rng.uniform(0.8, 1.2, (n_fp, 1))
        fp_tlwh = np.concatenate([rng.uniform([0, 0], [width, height], (n_fp, 2)), fp_size],
                                 axis=1)
        fp_feature = rng.normal(size=(n_fp, feature_dim))
        all_tlwh = np.concatenate([det_tlwh, fp_tlwh])
        all_score = np.concatenate([score, rng.uniform(0.3, 0.7, n_fp)])
        dets.append(np.column_stack([np.full(len(all_tlwh), frame), -np.ones(len(all_tlwh)),
                                     all_tlwh, all_score, -np.ones((len(all_tlwh), 3))]))
        det_classes.append(np.concatenate([classes[index], rng.integers(0, num_classes, n_fp)]))
        feats.append(np.concatenate([feature, fp_feature]))
    features = np.concatenate(feats).astype(np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    return SyntheticScene(np.concatenate(gt), np.concatenate(dets),
                          np.concatenate(det_classes).astype(np.int64), features, frame_rate,
                          num_frames, width, height, camera_motion)


__all__ = ['SyntheticScene', 'make_scene', 'iou_matrix_tlbr']
