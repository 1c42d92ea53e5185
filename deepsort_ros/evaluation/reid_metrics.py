"""
Re-ID quality on annotated sequences: ROC AUC and rank-1 over pairs far apart in time.

Pairs closer than ``min_frame_gap`` frames are left out, so that near-duplicate crops of
consecutive frames do not flatter the score.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from deepsort_ros.reid.mot_data import (group_by_frame, IdentityBox, iter_frames,
                                        read_gt_boxes, sample_identity_boxes)
import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

FeatureFunction = Callable[[npt.NDArray[np.uint8], npt.NDArray[np.float64]],
                           npt.NDArray[np.float32]]


@dataclass(frozen=True)
class ReidScore:
    """
    Re-ID quality figures.

    Attributes
    ----------
    auc : float
        ROC AUC of cosine similarity, same person (positive) vs different people.
    rank1 : float
        Fraction of queries whose most similar crop (far enough in time) is the same person.
    crops : int
        Crops evaluated.
    identities : int
        Distinct identities among them.
    positive_pairs : int
        Same-person pairs counted in the AUC.

    """

    auc: float
    rank1: float
    crops: int
    identities: int
    positive_pairs: int


def pair_metrics(features: npt.NDArray[np.float32], identities: npt.NDArray[np.int64],
                 frames: npt.NDArray[np.int64], min_frame_gap: int = 60) -> ReidScore:
    """
    Score features by ROC AUC and rank-1 over pairs at least ``min_frame_gap`` apart.

    Parameters
    ----------
    features : numpy.ndarray
        NxD unit-norm features.
    identities : numpy.ndarray
        N identity labels.
    frames : numpy.ndarray
        N frame numbers.
    min_frame_gap : int
        Smallest frame distance of a pair that counts.

    Returns
    -------
    ReidScore
        The figures.

    """
    features = np.asarray(features, np.float64)
    identities = np.asarray(identities)
    frames = np.asarray(frames)
    similarity = features @ features.T
    far = np.abs(frames[:, None] - frames[None, :]) >= min_frame_gap
    same = identities[:, None] == identities[None, :]
    upper = np.triu(np.ones_like(far), k=1)
    positives = similarity[far & same & upper]
    negatives = similarity[far & ~same & upper]
    if len(positives) == 0 or len(negatives) == 0:
        raise ValueError('no same-person or no different-person pairs far enough apart')
    ranks = rankdata(np.concatenate([positives, negatives]))
    auc = (ranks[:len(positives)].sum() - len(positives) * (len(positives) + 1) / 2) / (
        len(positives) * len(negatives))
    masked = np.where(far, similarity, -np.inf)
    has_match = (far & same).any(axis=1)
    nearest = masked.argmax(axis=1)
    rank1 = float(np.mean(identities[nearest][has_match] == identities[has_match]))
    return ReidScore(float(auc), rank1, len(features), len(np.unique(identities)),
                     len(positives))


def sequence_crops(sequence_dir: Path, frame_step: int = 30,
                   max_per_identity: Optional[int] = 15) -> List[IdentityBox]:
    """
    Sample the evaluation crops of a sequence: gt persons every ``frame_step`` frames.

    Parameters
    ----------
    sequence_dir : pathlib.Path
        MOTChallenge-style sequence folder.
    frame_step : int
        Frame spacing of the sampled frames.
    max_per_identity : int, optional
        Most crops per identity.

    Returns
    -------
    list of IdentityBox
        The sampled boxes.

    """
    return sample_identity_boxes(read_gt_boxes(sequence_dir), frame_step, max_per_identity)


def encode_boxes(sequence_dir: Path, boxes: List[IdentityBox], encoder: FeatureFunction
                 ) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64],
                            npt.NDArray[np.int64]]:
    """
    Encode sampled boxes frame by frame (one encoder call per frame).

    Parameters
    ----------
    sequence_dir : pathlib.Path
        Sequence folder.
    boxes : list of IdentityBox
        Boxes to encode.
    encoder : callable
        ``(image_bgr, boxes_tlwh) -> (N, D)``.

    Returns
    -------
    features : numpy.ndarray
        NxD features, in the order of the frames.
    identities : numpy.ndarray
        N labels.
    frames : numpy.ndarray
        N frame numbers.

    """
    grouped = group_by_frame(boxes)
    features, identities, frames = [], [], []
    for number, image in iter_frames(sequence_dir, sorted(grouped)):
        frame_boxes = grouped[number]
        features.append(np.asarray(encoder(image, np.array([b.tlwh for b in frame_boxes]))))
        identities += [b.identity for b in frame_boxes]
        frames += [number] * len(frame_boxes)
    return (np.concatenate(features).astype(np.float32), np.array(identities),
            np.array(frames))


def evaluate_sequence(sequence_dir: Path, encoder: FeatureFunction, frame_step: int = 30,
                      max_per_identity: Optional[int] = 15, min_frame_gap: int = 60
                      ) -> ReidScore:
    """
    Re-ID AUC and rank-1 of an encoder on a sequence's ground-truth crops.

    Parameters
    ----------
    sequence_dir : pathlib.Path
        Sequence folder.
    encoder : callable
        ``(image_bgr, boxes_tlwh) -> (N, D)``.
    frame_step : int
        Frame spacing of sampled frames.
    max_per_identity : int, optional
        Most crops per identity.
    min_frame_gap : int
        Smallest frame distance of a scored pair.

    Returns
    -------
    ReidScore
        The figures.

    """
    boxes = sequence_crops(sequence_dir, frame_step, max_per_identity)
    features, identities, frames = encode_boxes(sequence_dir, boxes, encoder)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    features = features / np.maximum(norms, 1e-12)
    return pair_metrics(features, identities, frames, min_frame_gap)
