"""
Export a Re-ID state dict to ONNX (dynamic batch) and optionally quantise it to int8.

onnxruntime runs the exported OSNet several times faster than torch on a small CPU; the
result loads with ``create_encoder('model.onnx')``.
"""

import logging
from pathlib import Path
from typing import Iterable, Optional, Tuple

import numpy as np
import numpy.typing as npt

LOGGER = logging.getLogger(__name__)


def export_onnx(weights: 'str | Path', onnx_path: 'str | Path',
                input_hw: Tuple[int, int] = (256, 128), arch: str = 'auto') -> Path:
    """
    Export a .pth state dict (OSNet or MobileNetV2) to ONNX with a dynamic batch size.

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
    LOGGER.info('exported %s to %s', description, onnx_path)
    return onnx_path


def quantize_onnx(onnx_path: 'str | Path', int8_path: 'str | Path',
                  calibration: Optional[Iterable[npt.NDArray[np.float32]]] = None) -> Path:
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

    Returns
    -------
    pathlib.Path
        ``int8_path``.

    """
    from onnxruntime import quantization

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

    quantization.quantize_static(str(onnx_path), str(int8_path), _Reader(calibration),
                                 quant_format=quantization.QuantFormat.QDQ, per_channel=True,
                                 activation_type=quantization.QuantType.QUInt8,
                                 weight_type=quantization.QuantType.QInt8)
    return int8_path


def main(argv: Optional[list] = None) -> int:
    """
    Export from the command line: ``python -m deepsort_ros.reid.export IN.pth OUT.onnx``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments; ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        Exit status.

    """
    import argparse

    parser = argparse.ArgumentParser(
        prog='python -m deepsort_ros.reid.export',
        description='Export a Re-ID state dict to ONNX (dynamic batch) for onnxruntime.')
    parser.add_argument('weights', type=Path, help='.pth state dict (OSNet or MobileNetV2)')
    parser.add_argument('output', type=Path, help='.onnx file to write')
    parser.add_argument('--input-hw', type=int, nargs=2, default=(256, 128),
                        metavar=('H', 'W'))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    export_onnx(args.weights, args.output, tuple(args.input_hw))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
