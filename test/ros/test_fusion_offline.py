"""``deepsort-ros rig`` and ``deepsort-ros fuse`` on a tiny synthetic sequence, offline."""

import json

import cv2
from deepsort_ros.cli.main import main
from deepsort_ros.recordings.rig import read_manifest
from deepsort_ros.replay.bag import resolve_topics
import numpy as np

FRAMES = 14


def _sequence(root):
    """Two people walking through the middle of a 768x576 scene (the rig's overlap)."""
    seq = root / 'SYNTH-RIG'
    for folder in ('img1', 'det', 'gt'):
        (seq / folder).mkdir(parents=True)
    det, gt = [], []
    for f in range(1, FRAMES + 1):
        image = np.full((576, 768, 3), 90, np.uint8)
        for person, (x, colour) in enumerate([(300 + 6 * f, (40, 40, 220)),
                                              (460 - 6 * f, (40, 200, 40))]):
            cv2.rectangle(image, (x, 260), (x + 40, 360), colour, -1)
            det.append(f'{f},-1,{x},260,40,100,0.95,-1,-1,-1')
            gt.append(f'{f},{person + 1},{x},260,40,100,1,1,1')
        cv2.imwrite(str(seq / 'img1' / f'{f:06d}.png'), image)
    (seq / 'det' / 'det.txt').write_text('\n'.join(det) + '\n')
    (seq / 'gt' / 'gt.txt').write_text('\n'.join(gt) + '\n')
    (seq / 'seqinfo.ini').write_text(f'[Sequence]\nname=SYNTH-RIG\nimDir=img1\nframeRate=7\n'
                                     f'seqLength={FRAMES}\nimWidth=768\nimHeight=576\n'
                                     'imExt=.png\n')
    return seq


def test_a_rig_is_written_and_fused_offline_with_scores(tmp_path, capsys):
    rig = tmp_path / 'rig'
    assert main(['rig', '--sequence', str(_sequence(tmp_path)), '--out', str(rig),
                 '--no-progress']) == 0
    manifest = read_manifest(rig)
    assert manifest.names == ['left', 'right'] and manifest.frames == FRAMES
    right = manifest.camera('right')
    assert (right.width, right.drop_every, right.latency_s) == (460, 3, 0.2)
    gt = manifest.gt_rows()
    assert set(gt['right'][:, 0].astype(int)) <= {f for f in range(1, FRAMES + 1) if f % 3}
    out = tmp_path / 'fused'
    assert main(['fuse', '--rig', str(rig), '--out', str(out), '--no-appearance',
                 '--no-progress']) == 0
    report = json.loads((out / 'report.json').read_text())
    assert report['updates'] == {'left': FRAMES, 'right': FRAMES - FRAMES // 3}
    assert report['refused'] == {'left': {}, 'right': {}}
    assert 0.0 <= report['scores']['multi_camera_idf1'] <= 1.0
    rows = np.loadtxt(out / 'left.txt', delimiter=',', ndmin=2)
    assert rows.shape[1] == 10 and len(rows) > 0
    assert (out / 'global_tracks' / 'metadata.yaml').is_file()
    printed = capsys.readouterr().out
    assert 'multi-camera IDF1' in printed and 'transitions kept' in printed
    # existing outputs are not replaced unless asked
    assert main(['fuse', '--rig', str(rig), '--out', str(out), '--no-appearance',
                 '--no-progress']) == 2


def test_fuse_takes_any_bags_one_per_camera(tmp_path):
    rig = tmp_path / 'rig'
    assert main(['rig', '--sequence', str(_sequence(tmp_path)), '--out', str(rig),
                 '--no-progress', '--max-frames', '6']) == 0
    out = tmp_path / 'fused'
    assert main(['fuse', '--bag', f'a={rig / "left"}', '--bag', f'b={rig / "right"}',
                 '--out', str(out), '--no-appearance', '--no-progress']) == 0
    assert json.loads((out / 'report.json').read_text())['updates'] == {'a': 6, 'b': 4}
    assert main(['fuse', '--bag', 'nonsense', '--out', str(out)]) == 2


def test_the_rig_topics_are_what_a_tracker_resolves():
    from deepsort_ros.recordings.sequence_to_bag import MessageOptions
    from deepsort_ros.replay.fusion import rig_camera_configs
    from deepsort_ros.settings.tracker import NodeConfig
    from deepsort_ros.sim.camera_rig import overlap_rig

    options = MessageOptions.for_view(overlap_rig()['left'])
    available = {options.topics.image: 'sensor_msgs/msg/Image',
                 options.topics.detections: 'vision_msgs/msg/Detection2DArray',
                 options.topics.camera_info: 'sensor_msgs/msg/CameraInfo',
                 options.topics.odometry: 'nav_msgs/msg/Odometry',
                 '/right/odom': 'nav_msgs/msg/Odometry'}

    class Manifest:
        cameras = [type('Entry', (), {
            'name': 'left', 'image_transport': 'raw', 'base_to_camera_xyz': [0.0, 0.0, 0.0],
            'base_to_camera_rpy': [0.1, 0.2, 0.3],
            'topics': {'image': options.topics.image, 'camera_info': options.topics.camera_info,
                       'detections': options.topics.detections,
                       'odometry': options.topics.odometry}})]

    config = rig_camera_configs(Manifest, NodeConfig())['left']
    topics, notes = resolve_topics(available, config)
    assert topics['odom'] == '/left/odom' and not notes
    assert config.base_to_camera_rpy == [0.1, 0.2, 0.3]
