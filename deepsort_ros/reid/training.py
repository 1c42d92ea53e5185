"""
Train or fine-tune OSNet on identities cut from MOT sequences (``deepsort-ros train-reid``).

Each gt identity of each sequence is one class. Batches hold P identities x K crops; the loss
is label-smoothed cross-entropy on a fresh classifier plus a batch-hard triplet loss on the
embeddings. The output is a plain state dict that ``create_encoder`` loads
(``weights: out.pth``); start from a torchreid OSNet checkpoint (``--init``) to adapt it to a
robot's camera rather than learning from scratch.
"""

from dataclasses import dataclass
import logging
from pathlib import Path
import time
from typing import List, Optional, Sequence, Tuple

from deepsort_ros.reid.backends.onnx_encoder import crop_batch_cv2
from deepsort_ros.reid.base import clip_boxes_tlwh, EncoderLoadError
from deepsort_ros.reid.mot_data import (group_by_frame, iter_frames, read_gt_boxes,
                                        sample_identity_boxes)
import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingOptions:
    """
    What :func:`train` learns from and how (the ``train-reid`` options).

    Attributes
    ----------
    sequences : sequence of Path
        MOTChallenge-style folders (gt/gt.txt + img1/ or a video).
    output : Path
        The .pth state dict to write.
    init : Path, optional
        OSNet state dict to start from; None: random OSNet x0.25.
    steps : int
        Optimiser steps.
    identities_per_batch, crops_per_identity : int
        P and K of the P x K batches.
    lr : float
        Adam learning rate.
    triplet_margin : float
    input_hw : tuple of int
        Crop height and width.
    frame_step : int
        Use every n-th frame (neighbouring frames are near duplicates).
    max_per_identity : int
        Most crops kept per identity.
    min_height : float
        Smallest gt box height used, pixels.
    device : str
        'auto', 'cpu' or 'cuda[:N]'.
    seed : int
    log_every : int
        Steps between progress lines.

    """

    sequences: Sequence[Path]
    output: Path
    init: Optional[Path] = None
    steps: int = 2000
    identities_per_batch: int = 8
    crops_per_identity: int = 4
    lr: float = 3e-4
    triplet_margin: float = 0.3
    input_hw: Tuple[int, int] = (256, 128)
    frame_step: int = 3
    max_per_identity: int = 60
    min_height: float = 32.0
    device: str = 'auto'
    seed: int = 0
    log_every: int = 50


def collect_crops(sequences: List[Path], input_hw: Tuple[int, int], frame_step: int,
                  max_per_identity: int, min_height_px: float
                  ) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """
    Cut the training crops: one class per (sequence, gt identity).

    Parameters
    ----------
    sequences : list of pathlib.Path
        Sequence folders.
    input_hw : tuple of int
        Crop size.
    frame_step : int
        Use frames whose number is a multiple of this.
    max_per_identity : int
        Most crops per identity.
    min_height_px : float
        Smallest box height.

    Returns
    -------
    crops : numpy.ndarray
        Nxhxwx3 uint8 BGR crops.
    labels : numpy.ndarray
        N class indices in [0, classes).

    """
    crops, labels = [], []
    label_of = {}
    for sequence in sequences:
        boxes = sample_identity_boxes(read_gt_boxes(sequence, min_height_px), frame_step,
                                      max_per_identity)
        grouped = group_by_frame(boxes)
        for number, image in iter_frames(sequence, sorted(grouped)):
            frame_boxes = grouped[number]
            tlwh, valid = clip_boxes_tlwh(np.array([b.tlwh for b in frame_boxes]),
                                          image.shape[:2], min_height_px / 4)
            if not valid.any():
                continue
            crops.append(crop_batch_cv2(image, tlwh[valid], input_hw))
            for box, ok in zip(frame_boxes, valid):
                if ok:
                    labels.append(label_of.setdefault((str(sequence), box.identity),
                                                      len(label_of)))
    if not crops:
        raise ValueError(f'no usable gt boxes in {[str(s) for s in sequences]}')
    return np.concatenate(crops), np.array(labels, dtype=np.int64)


def _batch_indices(labels: npt.NDArray[np.int64], identities: int, per_identity: int,
                   rng: np.random.Generator) -> npt.NDArray[np.int64]:
    classes = np.unique(labels)
    chosen = rng.choice(classes, size=min(identities, len(classes)), replace=False)
    picks = [rng.choice(np.flatnonzero(labels == c), size=per_identity,
                        replace=int((labels == c).sum()) < per_identity) for c in chosen]
    return np.concatenate(picks)


def _batch_hard_triplet(features, labels, margin: float):
    import torch

    distances = torch.cdist(features, features)
    same = labels[:, None] == labels[None, :]
    hardest_positive = (distances * same).max(dim=1).values
    hardest_negative = distances.masked_fill(same, float('inf')).min(dim=1).values
    return torch.relu(hardest_positive - hardest_negative + margin).mean()


def train(options: TrainingOptions) -> Path:
    """
    Train OSNet as the arguments say and write the state dict.

    Parameters
    ----------
    options : TrainingOptions
        Parsed ``train-reid`` arguments.

    Returns
    -------
    pathlib.Path
        The written weights file.

    """
    import torch
    from torch.nn import functional

    from deepsort_ros.reid.base import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
    from deepsort_ros.reid.loading import load_state_dict, osnet_from_state_dict
    from deepsort_ros.reid.osnet import osnet_x0_25
    from deepsort_ros.reid.backends.torch import resolve_device

    if options.steps < 1 or options.identities_per_batch < 2 or options.crops_per_identity < 2:
        raise ValueError('need --steps >= 1, --identities-per-batch >= 2 and '
                         '--crops-per-identity >= 2')
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    device = resolve_device(options.device)
    input_hw = (int(options.input_hw[0]), int(options.input_hw[1]))
    crops, labels = collect_crops(list(options.sequences), input_hw, options.frame_step,
                                  options.max_per_identity, options.min_height)
    classes = int(labels.max()) + 1
    if classes < 2:
        raise ValueError('need at least two identities to train')
    LOGGER.info('train-reid: %d crops of %d identities from %d sequences', len(crops), classes,
                len(options.sequences))
    if options.init is not None:
        state_dict, _ = load_state_dict(Path(options.init))
        assert state_dict is not None
        if 'conv1.conv.weight' not in state_dict:
            raise EncoderLoadError(f'{options.init}: expected a torchreid OSNet state dict')
        model = osnet_from_state_dict(state_dict)
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith('classifier.')}
        model.load_state_dict(state_dict, strict=False)
    else:
        model = osnet_x0_25()
    model.classifier = torch.nn.Linear(model.feature_dim, classes)
    model = model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=options.lr, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=options.steps)
    scale = (1.0 / (255.0 * torch.tensor(IMAGENET_STD_RGB, device=device))).view(1, 3, 1, 1)
    shift = (-torch.tensor(IMAGENET_MEAN_RGB, device=device)
             / torch.tensor(IMAGENET_STD_RGB, device=device)).view(1, 3, 1, 1)
    started = time.monotonic()
    for step in range(1, options.steps + 1):
        indices = _batch_indices(labels, options.identities_per_batch, options.crops_per_identity,
                                 rng)
        batch = torch.from_numpy(crops[indices][..., ::-1].copy()).to(device)
        batch = batch.permute(0, 3, 1, 2).float() * scale + shift
        # augmentation: horizontal flip and brightness/contrast jitter per crop
        flip = torch.from_numpy(rng.random(len(indices)) < 0.5).to(device)
        batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
        gain = torch.from_numpy(rng.uniform(0.8, 1.2, (len(indices), 1, 1, 1))).to(batch)
        batch = batch * gain
        target = torch.from_numpy(labels[indices]).to(device)
        features = model.features(batch)
        loss = (functional.cross_entropy(model.classifier(features), target,
                                         label_smoothing=0.1)
                + _batch_hard_triplet(features, target, options.triplet_margin))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        scheduler.step()
        if step == 1 or step % options.log_every == 0 or step == options.steps:
            LOGGER.info('step %d/%d loss %.4f (%.1f s)', step, options.steps, loss.item(),
                        time.monotonic() - started)
    output = Path(options.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, output)
    LOGGER.info('wrote %s (OSNet, %d-d features, %d training identities)', output,
                model.feature_dim, classes)
    return output
