"""
Small real ONNX Re-ID models, working and broken, built with the ``onnx`` package.

Each maps ``images`` (N x C x 64 x 32, ImageNet-normalised RGB crops) to ``features`` (N x 16)
through a real convolution and global average pooling; the broken ones fail the way a wrong
export does: the wrong number of input channels, NaN for everything, the same vector for
every crop, or NaN only for bright crops (a model that breaks mid-run, when the light changes).
"""

from pathlib import Path

import numpy as np

INPUT_HW = (64, 32)
FEATURE_DIM = 16
# Mean of a normalised crop above which the 'bright' model answers NaN: a white crop is ~2.2,
# a mid-grey one ~0.1.
BRIGHT_MEAN = 1.5
KINDS = ('good', 'wrong_channels', 'nan', 'constant', 'zero', 'bright_nan')


def write_model(path: Path, kind: str) -> Path:
    """
    Write a small Re-ID ONNX model of one kind.

    Parameters
    ----------
    path : pathlib.Path
        The .onnx file to write.
    kind : str
        One of :data:`KINDS`.

    Returns
    -------
    pathlib.Path
        ``path``.

    """
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    channels = 1 if kind == 'wrong_channels' else 3
    rng = np.random.default_rng(7)
    weights = rng.standard_normal((FEATURE_DIM, channels, 3, 3)).astype(np.float32)
    initializers = [numpy_helper.from_array(weights, 'conv_w')]
    nodes = [helper.make_node('Conv', ['images', 'conv_w'], ['conv'], strides=[2, 2]),
             helper.make_node('GlobalAveragePool', ['conv'], ['pooled']),
             helper.make_node('Flatten', ['pooled'], ['flat'])]
    if kind in ('good', 'wrong_channels'):
        nodes.append(helper.make_node('Identity', ['flat'], ['features']))
    elif kind in ('nan', 'zero', 'constant'):
        scale = {'nan': np.nan, 'zero': 0.0, 'constant': 0.0}[kind]
        initializers.append(numpy_helper.from_array(np.array(scale, np.float32), 'scale'))
        nodes.append(helper.make_node('Mul', ['flat', 'scale'], ['scaled']))
        offset = np.linspace(1.0, 2.0, FEATURE_DIM).astype(np.float32) if kind == 'constant' \
            else np.zeros(FEATURE_DIM, np.float32)
        initializers.append(numpy_helper.from_array(offset, 'offset'))
        nodes.append(helper.make_node('Add', ['scaled', 'offset'], ['features']))
    else:  # bright_nan: features * sqrt(BRIGHT_MEAN - mean(crop)), NaN for a bright crop
        initializers.append(numpy_helper.from_array(np.array(BRIGHT_MEAN, np.float32),
                                                    'bright'))
        nodes += [helper.make_node('ReduceMean', ['images'], ['mean4'], axes=[1, 2, 3],
                                   keepdims=1),
                  helper.make_node('Flatten', ['mean4'], ['mean']),
                  helper.make_node('Sub', ['bright', 'mean'], ['margin']),
                  helper.make_node('Sqrt', ['margin'], ['gate']),
                  helper.make_node('Mul', ['flat', 'gate'], ['features'])]
    graph = helper.make_graph(
        nodes, f'reid_{kind}',
        [helper.make_tensor_value_info('images', TensorProto.FLOAT,
                                       ['N', channels, *INPUT_HW])],
        [helper.make_tensor_value_info('features', TensorProto.FLOAT, ['N', FEATURE_DIM])],
        initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
