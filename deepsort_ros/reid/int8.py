"""
Opt-in int8: quantise a Re-ID model once, keep it only where it is faster and faithful.

**Opt-in** (``int8='on'``, node parameter ``encoder_int8: on``): int8 is never chosen by
itself. Forced on every path and tracked on PETS09-S2L1, TUD-Campus and TUD-Stadtmitte
(``bench/bench_encoder_paths.py``, ``bench/results/encoder_paths.md``), no int8 recipe stayed
within 0.5 IDF1 and 0.5 HOTA points of fp32 on all three, and on an Intel Xeon with AMX, where
int8 is 2x faster and was chosen automatically, it cost 7-9 IDF1 points on PETS09 (issue 22):
the cosine agreement below (0.994) does not see what shifts the tracker's distance
thresholds. ``'auto'`` (the default) therefore runs fp32.

Static int8 (QDQ, per-channel weights) of OSNet x0.25 keeps its Re-ID quality (PETS09 AUC
0.923 against 0.915 for fp32) but its speed depends on the CPU: 2.4x faster than fp32 where
the CPU has int8 matrix units (Intel AMX or VNNI), slower on an AMD Zen 5 without them
(bench/README-reid.md). So the choice is measured on the machine that runs it:

1. The node starts on the fp32 export at once and keeps the first crops it encodes
   (:data:`CALIBRATION_CROPS` of them, across frames): the user's own camera calibrates it.
2. Once it has them, a background thread quantises the model (3-5 s on two cores, once per
   weights file: the result is cached next to the fp32 export, keyed by the weights'
   SHA-256), checks that its features agree with fp32 on crops it was not calibrated on
   (median cosine >= :data:`MIN_AGREEMENT`) and times both on the same batch.
3. The encoder switches to int8 when it agrees and is at least
   :data:`~deepsort_ros.reid.int8_verdict.MIN_SPEEDUP` faster; the verdict is written to a
   small JSON record per CPU, so later starts load the winner directly (no calibration, no
   timing) and a cache copied to another computer is timed there once. How agreement and
   speed are measured and kept: :mod:`deepsort_ros.reid.int8_verdict`; this module decides
   when to gather crops, quantise and switch.

Anything that goes wrong (quantisation fails, the record is unreadable, the cache is
read-only) leaves the encoder on fp32 and says so in the log: the tracker never stops for it.
"""

import logging
from pathlib import Path
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from deepsort_ros.reid.base import Encoder
from deepsort_ros.reid.int8_verdict import (agreement, decide, describe, Int8Record,
                                            record_path, TIMING_CROPS, verdict_key)
import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)
# Part of the int8 entry's name: bump it when the quantisation recipe changes.
INT8_FORMAT = 1
CALIBRATION_CROPS = 64
# Crops kept out of calibration to check agreement on (taken from the last frames).
CHECK_CROPS = 16
MIN_AGREEMENT = 0.97
# Logged whenever int8 is turned on: what it costs, measured.
ACCURACY_WARNING = ('Re-ID int8 is on (encoder_int8: on): where it is faster it costs tracking '
                    'accuracy (PETS09 IDF1 -7 to -9 points on an Intel Xeon with AMX, '
                    'bench/results/encoder_paths.md); use auto or off for fp32 identities')
_MAX_CROPS_PER_FRAME = 16


def load_or_adopt(fp32: Any, fp32_path: Path, int8_path: Path,
                  make: Callable[[Path, str], Any], background: bool = True) -> Encoder:
    """
    Return the encoder to run: cached int8, fp32, or fp32 that turns itself into int8.

    Parameters
    ----------
    fp32 : OnnxEncoder
        The loaded fp32 export.
    fp32_path : pathlib.Path
        Its file (the quantiser's input).
    int8_path : pathlib.Path
        Where the int8 model is (or will be) cached; its record is ``int8_path + '.json'``.
    make : callable
        ``make(onnx_path, origin) -> OnnxEncoder`` with the same options as fp32.
    background : bool
        Quantise in a thread while fp32 keeps running (a live node); False quantises inside
        the call that collects the last calibration crop (an offline run, repeatable).

    Returns
    -------
    Encoder

    """
    record = Int8Record(record_path(int8_path))
    if record.failed:
        fp32.name += f', int8 not used ({record.failed})'
        return fp32
    if not int8_path.is_file() or record.agreement is None:
        return AdoptingEncoder(fp32, fp32_path, int8_path, make, background)
    if record.agreement < MIN_AGREEMENT:
        fp32.name += f', int8 not used (agreement {record.agreement:.3f} < {MIN_AGREEMENT})'
        return fp32
    cpu = verdict_key(fp32)
    try:
        int8 = make(int8_path, 'int8 cached')
    except Exception as error:  # a damaged entry: rebuild it from this run's crops
        LOGGER.warning('Re-ID int8: cached %s does not load (%s); rebuilding it', int8_path,
                       error)
        from deepsort_ros.reid import cache

        cache.discard(int8_path)
        return AdoptingEncoder(fp32, fp32_path, int8_path, make, background)
    verdict = record.choice(cpu)
    if verdict is None:  # a cache made on another computer: a second of timing, once
        probe = np.random.default_rng(0).standard_normal(
            (TIMING_CROPS, 3, *fp32.input_hw)).astype(np.float32)
        verdict = decide(fp32, int8, record, cpu, probe)
    chosen = int8 if verdict['int8'] else fp32
    chosen.name += f', chosen by timing ({describe(verdict)})'
    chosen.digest = fp32.digest
    LOGGER.info('Re-ID encoder: %s', chosen.name)
    return chosen


class AdoptingEncoder(Encoder):
    """
    Run fp32 while collecting calibration crops; switch to int8 once it proves faster.

    Parameters
    ----------
    fp32 : OnnxEncoder
        What runs until the verdict (and after it, when int8 loses).
    fp32_path, int8_path : pathlib.Path
        The fp32 export and where the int8 entry goes.
    make : callable
        ``make(onnx_path, origin) -> OnnxEncoder``.
    background : bool
        Quantise in a thread (True) or inline (False).

    Attributes
    ----------
    state : str
        'collecting', 'quantising', 'int8' or 'fp32' (the last two are final).

    """

    def __init__(self, fp32: Any, fp32_path: Path, int8_path: Path,
                 make: Callable[[Path, str], Any], background: bool = True) -> None:
        self._fp32 = fp32
        self._active = fp32
        self._fp32_path = fp32_path
        self._int8_path = int8_path
        self._make = make
        self._background = background
        self._batches: List[npt.NDArray[np.float32]] = []
        self._collected = 0
        self._thread: Optional[threading.Thread] = None
        self.state = 'collecting'
        self.feature_dim = fp32.feature_dim
        self.device = fp32.device
        self.input_hw = fp32.input_hw
        self.runtime = getattr(fp32, 'runtime', 'onnxruntime')
        self.digest = getattr(fp32, 'digest', '')
        self.name = fp32.name + ', int8 pending (calibrating on the first crops)'

    def preprocess(self, image_bgr: npt.NDArray[np.uint8],
                   boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """Cut and normalise crops as both models expect them (see OnnxEncoder)."""
        return self._fp32.preprocess(image_bgr, boxes_tlwh)

    def run_batch(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run whichever model is active on preprocessed crops."""
        return self._active.run_batch(batch)

    def wait(self, timeout_s: Optional[float] = None) -> str:
        """
        Wait for a background verdict (tests, benchmarks); return :attr:`state`.

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait.

        Returns
        -------
        str

        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.state

    def _encode_valid(self, image_bgr: npt.NDArray[np.uint8],
                      boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        batch = self._fp32.preprocess(image_bgr, boxes_tlwh)
        features = self._active.run_batch(batch)
        if self.state == 'collecting':
            self._collect(batch)
        return features

    def _collect(self, batch: npt.NDArray[np.float32]) -> None:
        # A few crops from each of many frames: more kinds of light and pose than one frame.
        kept = batch[:_MAX_CROPS_PER_FRAME].copy()
        self._batches.append(kept)
        self._collected += len(kept)
        if self._collected < CALIBRATION_CROPS + CHECK_CROPS:
            return
        self.state = 'quantising'
        if self._background:
            self._thread = threading.Thread(target=self._adopt, name='reid-int8', daemon=True)
            self._thread.start()
        else:
            self._adopt()

    def _split(self) -> Tuple[List[npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
        crops = np.concatenate(self._batches)
        self._batches = []
        calibration = crops[:-CHECK_CROPS]
        return ([calibration[i:i + 16] for i in range(0, len(calibration), 16)],
                crops[-CHECK_CROPS:])

    def _adopt(self) -> None:
        from deepsort_ros.reid import cache
        from deepsort_ros.reid.export import quantize_onnx

        calibration, check = self._split()
        record = Int8Record(record_path(self._int8_path))
        started = time.monotonic()
        try:
            path, _ = cache.cached_file(
                self._int8_path.name,
                lambda target: quantize_onnx(self._fp32_path, target, calibration),
                folder=self._int8_path.parent)
            int8 = self._make(path, 'int8 calibrated on this camera and cached')
            score = agreement(self._fp32, int8, check)
        except Exception as error:  # onnxruntime's quantiser raises untyped errors
            reason = f'quantisation failed: {type(error).__name__}: {error}'[:300]
            LOGGER.warning('Re-ID int8: %s; staying on fp32', reason)
            record.save(failed=reason, format=INT8_FORMAT)
            self._finish(self._fp32, 'fp32', f'int8 not used ({reason})')
            return
        record.save(agreement=round(score, 4), calibration_crops=int(sum(map(len, calibration))),
                    format=INT8_FORMAT)
        if score < MIN_AGREEMENT:
            self._finish(self._fp32, 'fp32',
                         f'int8 not used (agreement {score:.3f} < {MIN_AGREEMENT})')
            return
        verdict = decide(self._fp32, int8, record, verdict_key(self._fp32), check[:TIMING_CROPS])
        int8.digest = self.digest
        text = (f'chosen by timing ({describe(verdict)}; agreement {score:.3f}; built in '
                f'{time.monotonic() - started:.1f} s)')
        if verdict['int8']:
            self._finish(int8, 'int8', text)
        else:
            self._finish(self._fp32, 'fp32', text)

    def _finish(self, encoder: Any, state: str, text: str) -> None:
        self._active = encoder  # one reference assignment: the encoding thread sees either
        self.name = f'{encoder.name}, {text}'
        self.state = state
        LOGGER.info('Re-ID encoder: %s', self.name)
