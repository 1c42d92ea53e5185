"""
Every encoder path the node may pick by itself tracks PETS09-S2L1 as well as fp32 does.

Each path in ``deepsort_ros.reid.AUTOMATIC_PATHS`` is forced (whatever this CPU would pick),
encodes the whole sequence's public detections with OSNet x0.25 MSMT17 once per session, and
the default tracker must keep IDF1 >= 0.75 on all 795 frames (fp32: 0.754-0.757,
bench/results/encoder_paths.md). The whole sequence, not a subset: IDF1 is an identity score,
and a subset of frames hides exactly the switches a worse feature causes.
"""

import importlib.util

from deepsort_ros.core import TrackerConfig
from deepsort_ros.evaluation.mot_metrics import evaluate_mot
from deepsort_ros.recordings.mot import iter_frames, read_detections, read_sequence_info
from deepsort_ros.reid import AUTOMATIC_PATHS, create_encoder
from deepsort_ros.replay.sequence import run_sequence
from helpers.paths import SHARED
import numpy as np
import pytest

PETS = SHARED / 'data' / 'PETS09-S2L1'
WEIGHTS = SHARED / 'models' / 'osnet_x0_25_msmt17.pth'
MIN_IDF1 = 0.75


def _encoders():
    fp32 = create_encoder(str(WEIGHTS), device='cpu', backend='onnx', int8='off',
                          runtime='onnxruntime')
    made = {'onnxruntime fp32': fp32}
    if importlib.util.find_spec('openvino') is not None:
        from deepsort_ros.reid.backends.onnx_encoder import OnnxEncoder

        made['openvino bf16'] = OnnxEncoder(fp32.model_path, runtime='openvino',
                                            openvino_precision='bf16')
    return made


@pytest.fixture(scope='module')
def features_by_path(tmp_path_factory):
    for path in (PETS, WEIGHTS):
        if not path.exists():
            pytest.skip(f'{path} is absent (../shared models and data are on the '
                        "developers' machines only)")
    encoders = _encoders()
    detections = read_detections(PETS / 'det' / 'det.txt')
    by_frame = detections.rows_by_frame()
    features = dict.fromkeys(encoders)
    for frame, image in iter_frames(read_sequence_info(PETS)):  # one decode for every path
        rows = by_frame.get(frame)
        if rows is None or not len(rows):
            continue
        for name, encoder in encoders.items():
            out = encoder(image, detections.boxes_tlwh[rows])
            if features[name] is None:
                features[name] = np.zeros((len(detections.frames), out.shape[1]), np.float32)
            features[name][rows] = out
    folder = tmp_path_factory.mktemp('pets09_features')
    saved = {}
    for name, rows in features.items():
        saved[name] = folder / f'{name.replace(" ", "_")}.npy'
        np.save(saved[name], rows)
    return saved


def test_every_automatic_path_has_a_forced_encoder_here():
    """A path added to AUTOMATIC_PATHS must be added here too, so that it is measured."""
    known = {'onnxruntime fp32', 'openvino bf16'}
    assert set(AUTOMATIC_PATHS) <= known, set(AUTOMATIC_PATHS) - known


@pytest.mark.parametrize('path', AUTOMATIC_PATHS)
def test_each_automatic_encoder_path_tracks_pets09_at_the_published_idf1(
        features_by_path, path, tmp_path):
    if path not in features_by_path:
        pytest.skip(f'{path}: its runtime is not installed here')
    out = tmp_path / 'PETS09-S2L1.txt'
    run_sequence(PETS, out, TrackerConfig(), features_path=features_by_path[path],
                 progress=False)
    scores = evaluate_mot(PETS / 'gt' / 'gt.txt', out)
    assert scores.idf1 >= MIN_IDF1, f'{path}: IDF1 {scores.idf1:.3f} HOTA {scores.hota:.3f}'
