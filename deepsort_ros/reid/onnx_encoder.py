"""
Run an ONNX Re-ID model through onnxruntime or OpenVINO (no torch needed).

The model takes ImageNet-normalised 1x3xhxw (or Nx3xhxw) RGB crops and returns NxD features.
Crops are cut with the same box-to-pixel mapping as the torch backend (bilinear, border
repeated), with OpenCV on the CPU, one ``warpAffine`` per box (one ``cv2.remap`` over all
boxes was 4-5x slower here: its maps cost more than the loop), then normalised one colour plane
at a time straight into the NCHW batch (0.6 ms for 10 crops instead of 4.3 ms for the
strided ``astype`` of the whole batch).
"""

import logging
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import cv2
from deepsort_ros.reid.base import (Encoder, EncoderLoadError, gaussian_mask,
                                    IMAGENET_MEAN_RGB, IMAGENET_STD_RGB)
import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)
DESCRIPTION_KEY = 'deepsort_ros.description'
RUNTIMES = ('auto', 'onnxruntime', 'openvino')
# The most crops one OpenVINO run takes (openvino_model.STATIC_UP_TO): every size up to it
# has a model compiled for it, ahead (warm_up). 17 crops run as 6 + 6 + 5 (27 ms for OSNet
# bf16) rather than 9 + 8 on the dynamic model (28 ms, and 200 MB more).
OPENVINO_BATCH = 8


def choose_runtime(runtime: str, providers: Optional[Sequence[str]]) -> str:
    """
    Resolve ``runtime='auto'``: OpenVINO on a CPU when it is installed, else onnxruntime.

    Parameters
    ----------
    runtime : str
        One of :data:`RUNTIMES`.
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
    from deepsort_ros.reid.openvino_model import openvino_available

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
    Encoder around an onnxruntime session.

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
        'onnxruntime' (default), 'openvino' (see ``deepsort_ros.reid.openvino_model``) or
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
        self._openvino: Any = None
        if self.runtime == 'openvino':
            from deepsort_ros.reid.openvino_model import OpenVinoModel

            self._openvino = OpenVinoModel(path, num_threads, openvino_precision)
            batch_dim, _, model_h, model_w = self._openvino.input_shape
            feature_dim = self._openvino.feature_dim
            runs_on = f'OpenVINO CPU {self._openvino.precision}'
            self.device = 'cpu'
            metadata_description = self._openvino.description
        else:
            batch_dim, model_h, model_w, feature_dim, metadata_description = \
                self._open_onnxruntime(path, num_threads, providers, spin_wait)
            provider = self.session.get_providers()[0]
            runs_on = f'onnxruntime {provider}'
            self.device = 'cuda' if provider.startswith('CUDA') else 'cpu'
        if isinstance(model_h, int) and isinstance(model_w, int):
            self.input_hw = (model_h, model_w)
        else:
            self.input_hw = tuple(input_hw or (256, 128))
        self.static_batch = batch_dim if isinstance(batch_dim, int) else None
        default_batch = OPENVINO_BATCH if self._openvino is not None else 64
        self.batch_size = self.static_batch or batch_size or default_batch
        if not isinstance(feature_dim, int):
            probe = np.zeros((self.static_batch or 1, 3, *self.input_hw), dtype=np.float32)
            feature_dim = self._run(probe).shape[-1]
        self.feature_dim = int(feature_dim)
        self._scale = (1.0 / (255.0 * np.array(IMAGENET_STD_RGB, np.float32)))
        self._shift = (-np.array(IMAGENET_MEAN_RGB, np.float32)
                       / np.array(IMAGENET_STD_RGB, np.float32))
        self._scale_rgb = [np.float32(v) for v in self._scale]
        self._shift_rgb = [np.float32(v) for v in self._shift]
        self._mask = None if mask_sigma is None else gaussian_mask(*self.input_hw, mask_sigma)
        batch_text = f'batch {self.static_batch} fixed' if self.static_batch else 'dynamic batch'
        if description is None:
            description = metadata_description or f'ONNX {path.name}'
        self.name = (f'{description} ({self.feature_dim}-d, input '
                     f'{self.input_hw[0]}x{self.input_hw[1]}, {batch_text}, {runs_on})')
        if self._openvino is not None and self.static_batch is None:
            self._openvino.warm_up(self.input_hw, self.batch_size)
        LOGGER.info('Re-ID encoder: %s', self.name)

    def _open_onnxruntime(self, path: Path, num_threads: Optional[int],
                          providers: Optional[Sequence[str]],
                          spin_wait: 'Optional[bool | str]') -> Tuple[Any, ...]:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
        if spin_wait is not None:
            options.add_session_config_entry('session.intra_op.allow_spinning',
                                             '1' if spin_wait else '0')
        if spin_wait == 'run':
            options.add_session_config_entry('session.force_spinning_stop', '1')
        if providers is None:
            available = onnxruntime.get_available_providers()
            providers = [p for p in ('CUDAExecutionProvider', 'CPUExecutionProvider')
                         if p in available]
        try:
            self.session = onnxruntime.InferenceSession(str(path), options,
                                                        providers=list(providers))
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise EncoderLoadError(f'{path}: cannot load as an ONNX model (expected an .onnx '
                                   f'file with one Nx3xHxW image input): {error}') from error
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or len(outputs) < 1:
            raise EncoderLoadError(f'{path}: expected one Nx3xHxW input and an NxD output, '
                                   f'got inputs {[(i.name, i.shape) for i in inputs]}')
        self.input_name = inputs[0].name
        batch_dim, _, model_h, model_w = inputs[0].shape
        metadata = self.session.get_modelmeta().custom_metadata_map
        return (batch_dim, model_h, model_w, outputs[0].shape[-1],
                metadata.get(DESCRIPTION_KEY, ''))

    def _run(self, chunk: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if self._openvino is not None:
            return self._openvino.run(chunk)
        return self.session.run(None, {self.input_name: chunk})[0]

    def wait_ready(self, timeout_s: Optional[float] = None) -> bool:
        """
        Wait until every batch size runs at full speed (OpenVINO's warm-up; at once otherwise).

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait.

        Returns
        -------
        bool
            True when ready.

        """
        return True if self._openvino is None else self._openvino.wait_ready(timeout_s)

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
            result = self._run(chunk)
            outputs.append(np.asarray(result, np.float32).reshape(len(chunk), -1)[:count])
        features = np.concatenate(outputs)
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return (features / np.maximum(norms, 1e-12)).astype(np.float32)
