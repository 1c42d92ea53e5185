"""
The torch backend: any torch module (OSNet, MobileNetV2, TorchScript) as an encoder.

:func:`load` reads a state dict or a TorchScript archive (``deepsort_ros.reid.loading``) and
returns a probed :class:`TorchEncoder`. All crops of a frame are cut, resized, normalised and
masked with one ``grid_sample`` call on the device that runs the network (no per-crop CPU round
trip on a GPU), then embedded in batches of at most ``batch_size``; a CUDA out-of-memory error
halves the batch and retries.
"""

import logging
from pathlib import Path
from typing import Any, List, Optional, Tuple

from deepsort_ros.reid import loading
from deepsort_ros.reid.base import (Encoder, EncoderLoadError, gaussian_mask,
                                    IMAGENET_MEAN_RGB, IMAGENET_STD_RGB)
from deepsort_ros.reid.options import EncoderOptions
from deepsort_ros.reid.probe import verify_encoder
import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional

LOGGER = logging.getLogger(__name__)
# The crop size each architecture was trained on (a TorchScript archive: OSNet's).
_INPUT_HW = {'osnet': (256, 128), 'mobilenetv2': (256, 128)}


def load(path: Path, options: EncoderOptions, torchscript: bool,
         name: Optional[str] = None) -> 'TorchEncoder':
    """
    Load a state dict or a TorchScript archive as a probed encoder.

    Parameters
    ----------
    path : pathlib.Path
        The weights file.
    options : EncoderOptions
        ``device``, ``arch`` and ``allow_pickle`` (state dicts), ``input_hw``,
        ``batch_size``, ``half``, ``mask_sigma``, ``channels_last``, ``num_threads``.
    torchscript : bool
        ``path`` is a TorchScript archive, not a state dict.
    name : str, optional
        What to call the model instead of its own description (the default model).

    Returns
    -------
    TorchEncoder

    Raises
    ------
    EncoderLoadError
        A missing, truncated, unsafe or mismatched file, or a model that fails the probe.
    ValueError
        An unavailable device.

    """
    if torchscript:
        module, feature_dim = loading.load_torchscript(path), 0
        description = f'TorchScript {path.name}'
        arch_for_size = 'osnet'
    else:
        module, feature_dim, description = loading.build_module(
            path, arch=options.arch, allow_pickle=options.allow_pickle)
        arch_for_size = 'mobilenetv2' if description.startswith('MobileNetV2') else 'osnet'
    input_hw: Tuple[int, int] = tuple(options.input_hw or _INPUT_HW[arch_for_size])
    if feature_dim == 0:
        feature_dim = _probe_feature_dim(module, input_hw, path)
    encoder = TorchEncoder(module, feature_dim, description if name is None else name,
                           device=options.device, input_hw=input_hw,
                           batch_size=options.batch_size, half=options.half,
                           mask_sigma=options.mask_sigma, channels_last=options.channels_last,
                           num_threads=options.num_threads)
    verify_encoder(encoder, str(path))
    return encoder


def _probe_feature_dim(module: Any, input_hw: Tuple[int, int], path: Path) -> int:
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


def resolve_device(device: str) -> torch.device:
    """
    Turn a device setting into a torch device, logging the choice.

    Parameters
    ----------
    device : str
        'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'.

    Returns
    -------
    torch.device
        The device to use.

    Raises
    ------
    ValueError
        If CUDA is requested but not available, or the setting is not a device.

    """
    if device == 'auto':
        chosen = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
        LOGGER.info('Re-ID device auto -> %s (CUDA available: %s)', chosen,
                    torch.cuda.is_available())
        return chosen
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"Re-ID device {device!r} is not 'auto', 'cpu' or 'cuda[:N]'") from error
    if chosen.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'Re-ID device {device!r} requested but CUDA is not available; '
                         "use device='auto' or 'cpu'")
    LOGGER.info('Re-ID device: %s', chosen)
    return chosen


def crop_batch(image_chw: torch.Tensor, boxes_tlwh: torch.Tensor,
               output_hw: Tuple[int, int]) -> torch.Tensor:
    """
    Cut and resize boxes from one image with bilinear sampling, on the image's device.

    Equivalent to roi_align with one sample per output pixel; sampling outside the image
    repeats the border.

    Parameters
    ----------
    image_chw : torch.Tensor
        3xHxW floating-point image.
    boxes_tlwh : torch.Tensor
        Nx4 boxes in pixels, same device.
    output_hw : tuple of int
        Crop height and width.

    Returns
    -------
    torch.Tensor
        Nx3xhxw crops.

    """
    _, height, width = image_chw.shape
    out_h, out_w = output_hw
    boxes = boxes_tlwh.to(image_chw.dtype)
    count = boxes.shape[0]
    steps_x = (torch.arange(out_w, device=boxes.device, dtype=boxes.dtype) + 0.5) / out_w
    steps_y = (torch.arange(out_h, device=boxes.device, dtype=boxes.dtype) + 0.5) / out_h
    # pixel-edge coordinates -> grid_sample's [-1, 1] (align_corners=False)
    grid_x = 2.0 * (boxes[:, 0:1] + boxes[:, 2:3] * steps_x) / width - 1.0
    grid_y = 2.0 * (boxes[:, 1:2] + boxes[:, 3:4] * steps_y) / height - 1.0
    grid = torch.stack([grid_x[:, None, :].expand(count, out_h, out_w),
                        grid_y[:, :, None].expand(count, out_h, out_w)], dim=-1)
    # one sampling call for all boxes: stack their grids along the output height
    crops = functional.grid_sample(image_chw[None], grid.reshape(1, count * out_h, out_w, 2),
                                   mode='bilinear', padding_mode='border', align_corners=False)
    return crops.reshape(3, count, out_h, out_w).permute(1, 0, 2, 3)


class TorchEncoder(Encoder):
    """
    Encoder around a torch module that maps normalised Nx3xhxw RGB crops to NxD features.

    Parameters
    ----------
    module : torch.nn.Module
        The network (already loaded); put in eval mode and moved to ``device`` here.
    feature_dim : int
        D.
    name : str
        Description for logs.
    device : str
        'auto', 'cpu', 'cuda' or 'cuda:N'.
    input_hw : tuple of int
        Crop height and width fed to the network.
    batch_size : int, optional
        Most crops per forward pass; default 64 on CPU, 256 on CUDA.
    half : bool, optional
        fp16 inference; default True on CUDA, never on CPU.
    mask_sigma : float, optional
        When set, crops are multiplied by a centred Gaussian with this standard deviation
        (fraction of the crop side) after normalisation, so the masked border reads as the
        mean colour. Off by default: the shared OSNet weights score lower with it.
    channels_last : bool
        Use the channels-last memory format (default; 1.6x faster for OSNet on a 2-core CPU).
    num_threads : int, optional
        Set torch's intra-op CPU threads (process-wide).

    """

    def __init__(self, module: torch.nn.Module, feature_dim: int, name: str,
                 device: str = 'auto', input_hw: Tuple[int, int] = (256, 128),
                 batch_size: Optional[int] = None, half: Optional[bool] = None,
                 mask_sigma: Optional[float] = None, channels_last: bool = True,
                 num_threads: Optional[int] = None) -> None:
        torch_device = resolve_device(device)
        if num_threads is not None:
            if num_threads < 1:
                raise ValueError(f'num_threads must be >= 1, got {num_threads}')
            torch.set_num_threads(num_threads)
        if batch_size is not None and batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if mask_sigma is not None and mask_sigma <= 0:
            raise ValueError(f'mask_sigma must be > 0, got {mask_sigma}')
        is_cuda = torch_device.type == 'cuda'
        self.half = bool(is_cuda if half is None else half and is_cuda)
        self.dtype = torch.float16 if self.half else torch.float32
        self.batch_size = batch_size or (256 if is_cuda else 64)
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.channels_last = channels_last
        self.torch_device = torch_device
        self.device = str(torch_device)
        self.feature_dim = int(feature_dim)
        module = module.eval().to(torch_device, dtype=self.dtype)
        if channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module
        # /255 and ImageNet normalisation folded into one scale and shift; cropping runs in
        # fp32 (fp16 grid coordinates would be off by up to half a pixel in a 2k image)
        self._scale = (1.0 / (255.0 * torch.tensor(IMAGENET_STD_RGB))).view(1, 3, 1, 1).to(
            torch_device)
        self._shift = (-torch.tensor(IMAGENET_MEAN_RGB) / torch.tensor(IMAGENET_STD_RGB)).view(
            1, 3, 1, 1).to(torch_device)
        self._mask: Optional[torch.Tensor] = None
        if mask_sigma is not None:
            self._mask = torch.from_numpy(gaussian_mask(*self.input_hw, mask_sigma)).to(
                torch_device)
        precision = 'fp16' if self.half else 'fp32'
        mask_text = f', Gaussian mask sigma {mask_sigma}' if mask_sigma else ''
        layout = ' channels-last' if channels_last else ''
        self.name = (f'{name} ({self.feature_dim}-d, input {self.input_hw[0]}x{self.input_hw[1]}'
                     f', torch {self.device} {precision}{layout}{mask_text})')
        LOGGER.info('Re-ID encoder: %s', self.name)

    def preprocess(self, image_bgr: npt.NDArray[np.uint8],
                   boxes_tlwh: npt.NDArray[np.float64]) -> torch.Tensor:
        """
        Cut, resize, normalise and mask all crops on the device.

        Parameters
        ----------
        image_bgr : numpy.ndarray
            HxWx3 uint8 BGR image.
        boxes_tlwh : numpy.ndarray
            Mx4 boxes clipped to the image.

        Returns
        -------
        torch.Tensor
            Mx3xhxw network input.

        """
        # only the region that holds boxes travels to the device and is converted; one more
        # pixel each side keeps bilinear sampling at box edges the same as on the whole image
        height, width = image_bgr.shape[:2]
        x0 = max(int(np.floor(boxes_tlwh[:, 0].min())) - 1, 0)
        y0 = max(int(np.floor(boxes_tlwh[:, 1].min())) - 1, 0)
        x1 = min(int(np.ceil((boxes_tlwh[:, 0] + boxes_tlwh[:, 2]).max())) + 1, width)
        y1 = min(int(np.ceil((boxes_tlwh[:, 1] + boxes_tlwh[:, 3]).max())) + 1, height)
        region = torch.from_numpy(np.ascontiguousarray(image_bgr[y0:y1, x0:x1, ::-1]))
        region = region.to(self.torch_device, non_blocking=True)
        image_chw = region.permute(2, 0, 1).float()
        boxes = torch.from_numpy(boxes_tlwh - np.array([x0, y0, 0.0, 0.0])).to(
            self.torch_device)
        crops = crop_batch(image_chw, boxes, self.input_hw) * self._scale + self._shift
        if self._mask is not None:
            crops = crops * self._mask
        crops = crops.to(self.dtype)
        if self.channels_last:
            crops = crops.contiguous(memory_format=torch.channels_last)
        return crops

    def _encode_valid(self, image_bgr: npt.NDArray[np.uint8],
                      boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        outputs: List[torch.Tensor] = []
        with torch.inference_mode():
            start = 0
            while start < len(boxes_tlwh):
                chunk = boxes_tlwh[start:start + self.batch_size]
                outputs.append(self._forward_splitting(image_bgr, chunk))
                start += len(chunk)
            features = torch.cat(outputs)
        return features.numpy()

    def _forward_splitting(self, image_bgr: npt.NDArray[np.uint8],
                           boxes_tlwh: npt.NDArray[np.float64]) -> torch.Tensor:
        try:
            features = self.module(self.preprocess(image_bgr, boxes_tlwh))
        except torch.OutOfMemoryError:
            if len(boxes_tlwh) == 1:
                raise
            half_count = len(boxes_tlwh) // 2
            self.batch_size = max(1, min(self.batch_size, half_count))
            LOGGER.warning('Re-ID out of device memory at %d crops; batch size now %d',
                           len(boxes_tlwh), self.batch_size)
            if self.torch_device.type == 'cuda':
                torch.cuda.empty_cache()
            return torch.cat([self._forward_splitting(image_bgr, boxes_tlwh[:half_count]),
                              self._forward_splitting(image_bgr, boxes_tlwh[half_count:])])
        features = torch.as_tensor(features).float()
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise RuntimeError(f'Re-ID network returned shape {tuple(features.shape)}, '
                               f'expected (N, {self.feature_dim})')
        return functional.normalize(features, dim=1).cpu()
