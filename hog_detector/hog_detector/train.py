"""
Train the stand-in detector's linear HOG person classifier and write ``person_model.npz``.

Run from the repository root (needs PETS09-S2L1 and MOT17-mini, by default from
``../shared/data``)::

    python -m hog_detector.train [--data DIR]

Positives are ground-truth people of PETS09-S2L1 frames 1-400 and of MOT17-mini, cropped as
64x128 windows with the person filling the central 75% of the height, plus mirror images;
negatives are random windows away from any annotated person, then one round of hard negatives
(the first model's false alarms on the training frames). The classifier is an L2-regularised
logistic regression (scipy L-BFGS). PETS09 frames 401-795 are kept out for :func:`evaluate`.
"""

import argparse
from pathlib import Path
import sys
import time
from typing import Dict, Iterator, List, Tuple

import cv2
from deepsort_ros.core.boxes import iou_matrix_tlwh
from hog_detector import features as hf
from hog_detector.detector import (HogPeopleDetector, HogPeopleDetectorConfig,
                                   LinearPersonModel, MODEL_FILE, save_model)
import numpy as np
import numpy.typing as npt

DEFAULT_DATA = Path('..') / 'shared' / 'data'  # beside the repository, on developers' machines
MODEL_PATH = Path(__file__).resolve().parent / MODEL_FILE
PERSON_HEIGHT = 0.75  # of the window height, as in Dalal and Triggs' INRIA windows
TRAIN_PETS_FRAMES = range(1, 401, 4)
EVAL_PETS_FRAMES = range(401, 796, 10)
NEGATIVE_IOU = 0.3

Frame = Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _video_frames(path: Path, wanted: set) -> Dict[int, npt.NDArray[np.uint8]]:
    capture = cv2.VideoCapture(str(path))
    frames, index = {}, 0
    while index < max(wanted):
        ok, image = capture.read()
        if not ok:
            break
        index += 1
        if index in wanted:
            frames[index] = image
    capture.release()
    return frames


def pets09_frames(data: Path, frames: range) -> Iterator[Tuple[int, Frame]]:
    """Yield ``(frame, (image, people_tlwh, all_annotated_tlwh))`` of PETS09-S2L1."""
    pets09 = data / 'PETS09-S2L1'
    gt = np.loadtxt(pets09 / 'gt' / 'gt.txt', delimiter=',')
    images = _video_frames(pets09 / 'vtest.avi', set(frames))
    for frame, image in sorted(images.items()):
        rows = gt[gt[:, 0] == frame]
        yield frame, (image, rows[rows[:, 6] == 1][:, 2:6], rows[:, 2:6])


def mot17_frames(data: Path) -> Iterator[Tuple[int, Frame]]:
    """Yield the MOT17-mini frames with pedestrians at least half visible as people."""
    for seq in sorted((data / 'MOT17-mini').iterdir()):
        gt = np.loadtxt(seq / 'gt' / 'gt.txt', delimiter=',')
        for path in sorted((seq / 'img1').glob('*.jpg')):
            frame = int(path.stem)
            rows = gt[gt[:, 0] == frame]
            people = rows[(rows[:, 6] == 1) & (rows[:, 7] == 1) & (rows[:, 8] >= 0.5)]
            yield frame, (cv2.imread(str(path)), people[:, 2:6], rows[:, 2:6])


def person_windows(boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the 1:2 windows whose central 75% of the height the people fill."""
    cx = boxes_tlwh[:, 0] + boxes_tlwh[:, 2] / 2
    cy = boxes_tlwh[:, 1] + boxes_tlwh[:, 3] / 2
    height = boxes_tlwh[:, 3] / PERSON_HEIGHT
    return np.column_stack([cx - height / 4, cy - height / 2, height / 2, height])


def crop_window(image: npt.NDArray[np.uint8], window_tlwh: npt.ArrayLike
                ) -> npt.NDArray[np.uint8]:
    """Cut a window (replicating the border outside the image) and resize it to 64x128."""
    x, y, w, h = (float(v) for v in window_tlwh)
    scale = hf.WINDOW_H_PX / h
    matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]])
    source = image
    if scale < 1:  # smooth first, as the pyramid's INTER_AREA does
        source = cv2.GaussianBlur(image, (0, 0), 0.5 / scale)
    return cv2.warpAffine(source, matrix, (hf.WINDOW_W_PX, hf.WINDOW_H_PX),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def collect(frames: List[Frame], rng: np.random.Generator, negatives_per_frame: int
            ) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Return positive and random negative descriptors, shapes (P, 3780) and (N, 3780)."""
    positives, negatives = [], []
    for image, people, annotated in frames:
        for window in person_windows(people):
            crop = crop_window(image, window)
            positives += [hf.window_descriptor(crop), hf.window_descriptor(crop[:, ::-1])]
        taken, attempts = 0, 0
        avoid = person_windows(annotated)
        height, width = image.shape[:2]
        while taken < negatives_per_frame and attempts < 20 * negatives_per_frame:
            attempts += 1
            h = rng.uniform(64, height * 0.9)
            window = np.array([[rng.uniform(-0.1 * h, width - 0.4 * h),
                                rng.uniform(-0.1 * h, height - 0.9 * h), h / 2, h]])
            if len(avoid) and iou_matrix_tlwh(window, avoid).max() >= NEGATIVE_IOU:
                continue
            negatives.append(hf.window_descriptor(crop_window(image, window[0])))
            taken += 1
    return np.array(positives, np.float32), np.array(negatives, np.float32)


def hard_negatives(model: LinearPersonModel, frames: List[Frame], per_frame: int
                   ) -> npt.NDArray[np.float32]:
    """Return descriptors of the model's strongest false alarms on the training frames."""
    detector = HogPeopleDetector(HogPeopleDetectorConfig(hit_threshold=-0.5, backend='numpy'),
                                 model)
    found = []
    for image, _, annotated in frames:
        windows, margins = detector.detect_windows(image)
        if len(annotated):
            false = iou_matrix_tlwh(windows, person_windows(annotated)).max(axis=1) < NEGATIVE_IOU
            windows, margins = windows[false], margins[false]
        for window in windows[np.argsort(-margins)[:per_frame]]:
            found.append(hf.window_descriptor(crop_window(image, window)))
    return np.array(found, np.float32).reshape(-1, hf.WINDOW_DIM)


def fit_logistic(positives: npt.NDArray[np.float32], negatives: npt.NDArray[np.float32],
                 l2: float) -> Tuple[npt.NDArray[np.float32], float]:
    """Fit class-balanced L2-regularised logistic regression; return (weights, bias)."""
    from scipy.optimize import minimize

    features = np.vstack([positives, negatives])
    labels = np.r_[np.ones(len(positives)), -np.ones(len(negatives))].astype(np.float32)
    sample_weight = np.where(labels > 0, 0.5 / len(positives), 0.5 / len(negatives))

    def loss(params: npt.NDArray[np.float64]) -> Tuple[float, npt.NDArray[np.float64]]:
        w, b = params[:-1].astype(np.float32), params[-1]
        z = labels * (features @ w + b)
        value = np.sum(sample_weight * np.logaddexp(0, -z)) + 0.5 * l2 * float(w @ w)
        g = -sample_weight * labels / (1 + np.exp(np.clip(z, -50, 50)))
        grad = np.r_[features.T @ g.astype(np.float32) + l2 * w, g.sum()]
        return float(value), grad.astype(np.float64)

    result = minimize(loss, np.zeros(hf.WINDOW_DIM + 1), jac=True, method='L-BFGS-B',
                      options={'maxiter': 400})
    return result.x[:-1].astype(np.float32), float(result.x[-1])


def evaluate(detector: HogPeopleDetector, frames: List[Frame], iou: float = 0.5
             ) -> Dict[str, float]:
    """Return recall, precision and milliseconds per frame of a detector on frames."""
    hits = total = found = 0
    elapsed = 0.0
    for image, people, _ in frames:
        started = time.perf_counter()
        boxes, _ = detector.detect(image)
        elapsed += time.perf_counter() - started
        total += len(people)
        found += len(boxes)
        if len(people) and len(boxes):
            hits += int((iou_matrix_tlwh(people, boxes).max(axis=1) >= iou).sum())
    precision_hits = hits  # one box per matched person at most after NMS, roughly
    return {'recall': hits / max(total, 1), 'precision': precision_hits / max(found, 1),
            'ms_per_frame': 1000 * elapsed / max(len(frames), 1), 'people': total}


def main(argv: List[str] = None) -> int:
    """Train, evaluate on held-out PETS09 frames, and write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--data', type=Path, default=DEFAULT_DATA,
                        help='folder with PETS09-S2L1 and MOT17-mini (default ../shared/data)')
    parser.add_argument('--l2', type=float, default=1e-3)
    parser.add_argument('--negatives-per-frame', type=int, default=40)
    parser.add_argument('--hard-per-frame', type=int, default=60)
    parser.add_argument('--hard-rounds', type=int, default=3)
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args(argv)
    if not (args.data / 'PETS09-S2L1').is_dir() or not (args.data / 'MOT17-mini').is_dir():
        print(f'hog_detector.train: needs {args.data}/PETS09-S2L1 and {args.data}/MOT17-mini',
              file=sys.stderr)
        return 1
    rng = np.random.default_rng(0)
    frames = ([f for _, f in pets09_frames(args.data, TRAIN_PETS_FRAMES)]
              + [f for _, f in mot17_frames(args.data)])
    positives, negatives = collect(frames, rng, args.negatives_per_frame)
    people = np.vstack([f[1] for f in frames])
    aspect = float(np.median(people[:, 2] / people[:, 3]))
    weights, bias = fit_logistic(positives, negatives, args.l2)
    model = LinearPersonModel(weights, bias, PERSON_HEIGHT, aspect)
    print(f'{len(positives)} positives, {len(negatives)} random negatives')
    for round_index in range(args.hard_rounds):
        hard = hard_negatives(model, frames, args.hard_per_frame)
        negatives = np.vstack([negatives, hard])
        weights, bias = fit_logistic(positives, negatives, args.l2)
        model = LinearPersonModel(weights, bias, PERSON_HEIGHT, aspect)
        print(f'hard-negative round {round_index + 1}: {len(hard)} added')
    held_out = [f for _, f in pets09_frames(args.data, EVAL_PETS_FRAMES)]
    scores = evaluate(HogPeopleDetector(HogPeopleDetectorConfig(backend='numpy'), model),
                      held_out)
    print('held-out PETS09 frames 401-795 (every 10th): ' +
          ', '.join(f'{k} {v:.3f}' for k, v in scores.items()))
    if not args.no_write:
        save_model(model, (
            f'PETS09-S2L1 frames 1-400 and MOT17-mini, {len(positives)} positive and '
            f'{len(negatives)} negative windows;\nheld-out PETS09 recall '
            f'{scores["recall"]:.2f} at IoU 0.5 with the default settings.'), MODEL_PATH)
    return 0


if __name__ == '__main__':
    sys.exit(main())
