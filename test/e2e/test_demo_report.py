"""Latency statistics, the contact sheet and the run report of the demo."""

import json
import math

from demo.report import contact_sheet, latencies_ms, LatencyStats, RunReport
from demo.run import guidance_notes
import numpy as np
import pytest


def test_latency_stats_and_pairing_by_stamp():
    start = {1: 0, 2: 1_000_000, 3: 5_000_000}
    end = {1: 2_000_000, 2: 4_000_000, 4: 9_000_000}  # frame 3 never answered, 4 never sent
    assert latencies_ms(start, end) == [2.0, 3.0]
    stats = LatencyStats.of(list(range(1, 101)) + [float('nan')])
    assert stats.count == 100 and stats.p50 == pytest.approx(50.5)
    assert stats.p99 == pytest.approx(99.01) and stats.maximum == 100
    empty = LatencyStats.of([])
    assert empty.count == 0 and math.isnan(empty.p99)


def test_contact_sheet_tiles_frames_in_order():
    frames = [np.full((60, 80, 3), 40 * i, np.uint8) for i in range(1, 5)]
    sheet = contact_sheet(frames, [f'frame {i}' for i in range(4)], columns=3, tile_width=40)
    assert sheet.shape == (2 * 30, 3 * 40, 3)
    # Below the caption bar each tile keeps its frame's grey; the sixth slot stays empty.
    assert sheet[28, 20, 0] == 40 and sheet[28, 60, 0] == 80 and sheet[58, 20, 0] == 160
    assert sheet[58, 100, 0] == 32
    with pytest.raises(ValueError):
        contact_sheet(frames, ['only one label'])


def test_report_writes_markdown_and_strict_json(tmp_path):
    report = RunReport('a run', facts={'input': 'clip'}, frames_published=3, frames_tracked=2)
    report.latency['end to end'] = LatencyStats.of([1.0, 2.0, 3.0])
    report.latency['nothing yet'] = LatencyStats.of([])
    report.scores = {'IDF1': 0.75, 'ID switches': 4}
    report.checks.append('end-to-end p99 1.1x offline: met')
    path = report.write(tmp_path)
    text = path.read_text()
    assert '| end to end | 3 | 2.0 |' in text and '| nothing yet | - | - |' in text
    assert '| 0.750 | 4 |' in text and 'Frames published: 3; frames tracked: 2.' in text
    data = json.loads((tmp_path / 'report.json').read_text(),
                      parse_constant=lambda name: pytest.fail(f'{name} is not JSON'))
    assert data['latency']['nothing yet']['p99'] is None
    assert data['frames_tracked'] == 2


def test_the_demo_outputs_name_the_sequence_frames(tmp_path, monkeypatch):
    # Issue 26: the report said frames 401-700 while tracks.txt and the sheet said 1-300.
    import demo.report
    from demo.run import _write_outputs, Collected, FPS
    from deepsort_ros.recordings.mot import load_mot_rows
    from deepsort_ros.recordings.sequence_to_bag import START_EPOCH_NS
    from deepsort_ros.ros.convert.images import bgr_to_image_msg
    from helpers.message_samples import sample_track_array

    collected, frame_times = Collected(), []
    for frame in (401, 402, 403):
        stamp = START_EPOCH_NS + round((frame - 1) / FPS * 1e9)
        msg = sample_track_array()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp, 1_000_000_000)
        collected.tracks[stamp] = msg
        collected.annotated[stamp] = bgr_to_image_msg(np.zeros((48, 64, 3), np.uint8),
                                                      msg.header)
        frame_times.append((stamp, 0))
    captions = []

    def sheet(tiles, labels, **kwargs):
        captions.extend(labels)
        return tiles[0]

    monkeypatch.setattr(demo.report, 'contact_sheet', sheet)
    _write_outputs(tmp_path, collected, frame_times, RunReport('demo'))
    rows = load_mot_rows(tmp_path / 'tracks.txt')
    assert sorted(set(rows[:, 0].astype(int))) == [401, 402, 403]
    assert captions and all(c.startswith(('frame 401 ', 'frame 402 ', 'frame 403 '))
                            for c in captions), captions


def test_a_run_without_gt_or_weights_says_where_accuracy_is_and_how_to_get_weights():
    bare = ' '.join(guidance_notes(None, {}))
    assert 'docs/performance.md' in bare and 'docs/encoder.md' in bare
    assert '--reid-weights' in bare
    assert guidance_notes('/w/osnet.pth', {'HOTA': 0.5}) == []
