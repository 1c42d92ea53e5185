"""
Re-ID appearance encoders: ``create_encoder(...)(image_bgr, boxes_tlwh) -> (N, D)``.

The room, top to bottom (each module calls only the ones below it):

- ``factory``: :func:`create_encoder` picks the weights and the backend
  (:class:`EncoderOptions`, ``options``, says how).
- ``backends``: one module per way of running a model. ``backends.torch`` (state dicts,
  TorchScript), ``backends.onnx`` (ONNX files and state dicts run as their cached export),
  which opens ``backends.onnx_encoder.OnnxEncoder`` on ``backends.onnxruntime`` or
  ``backends.openvino``.
- ``int8`` (opt-in quantisation, judged by ``int8_verdict``), ``export`` and ``cache``
  (the cached ONNX export), ``loading`` with ``osnet`` and ``mobilenetv2`` (reading weights
  safely into a network), ``probe`` (every encoder proves itself on two crops), ``base``
  (the encoder contract and box handling).

Beside the encoders: ``planner.EncodePlanner`` decides which detections of a frame need
encoding at all; ``training`` and ``mot_data`` fine-tune OSNet on MOT sequences.

Importing this package does not import torch; ``create_encoder`` imports the backend it
needs (a state dict whose ONNX export is already cached runs without torch). Rows are
L2-normalised; a box with no pixels in the image gets an all-zero row (see
``deepsort_ros.reid.base``). Every encoder it returns has passed a probe
(``deepsort_ros.reid.probe``): a model that fails on crops, or answers NaN, zeros or one
vector for everyone, is refused with an ``EncoderLoadError`` saying so.
"""

from deepsort_ros.reid.base import Encoder, EncoderLoadError
from deepsort_ros.reid.factory import AUTOMATIC_PATHS, create_encoder
from deepsort_ros.reid.options import BACKENDS, EncoderOptions

__all__ = ['create_encoder', 'EncoderOptions', 'Encoder', 'EncoderLoadError', 'AUTOMATIC_PATHS',
           'BACKENDS']
