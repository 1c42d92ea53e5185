"""
Run an ONNX Re-ID model on a CPU through OpenVINO instead of onnxruntime.

On the 2-core Intel Xeon (Sapphire Rapids) we measure on, OpenVINO runs OSNet x0.25 crops
about 4x faster than onnxruntime in fp32 (it computes in bf16 on the CPU's AMX units,
cosine 0.998 to fp32) and 1.4x faster than onnxruntime's int8 (bench/results/pipeline.md:
30 people 35.2 against 44.0 ms a frame, PETS09 HOTA/IDF1 unchanged). It reads the same ONNX files
(also the int8 QDQ ones that ``deepsort_ros.reid.int8`` makes), so it is a second runtime for
:class:`~deepsort_ros.reid.backends.onnx_encoder.OnnxEncoder`, chosen when the ``openvino``
package is installed.

Two things differ from onnxruntime and are handled here:

- An infer request is not thread-safe, and the int8 verdict runs the model from a second
  thread: every thread gets its own request (they share the compiled model).
- With a dynamic batch, every change of batch size from one run to the next costs 3-4 ms
  (see :data:`STATIC_UP_TO`), and the first run of each size compiles kernels for it (18 ms
  in fp32, 60 ms in int8). So batches of up to 8 crops run on models compiled for their
  exact size, and a background thread compiles and runs each size once right after loading
  (about 2-3 s for OSNet bf16 on two cores) while the tracker already runs.

OpenVINO's compiled-model cache (``CACHE_DIR``) is not used: with several models compiling
at once it crashed the process with SIGBUS (a blob mapped while another compile rewrote
it), and two nodes starting together would share it. Compiles are serialised instead; the
warm-up pays for them at every start, in the background.
"""

import atexit
import importlib.util
import logging
from pathlib import Path
import threading
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from deepsort_ros.reid.base import DESCRIPTION_KEY, EncoderLoadError
import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)
# A model compiled for a dynamic batch re-plans every operator when the batch size changes
# from one run to the next: 3-4 ms more a run (OSNet, one crop: 6.5 against 2.7 ms), and
# tracking changes it nearly every frame. So the batch sizes up to STATIC_UP_TO, a frame's
# usual share after feature reuse, each get a model compiled for exactly that size (all of
# them: OSNet bf16 ~160 MB in all; evicting some made recompiles stall frames by 70-400 ms);
# larger ones run the dynamic model.
STATIC_UP_TO = 8
PRECISIONS = ('f32', 'bf16')
# Warm-ups still running, as (thread, stop): stopped and joined at exit, because OpenVINO
# aborts the process (std::terminate) when the interpreter ends while one of its runs lasts.
_WARMING: Set[Tuple[threading.Thread, threading.Event]] = set()
_WARMING_LOCK = threading.Lock()
_COMPILE_LOCK = threading.Lock()


def wait_for_warm_ups(timeout_s: float = 60.0) -> bool:
    """
    Wait until no model is warming up (benchmarks, tests that measure CPU time).

    Parameters
    ----------
    timeout_s : float
        Longest wait in all.

    Returns
    -------
    bool
        True when none is left.

    """
    deadline = time.monotonic() + timeout_s
    with _WARMING_LOCK:
        running = list(_WARMING)
    for thread, _ in running:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread, _ in running)


@atexit.register
def _stop_warm_ups() -> None:
    with _WARMING_LOCK:
        running = list(_WARMING)
    for thread, stop in running:
        stop.set()
    for thread, _ in running:
        thread.join(10.0)


def openvino_available() -> bool:
    """Return True when the ``openvino`` package can be imported (without importing it)."""
    return importlib.util.find_spec('openvino') is not None


class OpenVinoModel:
    """
    One ONNX model compiled for the CPU by OpenVINO, with an infer request per thread.

    Parameters
    ----------
    path : pathlib.Path
        The .onnx file.
    num_threads : int, optional
        Inference threads (default: OpenVINO's, one per physical core).
    precision : str, optional
        What the CPU computes in, OpenVINO's ``INFERENCE_PRECISION_HINT`` ('f32' or 'bf16');
        default OpenVINO's choice (bf16 where the CPU has AMX or AVX-512 BF16). Forcing one
        is how bench/bench_encoder_paths.py measures each path's tracking accuracy.

    Attributes
    ----------
    input_shape : list of int or None
        The input's N, C, H, W (None where dynamic).
    feature_dim : int or None
        The output's last dimension (None where dynamic).
    description : str
        The model's ``deepsort_ros.description`` metadata, '' when it has none.
    precision : str
        What the CPU computes in ('bf16' on CPUs with AMX/AVX-512 BF16, else 'f32'; an int8
        model's quantised operators run in int8 either way).
    runs_on : str
        'OpenVINO CPU <precision>', for the encoder's name.
    device : str
        'cpu'.

    Raises
    ------
    EncoderLoadError
        When OpenVINO cannot read or compile the file.

    """

    def __init__(self, path: Path, num_threads: Optional[int] = None,
                 precision: Optional[str] = None) -> None:
        import openvino

        core = openvino.Core()
        try:
            model = core.read_model(str(path))
        except Exception as error:  # OpenVINO raises its own untyped errors
            raise EncoderLoadError(f'{path}: cannot load as an ONNX model (expected an .onnx '
                                   f'file with one Nx3xHxW image input): {error}') from error
        if len(model.inputs) != 1 or model.inputs[0].get_partial_shape().rank.is_dynamic or \
                model.inputs[0].get_partial_shape().rank.get_length() != 4 or \
                not model.outputs:
            raise EncoderLoadError(f'{path}: expected one Nx3xHxW input and an NxD output, got '
                                   f'inputs {[str(i.get_partial_shape()) for i in model.inputs]}')
        self.input_shape: List[Optional[int]] = [
            d.get_length() if d.is_static else None for d in model.inputs[0].get_partial_shape()]
        output = model.outputs[0].get_partial_shape()
        last = output[output.rank.get_length() - 1] if output.rank.is_static else None
        self.feature_dim = last.get_length() if last is not None and last.is_static else None
        key = ['framework', DESCRIPTION_KEY]
        self.description = str(model.get_rt_info(key).astype(str)) \
            if model.has_rt_info(key) else ''
        config: Dict[str, Any] = {'PERFORMANCE_HINT': 'LATENCY'}
        if num_threads is not None:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        if precision is not None:
            if precision not in PRECISIONS:
                raise ValueError(f'OpenVINO precision must be one of {PRECISIONS}, got '
                                 f'{precision!r}')
            config['INFERENCE_PRECISION_HINT'] = precision
        self._core, self._model, self._path = core, model, path
        self._config = config
        self._static = self.input_shape[0] is not None
        # a fixed batch: compiled now; a dynamic one: only if a run is larger than
        # STATIC_UP_TO (its buffers grow to the largest batch it ran: ~200 MB at 16)
        self._whole = _Compiled(self._compile(model)) if self._static else None
        if precision is None:
            chosen = core.get_property('CPU', 'INFERENCE_PRECISION_HINT')
            precision = str(getattr(chosen, 'get_type_name', lambda: chosen)())
        self.precision = precision
        self.runs_on = f'OpenVINO CPU {precision}'
        self.device = 'cpu'
        self._by_shape: Dict[Optional[Tuple[int, ...]], _Compiled] = {}
        self._lock = threading.Lock()
        self._warm_thread: Optional[threading.Thread] = None

    def _compile(self, model: Any) -> Any:
        try:
            with _COMPILE_LOCK:
                return self._core.compile_model(model, 'CPU', self._config)
        except Exception as error:  # OpenVINO raises its own untyped errors
            raise EncoderLoadError(f'{self._path}: OpenVINO cannot compile it for the CPU: '
                                   f'{error}') from error

    def _for_shape(self, shape: Optional[Tuple[int, ...]]) -> '_Compiled':
        # The model compiled for exactly this input shape, on first use (0.3 s bf16, 1.6 s int8:
        # the warm-up does it), outside the shape table's lock so that other shapes keep
        # running meanwhile.
        with self._lock:
            compiled = self._by_shape.get(shape)
        if compiled is not None:
            return compiled
        model = self._model
        if shape is not None:  # None: the dynamic model as read
            model = model.clone()
            model.reshape(list(shape))
        made = _Compiled(self._compile(model))
        with self._lock:
            return self._by_shape.setdefault(shape, made)

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """
        Run the model on one chunk, in this thread's own infer request.

        Parameters
        ----------
        batch : numpy.ndarray, shape (M, 3, h, w)
            Network input.

        Returns
        -------
        numpy.ndarray, shape (M, D)
            The first output (a copy: the request reuses its buffer).

        """
        if self._static:
            compiled = self._whole
        elif len(batch) > STATIC_UP_TO:
            compiled = self._for_shape(None)
        else:
            compiled = self._for_shape(tuple(batch.shape))
        return np.array(compiled.request().infer({0: batch})[0], dtype=np.float32)

    def warm_up(self, input_hw: 'tuple[int, int]', largest: int) -> None:
        """
        Run every batch size from 1 to ``largest`` once, in a background thread.

        Parameters
        ----------
        input_hw : tuple of int
            Crop height and width.
        largest : int
            The largest chunk the encoder runs.

        """
        stop = threading.Event()

        def run_all() -> None:
            try:
                # largest first: the small sizes, the most common, stay compiled at the end
                for size in range(largest, 0, -1):
                    if stop.is_set():
                        break
                    self.run(np.zeros((size, 3, *input_hw), np.float32))
            except Exception as error:  # only speed is lost: the first frames compile
                LOGGER.warning('Re-ID OpenVINO: warm-up stopped (%s)', error)
            finally:
                with _WARMING_LOCK:
                    _WARMING.discard(entry)

        thread = threading.Thread(target=run_all, name='reid-openvino-warm-up', daemon=True)
        entry = (thread, stop)
        with _WARMING_LOCK:
            _WARMING.add(entry)
        self._warm_thread = thread
        thread.start()

    def wait_ready(self, timeout_s: Optional[float] = None) -> bool:
        """Wait (at most ``timeout_s``) for the warm-up; True once it has finished."""
        thread = self._warm_thread
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True


class _Compiled:
    """A compiled model and an infer request per thread (a request is not thread-safe)."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self._local = threading.local()

    def request(self) -> Any:
        """Return this thread's infer request, made on first use."""
        request = getattr(self._local, 'request', None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request
