"""
The hostile-input campaign against the running node (issue 14), over real DDS.

One node process (with its Re-ID encoder, as users run it) takes the cases in turn on this
session's private domain; a second and third start for what needs a fresh node (simulated
time, start-up refusals). Each case asserts what could fail: the next good frame is answered,
its counter moved in /diagnostics, its log line appeared once, and where memory was at stake,
the node's resident memory (VmRSS of /proc/<pid>/status) stayed under a bound. The figures
of each case are printed at the end (``pytest -s``).
"""

import threading
import time
from typing import Callable, Dict, List, Optional
import uuid

from deepsort_ros.ros.convert.detections import detections_to_msg
from deepsort_ros.ros.convert.images import bgr_to_image_msg
from deepsort_ros.ros.convert.stamps import make_header, stamp_to_ns
from deepsort_ros_msgs.srv import SelectTarget
from geometry_msgs.msg import PointStamped
from helpers.node_harness import Harness, scene_frame, start_node
from nav_msgs.msg import Odometry
import numpy as np
import pytest
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image

pytestmark = pytest.mark.dds

WIDTH, HEIGHT = 320, 240
FRAME_NS = 100_000_000
START_NS = 1_000_000_000_000
HOUR_NS = 3600 * 1_000_000_000
WAIT_S = 30.0
FRAME_ID = 'camera_optical_frame'
LABEL_BYTES = 100_000
# Memory bounds, MB, against the figures measured here (2-core Xeon, default MobileNetV2
# encoder on onnxruntime): the 10k-detection frame costs ~330 MB once (300 tracks' appearance
# galleries in the core and the encoder's arena for encode_batch_size crops), a second costs
# nothing; the 8000x8000 image ~80 MB once (Fast DDS keeps a buffer for its largest sample).
# Before the campaign's fixes the first passed 3 GB and the second kept 263 MB.
TEN_K_BOUND_MB = 450.0
TEN_K_AGAIN_BOUND_MB = 40.0
BIG_IMAGE_BOUND_MB = 150.0
TABLE_BOUND_MB = 45.0  # distinct 100 kB labels, unknown 100 kB class queries: first round
# Each later round of the same: a table keeping the 100 kB strings adds ~60 MB a round; the
# allocator alone moved -4.6 to +15.6 MB a round over six rounds (2026-12-06, AMD EPYC).
TABLE_ROUND_BOUND_MB = 15.0
# The whole campaign against the node's memory after its warm-up (measured: ~490 MB more).
CAMPAIGN_BOUND_MB = TEN_K_BOUND_MB + BIG_IMAGE_BOUND_MB + TABLE_BOUND_MB

FIGURES: Dict[str, Dict[str, object]] = {}


class Output:
    """Every line the node prints, read as it comes, with the time it came."""

    def __init__(self, process) -> None:
        self.lines: List[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process) -> None:
        for line in process.stdout:
            self.lines.append(line)

    def mark(self) -> int:
        return len(self.lines)

    def count(self, text: str, since: int = 0) -> int:
        return sum(text in line for line in self.lines[since:])

    def text(self) -> str:
        return ''.join(self.lines)


def own_diagnostics(harness: Harness, start: int = 0) -> List[Dict[str, str]]:
    """Return the values of the diagnostics of the harness's own node (by its namespace)."""
    prefix = harness.namespace.lstrip('/') + '/'
    return [{kv.key: kv.value for kv in status.values}
            for array in harness.received['diagnostics'][start:]
            for status in array.status if status.name.startswith(prefix)]


def rss_mb(pid: int) -> float:
    """Return a process's resident memory (VmRSS), MB."""
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'no VmRSS for {pid}')


def stop(process, output: Optional[Output] = None) -> None:
    if process.poll() is None:
        process.send_signal(2)  # SIGINT, as Ctrl-C
        try:
            process.wait(timeout=15)
        except Exception:  # noqa: B902 - a node that does not stop is killed, then reported
            process.kill()
            process.wait(timeout=15)
    if output is not None:
        output._thread.join(timeout=5)


class Campaign:
    """The node under attack, a harness to talk to it and the clock of the good frames."""

    def __init__(self, domain_id: int) -> None:
        self.namespace = f'/h{uuid.uuid4().hex[:8]}'
        self.node = start_node(self.namespace, ['diagnostics_period:=0.2'])
        self.output = Output(self.node)
        self.harness = Harness(domain_id, self.namespace)
        self.frame = 0
        self.image = scene_frame(WIDTH, HEIGHT, self.boxes())
        self.client = self.harness.node.create_client(
            SelectTarget, f'{self.namespace}/deepsort_tracker/select_target')
        self.point_pub = self.harness.node.create_publisher(
            PointStamped, f'{self.namespace}/deepsort_tracker/select_point', 1)

    @staticmethod
    def boxes() -> np.ndarray:
        return np.array([[20.0, 40.0, 30.0, 70.0], [140.0, 60.0, 30.0, 70.0],
                         [260.0, 120.0, 30.0, 70.0]])

    def next_stamp(self) -> int:
        self.frame += 1
        return START_NS + self.frame * FRAME_NS

    def publish(self, stamp_ns: int, boxes: Optional[np.ndarray] = None,
                image: Optional[Image] = None, labels=None, scores=None,
                with_image: bool = True) -> None:
        boxes = self.boxes() if boxes is None else boxes
        header = make_header(stamp_ns, FRAME_ID)
        if with_image:
            if image is None:
                image = bgr_to_image_msg(self.image, header)
            image.header = header
            self.harness.image_pub.publish(image)
        self.harness.detections_pub.publish(detections_to_msg(
            header, boxes, [0.9] * len(boxes) if scores is None else scores,
            'person' if labels is None else labels))

    def answered(self, stamp_ns: int, timeout: float = WAIT_S) -> Optional[object]:
        """Wait for the TrackArray of this stamp; return it (None when it never came)."""
        def found():
            return next((a for a in reversed(self.harness.received['tracks'])
                         if stamp_to_ns(a.header.stamp) == stamp_ns), None)
        self.harness.spin_until(lambda: found() is not None, timeout)
        return found()

    def good_frame(self, **kwargs) -> object:
        stamp = self.next_stamp()
        self.publish(stamp, **kwargs)
        array = self.answered(stamp)
        assert array is not None, f'no TrackArray for the good frame at {stamp}'
        return array

    def diagnostics(self, ready: Callable[[Dict[str, str]], bool] = lambda v: True,
                    timeout: float = 10.0) -> Dict[str, str]:
        """Return the values of a /diagnostics message published from now on that is ready."""
        start = len(self.harness.received['diagnostics'])

        def fresh():
            return next((v for v in own_diagnostics(self.harness, start) if ready(v)), None)
        self.harness.spin_until(lambda: fresh() is not None, timeout)
        values = fresh()
        assert values is not None, 'no /diagnostics came'
        return values

    def counter(self, key: str) -> int:
        return int(self.diagnostics()[key])

    def wait_counter(self, key: str, at_least: int) -> int:
        values = self.diagnostics(lambda v: int(v[key]) >= at_least)
        return int(values[key])

    def rss(self) -> float:
        return rss_mb(self.node.pid)

    def confirmed_ids(self, array) -> List[int]:
        return sorted(t.id for t in array.tracks if t.state == t.STATE_CONFIRMED)

    def close(self) -> None:
        self.harness.close()
        stop(self.node, self.output)


@pytest.fixture(scope='module')
def campaign(ros_domain_id):
    campaign = Campaign(ros_domain_id)
    assert campaign.harness.wait_for_tracker(60.0), 'the node never subscribed'
    for _ in range(10):
        campaign.good_frame()
    campaign.warm_rss = campaign.rss()
    yield campaign
    campaign.close()
    assert campaign.node.returncode == 0, campaign.output.text()[-3000:]
    print('\nhostile-input campaign:')
    for case, figures in FIGURES.items():
        print(f'  {case}: ' + ', '.join(f'{k} {v}' for k, v in figures.items()))


def _record(case: str, **figures) -> None:
    FIGURES[case] = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in figures.items()}


def _many_boxes(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, WIDTH - 20, count), rng.uniform(0, HEIGHT - 40, count),
                            np.full(count, 20.0), np.full(count, 40.0)])


# ---- memory: the work and the tables one message can ask for ---------------------------------


def test_ten_thousand_detections_in_one_array(campaign):
    ids = campaign.confirmed_ids(campaign.good_frame())
    before = campaign.rss()
    dropped = campaign.counter('detections over max_detections (dropped)')
    mark = campaign.output.mark()
    rss_after = []
    times = []
    first = time.monotonic()
    for seed in (1, 2):
        boxes = np.vstack([campaign.boxes(), _many_boxes(10_000, seed)])
        scores = [0.99] * 3 + [0.6] * 10_000
        stamp = campaign.next_stamp()
        start = time.monotonic()
        campaign.publish(stamp, boxes, scores=scores)
        array = campaign.answered(stamp, 60.0)
        times.append(time.monotonic() - start)
        assert array is not None, 'the 10k-detection frame was not answered'
        assert len(array.tracks) <= 310, 'max_detections bounds the tracks it starts'
        after_good = campaign.good_frame()
        assert campaign.confirmed_ids(after_good) == ids, 'the people keep their ids'
        rss_after.append(campaign.rss())
    expected = 2 * (10_003 - 300)  # the lowest scores: the people (0.99) stay
    moved = campaign.wait_counter('detections over max_detections (dropped)', dropped + expected)
    assert moved - dropped == expected
    # One line per LOG_THROTTLE_S (5 s) at most: on a slow machine the two frames span more.
    lines = campaign.output.count('beyond max_detections', mark)
    assert 1 <= lines <= 1 + int((time.monotonic() - first) // 5.0), ('log lines', lines)
    assert rss_after[0] - before < TEN_K_BOUND_MB, (before, rss_after)
    assert rss_after[1] - rss_after[0] < TEN_K_AGAIN_BOUND_MB, 'the second costs nothing more'
    _record('10,000 detections x2', rss_before_mb=before, rss_after_first_mb=rss_after[0],
            rss_after_second_mb=rss_after[1], answered_s=max(times),
            dropped=moved - dropped)


def test_an_8000x8000_image(campaign):
    before = campaign.rss()
    refused = campaign.counter('images too large (refused)')
    mark = campaign.output.mark()
    stamps, rss_after = [], []
    for _ in range(2):
        huge = Image(height=8000, width=8000, encoding='mono8', step=8000)
        huge.data = bytes(8000 * 8000)
        stamp = campaign.next_stamp()
        start = time.monotonic()
        campaign.publish(stamp, image=huge)
        del huge
        array = campaign.answered(stamp)
        stamps.append(time.monotonic() - start)
        assert array is not None, 'its detections are tracked on motion alone, at once'
        campaign.good_frame()
        rss_after.append(campaign.rss())
    assert campaign.wait_counter('images too large (refused)', refused + 2) == refused + 2
    assert campaign.output.count('larger than max_image_pixels', mark) == 1
    assert max(rss_after) - before < BIG_IMAGE_BOUND_MB, (before, rss_after)
    assert rss_after[1] - rss_after[0] < 10.0, 'nothing kept per image'
    _record('8000x8000 mono8 image x2', rss_before_mb=before, rss_after_mb=max(rss_after),
            answered_s=max(stamps))


def test_distinct_100_kb_class_labels(campaign):
    campaign.good_frame()
    cut = campaign.counter('class labels cut (max_label_length)')
    rss = [campaign.rss()]
    for round_ in range(3):  # three times 600 detections, each with its own 100 kB label
        for chunk in range(6):
            labels = ['person'] * 3 + [f'{round_}-{chunk}-{i}-' + 'x' * LABEL_BYTES
                                       for i in range(100)]
            campaign.good_frame(boxes=np.vstack([campaign.boxes(), _many_boxes(100, chunk)]),
                                labels=labels, scores=[0.9] * 3 + [0.3] * 100)
        for _ in range(5):
            campaign.good_frame()
        rss.append(campaign.rss())
    values = campaign.diagnostics(lambda v: int(v['class labels cut (max_label_length)'])
                                  >= cut + 1800)
    assert int(values['class labels cut (max_label_length)']) - cut == 1800
    assert int(values['class labels']) <= 1900, 'every label kept once, cut to 128 characters'
    # The first round may leave freed heap the allocator keeps for reuse (how much depends on
    # what ran before); the next two are judged together, as one round's allocator noise is
    # as large as a small leak's round.
    assert rss[1] - rss[0] < TABLE_BOUND_MB, rss
    assert rss[3] - rss[1] < 2 * TABLE_ROUND_BOUND_MB, rss
    _record('3 x 600 distinct 100 kB labels', rss_before_mb=rss[0], rss_after_first_mb=rss[1],
            rss_after_third_mb=rss[3], labels_kept=int(values['class labels']))


def test_unknown_100_kb_class_queries(campaign):
    assert campaign.harness.spin_until(campaign.client.service_is_ready, WAIT_S)
    campaign.good_frame()
    before = campaign.rss()
    refused = campaign.counter('target requests refused')
    labels = campaign.counter('class labels')
    start = time.monotonic()
    answers, rss = [], [before]
    for batch in range(125):  # 8 at a time: a service queues 10 requests (its QoS depth)
        futures = [campaign.client.call_async(SelectTarget.Request(
            mode=SelectTarget.Request.BY_CLASS, class_id=f'{batch}-{i}-' + 'q' * LABEL_BYTES))
            for i in range(8)]
        assert campaign.harness.spin_until(lambda: all(f.done() for f in futures), WAIT_S)
        answers += [f.result() for f in futures]
        if batch % 62 == 61:
            rss.append(campaign.rss())
    elapsed = time.monotonic() - start
    assert len(answers) == 1000 and not any(a.success for a in answers)
    assert all('no detection of class' in a.message for a in answers), answers[0].message
    campaign.good_frame()
    after = campaign.rss()
    values = campaign.diagnostics(lambda v: int(v['target requests refused']) >= refused + 1000)
    assert int(values['class labels']) == labels, 'a query never adds a label'
    assert rss[2] - rss[1] < TABLE_ROUND_BOUND_MB and after - before < TABLE_BOUND_MB, rss
    _record('1000 unknown 100 kB class queries', rss_before_mb=before, rss_after_mb=after,
            seconds=elapsed)


# ---- silent acceptance --------------------------------------------------------------------


def test_camera_info_with_a_negative_focal_length_or_nan(campaign):
    good = CameraInfo(width=WIDTH, height=HEIGHT)
    good.k = [300.0, 0.0, WIDTH / 2, 0.0, 300.0, HEIGHT / 2, 0.0, 0.0, 1.0]
    campaign.harness.camera_info_pub.publish(good)
    campaign.good_frame()
    bad_before = campaign.counter('bad camera info')
    mark = campaign.output.mark()
    for k0 in (-300.0, float('nan')):
        bad = CameraInfo(width=WIDTH, height=HEIGHT)
        bad.k = [k0] + list(good.k[1:])
        campaign.harness.camera_info_pub.publish(bad)
    campaign.good_frame()
    assert campaign.wait_counter('bad camera info', bad_before + 2) == bad_before + 2
    assert campaign.output.count('the last good camera model is kept', mark) == 1


def _odometry(stamp_ns: int, x: float, frame_id: str = 'odom') -> Odometry:
    msg = Odometry(header=make_header(stamp_ns, frame_id), child_frame_id='base_link')
    msg.pose.pose.position.x = x
    msg.pose.pose.orientation.w = 1.0
    return msg


def test_odometry_jumping_100_m_or_in_another_frame(campaign):
    def frame_with_odometry(x, frame_id='odom'):
        stamp = campaign.next_stamp()
        campaign.harness.odom_pub.publish(_odometry(stamp, x, frame_id))
        campaign.publish(stamp)
        array = campaign.answered(stamp)
        assert array is not None
        return array

    for _ in range(3):
        ids = campaign.confirmed_ids(frame_with_odometry(0.0))
    jumps = campaign.counter('odometry jumps (refused)')
    other = campaign.counter('odometry in another frame (refused)')
    mark = campaign.output.mark()
    frame_with_odometry(100.0)
    frame_with_odometry(0.0, 'map')
    arrays = [frame_with_odometry(0.0) for _ in range(3)]
    assert all(campaign.confirmed_ids(a) == ids for a in arrays), 'no track re-numbered'
    values = campaign.diagnostics(lambda v: int(v['odometry jumps (refused)']) > jumps and
                                  int(v['odometry in another frame (refused)']) > other)
    assert int(values['odometry jumps (refused)']) == jumps + 1
    assert int(values['odometry in another frame (refused)']) == other + 1
    assert int(values['odometry resets']) == 0
    assert campaign.output.count('odometry jumped', mark) == 1
    assert campaign.output.count("frame_id 'map' is not 'odom'", mark) == 1


def test_one_detection_array_an_hour_ahead(campaign):
    ids = campaign.confirmed_ids(campaign.good_frame())
    values = campaign.diagnostics()
    outliers, restarts = int(values['clock outliers dropped']), int(values['clock restarts'])
    mark = campaign.output.mark()
    campaign.publish(START_NS + (campaign.frame + 1) * FRAME_NS + HOUR_NS, with_image=False)
    arrays = [campaign.good_frame() for _ in range(3)]
    assert [campaign.confirmed_ids(a) for a in arrays] == [ids] * 3, 'ids 1, 2, 3 stay'
    values = campaign.diagnostics(lambda v: int(v['clock outliers dropped']) > outliers)
    assert int(values['clock outliers dropped']) == outliers + 1
    assert int(values['clock restarts']) == restarts
    assert campaign.output.count('off the clock dropped', mark) == 1
    _record('detection array an hour ahead', ids_before=ids,
            ids_after=campaign.confirmed_ids(arrays[-1]))


# ---- requests ----------------------------------------------------------------------------


def test_select_target_with_a_point_outside_the_image(campaign):
    assert campaign.harness.spin_until(campaign.client.service_is_ready, WAIT_S)
    campaign.good_frame()
    refused = campaign.counter('target requests refused')
    future = campaign.client.call_async(SelectTarget.Request(
        mode=SelectTarget.Request.BY_POINT, x=5000.0, y=10.0))
    assert campaign.harness.spin_until(future.done, WAIT_S)
    answer = future.result()
    assert not answer.success and 'outside the last image (320x240' in answer.message
    campaign.point_pub.publish(PointStamped())  # (0, 0) is inside: a real choice
    point = PointStamped()
    point.point.x = -3.0
    campaign.point_pub.publish(point)
    assert campaign.wait_counter('target requests refused', refused + 2) == refused + 2
    x, y, w, h = campaign.boxes()[1]
    future = campaign.client.call_async(SelectTarget.Request(
        mode=SelectTarget.Request.BY_POINT, x=x + w / 2, y=y + h / 2))
    assert campaign.harness.spin_until(future.done, WAIT_S) and future.result().success
    future = campaign.client.call_async(SelectTarget.Request(mode=SelectTarget.Request.CLEAR))
    assert campaign.harness.spin_until(future.done, WAIT_S)


def test_an_invalid_run_time_parameter_is_refused_with_its_reason(campaign):
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    client = campaign.harness.node.create_client(
        SetParameters, f'{campaign.namespace}/deepsort_tracker/set_parameters')
    assert campaign.harness.spin_until(client.service_is_ready, WAIT_S)
    mark = campaign.output.mark()
    future = client.call_async(SetParameters.Request(parameters=[Parameter(
        name='min_score', value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                               double_value=float('nan')))]))
    assert campaign.harness.spin_until(future.done, WAIT_S)
    [result] = future.result().results
    assert not result.successful and 'min_score' in result.reason  # rclpy's range check
    assert campaign.harness.spin_until(lambda: campaign.output.count(
        'parameter change refused: min_score must be finite', mark) == 1, 10.0)
    campaign.good_frame()


# ---- logs ----------------------------------------------------------------------------------


def test_a_thousand_images_with_distinct_bad_encodings_log_one_line(campaign):
    campaign.good_frame()
    bad = campaign.counter('bad images')
    mark = campaign.output.mark()
    small = np.zeros((16, 16, 3), np.uint8)
    start = time.monotonic()
    for i in range(1000):
        stamp = campaign.next_stamp()
        image = bgr_to_image_msg(small)
        image.encoding = f'bogus{i}'
        campaign.publish(stamp, image=image)
        if i % 20 == 19:
            campaign.harness.spin_until(lambda: False, 0.02)  # a flood, with breaths
    elapsed = time.monotonic() - start
    campaign.good_frame()
    # Most of the flood is dropped for overload (max_queued_frames) and how much depends on
    # the machine's speed (CI counted fewer than 20): what is tracked counts, one at least.
    moved = campaign.wait_counter('bad images', bad + 1) - bad
    lines = campaign.output.count("encoding 'bogus", mark)  # ours or cv_bridge's words
    allowed = 1 + int(elapsed // 5.0)  # one line per LOG_THROTTLE_S (5 s) at most
    assert 1 <= lines <= allowed, (lines, elapsed)
    assert campaign.node.poll() is None
    _record('1000 distinct bad encodings', log_lines=lines, counted=moved, seconds=elapsed)


def test_the_node_stays_within_its_budget_after_the_campaign(campaign):
    arrays = [campaign.good_frame() for _ in range(20)]
    assert len(campaign.confirmed_ids(arrays[-1])) == 3
    values = campaign.diagnostics()
    rss = campaign.rss()
    assert rss - campaign.warm_rss < CAMPAIGN_BOUND_MB, (campaign.warm_rss, rss)
    _record('end of campaign', rss_warm_mb=campaign.warm_rss, rss_mb=rss,
            frames=int(values['frames tracked']),
            dropped_overload=int(values['frames dropped (overload)']))


# ---- fresh nodes: simulated time and start-up ------------------------------------------


def test_diagnostics_come_with_use_sim_time_before_and_after_clock_jumps_back(ros_domain_id):
    namespace = f'/s{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['use_appearance:=false', 'diagnostics_period:=0.2',
                                  'use_sim_time:=true'])
    output = Output(node)
    harness = Harness(ros_domain_id, namespace)
    clock_pub = harness.node.create_publisher(Clock, '/clock', 10)
    try:
        # Before any /clock: a ROS timer would wait for it forever.
        def own_arrays(start=0):
            prefix = namespace.lstrip('/') + '/'
            return [a for a in harness.received['diagnostics'][start:]
                    if any(s.name.startswith(prefix) for s in a.status)]

        assert harness.spin_until(lambda: len(own_arrays()) >= 3, WAIT_S), \
            'no diagnostics before /clock'
        sim = [1000.0]

        def diagnostics_after(count):
            start = len(harness.received['diagnostics'])
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and len(own_arrays(start)) < count:
                clock_pub.publish(Clock(clock=make_header(int(sim[0] * 1e9), '').stamp))
                sim[0] += 0.1
                harness.spin_until(lambda: False, 0.1)
            return own_arrays(start)

        running = diagnostics_after(3)
        assert len(running) >= 3, 'no diagnostics while /clock runs'
        assert max(a.header.stamp.sec for a in running) >= 1000, 'stamped with /clock time'
        sim[0] = 10.0  # /clock jumps back
        after = diagnostics_after(3)
        assert len(after) >= 3, 'no diagnostics after /clock jumped back'
        assert min(a.header.stamp.sec for a in after) < 1000, 'stamped with the node clock'
    finally:
        harness.close()
        stop(node, output)


@pytest.mark.parametrize('override,expected,activates', [
    ('max_age:=-1', "unknown parameter 'max_age'; did you mean 'tracker.max_age'?", True),
    ('image_topic:=bad topic!', "image_topic 'bad topic!' is not a valid topic name", False),
    ('max_detections:=0', 'max_detections must be >= 1', False),
])
def test_start_up_refusals_print_their_reason(ros_domain_id, override, expected, activates):
    namespace = f'/u{uuid.uuid4().hex[:8]}'
    node = start_node(namespace, ['use_appearance:=false', override])
    output = Output(node)
    harness = Harness(ros_domain_id, namespace)
    try:
        subscribed = harness.wait_for_tracker(WAIT_S if activates else 5.0)
        assert harness.spin_until(lambda: output.count(expected) > 0, 10.0), output.text()
        assert subscribed == activates
        assert node.poll() is None, 'a refusal must not kill the process'
    finally:
        harness.close()
        stop(node, output)
    # A warning is said once; a refusal again every 5 s while the node idles (issue 26).
    assert output.count(expected) == 1 if activates else output.count(expected) >= 1
