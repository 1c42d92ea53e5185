"""Automatic int8: calibrated on the first crops, cached, kept only when faster and faithful."""

import json
from pathlib import Path
from typing import List, Tuple

from deepsort_ros.reid import cache, int8, int8_verdict
from deepsort_ros.reid.backends.onnx_encoder import OnnxEncoder
from helpers.paths import SHARED
import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
INPUT_HW = (64, 32)


def _conv_model(path: Path, widths: List[int], seed: int = 0) -> Path:
    """Write a real ONNX network: 3x3 convolutions + ReLU, global pooling, NxC features."""
    from onnx import helper, numpy_helper, TensorProto

    rng = np.random.default_rng(seed)
    nodes, weights, previous, channels = [], [], 'images', 3
    for index, width in enumerate(widths):
        weight = rng.normal(0, (2.0 / (9 * channels)) ** 0.5, (width, channels, 3, 3))
        bias = rng.normal(0, 0.1, width)
        weights += [numpy_helper.from_array(weight.astype(np.float32), f'w{index}'),
                    numpy_helper.from_array(bias.astype(np.float32), f'b{index}')]
        nodes += [helper.make_node('Conv', [previous, f'w{index}', f'b{index}'], [f'c{index}'],
                                   pads=[1, 1, 1, 1]),
                  helper.make_node('Relu', [f'c{index}'], [f'r{index}'])]
        previous, channels = f'r{index}', width
    nodes += [helper.make_node('GlobalAveragePool', [previous], ['pooled']),
              helper.make_node('Flatten', ['pooled'], ['features'])]
    graph = helper.make_graph(
        nodes, 'reid', [helper.make_tensor_value_info('images', TensorProto.FLOAT,
                                                      ['N', 3, *INPUT_HW])],
        [helper.make_tensor_value_info('features', TensorProto.FLOAT, ['N', channels])],
        weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope='module')
def models(tmp_path_factory) -> Tuple[Path, Path]:
    folder = tmp_path_factory.mktemp('models')
    light = _conv_model(folder / 'light.onnx', [16])
    heavy = _conv_model(folder / 'heavy.onnx', [64, 64, 64, 64, 16], seed=1)
    return light, heavy


def _make(path: Path, origin: str = '') -> OnnxEncoder:
    encoder = OnnxEncoder(path, num_threads=1, providers=['CPUExecutionProvider'])
    encoder.name += f', {origin}' if origin else ''
    return encoder


def _frames(count: int, people: int = 8) -> List[Tuple[np.ndarray, np.ndarray]]:
    """Frames of coloured, textured people-sized boxes on a noisy background."""
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(count):
        image = rng.integers(0, 60, (240, 320, 3), dtype=np.uint8)
        boxes = []
        for _ in range(people):
            x, y = rng.integers(0, 260), rng.integers(0, 120)
            image[y:y + 100, x:x + 50] = rng.integers(40, 255, 3, dtype=np.uint8)
            image[y + 50:y + 100, x:x + 50] //= 2
            boxes.append([x, y, 50, 100])
        frames.append((image, np.array(boxes, dtype=np.float64)))
    return frames


def test_the_faster_model_wins_and_the_verdict_is_kept_per_cpu(models, tmp_path) -> None:
    light, heavy = (_make(path) for path in models)
    record = int8_verdict.Int8Record(tmp_path / 'entry.onnx.json')
    batch = np.random.default_rng(0).standard_normal((4, 3, *INPUT_HW)).astype(np.float32)
    # a 'quantised' model that is many times cheaper wins; one that is dearer loses
    assert int8_verdict.decide(heavy, light, record, 'cpu-a', batch)['int8'] is True
    verdict = int8_verdict.decide(light, heavy, record, 'cpu-b', batch)
    assert verdict['int8'] is False and verdict['int8_ms'] > verdict['fp32_ms']
    stored = int8_verdict.Int8Record(record.path)
    assert stored.choice('cpu-a')['int8'] is True and stored.choice('cpu-b')['int8'] is False
    assert stored.choice('cpu-c') is None


def test_a_damaged_record_is_ignored_not_trusted(tmp_path) -> None:
    path = tmp_path / 'entry.onnx.json'
    path.write_text('{"agreement": 0.99, "choices": {"x": {"int8": "yes"}}')  # cut short
    assert int8_verdict.Int8Record(path).agreement is None
    path.write_text(json.dumps({'agreement': 'high', 'choices': {'x': {'int8': 'yes'}}}))
    record = int8_verdict.Int8Record(path)
    assert record.agreement is None and record.choice('x') is None


def test_the_cpu_key_names_this_cpu_and_is_stable() -> None:
    key = int8_verdict.cpu_key()
    assert key == int8_verdict.cpu_key() and ' ' not in key and '/' not in key
    assert key.split('-')[-2].endswith('c')


def test_first_crops_calibrate_int8_and_a_second_start_loads_the_verdict(models,
                                                                         tmp_path) -> None:
    light, _ = models
    int8_path = tmp_path / 'light.int8q1.onnx'
    fp32 = _make(light, 'fp32')
    adopting = int8.load_or_adopt(fp32, light, int8_path, _make, background=False)
    assert isinstance(adopting, int8.AdoptingEncoder) and adopting.state == 'collecting'
    frames = _frames(12)
    reference = [fp32(image, boxes) for image, boxes in frames]
    for (image, boxes), expected in zip(frames, reference):
        features = adopting(image, boxes)
        if adopting.state == 'collecting':  # fp32 until the verdict
            np.testing.assert_array_equal(features, expected)
    assert adopting.state in ('int8', 'fp32') and int8_path.is_file()
    record = int8_verdict.Int8Record(Path(str(int8_path) + '.json'))
    assert record.agreement >= int8.MIN_AGREEMENT
    assert record.data['calibration_crops'] >= int8.CALIBRATION_CROPS
    verdict = record.choice(int8_verdict.verdict_key(fp32))
    assert verdict is not None and adopting.state == ('int8' if verdict['int8'] else 'fp32')
    assert 'chosen by timing' in adopting.name
    # after the switch the features still match fp32's closely (what the tracker compares)
    image, boxes = frames[-1]
    cosine = np.sum(adopting(image, boxes) * reference[-1], axis=1)
    assert np.median(cosine) >= int8.MIN_AGREEMENT
    second = int8.load_or_adopt(_make(light, 'fp32'), light, int8_path, _make)
    assert not isinstance(second, int8.AdoptingEncoder)
    assert 'chosen by timing' in second.name
    assert second.model_path == (int8_path if verdict['int8'] else light)


def test_background_quantisation_switches_while_fp32_keeps_encoding(models, tmp_path) -> None:
    light, _ = models
    adopting = int8.load_or_adopt(_make(light), light, tmp_path / 'l.int8q1.onnx', _make)
    for image, boxes in _frames(12):
        assert adopting(image, boxes).shape == (len(boxes), 16)
    assert adopting.wait(60.0) in ('int8', 'fp32')


def test_a_failed_quantisation_stays_on_fp32_and_is_not_retried(models, tmp_path) -> None:
    light, _ = models
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not a model')  # what the quantiser reads: a damaged fp32 export
    int8_path = tmp_path / 'broken.int8q1.onnx'
    fp32 = _make(light)
    adopting = int8.load_or_adopt(fp32, broken, int8_path, _make, background=False)
    frames = _frames(12)
    for image, boxes in frames:
        features = adopting(image, boxes)
    assert adopting.state == 'fp32' and 'quantisation failed' in adopting.name
    np.testing.assert_array_equal(features, fp32(*frames[-1]))
    assert not int8_path.exists() and not list(tmp_path.glob('.*.part'))
    again = int8.load_or_adopt(_make(light), broken, int8_path, _make)
    assert isinstance(again, OnnxEncoder) and 'int8 not used' in again.name


def test_a_model_that_disagrees_is_refused(models, tmp_path) -> None:
    light, heavy = models
    int8_path = tmp_path / 'entry.int8q1.onnx'
    int8_path.write_bytes(heavy.read_bytes())  # a cached 'int8' whose features differ
    int8_verdict.Int8Record(Path(str(int8_path) + '.json')).save(agreement=0.5)
    encoder = int8.load_or_adopt(_make(light), light, int8_path, _make)
    assert isinstance(encoder, OnnxEncoder) and 'agreement 0.500' in encoder.name
    assert encoder.model_path == light


@pytest.mark.skipif(not (SHARED / 'models' / 'osnet_x0_25_msmt17.pth').is_file()
                    or not (SHARED / 'data' / 'PETS09-S2L1').is_dir(),
                    reason='needs ../shared/models/osnet_x0_25_msmt17.pth and PETS09-S2L1')
def test_osnet_int8_keeps_its_features_on_real_people(tmp_path, monkeypatch) -> None:
    pytest.importorskip('torch')
    from deepsort_ros.reid import create_encoder
    from deepsort_ros.reid.mot_data import group_by_frame, iter_frames, read_gt_boxes

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / 'cache'))
    weights = str(SHARED / 'models' / 'osnet_x0_25_msmt17.pth')
    encoder = create_encoder(weights, int8='on', int8_background=False)
    assert isinstance(encoder, int8.AdoptingEncoder)
    sequence = SHARED / 'data' / 'PETS09-S2L1'
    grouped = group_by_frame(read_gt_boxes(sequence))
    frames = list(iter_frames(sequence, sorted(grouped)[:60:3]))
    for number, image in frames[:-2]:
        encoder(image, np.array([box.tlwh for box in grouped[number]]))
    assert encoder.state in ('int8', 'fp32')
    record = int8_verdict.Int8Record(next((tmp_path / 'cache').glob('*.int8q1.onnx.json')))
    assert record.agreement >= 0.98  # measured 0.994 on held-out PETS09 people
    fp32 = create_encoder(weights, int8='off')
    quantised = OnnxEncoder(next((tmp_path / 'cache').glob('*.int8q1.onnx')))
    for number, image in frames[-2:]:  # frames it was not calibrated on
        boxes = np.array([box.tlwh for box in grouped[number]])
        cosine = np.sum(fp32(image, boxes) * quantised(image, boxes), axis=1)
        assert np.median(cosine) >= 0.98


def test_the_node_parameter_turns_int8_off_and_offline_runs_quantise_inline(
        tmp_path, monkeypatch) -> None:
    torch = pytest.importorskip('torch')
    from deepsort_ros.reid.osnet import osnet_x0_25
    from deepsort_ros.settings.tracker import NodeConfig
    from deepsort_ros.pipeline.encoder import load_encoder

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / 'cache'))
    torch.manual_seed(5)
    weights = tmp_path / 'osnet_node_test.pth'
    torch.save(osnet_x0_25(num_classes=3).state_dict(), weights)
    off, _, _ = load_encoder(NodeConfig(encoder_weights=str(weights), encoder_device='cpu',
                                        encoder_int8='off'))
    assert isinstance(off, OnnxEncoder) and 'int8' not in off.name
    default, _, _ = load_encoder(NodeConfig(encoder_weights=str(weights), encoder_device='cpu'))
    assert isinstance(default, OnnxEncoder) and 'int8' not in default.name, \
        'auto runs fp32: no int8 recipe passed the accuracy gate'
    offline, name, _ = load_encoder(NodeConfig(encoder_weights=str(weights),
                                               encoder_device='cpu', encoder_int8='on'),
                                    live=False)
    assert isinstance(offline, int8.AdoptingEncoder) and 'int8 pending' in name
    for image, boxes in _frames(12):
        offline(image, boxes)
        if offline.state != 'collecting':
            break
    # inline: the verdict is in by the call that collected the last crop, no thread
    assert offline.state in ('int8', 'fp32') and offline._thread is None
