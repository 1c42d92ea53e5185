"""
Run an ONNX Re-ID model through onnxruntime: the session and its settings.

The default runtime of :class:`~deepsort_ros.reid.backends.onnx_encoder.OnnxEncoder`, which
cuts and normalises the crops; this module only opens the session and runs a batch through it.
"""

from pathlib import Path
from typing import Any, List, Optional, Sequence, Union

from deepsort_ros.reid.base import DESCRIPTION_KEY, EncoderLoadError
import numpy as np
import numpy.typing as npt


class OnnxRuntimeModel:
    """
    One ONNX model in an onnxruntime session.

    Parameters
    ----------
    path : pathlib.Path
        The .onnx file.
    num_threads : int, optional
        Intra-op threads (default: onnxruntime's, one per physical core).
    providers : sequence of str, optional
        Execution providers; default CUDA when available, then CPU.
    spin_wait : bool or str, optional
        How idle intra-op threads wait (see ``OnnxEncoder``): True, False or 'run' (spin
        while a run lasts, ``session.force_spinning_stop`` after it); None: onnxruntime's own.

    Attributes
    ----------
    session : onnxruntime.InferenceSession
    input_shape : list
        The input's N, C, H, W (an int where fixed, a name or None where dynamic).
    feature_dim : int or str or None
        The output's last dimension (not an int where dynamic).
    description : str
        The model's ``deepsort_ros.description`` metadata, '' when it has none.
    runs_on : str
        'onnxruntime <first provider>', for the encoder's name.
    device : str
        'cuda' when the first provider is CUDA's, else 'cpu'.

    Raises
    ------
    EncoderLoadError
        When onnxruntime cannot load the file, or it is not one Nx3xHxW input to NxD.

    """

    def __init__(self, path: Path, num_threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None,
                 spin_wait: Optional[Union[bool, str]] = None) -> None:
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
        self._input_name = inputs[0].name
        self.input_shape: List[Any] = list(inputs[0].shape)
        self.feature_dim = outputs[0].shape[-1]
        self.description = str(self.session.get_modelmeta().custom_metadata_map.get(
            DESCRIPTION_KEY, ''))
        provider = self.session.get_providers()[0]
        self.runs_on = f'onnxruntime {provider}'
        self.device = 'cuda' if provider.startswith('CUDA') else 'cpu'

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Run the model on one (M, 3, h, w) chunk; return its first output, (M, D)."""
        return self.session.run(None, {self._input_name: batch})[0]
