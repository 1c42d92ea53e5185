"""The diagnostics collector: rates, every counter in one report, and its DiagnosticArray."""

from types import SimpleNamespace

from deepsort_ros.core.clock import ClockCounters
from deepsort_ros.core.counters import TrackerCounters
from deepsort_ros.core.labels import ClassRegistry
from deepsort_ros.pipeline.diagnostics import DiagnosticsCollector, Level, RateMeter, STAGES
from deepsort_ros.pipeline.odometry_guard import OdometryCounters
from deepsort_ros.pipeline.pairing import PairingCounters
from deepsort_ros.pipeline.tracking import PipelineStats
from deepsort_ros.ros.convert.diagnostics import diagnostics_to_msg
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus


def _pipeline(outliers=0, jumps=0, **stats):
    return SimpleNamespace(
        stats=PipelineStats(**stats), pairing=PairingCounters(paired=3),
        clock=SimpleNamespace(counters=ClockCounters(restarts=2, outliers=outliers)),
        odometry_guard=SimpleNamespace(counters=OdometryCounters(jumps=jumps)),
        classes=ClassRegistry(),
        tracker=SimpleNamespace(counters=TrackerCounters(frames=5, diverged_tracks=4),
                                tracks=[object()] * 2))


def test_rates_count_arrivals_and_go_stale():
    meter = RateMeter(window=5, stale_s=1.0)
    assert meter.rate_hz(now=0.0) == 0.0
    for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        meter.tick(t)
    assert meter.rate_hz(now=0.5) == 10.0
    assert meter.rate_hz(now=2.0) == 0.0


def test_one_report_holds_every_counter():
    collector = DiagnosticsCollector('osnet', 'cpu', 'auto')
    for t in (0.0, 0.5, 1.0):
        collector.received('image', now=t)
    assert collector.collect(_pipeline(frames=5), now=1.0).level == Level.OK
    report = collector.collect(_pipeline(outliers=1, jumps=1, frames=5, bad_camera_infos=1),
                               now=1.0)
    values = report.as_dict()
    # Refused input of every kind is named and turns the status to WARN.
    assert report.level == Level.WARN and report.message == 'tracking'
    assert values['odometry jumps (refused)'] == '1' and values['class labels'] == '1'
    assert values['image rate (Hz)'] == '2.0' and values['detection rate (Hz)'] == '0.0'
    assert (values['paired'], values['clock restarts'], values['clock outliers dropped']) == \
        ('3', '2', '1')
    assert values['bad camera info'] == '1' and values['tracks'] == '2'
    # The core's own counters, which never reached diagnostics before.
    assert values['tracker frames'] == '5' and values['tracker diverged tracks'] == '4'
    assert {f'latency {s} p50/p99 (ms)' for s in STAGES} <= set(values)
    collector.frames_dropped_overload += 1
    assert collector.collect(_pipeline()).level == Level.WARN


def test_detections_without_their_images_name_the_silent_topic():
    # Issue 26: a mistyped remap tracked every frame on motion alone under an OK status.
    collector = DiagnosticsCollector('osnet', 'cpu', 'odometry')
    collector.topics = {'image': '/camera/imag_raw', 'detections': '/detections',
                        'odom': '/odom', 'camera_info': '/camera/camera_info'}
    for t in (10.0, 10.5, 11.0):
        collector.received('detections', now=t)
    report = collector.collect(_pipeline(frames=3), now=11.2)
    assert report.level == Level.WARN
    assert 'detections arrive on /detections but no image on /camera/imag_raw (none yet)' \
        in report.message
    assert 'no odometry on /odom' in report.message and 'no camera_info' in report.message
    assert report.as_dict()['inputs missing'] == report.message
    for t in (10.0, 10.5, 11.0):
        collector.received('image', now=t)
        collector.received('odom', now=t)
    pipeline = _pipeline(frames=3)
    pipeline.camera = object()
    assert collector.collect(pipeline, now=11.2).level == Level.OK
    # Images that stopped while detections go on are named with how long ago.
    for t in (11.5, 12.0, 12.5):
        collector.received('detections', now=t)
        collector.received('odom', now=t)
    assert 'no image on /camera/imag_raw (none for 2 s)' in \
        collector.collect(pipeline, now=12.6).message
    # No detections any more: nothing is missing. A slow camera is not a silent one.
    assert collector.collect(pipeline, now=15.0).level == Level.OK
    collector.received('image', now=20.0)
    collector.received('odom', now=20.0)
    collector.received('detections', now=20.1)
    assert collector.collect(pipeline, now=22.0).level == Level.OK


def test_the_report_becomes_a_diagnostic_array():
    report = DiagnosticsCollector().collect(_pipeline(bad_images=1))
    msg = diagnostics_to_msg('deepsort_tracker: tracking', report, 3_000_000_001)
    assert isinstance(msg, DiagnosticArray)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (3, 1)
    [status] = msg.status
    assert status.level == DiagnosticStatus.WARN and status.message == 'waiting for detections'
    assert {kv.key: kv.value for kv in status.values} == report.as_dict()
