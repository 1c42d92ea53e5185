"""The offline runner on generated MOT folders and on PETS09-S2L1, and the scoring helper."""

from pathlib import Path

import cv2
from deepsort_ros.cli import main as cli
from deepsort_ros.evaluation.mot_metrics import evaluate_mot
from deepsort_ros.recordings.mot import load_mot_rows, read_sequence_info
from deepsort_ros.sim.synthetic import make_scene
import numpy as np
import pytest


def _check_mot_file(path: Path, num_frames: int) -> np.ndarray:
    rows = load_mot_rows(path)
    assert rows.shape[1] == 10 and len(rows) > 0
    assert rows[:, 0].min() >= 1 and rows[:, 0].max() <= num_frames
    assert np.all(rows[:, 1] >= 1) and np.all(rows[:, 4:6] > 0)
    pairs = rows[:, :2].astype(int)
    assert len(np.unique(pairs, axis=0)) == len(pairs)  # one box per identity and frame
    return rows


@pytest.fixture
def scene_dir(tmp_path):
    scene = make_scene(num_objects=8, num_frames=60, width=640, height=480, seed=4)
    return scene.write_mot_folder(tmp_path / 'synthetic-08')


def test_track_with_features_file(scene_dir, tmp_path):
    out = tmp_path / 'out' / 'result.txt'
    rc = cli.main(['track', '--sequence', str(scene_dir), '--out', str(out), '--features',
                   str(scene_dir / 'features.npy'), '--no-progress'])
    assert rc == 0
    _check_mot_file(out, 60)
    scores = evaluate_mot(scene_dir / 'gt' / 'gt.txt', out)
    assert scores.idf1 > 0.8 and scores.hota > 0.6


def test_track_motion_only_and_settings(scene_dir, tmp_path):
    out = tmp_path / 'motion.txt'
    rc = cli.main(['track', '--sequence', str(scene_dir), '--out', str(out), '--no-progress',
                   '--set', 'n_init=2', '--set', 'second_association=false',
                   '--boxes', 'detection'])
    assert rc == 0
    _check_mot_file(out, 60)
    assert cli.main(['track', '--sequence', str(scene_dir), '--out', str(out),
                     '--set', 'n_init=0']) == 2
    assert cli.main(['track', '--sequence', str(scene_dir), '--out', str(out),
                     '--set', 'no_such=1']) == 2


def test_track_rejects_mismatched_features(scene_dir, tmp_path):
    bad = tmp_path / 'bad.npy'
    np.save(bad, np.zeros((3, 8), np.float32))
    assert cli.main(['track', '--sequence', str(scene_dir), '--out', str(tmp_path / 'o.txt'),
                     '--features', str(bad), '--no-progress']) == 2
    assert cli.main(['track', '--sequence', str(tmp_path / 'missing'), '--out',
                     str(tmp_path / 'o.txt'), '--no-progress']) == 2


def test_track_with_an_encoder_reads_frames(tmp_path, monkeypatch):
    scene = make_scene(num_objects=3, num_frames=6, width=160, height=120, seed=2,
                       false_positive_rate=0.0)
    folder = scene.write_mot_folder(tmp_path / 'tiny')
    (folder / 'img1').mkdir()
    for f in range(1, 7):
        cv2.imwrite(str(folder / 'img1' / f'{f:06d}.jpg'), np.zeros((120, 160, 3), np.uint8))
    seen = []

    def fake_create_encoder(weights, device='auto'):
        def encode(image, boxes_tlwh):
            seen.append((image.shape, len(boxes_tlwh)))
            feats = np.ones((len(boxes_tlwh), 4), np.float32)
            return feats / 2.0
        return encode

    import deepsort_ros.reid as reid
    monkeypatch.setattr(reid, 'create_encoder', fake_create_encoder)
    out = tmp_path / 'enc.txt'
    assert cli.main(['track', '--sequence', str(folder), '--out', str(out),
                     '--reid-weights', 'default', '--no-progress']) == 0
    assert seen and seen[0][0] == (120, 160, 3)
    assert read_sequence_info(folder).length == 6


def test_pets09_runner_writes_a_valid_result(shared_dir, tmp_path):
    sequence = shared_dir / 'data' / 'PETS09-S2L1'
    if not sequence.is_dir():
        pytest.skip(f'{sequence} is absent')
    out = tmp_path / 'pets.txt'
    assert cli.main(['track', '--sequence', str(sequence), '--out', str(out),
                     '--no-appearance', '--no-progress']) == 0
    _check_mot_file(out, 795)
    scores = evaluate_mot(sequence / 'gt' / 'gt.txt', out)
    assert scores.mota > 0.5 and scores.num_frames == 795


def test_evaluation_of_ground_truth_is_perfect(tmp_path):
    scene = make_scene(num_objects=5, num_frames=20, seed=9)
    gt = scene.gt_rows
    scores = evaluate_mot(gt, gt[:, :6].copy())
    assert scores.hota == pytest.approx(1.0) and scores.idf1 == pytest.approx(1.0)
    swapped = gt[:, :6].copy()
    swapped[(swapped[:, 0] > 10) & (swapped[:, 1] == 1), 1] = 99
    assert evaluate_mot(gt, swapped).idf1 < 1.0


def test_camera_motion_hook_helps_on_a_shaking_camera():
    from deepsort_ros.core import Tracker, TrackState

    scene = make_scene(num_objects=20, num_frames=60, camera_shake_px=8.0, seed=3)
    assert np.allclose(make_scene(3, 5, seed=3).camera_motion, np.eye(3))
    assert np.abs(scene.camera_motion[1:, :2, 2]).mean() > 3.0
    idf1 = {}
    for use_motion in (False, True):
        tracker = Tracker()
        rows = []
        for f, idx in scene.frame_rows().items():
            d = scene.det_rows[idx]
            out = tracker.update(d[:, 2:6], d[:, 6], scene.det_class_ids[idx], None,
                                 (f - 1) / scene.frame_rate,
                                 scene.camera_motion[f - 1] if use_motion else None)
            rows += [[f, t.track_id, *t.box_tlwh] for t in out
                     if t.state is TrackState.CONFIRMED]
        idf1[use_motion] = evaluate_mot(scene.gt_rows, np.array(rows)).idf1
    assert idf1[True] > idf1[False] + 0.05


def test_a_frame_beyond_the_sequence_is_refused_with_its_line(tmp_path, capsys):
    sequence = tmp_path / 'SEQ'
    (sequence / 'det').mkdir(parents=True)
    (sequence / 'seqinfo.ini').write_text('[Sequence]\nname=SEQ\nframeRate=10\nseqLength=5\n')
    (sequence / 'det' / 'det.txt').write_text('1,-1,10,20,30,60,0.9\n'
                                              '2,-1,11,20,30,60,0.9\n'
                                              '100000000,-1,12,20,30,60,0.9\n')
    out = tmp_path / 'out.txt'
    assert cli.main(['track', '--sequence', str(sequence), '--out', str(out),
                     '--no-progress']) == 2
    error = capsys.readouterr().err
    assert 'det.txt:3: frame 100000000 is outside the sequence' in error
    assert not out.exists() and not list(tmp_path.glob('.out.txt*'))


def test_a_failed_run_leaves_no_results_file(tmp_path, monkeypatch):
    scene = make_scene(num_objects=3, num_frames=10, seed=2)
    folder = scene.write_mot_folder(tmp_path)
    out = tmp_path / 'res' / 'out.txt'
    from deepsort_ros.core import Tracker

    def broken(self, *args, **kwargs):
        raise RuntimeError('the tracker failed')

    monkeypatch.setattr(Tracker, 'update', broken)
    assert cli.main(['track', '--sequence', str(folder), '--out', str(out),
                     '--no-progress']) == 2
    assert list(out.parent.iterdir()) == []


def test_missing_weights_say_what_was_looked_for(tmp_path, capsys):
    scene = make_scene(num_objects=2, num_frames=3, seed=2)
    folder = scene.write_mot_folder(tmp_path)
    assert cli.main(['track', '--sequence', str(folder), '--out', str(tmp_path / 'o.txt'),
                     '--reid-weights', str(tmp_path / 'osnet.pth'), '--no-progress']) == 2
    error = capsys.readouterr().err
    assert 'osnet.pth: no such file' in error and '.pth state dict' in error
