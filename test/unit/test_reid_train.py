"""``deepsort-ros train-reid`` on a few steps; the written weights load into the encoder."""

import argparse
from pathlib import Path

import cv2
from deepsort_ros.cli import train_reid as train_command
from deepsort_ros.evaluation.reid_metrics import pair_metrics
from deepsort_ros.reid import create_encoder
from helpers.paths import SHARED
import numpy as np
import pytest

torch = pytest.importorskip('torch')

PETS = SHARED / 'data' / 'PETS09-S2L1'
OSNET_PTH = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def _synthetic_sequence(root: Path, frames: int = 12) -> Path:
    """Write a MOTChallenge-style sequence: four coloured 'people' walking on noise."""
    rng = np.random.default_rng(0)
    (root / 'img1').mkdir(parents=True)
    (root / 'gt').mkdir()
    (root / 'seqinfo.ini').write_text('[Sequence]\nname=SYN\nimDir=img1\nimExt=.png\n')
    rows = []
    for frame in range(1, frames + 1):
        image = rng.integers(0, 60, (160, 240, 3), dtype=np.uint8)
        for identity, colour in enumerate(COLOURS, start=1):
            x, y = 10 + 55 * (identity - 1) + 2 * frame, 20 + frame
            image[y:y + 80, x:x + 35] = colour
            image[y + 40:y + 80, x:x + 35] = np.array(colour[::-1]) // 2
            rows.append(f'{frame},{identity},{x},{y},35,80,1,1,1.0')
        cv2.imwrite(str(root / 'img1' / f'{frame:06d}.png'), image)
    (root / 'gt' / 'gt.txt').write_text('\n'.join(rows) + '\n')
    return root


def test_train_from_scratch_writes_loadable_weights(tmp_path: Path) -> None:
    sequence = _synthetic_sequence(tmp_path / 'SYN')
    output = tmp_path / 'out' / 'reid.pth'
    args = _parse(str(sequence), '-o', str(output), '--steps', '3', '--frame-step', '1',
                  '--input-hw', '64', '32', '--identities-per-batch', '4',
                  '--crops-per-identity', '2')
    assert train_command.main(args) == 0
    state = torch.load(output, weights_only=True)
    assert state['classifier.weight'].shape[0] == 4  # one class per gt identity
    encoder = create_encoder(str(output), device='cpu', input_hw=(64, 32))
    image = cv2.imread(str(sequence / 'img1' / '000001.png'))
    features = encoder(image, [[12, 21, 35, 80], [67, 21, 35, 80]])
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)


def test_bad_input_is_reported_not_raised(tmp_path: Path) -> None:
    args = _parse(str(tmp_path / 'nowhere'), '-o', str(tmp_path / 'x.pth'), '--steps', '1')
    assert train_command.main(args) == 1
    assert not (tmp_path / 'x.pth').exists()


def test_fine_tune_real_weights_on_pets09_steps(tmp_path: Path) -> None:
    for path in (PETS, OSNET_PTH):
        if not path.exists():
            pytest.skip(f'{path.resolve()} is absent (shared models/data not checked out)')
    output = tmp_path / 'pets.pth'
    args = _parse(str(PETS), '-o', str(output), '--init', str(OSNET_PTH), '--steps', '4',
                  '--frame-step', '40', '--max-per-identity', '4', '--input-hw', '128', '64',
                  '--lr', '1e-5')
    assert train_command.main(args) == 0
    tuned = torch.load(output, weights_only=True)
    original = torch.load(OSNET_PTH, weights_only=True)
    assert tuned['conv1.conv.weight'].shape == original['conv1.conv.weight'].shape
    assert not torch.equal(tuned['conv1.conv.weight'], original['conv1.conv.weight'])
    assert tuned['classifier.weight'].shape[0] == 19  # PETS09's identities, not MSMT17's
    encoder = create_encoder(str(output), device='cpu')
    assert encoder.feature_dim == 512


def test_pair_metrics_perfect_and_reversed() -> None:
    identities = np.array([1, 1, 2, 2])
    frames = np.array([0, 100, 0, 100])
    features = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
    score = pair_metrics(features, identities, frames, min_frame_gap=60)
    assert score.auc == 1.0 and score.rank1 == 1.0 and score.positive_pairs == 2
    swapped = features[[0, 2, 2, 0]]  # each person later looks like the other one
    assert pair_metrics(swapped, identities, frames, 60).auc == 0.0
