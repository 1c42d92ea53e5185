"""
OSNet (Zhou et al., ICCV 2019), written for this project in plain torch.

The module and parameter names follow the torchreid model zoo, so its checkpoints
(``conv1.*``, ``conv2.*``, ..., ``fc.*``, ``classifier.*``) load strictly. In eval mode
the network returns the ``feature_dim`` embedding before the classifier.
"""

from typing import List, Optional, Sequence

import torch
from torch import nn
from torch.nn import functional


class ConvLayer(nn.Module):
    """Convolution, batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=False, groups=groups)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer."""
        return self.relu(self.bn(self.conv(x)))


class Conv1x1(ConvLayer):
    """Pointwise convolution, batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, 1, stride=stride, groups=groups)


class Conv1x1Linear(nn.Module):
    """Pointwise convolution and batch norm, no activation."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer."""
        return self.bn(self.conv(x))


class LightConv3x3(nn.Module):
    """Pointwise then depthwise 3x3 convolution, batch norm and ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False,
                               groups=out_channels)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer."""
        return self.relu(self.bn(self.conv2(self.conv1(x))))


class ChannelGate(nn.Module):
    """Channel attention shared by the streams of an OSBlock (the aggregation gate)."""

    def __init__(self, in_channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(in_channels, in_channels // reduction, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(in_channels // reduction, in_channels, 1, bias=True)
        self.gate_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its gate in [0, 1]."""
        gates = self.fc2(self.relu(self.fc1(self.global_avgpool(x))))
        return x * self.gate_activation(gates)


class OSBlock(nn.Module):
    """Omni-scale residual block: four streams of 1-4 light 3x3 convolutions."""

    def __init__(self, in_channels: int, out_channels: int,
                 bottleneck_reduction: int = 4) -> None:
        super().__init__()
        mid_channels = out_channels // bottleneck_reduction
        self.conv1 = Conv1x1(in_channels, mid_channels)
        self.conv2a = LightConv3x3(mid_channels, mid_channels)
        self.conv2b = nn.Sequential(*[LightConv3x3(mid_channels, mid_channels)
                                      for _ in range(2)])
        self.conv2c = nn.Sequential(*[LightConv3x3(mid_channels, mid_channels)
                                      for _ in range(3)])
        self.conv2d = nn.Sequential(*[LightConv3x3(mid_channels, mid_channels)
                                      for _ in range(4)])
        self.gate = ChannelGate(mid_channels)
        self.conv3 = Conv1x1Linear(mid_channels, out_channels)
        self.downsample: Optional[nn.Module] = None
        if in_channels != out_channels:
            self.downsample = Conv1x1Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        x1 = self.conv1(x)
        x2 = (self.gate(self.conv2a(x1)) + self.gate(self.conv2b(x1))
              + self.gate(self.conv2c(x1)) + self.gate(self.conv2d(x1)))
        identity = x if self.downsample is None else self.downsample(x)
        return functional.relu(self.conv3(x2) + identity)


def _make_layer(num_blocks: int, in_channels: int, out_channels: int,
                reduce_spatial_size: bool) -> nn.Sequential:
    layers: List[nn.Module] = [OSBlock(in_channels, out_channels)]
    layers += [OSBlock(out_channels, out_channels) for _ in range(1, num_blocks)]
    if reduce_spatial_size:
        layers.append(nn.Sequential(Conv1x1(out_channels, out_channels),
                                    nn.AvgPool2d(2, stride=2)))
    return nn.Sequential(*layers)


class OSNet(nn.Module):
    """
    OSNet backbone, embedding head and identity classifier.

    Parameters
    ----------
    num_classes : int
        Identities of the classifier (only used in training; 1041 for MSMT17).
    layers : sequence of int
        OSBlocks in conv2, conv3 and conv4.
    channels : sequence of int
        Channels of conv1, conv2, conv3 and conv4/conv5.
    feature_dim : int
        Length of the embedding returned in eval mode.

    """

    def __init__(self, num_classes: int, layers: Sequence[int] = (2, 2, 2),
                 channels: Sequence[int] = (16, 64, 96, 128), feature_dim: int = 512) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.conv1 = ConvLayer(3, channels[0], 7, stride=2, padding=3)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.conv2 = _make_layer(layers[0], channels[0], channels[1], True)
        self.conv3 = _make_layer(layers[1], channels[1], channels[2], True)
        self.conv4 = _make_layer(layers[2], channels[2], channels[3], False)
        self.conv5 = Conv1x1(channels[3], channels[3])
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels[3], feature_dim),
                                nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """
        Embed a batch of crops.

        Parameters
        ----------
        x : torch.Tensor
            Nx3xHxW normalised RGB crops.

        Returns
        -------
        torch.Tensor
            Nx``feature_dim`` embeddings (not normalised).

        """
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.conv4(self.conv3(self.conv2(x))))
        return self.fc(torch.flatten(self.global_avgpool(x), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Return embeddings in eval mode, identity logits in training mode.

        Parameters
        ----------
        x : torch.Tensor
            Nx3xHxW normalised RGB crops.

        Returns
        -------
        torch.Tensor
            Nx``feature_dim`` embeddings (eval) or Nx``num_classes`` logits (training).

        """
        v = self.features(x)
        if not self.training:
            return v
        return self.classifier(v)


def osnet_x0_25(num_classes: int = 1041, feature_dim: int = 512) -> OSNet:
    """
    Build OSNet x0.25, the width of the shared MSMT17/Market-1501 checkpoints.

    Parameters
    ----------
    num_classes : int
        Identities of the classifier.
    feature_dim : int
        Embedding length.

    Returns
    -------
    OSNet
        A randomly initialised network.

    """
    return OSNet(num_classes, channels=(16, 64, 96, 128), feature_dim=feature_dim)


def osnet_x1_0(num_classes: int = 1041, feature_dim: int = 512) -> OSNet:
    """
    Build OSNet x1.0, the full-width network of the torchreid model zoo.

    Parameters
    ----------
    num_classes : int
        Identities of the classifier.
    feature_dim : int
        Embedding length.

    Returns
    -------
    OSNet
        A randomly initialised network.

    """
    return OSNet(num_classes, channels=(64, 256, 384, 512), feature_dim=feature_dim)
