"""
The int8 verdict: whether int8 agrees with fp32, and whether it is faster on this CPU.

What :mod:`deepsort_ros.reid.int8` decides with, measured and remembered. Features are
compared by their median cosine on crops the int8 model was not calibrated on
(:func:`agreement`); speed by timing both models on the same batch, runs interleaved
(:func:`decide`: int8 must be :data:`MIN_SPEEDUP` times faster). Both land in a small JSON
record beside the int8 entry (:class:`Int8Record`), the speed verdict keyed by the CPU and the
runtime (:func:`verdict_key`), so a later start on this computer does not time again and a
cache copied to another computer is timed there once.
"""

import hashlib
import json
import logging
import os
from pathlib import Path
import re
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)
MIN_SPEEDUP = 1.1
TIMING_CROPS = 10
TIMING_ROUNDS = 5


def cpu_key() -> str:
    """
    Name this computer's CPU for the speed verdict: model, core count and instruction set.

    Returns
    -------
    str
        E.g. 'Intel_R_Xeon_R_Processor-2c-3f9a0c1b2d4e'; the hash covers /proc/cpuinfo's
        flags, so two CPUs sold under one name but with different int8 units differ.

    """
    model, flags = '', ''
    try:
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as stream:
            for line in stream:
                key, _, value = line.partition(':')
                if key.strip() == 'model name' and not model:
                    model = value.strip()
                elif key.strip() in ('flags', 'Features') and not flags:
                    flags = value.strip()
    except OSError:
        pass
    if not model:
        import platform

        model = platform.processor() or platform.machine() or 'cpu'
    fingerprint = hashlib.sha256(f'{model}|{flags}'.encode()).hexdigest()[:12]
    readable = re.sub(r'[^A-Za-z0-9]+', '_', model).strip('_')[:40] or 'cpu'
    return f'{readable}-{os.cpu_count() or 1}c-{fingerprint}'


def time_batch_ms(encoders: List[Any], batch: npt.NDArray[np.float32],
                  rounds: int = TIMING_ROUNDS) -> List[float]:
    """
    Median milliseconds of ``run_batch`` on one batch for each encoder, runs interleaved.

    Interleaving (a, b, a, b, ...) gives every encoder the same share of whatever else the
    machine is doing meanwhile.

    Parameters
    ----------
    encoders : list of OnnxEncoder
        Anything with ``run_batch(batch)``.
    batch : numpy.ndarray, shape (M, 3, h, w)
        Network input.
    rounds : int
        Timed runs each, after one untimed warm-up run.

    Returns
    -------
    list of float
        Median ms per encoder, in order.

    """
    for encoder in encoders:
        getattr(encoder, 'wait_ready', lambda: True)()  # OpenVINO compiles batch sizes first
        encoder.run_batch(batch)
    times: List[List[float]] = [[] for _ in encoders]
    for _ in range(rounds):
        for index, encoder in enumerate(encoders):
            start = time.perf_counter()
            encoder.run_batch(batch)
            times[index].append(1e3 * (time.perf_counter() - start))
    return [float(np.median(t)) for t in times]


def agreement(fp32: Any, int8: Any, batch: npt.NDArray[np.float32]) -> float:
    """
    Median cosine similarity between the two encoders' features of the same crops.

    Parameters
    ----------
    fp32, int8 : OnnxEncoder
        Anything with ``run_batch(batch) -> (M, D)`` unit rows.
    batch : numpy.ndarray, shape (M, 3, h, w)
        Network input (crops the int8 model was not calibrated on).

    Returns
    -------
    float
        1.0 for identical features; OSNet x0.25's static int8 scores about 0.99.

    """
    return float(np.median(np.sum(fp32.run_batch(batch) * int8.run_batch(batch), axis=1)))


def verdict_key(encoder: Any) -> str:
    """
    Name what a speed verdict holds for: this CPU (:func:`cpu_key`) and the encoder's runtime.

    Parameters
    ----------
    encoder : OnnxEncoder
        Its ``runtime`` ('onnxruntime' or 'openvino'): int8 wins by different margins on each.

    Returns
    -------
    str

    """
    return f"{cpu_key()}-{getattr(encoder, 'runtime', 'onnxruntime')}"


def record_path(int8_path: Path) -> Path:
    """Return where the record of an int8 entry lives: beside it, ``<entry>.json``."""
    return int8_path.with_name(int8_path.name + '.json')


class Int8Record:
    """
    The JSON record next to an int8 entry: its agreement and a speed verdict per CPU.

    Parameters
    ----------
    path : pathlib.Path
        The record's file (``<int8 entry>.json``).

    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: Dict[str, Any] = {}
        try:
            loaded = json.loads(path.read_text(encoding='utf-8'))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            LOGGER.warning('Re-ID int8: ignoring unreadable record %s (%s)', path, error)
            return
        if isinstance(loaded, dict) and isinstance(loaded.get('choices', {}), dict):
            self.data = loaded

    @property
    def agreement(self) -> Optional[float]:
        """Return the int8 model's agreement with fp32 (None when never measured)."""
        value = self.data.get('agreement')
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def failed(self) -> str:
        """Return why quantisation failed, '' when it did not."""
        return str(self.data.get('failed', ''))

    def choice(self, cpu: str) -> Optional[Dict[str, Any]]:
        """Return the verdict for a CPU: {'int8': bool, 'fp32_ms': float, 'int8_ms': float}."""
        entry = self.data.get('choices', {}).get(cpu)
        if isinstance(entry, dict) and isinstance(entry.get('int8'), bool):
            return entry
        return None

    def save(self, **fields: Any) -> None:
        """Merge fields (``choices`` merged per CPU) and write atomically; log if it cannot."""
        choices = dict(self.data.get('choices', {}))
        choices.update(fields.pop('choices', {}))
        self.data.update(fields, choices=choices)
        try:
            descriptor, temporary = tempfile.mkstemp(prefix=f'.{self.path.name}.',
                                                     suffix='.part', dir=self.path.parent)
            with os.fdopen(descriptor, 'w', encoding='utf-8') as stream:
                json.dump(self.data, stream, indent=1, sort_keys=True)
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.path)
        except OSError as error:
            LOGGER.warning('Re-ID int8: cannot write %s (%s); the choice is made again at the '
                           'next start', self.path, error)


def decide(fp32: Any, int8: Any, record: Int8Record, cpu: str,
           batch: npt.NDArray[np.float32]) -> Dict[str, Any]:
    """
    Time fp32 against int8 on this CPU, store the verdict and return it.

    Parameters
    ----------
    fp32, int8 : OnnxEncoder
        The models to time (anything with ``run_batch``).
    record : Int8Record
        Where the verdict is kept.
    cpu : str
        :func:`verdict_key`.
    batch : numpy.ndarray, shape (M, 3, h, w)
        What to time on (:data:`TIMING_CROPS` crops: about a frame's people).

    Returns
    -------
    dict
        ``{'int8': bool, 'fp32_ms': float, 'int8_ms': float}``.

    """
    fp32_ms, int8_ms = time_batch_ms([fp32, int8], batch)
    verdict = {'int8': bool(int8_ms * MIN_SPEEDUP <= fp32_ms), 'fp32_ms': round(fp32_ms, 2),
               'int8_ms': round(int8_ms, 2), 'crops': int(len(batch))}
    record.save(choices={cpu: verdict})
    return verdict


def describe(verdict: Dict[str, Any]) -> str:
    """Say which model won and by how much, for the encoder's name and the log."""
    return (f"int8 {verdict['int8_ms']:.1f} ms vs fp32 {verdict['fp32_ms']:.1f} ms for "
            f"{verdict['crops']} crops on this CPU")
