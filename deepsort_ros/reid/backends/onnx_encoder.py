"""
Run an ONNX Re-ID model through onnxruntime or OpenVINO (no torch needed).

The model takes ImageNet-normalised 1x3xhxw (or Nx3xhxw) RGB crops and returns NxD features.
Crops are cut with the same box-to-pixel mapping as the torch backend (bilinear, border
repeated), with OpenCV on the CPU, one ``warpAffine`` per box (one ``cv2.remap`` over all
boxes was 4-5x slower here: its maps cost more than the loop), then normalised one colour plane
at a time straight into the NCHW batch (0.6 ms for 10 crops instead of 4.3 ms for the
strided ``astype`` of the whole batch).
"""

from dataclasses import dataclass
import logging
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import cv2
from deepsort_ros.reid.base import Encoder, gaussian_mask, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB
from deepsort_ros.reid.options import RUNTIMES
from deepsort_ros.reid.probe import verify_encoder
import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)
# The most crops one OpenVINO run takes (openvino.STATIC_UP_TO): every size up to it
# has a model compiled for it, ahead (warm_up). 17 crops run as 6 + 6 + 5 (27 ms for OSNet
# bf16) rather than 9 + 8 on the dynamic model (28 ms, and 200 MB more).
OPENVINO_BATCH = 8


def choose_runtime(runtime: str, providers: Optional[Sequence[str]]) -> str:
    """
    Resolve ``runtime='auto'``: OpenVINO on a CPU when it is installed, else onnxruntime.

    Parameters
    ----------
    runtime : str
        One of :data:`deepsort_ros.reid.options.RUNTIMES`.
    providers : sequence of str, optional
        The onnxruntime providers asked for; any but the CPU's keeps onnxruntime (CUDA).

    Returns
    -------
    str
        'onnxruntime' or 'openvino'.

    Raises
    ------
    ValueError
        An unknown runtime, or 'openvino' when it is not installed.

    """
    from deepsort_ros.reid.backends.openvino import openvino_available

    if runtime not in RUNTIMES:
        raise ValueError(f'Re-ID runtime must be one of {RUNTIMES}, got {runtime!r}')
    if runtime == 'openvino' and not openvino_available():
        raise ValueError("Re-ID runtime 'openvino' needs the openvino package (pip install "
                         "openvino), or use runtime 'auto' or 'onnxruntime'")
    if runtime != 'auto':
        return runtime
    if providers is None:
        import onnxruntime

        providers = onnxruntime.get_available_providers()
    on_cpu = 'CUDAExecutionProvider' not in providers
    return 'openvino' if on_cpu and openvino_available() else 'onnxruntime'


def crop_batch_cv2(image_bgr: npt.NDArray[np.uint8], boxes_tlwh: npt.NDArray[np.float64],
                   output_hw: Tuple[int, int]) -> npt.NDArray[np.uint8]:
    """
    Cut and resize boxes with OpenCV, matching the torch backend's sampling.

    Parameters
    ----------
    image_bgr : numpy.ndarray
        HxWx3 uint8 image.
    boxes_tlwh : numpy.ndarray
        Nx4 boxes in pixels.
    output_hw : tuple of int
        Crop height and width.

    Returns
    -------
    numpy.ndarray
        Nxhxwx3 uint8 BGR crops.

    """
    out_h, out_w = output_hw
    crops = np.empty((len(boxes_tlwh), out_h, out_w, 3), dtype=np.uint8)
    for i, (x, y, w, h) in enumerate(boxes_tlwh):
        sx, sy = w / out_w, h / out_h
        # output pixel centre j+0.5 <- input x + (j+0.5)*sx, in OpenCV's centre-at-integer pixels
        matrix = np.array([[sx, 0.0, x + 0.5 * sx - 0.5], [0.0, sy, y + 0.5 * sy - 0.5]])
        crops[i] = cv2.warpAffine(image_bgr, matrix, (out_w, out_h),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REPLICATE)
    return crops


class OnnxEncoder(Encoder):
    """
    Encoder around an ONNX model run by onnxruntime or OpenVINO.

    Parameters
    ----------
    path : str or pathlib.Path
        The .onnx file.
    input_hw : tuple of int, optional
        Crop size when the model's input size is dynamic; default 256x128.
    batch_size : int, optional
        Most crops per run when the model's batch size is dynamic (default 64 on
        onnxruntime, :data:`OPENVINO_BATCH` on OpenVINO). A model exported with batch 1 is run
        once per crop.
    mask_sigma : float, optional
        Centred Gaussian mask, as in the torch backend.
    num_threads : int, optional
        Inference threads (default: the runtime's, one per physical core).
    providers : sequence of str, optional
        onnxruntime execution providers; default CUDA when available, then CPU.
    spin_wait : bool or str, optional
        How idle intra-op threads wait. True (onnxruntime's default): they spin between runs
        too, keeping a core busy after every run, which the rest of the frame and other
        processes on a small robot computer (the detector) pay for. False: they sleep, also
        between the many small operators of one run (slower: every operator wakes them).
        'run': they spin while a run lasts and stop the moment it returns (onnxruntime's
        ``session.force_spinning_stop``): the speed of spinning, no CPU used after the run.
    description : str, optional
        What the model is, for ``name``; default the model's ``deepsort_ros.description``
        metadata (written by ``deepsort_ros.reid.export``), else the file name.
    runtime : str, optional
        'onnxruntime' (default), 'openvino' (see ``deepsort_ros.reid.backends.openvino``) or
        'auto' (OpenVINO when it is installed and the model runs on the CPU). ``providers``
        and ``spin_wait`` concern onnxruntime only.
    openvino_precision : str, optional
        OpenVINO only: 'f32' or 'bf16' forced (default: OpenVINO's choice for this CPU).

    """

    def __init__(self, path: 'str | Path', input_hw: Optional[Tuple[int, int]] = None,
                 batch_size: Optional[int] = None, mask_sigma: Optional[float] = None,
                 num_threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None,
                 spin_wait: 'Optional[bool | str]' = None,
                 description: Optional[str] = None, runtime: str = 'onnxruntime',
                 openvino_precision: Optional[str] = None) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if mask_sigma is not None and mask_sigma <= 0:
            raise ValueError(f'mask_sigma must be > 0, got {mask_sigma}')
        if spin_wait not in (None, True, False, 'run'):
            raise ValueError(f"spin_wait must be True, False or 'run', got {spin_wait!r}")
        path = Path(path)
        self.model_path = path
        self.spin_wait = spin_wait
        self.runtime = choose_runtime(runtime, providers)
        # the runtime's model (OnnxRuntimeModel or OpenVinoModel): both have input_shape,
        # feature_dim, description, runs_on, device and run(batch)
        self.model: Any
        if self.runtime == 'openvino':
            from deepsort_ros.reid.backends.openvino import OpenVinoModel

            self.model = OpenVinoModel(path, num_threads, openvino_precision)
        else:
            from deepsort_ros.reid.backends.onnxruntime import OnnxRuntimeModel

            self.model = OnnxRuntimeModel(path, num_threads, providers, spin_wait)
        batch_dim, _, model_h, model_w = self.model.input_shape
        feature_dim = self.model.feature_dim
        self.device = self.model.device
        if isinstance(model_h, int) and isinstance(model_w, int):
            self.input_hw = (model_h, model_w)
        else:
            self.input_hw = tuple(input_hw or (256, 128))
        self.static_batch = batch_dim if isinstance(batch_dim, int) else None
        default_batch = OPENVINO_BATCH if self.runtime == 'openvino' else 64
        self.batch_size = self.static_batch or batch_size or default_batch
        if not isinstance(feature_dim, int):
            probe = np.zeros((self.static_batch or 1, 3, *self.input_hw), dtype=np.float32)
            feature_dim = self.model.run(probe).shape[-1]
        self.feature_dim = int(feature_dim)
        self._scale = (1.0 / (255.0 * np.array(IMAGENET_STD_RGB, np.float32)))
        self._shift = (-np.array(IMAGENET_MEAN_RGB, np.float32)
                       / np.array(IMAGENET_STD_RGB, np.float32))
        self._scale_rgb = [np.float32(v) for v in self._scale]
        self._shift_rgb = [np.float32(v) for v in self._shift]
        self._mask = None if mask_sigma is None else gaussian_mask(*self.input_hw, mask_sigma)
        batch_text = f'batch {self.static_batch} fixed' if self.static_batch else 'dynamic batch'
        if description is None:
            description = self.model.description or f'ONNX {path.name}'
        self.name = (f'{description} ({self.feature_dim}-d, input {self.input_hw[0]}x'
                     f'{self.input_hw[1]}, {batch_text}, {self.model.runs_on})')
        if self.runtime == 'openvino' and self.static_batch is None:
            self.model.warm_up(self.input_hw, self.batch_size)
        LOGGER.info('Re-ID encoder: %s', self.name)

    def wait_ready(self, timeout_s: Optional[float] = None) -> bool:
        """Wait for OpenVINO's warm-up (at most ``timeout_s``); True once all sizes run fast."""
        return True if self.runtime != 'openvino' else self.model.wait_ready(timeout_s)

    def preprocess(self, image_bgr: npt.NDArray[np.uint8],
                   boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """
        Cut, resize, normalise and mask crops.

        Parameters
        ----------
        image_bgr : numpy.ndarray
            HxWx3 uint8 image.
        boxes_tlwh : numpy.ndarray
            Mx4 boxes clipped to the image.

        Returns
        -------
        numpy.ndarray
            Mx3xhxw float32 network input.

        """
        crops = crop_batch_cv2(image_bgr, boxes_tlwh, self.input_hw)
        batch = np.empty((len(crops), 3, *self.input_hw), dtype=np.float32)
        for channel in range(3):  # RGB plane c is BGR pixel channel 2 - c
            plane = batch[:, channel]
            np.multiply(crops[..., 2 - channel], self._scale_rgb[channel], out=plane,
                        casting='unsafe')
            plane += self._shift_rgb[channel]
        if self._mask is not None:
            batch *= self._mask
        return batch

    def _encode_valid(self, image_bgr: npt.NDArray[np.uint8],
                      boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        return self.run_batch(self.preprocess(image_bgr, boxes_tlwh))

    def run_batch(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """
        Run the network on preprocessed crops.

        Parameters
        ----------
        batch : numpy.ndarray
            Mx3xhxw float32 network input, as from :meth:`preprocess`, M >= 1.

        Returns
        -------
        numpy.ndarray
            MxD float32 unit-norm rows.

        """
        outputs: List[npt.NDArray[np.float32]] = []
        if self.static_batch or not len(batch):
            chunks = [batch[i:i + self.batch_size] for i in range(0, len(batch), self.batch_size)]
        else:  # runs of even size (17 crops: 9 + 8, not 16 + 1: a lone crop costs 2x a crop)
            chunks = np.array_split(batch, -(-len(batch) // self.batch_size))
        for chunk in chunks:
            count = len(chunk)
            if self.static_batch and count < self.static_batch:
                padding = np.zeros((self.static_batch - count, *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, padding])
            result = self.model.run(chunk)
            outputs.append(np.asarray(result, np.float32).reshape(len(chunk), -1)[:count])
        features = np.concatenate(outputs)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return (features / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class OnnxLoader:
    """
    Load ONNX files as probed encoders, all with one encoder's settings.

    ``load`` is what :func:`deepsort_ros.reid.int8.load_or_adopt` calls for the int8 model
    too, so that fp32 and int8 run alike.

    Attributes
    ----------
    source : str
        What was loaded (the weights file), named if the probe refuses it.
    runtime : str
        'onnxruntime' or 'openvino' (resolved, see :func:`choose_runtime`).
    input_hw, batch_size, mask_sigma, num_threads, providers, spin_wait
        As for :class:`OnnxEncoder`.
    name : str, optional
        Replaces the model's own description in the encoder's name (the default model).

    """

    source: str
    runtime: str
    input_hw: Optional[Tuple[int, int]] = None
    batch_size: Optional[int] = None
    mask_sigma: Optional[float] = None
    num_threads: Optional[int] = None
    providers: Optional[Sequence[str]] = None
    spin_wait: 'Optional[bool | str]' = None
    name: Optional[str] = None

    def load(self, onnx_path: Path, origin: str = '') -> OnnxEncoder:
        """
        Load one ONNX file and prove it on the probe crops.

        Parameters
        ----------
        onnx_path : pathlib.Path
            The model.
        origin : str
            Where it came from ('export cached (...)'), appended to the encoder's name.

        Returns
        -------
        OnnxEncoder

        Raises
        ------
        EncoderLoadError
            The file does not load, or the model fails the probe.

        """
        encoder = OnnxEncoder(onnx_path, input_hw=self.input_hw, batch_size=self.batch_size,
                              mask_sigma=self.mask_sigma, num_threads=self.num_threads,
                              providers=self.providers, spin_wait=self.spin_wait,
                              runtime=self.runtime)
        if self.name is not None:
            encoder.name = self.name
        if origin:
            encoder.name += f', {origin}'
        verify_encoder(encoder, self.source)
        return encoder
