"""
The ONNX backend: an .onnx file, or a state dict run as its cached ONNX export.

A state dict is exported once (``deepsort_ros.reid.export``) and kept in the cache folder
(``deepsort_ros.reid.cache``: keyed by the weights' SHA-256, the input size, the architecture
and :data:`EXPORT_FORMAT`); later starts load it in about 0.1 s without torch. With
``int8='on'`` the export is then handed to ``deepsort_ros.reid.int8``, which may swap it for a
quantised copy. Every model opened here passes the probe (``OnnxLoader.load``).
"""

import logging
from pathlib import Path
import tempfile
from typing import Optional

from deepsort_ros.reid import cache
from deepsort_ros.reid.backends.onnx_encoder import choose_runtime, OnnxLoader
from deepsort_ros.reid.base import Encoder, EncoderLoadError
from deepsort_ros.reid.options import EncoderOptions

LOGGER = logging.getLogger(__name__)
# Part of every cached export's name: bump it when export_onnx's output changes.
EXPORT_FORMAT = 1


def load(path: Path, options: EncoderOptions, exported: bool,
         name: Optional[str] = None) -> Encoder:
    """
    Open an ONNX model, or a state dict's export, as a probed encoder.

    Parameters
    ----------
    path : pathlib.Path
        An .onnx file, or a state dict when ``exported``.
    options : EncoderOptions
        ``device`` picks the onnxruntime providers unless ``providers`` is set; ``runtime``,
        ``input_hw``, ``batch_size``, ``mask_sigma``, ``num_threads``, ``spin_wait``; for a
        state dict also ``arch``, ``int8`` and ``int8_background``.
    exported : bool
        ``path`` is a state dict: run its cached ONNX export.
    name : str, optional
        What to call the model instead of its own description (the default model).

    Returns
    -------
    Encoder
        An ``OnnxEncoder``, or with ``int8='on'`` on a CPU what ``int8.load_or_adopt`` returns.

    Raises
    ------
    EncoderLoadError
        A missing or empty file, one that does not load, or a model that fails the probe.

    """
    if not path.is_file():
        raise EncoderLoadError(f'Re-ID weights file {path} not found (expected an ONNX model)')
    if path.stat().st_size == 0:
        raise EncoderLoadError(f'Re-ID weights file {path} is empty')
    providers = options.providers
    if providers is None and options.device not in ('auto', 'cpu'):
        providers = ('CUDAExecutionProvider', 'CPUExecutionProvider')
    elif providers is None and options.device == 'cpu':
        providers = ('CPUExecutionProvider',)
    runtime = choose_runtime(options.runtime, providers)
    loader = OnnxLoader(str(path), runtime, input_hw=options.input_hw,
                        batch_size=options.batch_size, mask_sigma=options.mask_sigma,
                        num_threads=options.num_threads, providers=providers,
                        spin_wait=options.spin_wait,
                        name=None if name is None else f'{name}, on {runtime}')
    if not exported:
        return loader.load(path)
    return _from_cached_export(path, options, loader)


def _from_cached_export(path: Path, options: EncoderOptions, loader: OnnxLoader) -> Encoder:
    """Load a state dict's ONNX export from the cache, exporting it there first if needed."""
    from deepsort_ros.reid.export import export_onnx

    input_hw = tuple(options.input_hw or (256, 128))
    digest = cache.file_digest(path)
    parts = (f'{input_hw[0]}x{input_hw[1]}', options.arch, f'export{EXPORT_FORMAT}')
    entry = cache.entry_name(path, digest, *parts)

    def build(target: Path) -> None:
        export_onnx(path, target, input_hw, arch=options.arch)

    try:
        onnx_path, hit = cache.cached_file(entry, build)
    except OSError as error:
        # A read-only home on a robot: export into a folder that is gone once loaded
        # (onnxruntime keeps the model in memory), so nothing is left behind.
        LOGGER.warning('Re-ID: cache folder %s not usable (%s); exporting for this run only',
                       cache.cache_dir(), error)
        with tempfile.TemporaryDirectory(prefix='deepsort_reid_') as folder:
            target = Path(folder) / entry
            build(target)
            encoder = loader.load(target, 'exported for this run (cache not writable)')
            encoder.digest = digest
            return encoder
    origin = f'export cached ({digest[:8]})' if hit else f'exported and cached ({digest[:8]})'
    try:
        encoder = loader.load(onnx_path, origin)
    except EncoderLoadError:
        if not hit:
            raise
        cache.discard(onnx_path)  # damaged by hand or by a full disk before the rename
        onnx_path, _ = cache.cached_file(entry, build)
        encoder = loader.load(onnx_path, f're-exported and cached ({digest[:8]})')
    encoder.digest = digest  # the weights' SHA-256: what the fusion tells encoders apart by
    LOGGER.info('Re-ID encoder %s from %s', encoder.name, onnx_path)
    if options.int8 == 'on' and encoder.device == 'cpu':
        from deepsort_ros.reid.int8 import ACCURACY_WARNING, INT8_FORMAT, load_or_adopt

        LOGGER.warning(ACCURACY_WARNING)
        int8_path = onnx_path.with_name(cache.entry_name(path, digest, *parts,
                                                         f'int8q{INT8_FORMAT}'))
        return load_or_adopt(encoder, onnx_path, int8_path, loader.load,
                             background=options.int8_background)
    return encoder
