"""
Export a Re-ID state dict to ONNX (dynamic batch) and optionally quantise it to int8.

onnxruntime runs the exported OSNet several times faster than torch on a small CPU; the
result loads with ``create_encoder('model.onnx')``.
"""

import logging
import os
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)


def export_onnx(weights: 'str | Path', onnx_path: 'str | Path',
                input_hw: Tuple[int, int] = (256, 128), arch: str = 'auto') -> Path:
    """
    Export a .pth state dict (OSNet or MobileNetV2) to ONNX with a dynamic batch size.

    The model's description (e.g. 'OSNet x0.25 osnet_x0_25_msmt17.pth') is stored in its
    metadata, where the ONNX encoder finds it for its name.

    Parameters
    ----------
    weights : str or pathlib.Path
        The state dict, loaded safely as by ``create_encoder``.
    onnx_path : str or pathlib.Path
        Output file.
    input_hw : tuple of int
        Crop height and width baked into the model.
    arch : str
        'auto', 'osnet' or 'mobilenetv2'.

    Returns
    -------
    pathlib.Path
        ``onnx_path``.

    """
    import warnings

    import torch

    from deepsort_ros.reid.loading import build_module

    module, _, description = build_module(Path(weights), arch=arch)
    module.eval()
    onnx_path = Path(onnx_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        torch.onnx.export(module, torch.zeros(1, 3, *input_hw), str(onnx_path),
                          input_names=['images'], output_names=['features'],
                          dynamic_axes={'images': {0: 'N'}, 'features': {0: 'N'}},
                          opset_version=17, dynamo=False)
    _set_description(onnx_path, description + ' fp32')
    LOGGER.info('exported %s to %s', description, onnx_path)
    return onnx_path


def _set_description(onnx_path: Path, description: str) -> None:
    import onnx

    from deepsort_ros.reid.base import DESCRIPTION_KEY

    model = onnx.load(str(onnx_path))
    onnx.helper.set_model_props(model, {DESCRIPTION_KEY: description})
    onnx.save(model, str(onnx_path))


def calibration_batches(encoder: Any, sequences: Iterable[Path], frames_per_sequence: int = 4
                        ) -> List[npt.NDArray[np.float32]]:
    """
    Network inputs cut from the ground-truth people of MOTChallenge sequences, for int8.

    Parameters
    ----------
    encoder : OnnxEncoder or TorchEncoder
        Its ``preprocess(image, boxes_tlwh)`` makes the crops exactly as at run time.
    sequences : iterable of Path
        Folders with gt/gt.txt and frames (use other footage than you evaluate on).
    frames_per_sequence : int
        Frames sampled from each.

    Returns
    -------
    list of ndarray, shape (N, 3, h, w) each

    """
    from deepsort_ros.reid.base import clip_boxes_tlwh
    from deepsort_ros.reid.mot_data import (group_by_frame, iter_frames, read_gt_boxes,
                                            sample_identity_boxes)

    batches = []
    for sequence in sequences:
        grouped = group_by_frame(sample_identity_boxes(read_gt_boxes(Path(sequence)), 5, 3))
        for number, image in iter_frames(Path(sequence), sorted(grouped)[:frames_per_sequence]):
            tlwh, valid = clip_boxes_tlwh(np.array([b.tlwh for b in grouped[number]]),
                                          image.shape[:2])
            if valid.any():
                batches.append(np.asarray(encoder.preprocess(image, tlwh[valid])))
    return batches


def quantize_onnx(onnx_path: 'str | Path', int8_path: 'str | Path',
                  calibration: Optional[Iterable[npt.NDArray[np.float32]]] = None,
                  keep_fp32: Sequence[str] = (), method: str = 'minmax') -> Path:
    """
    Quantise an ONNX model to int8 with onnxruntime.

    Parameters
    ----------
    onnx_path : str or pathlib.Path
        Float model.
    int8_path : str or pathlib.Path
        Output file.
    calibration : iterable of numpy.ndarray, optional
        Nx3xhxw network inputs (normalised crops) for static quantisation (QDQ, per-channel
        weights); None gives dynamic quantisation (weights only).
    keep_fp32 : sequence of str
        Names of nodes left in fp32 (static quantisation only), e.g. the first convolution
        and the embedding head (bench/bench_encoder_paths.py tries such recipes).
    method : str
        How activation ranges are calibrated: 'minmax' (default), 'percentile' or 'entropy'.

    Returns
    -------
    pathlib.Path
        ``int8_path``.

    """
    from onnxruntime import quantization

    methods = {'minmax': quantization.CalibrationMethod.MinMax,
               'percentile': quantization.CalibrationMethod.Percentile,
               'entropy': quantization.CalibrationMethod.Entropy}
    if method not in methods:
        raise ValueError(f'calibration method must be one of {sorted(methods)}, got {method!r}')
    onnx_path, int8_path = Path(onnx_path), Path(int8_path)
    if calibration is None:
        quantization.quantize_dynamic(str(onnx_path), str(int8_path),
                                      weight_type=quantization.QuantType.QInt8)
        return int8_path

    class _Reader(quantization.CalibrationDataReader):

        def __init__(self, batches: Iterable[npt.NDArray[np.float32]]) -> None:
            self._batches = iter(batches)

        def get_next(self) -> Optional[dict]:
            batch = next(self._batches, None)
            return None if batch is None else {'images': batch.astype(np.float32)}

    # The quantiser logs a line per rescaled bias and a tip to the root logger: noise in a
    # node's console for something that worked. Its errors still raise.
    fragment = os.path.join('onnxruntime', 'quantization')

    def quiet(record: logging.LogRecord) -> bool:
        return fragment not in record.pathname

    logging.getLogger().addFilter(quiet)
    try:
        quantization.quantize_static(str(onnx_path), str(int8_path), _Reader(calibration),
                                     quant_format=quantization.QuantFormat.QDQ,
                                     per_channel=True,
                                     activation_type=quantization.QuantType.QUInt8,
                                     weight_type=quantization.QuantType.QInt8,
                                     nodes_to_exclude=list(keep_fp32) or None,
                                     calibrate_method=methods[method])
    finally:
        logging.getLogger().removeFilter(quiet)
    import onnx

    from deepsort_ros.reid.base import DESCRIPTION_KEY

    source = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    if DESCRIPTION_KEY in source:
        _set_description(int8_path, source[DESCRIPTION_KEY].removesuffix(' fp32') + ' int8')
    return int8_path


def export_int8(weights: 'str | Path', int8_path: 'str | Path', sequences: Iterable[Path],
                input_hw: Tuple[int, int] = (256, 128)) -> Path:
    """
    Export weights to a static int8 ONNX model calibrated on the gt people of sequences.

    Parameters
    ----------
    weights : str or Path
        A .pth state dict (OSNet or MobileNetV2).
    int8_path : str or Path
        The model to write.
    sequences : iterable of Path
        MOTChallenge-style folders with gt/gt.txt and frames.
    input_hw : tuple of int
        Crop height and width.

    Returns
    -------
    Path
        ``int8_path``.

    Raises
    ------
    ValueError
        When the sequences hold no calibration crop.

    """
    import tempfile

    from deepsort_ros.reid import create_encoder

    with tempfile.TemporaryDirectory(prefix='deepsort_int8_') as work:
        fp32 = export_onnx(weights, Path(work) / 'fp32.onnx', tuple(input_hw))
        batches = calibration_batches(create_encoder(str(fp32), device='cpu'), sequences)
        if not batches:
            raise ValueError('no calibration crops in the given sequences (they need gt/gt.txt '
                             'and frames)')
        quantize_onnx(fp32, int8_path, batches)
    LOGGER.info('int8 model written to %s (%d calibration batches)', int8_path, len(batches))
    return Path(int8_path)
