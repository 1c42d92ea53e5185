"""
Read weights files safely and build the matching torch module.

State dicts are read with ``torch.load(weights_only=True)``; a pickled whole model is refused
unless the caller passes ``allow_pickle=True``. Every failure is one ``EncoderLoadError`` that
names the file and what was expected.
"""

import logging
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
import warnings

from deepsort_ros.reid.base import EncoderLoadError, is_torchscript_archive  # noqa: F401
from deepsort_ros.reid.mobilenetv2 import MobileNetV2Features
from deepsort_ros.reid.options import ARCHITECTURES
from deepsort_ros.reid.osnet import OSNet
import torch

LOGGER = logging.getLogger(__name__)

STATE_DICT_EXPECTED = ('a state dict saved with torch.save(model.state_dict()) for a torchreid '
                       "OSNet ('conv1.conv.weight', ..., 'fc.0.weight') or a MobileNetV2 "
                       "('features.0.0.weight', ...), optionally under a 'state_dict' key")


def check_file(path: Path, expected: str) -> None:
    """
    Raise ``EncoderLoadError`` unless ``path`` is a non-empty file.

    Parameters
    ----------
    path : pathlib.Path
        The weights file.
    expected : str
        What the file should be, for the message.

    """
    if not path.is_file():
        raise EncoderLoadError(f'Re-ID weights file {path} not found (expected {expected})')
    if path.stat().st_size == 0:
        raise EncoderLoadError(f'Re-ID weights file {path} is empty (expected {expected})')


def load_state_dict(path: Path, allow_pickle: bool = False
                    ) -> Tuple[Optional[Dict[str, torch.Tensor]], Optional[torch.nn.Module]]:
    """
    Read a checkpoint: a state dict, or (only when allowed) a pickled whole module.

    Parameters
    ----------
    path : pathlib.Path
        The .pth/.pt file.
    allow_pickle : bool
        Unpickle arbitrary objects if the safe loader refuses the file. Only for trusted files:
        unpickling can run any code.

    Returns
    -------
    state_dict : dict or None
        Parameter name -> tensor, with 'module.' prefixes removed.
    module : torch.nn.Module or None
        The pickled module, when the file holds one and pickling was allowed.

    """
    check_file(path, STATE_DICT_EXPECTED)
    try:
        loaded: Any = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:
        message = str(error)
        if 'weights_only' not in message.lower() and 'Unsupported global' not in message:
            raise EncoderLoadError(f'Re-ID weights file {path} is unreadable (truncated or not '
                                   f'a torch file; expected {STATE_DICT_EXPECTED}): '
                                   f'{message.splitlines()[0] if message else error!r}'
                                   ) from error
        if not allow_pickle:
            raise EncoderLoadError(
                f'Re-ID weights file {path} holds pickled Python objects, not plain tensors; '
                f'refusing to unpickle it because that can run arbitrary code (expected '
                f'{STATE_DICT_EXPECTED}). Save model.state_dict() instead, or pass '
                'allow_pickle=True if you trust the file.') from error
        LOGGER.warning('Unpickling %s with weights_only=False because allow_pickle=True', path)
        try:
            loaded = torch.load(path, map_location='cpu', weights_only=False)
        except Exception as pickle_error:
            raise EncoderLoadError(f'Re-ID weights file {path} could not be unpickled: '
                                   f'{pickle_error}') from pickle_error
    if isinstance(loaded, torch.nn.Module):
        return None, loaded
    if isinstance(loaded, dict) and isinstance(loaded.get('state_dict'), dict):
        loaded = loaded['state_dict']
    if not isinstance(loaded, dict) or not all(
            isinstance(value, torch.Tensor) for value in loaded.values()) or not loaded:
        raise EncoderLoadError(f'Re-ID weights file {path} holds a {type(loaded).__name__}, '
                               f'expected {STATE_DICT_EXPECTED}')
    return {key.removeprefix('module.'): value for key, value in loaded.items()}, None


def detect_architecture(state_dict: Dict[str, torch.Tensor]) -> str:
    """
    Name the architecture a state dict belongs to from its keys.

    Parameters
    ----------
    state_dict : dict
        Parameter name -> tensor.

    Returns
    -------
    str
        'osnet', 'mobilenetv2' or 'unknown'.

    """
    if 'conv1.conv.weight' in state_dict and 'conv2.0.conv1.conv.weight' in state_dict:
        return 'osnet'
    if 'features.0.0.weight' in state_dict and 'features.18.0.weight' in state_dict:
        return 'mobilenetv2'
    return 'unknown'


def osnet_from_state_dict(state_dict: Dict[str, torch.Tensor]) -> OSNet:
    """
    Build an OSNet whose widths, depths and head sizes match a torchreid state dict.

    Parameters
    ----------
    state_dict : dict
        Parameter name -> tensor with torchreid OSNet keys.

    Returns
    -------
    OSNet
        Randomly initialised network of the right shape.

    """
    def blocks(stage: str) -> int:
        indices = {int(key.split('.')[1]) for key in state_dict
                   if key.startswith(stage + '.') and '.conv2a.' in key}
        return len(indices)

    channels = (state_dict['conv1.conv.weight'].shape[0],
                state_dict['conv2.0.conv3.conv.weight'].shape[0],
                state_dict['conv3.0.conv3.conv.weight'].shape[0],
                state_dict['conv4.0.conv3.conv.weight'].shape[0])
    feature_dim = state_dict['fc.0.weight'].shape[0] if 'fc.0.weight' in state_dict else 512
    num_classes = (state_dict['classifier.weight'].shape[0]
                   if 'classifier.weight' in state_dict else 1)
    return OSNet(num_classes, layers=(blocks('conv2'), blocks('conv3'), blocks('conv4')),
                 channels=channels, feature_dim=feature_dim)


class _FeatureHead(torch.nn.Module):
    """Wrap an OSNet so that it returns features whatever its training flag."""

    def __init__(self, network: OSNet) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network.features(x)


def build_module(path: Path, arch: str = 'auto', allow_pickle: bool = False
                 ) -> Tuple[torch.nn.Module, int, str]:
    """
    Load a state dict (or, if allowed, a pickled module) into the matching network.

    Parameters
    ----------
    path : pathlib.Path
        The .pth/.pt file.
    arch : str
        'auto' (from the keys), 'osnet' or 'mobilenetv2'.
    allow_pickle : bool
        See ``load_state_dict``.

    Returns
    -------
    module : torch.nn.Module
        The loaded network, returning features.
    feature_dim : int
        Feature length, or 0 when it must be probed (pickled modules).
    description : str
        Model name for logs.

    """
    if arch not in ARCHITECTURES:
        raise ValueError(f'Re-ID arch must be one of {ARCHITECTURES}, got {arch!r}')
    state_dict, pickled = load_state_dict(path, allow_pickle)
    if pickled is not None:
        return pickled, 0, f'pickled {type(pickled).__name__} {path.name}'
    assert state_dict is not None
    detected = detect_architecture(state_dict)
    chosen = detected if arch == 'auto' else arch
    module: torch.nn.Module
    if chosen == 'osnet':
        try:
            network = osnet_from_state_dict(state_dict)
        except KeyError as error:
            raise EncoderLoadError(f'Re-ID weights file {path} lacks {error} (expected '
                                   f'{STATE_DICT_EXPECTED})') from error
        module, feature_dim = network, network.feature_dim
        width = network.conv1.conv.out_channels / 64
        description = f'OSNet x{width:g} {path.name}'
    elif chosen == 'mobilenetv2':
        module = MobileNetV2Features()
        feature_dim = MobileNetV2Features.feature_dim
        description = f'MobileNetV2 (ImageNet) {path.name}'
    else:
        sample = ', '.join(list(state_dict)[:3])
        raise EncoderLoadError(f'Re-ID weights file {path} has keys ({sample}, ...) of no known '
                               f'architecture; expected {STATE_DICT_EXPECTED}')
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise EncoderLoadError(f'Re-ID weights file {path} does not match {description.split()[0]}'
                               f' (expected {STATE_DICT_EXPECTED}): '
                               f'{" ".join(lines)[:600]}') from error
    if isinstance(module, OSNet):
        module = _FeatureHead(module)
    return module, feature_dim, description


def load_torchscript(path: Path) -> torch.nn.Module:
    """
    Load a TorchScript archive on the CPU.

    Parameters
    ----------
    path : pathlib.Path
        The archive.

    Returns
    -------
    torch.nn.Module
        The scripted module.

    """
    expected = 'a TorchScript archive saved with torch.jit.save, mapping Nx3xHxW to NxD'
    check_file(path, expected)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # TorchScript is in maintenance
            return torch.jit.load(str(path), map_location='cpu')
    except Exception as error:
        raise EncoderLoadError(f'Re-ID weights file {path} could not be loaded as TorchScript '
                               f'(expected {expected}): {str(error).splitlines()[0]}') from error
