"""
Track with each Re-ID encoder path forced, and compare with fp32: accuracy gates speed-ups.

A faster encoder path (onnxruntime int8, OpenVINO bf16) is only worth having when the tracker
keeps its identities with it. Cosine agreement with fp32 does not show that (int8 agreed at
0.994 and still cost 7-9 IDF1 points on an Intel Xeon, issue 22), so this bench encodes the
same detections of PETS09-S2L1, TUD-Campus and TUD-Stadtmitte (SORT's public detections) with
every path forced, tracks each with the default tracker (``Tracker(TrackerConfig())``) and
scores HOTA / IDF1 against the ground truth. Accuracy does not depend on the CPU that makes a
path fast, so every path is measured on whatever machine runs this; the timings (median ms of
one frame's encoder call on PETS09's first ``--timing-frames`` frames, every path in turn on
each frame, in one fresh pass) are this machine's only.

int8 recipes are calibrated as the node calibrates: on the first crops the camera shows (at
most 16 a frame), here the sequence's own first frames. A path passes the gate when it is
within ``--gate`` (0.005) of fp32 in both IDF1 and HOTA on every sequence. Features are cached
in ``.cache/bench/encoder_paths`` (``--fresh`` recomputes). Writes
``bench/results/encoder_paths.md`` and ``encoder_paths.png``.

    .venv/bin/python bench/bench_encoder_paths.py   # ~40 min on 2 loaded cores; cached: ~8
"""

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from common import one_blas_thread, REPO, SHARED, use_checkout  # noqa: I100

one_blas_thread()
use_checkout()

from deepsort_ros.core import Tracker, TrackerConfig, TrackState  # noqa: E402
from deepsort_ros.evaluation.mot_metrics import evaluate_mot  # noqa: E402
from deepsort_ros.recordings.mot import (iter_frames, load_mot_rows,  # noqa: E402
                                         read_detections, read_sequence_info)
from deepsort_ros.reid.base import clip_boxes_tlwh  # noqa: E402
import numpy as np  # noqa: E402

SEQUENCES = ('PETS09-S2L1', 'TUD-Campus', 'TUD-Stadtmitte')
WEIGHTS = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
REFERENCE = 'onnxruntime fp32'
# OSNet x0.25's export: the stem convolution, the last 1x1 convolution and the embedding
# head (Gemm + BatchNorm), the layers whose rounding reaches the feature most directly.
ENDS = ('/conv1/conv/Conv', '/conv5/conv/Conv', '/fc/fc.0/Gemm')
# Stands for every convolution of OSNet's channel gates (global pool -> 1x1 convs -> sigmoid
# that weigh its streams): a few tiny layers whose outputs scale whole feature maps.
GATES = 'gates'
# int8 recipes: (calibration crops, nodes kept in fp32, calibration method). 'current' is what
# deepsort_ros.reid.int8 does today (INT8_FORMAT 1).
RECIPES: Dict[str, Tuple[int, Tuple[str, ...], str]] = {
    'onnxruntime int8 (current: 64 crops, minmax)': (64, (), 'minmax'),
    'onnxruntime int8 (256 crops, ends fp32, minmax)': (256, ENDS, 'minmax'),
    'onnxruntime int8 (256 crops, ends fp32, percentile)': (256, ENDS, 'percentile'),
    'onnxruntime int8 (256 crops, ends + gates fp32, percentile)': (256, ENDS + (GATES,),
                                                                    'percentile'),
}
MAX_CROPS_PER_FRAME = 16


class Sequence:
    """Detections, ground truth and frame source of one MOTChallenge sequence."""

    def __init__(self, name: str) -> None:
        folder = SHARED / 'data' / name
        self.name = name
        self.info = read_sequence_info(folder)
        self.det = read_detections(folder / 'det' / 'det.txt')
        self.gt_rows = load_mot_rows(folder / 'gt' / 'gt.txt')
        self.by_frame = self.det.rows_by_frame()

    def frames(self):
        """Yield ``(frame, image_bgr, rows)`` for the frames that have detections."""
        for frame, image in iter_frames(self.info):
            rows = self.by_frame.get(frame)
            if rows is not None and len(rows):
                yield frame, image, rows


def calibration_crops(sequence: Sequence, fp32: Any, count: int) -> List[np.ndarray]:
    """Return the first ``count`` crops the node would keep (<= 16 a frame), in batches of 16."""
    kept: List[np.ndarray] = []
    total = 0
    for _, image, rows in sequence.frames():
        clipped, valid = clip_boxes_tlwh(sequence.det.boxes_tlwh[rows], image.shape[:2])
        if valid.any():
            batch = fp32.preprocess(image, clipped[valid])[:MAX_CROPS_PER_FRAME]
            kept.append(batch)
            total += len(batch)
        if total >= count:
            break
    crops = np.concatenate(kept)[:count]
    return [crops[i:i + 16] for i in range(0, len(crops), 16)]


def _node_names(export: Path, keep: Tuple[str, ...]) -> List[str]:
    """Expand :data:`GATES` in a recipe's fp32 nodes into the export's gate convolutions."""
    if GATES not in keep:
        return list(keep)
    import onnx

    gates = [node.name for node in onnx.load(str(export)).graph.node
             if node.op_type == 'Conv' and '/gate/' in node.name]
    return [name for name in keep if name != GATES] + gates


def make_paths(sequence: Sequence, wanted: List[str], folder: Path) -> Dict[str, Callable]:
    """Return ``name -> encoder`` for the forced paths (int8 ones quantised for this sequence)."""
    from deepsort_ros.reid import create_encoder
    from deepsort_ros.reid.export import quantize_onnx
    from deepsort_ros.reid.backends.onnx_encoder import OnnxEncoder

    fp32 = create_encoder(str(WEIGHTS), device='cpu', backend='onnx', int8='off')
    export = fp32.model_path
    makers: Dict[str, Callable[[], Any]] = {
        REFERENCE: lambda: fp32,
        'torch fp32': lambda: create_encoder(str(WEIGHTS), device='cpu', backend='torch'),
        'OpenVINO fp32': lambda: OnnxEncoder(export, runtime='openvino', openvino_precision='f32'),
        'OpenVINO bf16': lambda: OnnxEncoder(export, runtime='openvino',
                                             openvino_precision='bf16'),
    }
    for name, (crops, keep, method) in RECIPES.items():
        def quantised(crops=crops, keep=keep, method=method, name=name):
            target = folder / f'{sequence.name}.{abs(hash(name)) % 10**8}.int8.onnx'
            started = time.monotonic()
            quantize_onnx(export, target, calibration_crops(sequence, fp32, crops),
                          _node_names(export, keep), method)
            print(f'  {name}: quantised in {time.monotonic() - started:.0f} s', file=sys.stderr)
            return OnnxEncoder(target)
        makers[name] = quantised
    return {name: makers[name]() for name in wanted}


def _cache_stem(cache: Path, sequence: Sequence, name: str) -> str:
    safe = ''.join(c if c.isalnum() else '_' for c in name)
    return str(cache / f'{sequence.name}__{safe}')


def encode(sequence: Sequence, names: List[str], cache: Path, fresh: bool
           ) -> Tuple[Dict[str, np.ndarray], Dict[str, float]]:
    """Return each path's features of every detection and its median ms per frame call."""
    features: Dict[str, np.ndarray] = {}
    timings: Dict[str, float] = {}
    missing = []
    for name in names:
        stem = _cache_stem(cache, sequence, name)
        if not fresh and Path(f'{stem}.npy').is_file():
            features[name] = np.load(f'{stem}.npy')
            timings[name] = json.loads(Path(f'{stem}.json').read_text())['median_ms']
        else:
            missing.append(name)
    if not missing:
        return features, timings
    print(f'{sequence.name}: encoding with {", ".join(missing)}', file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix='encoder_paths_') as folder:
        encoders = make_paths(sequence, missing, Path(folder))
        for encoder in encoders.values():
            getattr(encoder, 'wait_ready', lambda: True)()
        out = {name: np.zeros((len(sequence.det.frames), encoder.feature_dim), np.float32)
               for name, encoder in encoders.items()}
        times: Dict[str, List[float]] = {name: [] for name in missing}
        for _, image, rows in sequence.frames():
            boxes = sequence.det.boxes_tlwh[rows]
            for name, encoder in encoders.items():  # interleaved: the same load for every path
                start = time.perf_counter()
                out[name][rows] = encoder(image, boxes)
                times[name].append(1e3 * (time.perf_counter() - start))
    cache.mkdir(parents=True, exist_ok=True)
    for name in missing:
        stem = _cache_stem(cache, sequence, name)
        np.save(f'{stem}.npy', out[name])
        Path(f'{stem}.json').write_text(json.dumps({'median_ms': float(np.median(times[name]))}))
        features[name], timings[name] = out[name], float(np.median(times[name]))
    return features, timings


def time_paths(sequence: Sequence, names: List[str], frames: int) -> Dict[str, float]:
    """Return each path's median ms per frame call over the same frames, runs interleaved."""
    times: Dict[str, List[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix='encoder_paths_') as folder:
        encoders = make_paths(sequence, names, Path(folder))
        for encoder in encoders.values():
            getattr(encoder, 'wait_ready', lambda: True)()
        for index, (_, image, rows) in enumerate(sequence.frames()):
            if index >= frames:
                break
            boxes = sequence.det.boxes_tlwh[rows]
            for name, encoder in encoders.items():
                start = time.perf_counter()
                encoder(image, boxes)
                times[name].append(1e3 * (time.perf_counter() - start))
    return {name: float(np.median(values)) for name, values in times.items()}


def track(sequence: Sequence, features: np.ndarray) -> Any:
    """Track with the default tracker (confirmed, matched tracks shown); return MotScores."""
    tracker = Tracker(TrackerConfig())
    rows_out: List[List[float]] = []
    det = sequence.det
    for frame in range(1, sequence.info.length + 1):
        rows = sequence.by_frame.get(frame, np.zeros(0, np.int64))
        tracks = tracker.update(det.boxes_tlwh[rows], det.scores[rows], det.class_ids[rows],
                                features[rows], timestamp=sequence.info.timestamp(frame))
        for t in tracks:
            if t.state is TrackState.CONFIRMED:
                rows_out.append([frame, t.track_id, *t.box_tlwh, 1.0, -1, -1, -1])
    result = np.array(rows_out) if rows_out else np.zeros((0, 10))
    return evaluate_mot(sequence.gt_rows, result)


def cpu_description() -> str:
    """Return the CPU model, core count and the instruction sets that decide int8 and bf16."""
    model, flags = 'unknown CPU', set()
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        key, _, value = line.partition(':')
        if key.strip() == 'model name' and model == 'unknown CPU':
            model = value.strip()
        elif key.strip() == 'flags' and not flags:
            flags = set(value.split())
    units = [f for f in ('avx512_vnni', 'avx512_bf16', 'amx_int8', 'amx_bf16') if f in flags]
    return f'{model}, {os.cpu_count()} cores ({", ".join(units) or "no VNNI/BF16/AMX"})'


def markdown(results: List[Dict[str, Any]], gate: float, machine: str,
             timing: Dict[str, float], timing_note: str) -> str:
    """Return the tables: HOTA / IDF1 and deltas to fp32 per path and sequence; speed."""
    lines = [f'Measured {time.strftime("%Y-%m-%d")} on {machine}; `bench/bench_encoder_paths.py`.',
             f'Gate: within {gate:g} of {REFERENCE} in both IDF1 and HOTA on every sequence.', '',
             '| path | sequence | HOTA | IDF1 | d HOTA | d IDF1 | gate |',
             '|---|---|---|---|---|---|---|']
    for r in results:
        lines.append(f'| {r["path"]} | {r["sequence"]} | {r["hota"]:.3f} | {r["idf1"]:.3f} | '
                     f'{r["d_hota"]:+.3f} | {r["d_idf1"]:+.3f} | '
                     f'{"pass" if r["pass"] else "FAIL"} |')
    verdicts = {}
    for r in results:
        verdicts[r['path']] = verdicts.get(r['path'], True) and r['pass']
    lines += ['', '| path | passes on all three |', '|---|---|']
    lines += [f'| {path} | {"yes" if ok else "no"} |' for path, ok in verdicts.items()]
    if timing:
        lines += ['', f"Encode time, median ms of one frame's encoder call ({timing_note}):", '',
                  '| path | ms/frame (p50) | x fp32 |', '|---|---|---|']
        lines += [f'| {path} | {ms:.1f} | {ms / timing[REFERENCE]:.2f} |'
                  for path, ms in timing.items()]
    return '\n'.join(lines) + '\n'


def plot(results: List[Dict[str, Any]], gate: float, path: Path) -> None:
    """Draw each path's HOTA and IDF1 deltas to fp32 per sequence, with the gate."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    paths = list(dict.fromkeys(r['path'] for r in results if r['path'] != REFERENCE))
    sequences = list(dict.fromkeys(r['sequence'] for r in results))
    figure, axes = plt.subplots(1, 2, figsize=(13, 0.3 * len(paths) * len(sequences) + 1.2),
                                sharey=True)
    for axis, key, title in zip(axes, ('d_hota', 'd_idf1'), ('HOTA - fp32', 'IDF1 - fp32')):
        labels, values = [], []
        for p in paths:
            for s in sequences:
                row = next(r for r in results if r['path'] == p and r['sequence'] == s)
                labels.append(f'{p} | {s}')
                values.append(100 * row[key])
        y = np.arange(len(values))
        axis.barh(y, values, color=['#55a868' if abs(v) <= 100 * gate else '#c44e52'
                                    for v in values])
        axis.axvline(-100 * gate, color='k', linestyle='--', linewidth=1)
        axis.axvline(100 * gate, color='k', linestyle='--', linewidth=1)
        axis.set_yticks(y, labels, fontsize=6)
        axis.invert_yaxis()
        axis.set_xlabel('points')
        axis.set_title(title)
        axis.grid(axis='x', alpha=0.3)
    figure.subplots_adjust(left=0.34, right=0.98, wspace=0.05, bottom=0.08, top=0.95)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv: Optional[List[str]] = None) -> int:
    """Encode, track and score every path on every sequence; print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--paths', nargs='*',
                        default=[REFERENCE, 'torch fp32', *RECIPES, 'OpenVINO fp32',
                                 'OpenVINO bf16'])
    parser.add_argument('--sequences', nargs='*', default=list(SEQUENCES))
    parser.add_argument('--gate', type=float, default=0.005)
    parser.add_argument('--fresh', action='store_true', help='recompute cached features')
    parser.add_argument('--cache', type=Path, default=REPO / '.cache' / 'bench' / 'encoder_paths')
    parser.add_argument('--out', type=Path, default=REPO / 'bench' / 'results')
    parser.add_argument('--timing-frames', type=int, default=100,
                        help='PETS09 frames the speed of every path is measured on (0: none)')
    args = parser.parse_args(argv)
    if not WEIGHTS.is_file():
        print(f'{WEIGHTS} is absent: nothing to measure', file=sys.stderr)
        return 1
    names = [REFERENCE] + [p for p in args.paths if p != REFERENCE]
    results: List[Dict[str, Any]] = []
    print('| path | sequence | HOTA | IDF1 | d HOTA | d IDF1 | ms (this run) |')
    for name in args.sequences:
        sequence = Sequence(name)
        features, timings = encode(sequence, names, args.cache, args.fresh)
        reference = None
        for path in names:
            scores = track(sequence, features[path])
            reference = reference or scores
            d_hota, d_idf1 = scores.hota - reference.hota, scores.idf1 - reference.idf1
            results.append({'path': path, 'sequence': name, 'hota': scores.hota,
                            'idf1': scores.idf1, 'd_hota': d_hota, 'd_idf1': d_idf1,
                            'pass': abs(d_hota) <= args.gate and abs(d_idf1) <= args.gate})
            print(f'| {path} | {name} | {scores.hota:.3f} | {scores.idf1:.3f} | {d_hota:+.3f} | '
                  f'{d_idf1:+.3f} | {timings[path]:.1f} |', flush=True)
    timing: Dict[str, float] = {}
    note = ''
    if args.timing_frames > 0:
        # One fresh pass, every path on the same frames in turn: the cached encode times come
        # from runs under different load. The int8 recipes share one runtime, so the current
        # one stands for them.
        timed = [p for p in names if 'int8' not in p] + [p for p in names if 'int8' in p][:1]
        timing = time_paths(Sequence('PETS09-S2L1'), timed, args.timing_frames)
        note = (f'PETS09-S2L1, its first {args.timing_frames} frames, '
                f'{os.getloadavg()[0]:.1f} load average at the end, paths interleaved')
        for path, ms in timing.items():
            print(f'{path}: {ms:.1f} ms per frame call (p50)')
    machine = cpu_description()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'encoder_paths.md').write_text(markdown(results, args.gate, machine, timing,
                                                        note))
    plot(results, args.gate, args.out / 'encoder_paths.png')
    print(f'wrote {args.out / "encoder_paths.md"} and {args.out / "encoder_paths.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
