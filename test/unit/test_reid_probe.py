"""A Re-ID model is proven at load time: two probe crops through it, or it is refused."""

from deepsort_ros.reid import create_encoder, EncoderLoadError
from helpers.onnx_models import FEATURE_DIM, write_model
import numpy as np
import pytest


@pytest.mark.parametrize('kind,reason', [
    ('wrong_channels', 'failed on a probe crop (InvalidArgument'),
    ('nan', 'returned non-finite (NaN or inf) features'),
    ('zero', 'returned an all-zero feature'),
    ('constant', 'returned the same feature for two different probe crops'),
])
def test_a_broken_model_is_refused_with_its_reason_on_the_first_line(tmp_path, kind, reason):
    path = write_model(tmp_path / f'{kind}.onnx', kind)
    with pytest.raises(EncoderLoadError) as refused:
        create_encoder(str(path), device='cpu')
    first_line = str(refused.value).splitlines()[0]
    assert reason in first_line and str(path) in first_line, first_line
    assert 'use_appearance:=false' in first_line, 'the refusal says what to do'


@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
def test_a_working_model_passes_the_probe_on_each_runtime(tmp_path, runtime):
    if runtime == 'openvino':
        pytest.importorskip('openvino', reason='OpenVINO is not installed here')
    encoder = create_encoder(str(write_model(tmp_path / 'good.onnx', 'good')), device='cpu',
                             runtime=runtime)
    image = np.random.default_rng(1).integers(0, 255, (120, 80, 3), dtype=np.uint8)
    features = encoder(image, [[5, 5, 30, 100], [40, 10, 30, 100]])
    assert features.shape == (2, FEATURE_DIM) and np.isfinite(features).all()


def test_a_model_that_fails_only_on_bright_crops_passes_then_answers_nan(tmp_path):
    """The probe cannot see every failure: what breaks later is caught at run time."""
    encoder = create_encoder(str(write_model(tmp_path / 'bright.onnx', 'bright_nan')),
                             device='cpu')
    white = np.full((120, 80, 3), 255, np.uint8)
    assert np.isnan(encoder(white, [[5, 5, 30, 100]])).all()
