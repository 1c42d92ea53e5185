"""
One module per way of running a Re-ID model; ``deepsort_ros.reid.factory`` picks one.

- ``torch``: ``load`` a state dict (OSNet, MobileNetV2) or a TorchScript archive as a
  ``TorchEncoder`` (crops cut on the network's device; CUDA, fp16).
- ``onnx``: ``load`` an .onnx file, or a state dict as its cached ONNX export (opt-in int8
  from there), as an ``OnnxEncoder``.
- ``onnx_encoder``: ``OnnxEncoder`` (crops cut with OpenCV) and ``OnnxLoader``, over one of
  two runtimes: ``onnxruntime`` (the default) or ``openvino`` (Intel CPUs: bf16 on AMX).

Each ``load`` returns an encoder that passed ``deepsort_ros.reid.probe.verify_encoder``.
"""
