"""``deepsort-ros track --bag``: the node's pipeline offline on bags, same results as the core."""

import shutil

import cv2
from deepsort_ros.cli import main as cli
from deepsort_ros.recordings.bag_reader import read_messages
from deepsort_ros.recordings.mot import load_mot_rows
from deepsort_ros.sim.synthetic import make_scene
from helpers.node_harness import scene_frame
from helpers.paths import PARAMS
import numpy as np
import pytest

N_FRAMES = 30


@pytest.fixture(scope='module')
def sequence(tmp_path_factory):
    """Write a synthetic MOT folder with drawn frames: people-sized blocks on texture."""
    scene = make_scene(num_objects=4, num_frames=N_FRAMES, width=320, height=240, seed=5,
                       false_positive_rate=0.0)
    folder = scene.write_mot_folder(tmp_path_factory.mktemp('seq') / 'SYNTH')
    (folder / 'img1').mkdir()
    for frame, rows in scene.frame_rows().items():
        image = scene_frame(320, 240, scene.det_rows[rows, 2:6], seed=frame)
        cv2.imwrite(str(folder / 'img1' / f'{frame:06d}.png'), image)
    return folder


@pytest.fixture(scope='module')
def bags(sequence, tmp_path_factory):
    root = tmp_path_factory.mktemp('bags')
    out = {}
    for name, extra in (('raw', []), ('compressed', ['--compressed'])):
        out[name] = root / name
        assert cli.main(['bag-from-sequence', '--sequence', str(sequence), '--out',
                         str(out[name])] + extra) == 0
    return out


def _track_bag(bag, out, *extra):
    return cli.main(['track', '--bag', str(bag), '--params-file', str(PARAMS), '--out',
                     str(out), '--no-appearance', '--no-progress'] + list(extra))


def test_bag_results_equal_the_core_runner_on_the_same_detections(
        sequence, bags, tmp_path, capsys):
    core_out = tmp_path / 'core.txt'
    assert cli.main(['track', '--sequence', str(sequence), '--out', str(core_out),
                     '--no-appearance', '--no-progress']) == 0
    bag_out = tmp_path / 'bag.txt'
    assert _track_bag(bags['raw'], bag_out, '--out-bag', str(tmp_path / 'tracks')) == 0
    printed = capsys.readouterr().out
    # The default parameters name relative topics the bag does not have: the only topic of
    # each type is taken, and the summary says so.
    assert 'using /camera/image_raw' in printed and 'tracked 30 frames' in printed
    core, bag = load_mot_rows(core_out), load_mot_rows(bag_out)
    assert len(core) > 50
    assert bag.shape == core.shape
    assert np.array_equal(bag[:, :2], core[:, :2]), 'frames and identities differ'
    assert np.allclose(bag[:, 2:6], core[:, 2:6], atol=1e-3), 'boxes differ'
    arrays = [m for t, _, _, m in read_messages(tmp_path / 'tracks')
              if t == '/deepsort_tracker/tracks']
    assert len(arrays) == N_FRAMES
    stamps = [a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in arrays]
    assert stamps == sorted(stamps) and len(set(stamps)) == N_FRAMES


def test_compressed_bag_tracks_like_the_raw_one(bags, tmp_path):
    raw, compressed = tmp_path / 'raw.txt', tmp_path / 'compressed.txt'
    assert _track_bag(bags['raw'], raw) == 0
    assert _track_bag(bags['compressed'], compressed) == 0
    # Motion-only tracking ignores pixels: jpeg must change nothing.
    assert np.array_equal(load_mot_rows(raw), load_mot_rows(compressed))


def test_outputs_are_never_silently_overwritten(bags, tmp_path, capsys):
    out = tmp_path / 'result.txt'
    out.write_text('keep me\n')
    assert _track_bag(bags['raw'], out) == 2
    assert 'exists already' in capsys.readouterr().err
    assert out.read_text() == 'keep me\n'
    assert _track_bag(bags['raw'], out, '--overwrite') == 0
    assert len(load_mot_rows(out)) > 0


def test_truncated_bag_is_tracked_as_far_as_it_goes(bags, tmp_path, capsys):
    damaged = tmp_path / 'damaged'
    damaged.mkdir()
    [mcap] = list(bags['raw'].glob('*.mcap'))
    data = mcap.read_bytes()
    (damaged / mcap.name).write_bytes(data[:len(data) // 2])
    out = tmp_path / 'half.txt'
    assert _track_bag(damaged, out) == 0
    printed = capsys.readouterr().out
    assert 'truncated' in printed
    frames = load_mot_rows(out)[:, 0]
    assert 5 < frames.max() < N_FRAMES


def test_bag_without_detections_says_what_is_missing(sequence, tmp_path, capsys):
    images_only = tmp_path / 'images'
    shutil.copytree(sequence, tmp_path / 'nodet')
    (tmp_path / 'nodet' / 'det' / 'det.txt').unlink()
    assert cli.main(['bag-from-sequence', '--sequence', str(tmp_path / 'nodet'), '--out',
                     str(images_only)]) == 0
    assert _track_bag(images_only, tmp_path / 'none.txt') == 1
    captured = capsys.readouterr()
    assert 'no vision_msgs/msg/Detection2DArray topic' in captured.out
    assert 'no frame was tracked' in captured.err
