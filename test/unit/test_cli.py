"""The command line: one entry point whose parser and offline runs import only what they use."""

import argparse
import subprocess
import sys

from deepsort_ros.cli import bag_from_sequence
from deepsort_ros.cli.main import build_parser, SUBCOMMANDS
from deepsort_ros.recordings.sequence_to_bag import BagTopics, CAMERA_FRAME
from helpers.paths import REPO
from helpers.scenes import identity_features
import numpy as np
import pytest

HEAVY = ('rclpy', 'torch', 'cv2', 'rosbags', 'onnxruntime')

CHECK = """
import sys
from deepsort_ros.cli.main import main
{body}
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print('heavy:' + ','.join(heavy))
"""


def _heavy_modules_after(body: str) -> str:
    result = subprocess.run([sys.executable, '-c', CHECK.format(body=body, heavy=HEAVY)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split('heavy:', 1)[1]


def test_every_sub_command_has_a_parser():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == set(SUBCOMMANDS)


def _options_of_every_sub_command():
    parser = build_parser()
    for name, sub in parser._subparsers._group_actions[0].choices.items():
        required = {action for group in sub._mutually_exclusive_groups if group.required
                    for action in group._group_actions}
        formatter = sub._get_formatter()
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                yield name, action, action.required or action in required, formatter


def test_every_option_of_every_sub_command_has_help_that_shows_its_default():
    # Issue 26: several options had no help, no option showed its default, and train-reid's
    # batch options were described as "P" and "K".
    missing, no_default = [], []
    for name, action, required, formatter in _options_of_every_sub_command():
        flag = f'{name} {(action.option_strings or [action.dest])[0]}'
        if not (action.help or '').strip():
            missing.append(flag)
        elif action.option_strings and not required and \
                'default' not in formatter._expand_help(action):
            no_default.append(flag)
    assert missing == [] and no_default == []


def test_train_reid_describes_its_batch_in_words():
    words = {action.dest: action.help for name, action, _, _ in _options_of_every_sub_command()
             if name == 'train-reid'}
    assert len(words['identities_per_batch']) > 20 and len(words['crops_per_identity']) > 20
    assert 'people' in words['identities_per_batch'] and 'person' in words['crops_per_identity']


def test_the_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(['play', '--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert '(default: 10.0)' in text and 'default 10' not in text, 'said once, by argparse'


def test_building_the_parser_imports_nothing_heavy():
    assert _heavy_modules_after('from deepsort_ros.cli.main import build_parser\n'
                                'build_parser()') == ''


def test_tracking_a_sequence_on_features_loads_no_ros_torch_or_opencv(tmp_path):
    sequence = tmp_path / 'SEQ'
    (sequence / 'det').mkdir(parents=True)
    (sequence / 'seqinfo.ini').write_text('[Sequence]\nname=SEQ\nframeRate=10\nseqLength=3\n')
    (sequence / 'det' / 'det.txt').write_text(
        ''.join(f'{f},-1,{10 + f},20,30,60,0.9,-1,-1,-1\n' for f in (1, 2, 3)))
    np.save(tmp_path / 'f.npy', identity_features(3, dim=8))
    body = (f"rc = main(['track', '--sequence', {str(sequence)!r}, '--out', "
            f"{str(tmp_path / 'out.txt')!r}, '--features', {str(tmp_path / 'f.npy')!r}, "
            "'--no-progress'])\nassert rc == 0, rc")
    assert _heavy_modules_after(body) == ''
    assert (tmp_path / 'out.txt').read_text().count('\n') >= 1


def test_the_light_parser_repeats_the_bag_defaults_exactly():
    topics = BagTopics()
    assert (bag_from_sequence.IMAGE_TOPIC, bag_from_sequence.CAMERA_INFO_TOPIC,
            bag_from_sequence.DETECTIONS_TOPIC, bag_from_sequence.ODOMETRY_TOPIC) == (
        topics.image, topics.camera_info, topics.detections, topics.odometry)
    assert bag_from_sequence.CAMERA_FRAME == CAMERA_FRAME


def test_detect_makes_a_sequence_that_track_reads(tmp_path, capsys):
    cv2 = __import__('cv2')
    from deepsort_ros.cli.main import main

    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 7.0, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(6):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()
    out = tmp_path / 'clip'
    assert main(['detect', '--video', str(video), '--out', str(out), '--start', '2',
                 '--no-progress']) == 0
    assert sorted(p.name for p in (out / 'img1').iterdir()) == [
        f'{i:06d}.jpg' for i in range(1, 6)]
    assert 'seqLength=5' in (out / 'seqinfo.ini').read_text()
    assert (out / 'det' / 'det.txt').is_file()
    assert main(['detect', '--video', str(video), '--out', str(out)]) == 2
    assert 'exists already' in capsys.readouterr().err
    assert main(['track', '--sequence', str(out), '--out', str(tmp_path / 't.txt'),
                 '--no-appearance', '--no-progress']) == 0
    assert main(['detect', '--video', str(tmp_path / 'none.avi'), '--out',
                 str(tmp_path / 'x')]) == 2
    assert not (tmp_path / 'x').exists() and not list(tmp_path.glob('.x.*'))


def test_detect_takes_the_frame_rate_a_seqinfo_beside_the_video_records(tmp_path):
    # Issue 26: vtest.avi's header says 10 fps; PETS09-S2L1 was recorded at 7 (its
    # seqinfo.ini), and the demo plays it at 7.
    cv2 = __import__('cv2')
    from deepsort_ros.cli.main import main

    video = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (160, 120))
    for _ in range(2):
        writer.write(np.zeros((120, 160, 3), np.uint8))
    writer.release()
    (tmp_path / 'seqinfo.ini').write_text('[Sequence]\nname=CLIP\nimDir=clip.avi\nframeRate=7\n')
    assert main(['detect', '--video', str(video), '--out', str(tmp_path / 'a'),
                 '--no-progress']) == 0
    assert 'frameRate=7\n' in (tmp_path / 'a' / 'seqinfo.ini').read_text()
    assert main(['detect', '--video', str(video), '--out', str(tmp_path / 'b'), '--fps', '12',
                 '--no-progress']) == 0
    assert 'frameRate=12\n' in (tmp_path / 'b' / 'seqinfo.ini').read_text()
    (tmp_path / 'seqinfo.ini').write_text('[Sequence]\nimDir=other.avi\nframeRate=7\n')
    assert main(['detect', '--video', str(video), '--out', str(tmp_path / 'c'),
                 '--no-progress']) == 0
    assert 'frameRate=10\n' in (tmp_path / 'c' / 'seqinfo.ini').read_text(), 'not its own'


def test_the_demo_and_detect_agree_on_pets09s_frame_rate(shared_dir, tmp_path):
    from deepsort_ros.cli.main import main
    from demo.fetch import SEQINFO
    from demo.run import FPS

    video = shared_dir / 'data' / 'PETS09-S2L1' / 'vtest.avi'
    assert main(['detect', '--video', str(video), '--out', str(tmp_path / 'p'), '--frames', '1',
                 '--no-progress']) == 0
    assert f'frameRate={FPS:g}\n' in (tmp_path / 'p' / 'seqinfo.ini').read_text()
    assert SEQINFO == (shared_dir / 'data' / 'PETS09-S2L1' / 'seqinfo.ini').read_text()
