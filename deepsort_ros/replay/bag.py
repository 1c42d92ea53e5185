"""
The node's pipeline, offline, on a recorded bag, as fast as it goes (``track --bag``).

The bag's messages are fed in recorded order to
:class:`deepsort_ros.pipeline.tracking.TrackingPipeline`, the code the node runs, configured from
the same parameters file. Message types come from the bag itself: raw and compressed image
topics both work. Results go to MOTChallenge text (frames
numbered from 1 in image order) and/or back into a bag as ``TrackArray`` and ``TargetStatus``.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from deepsort_ros.pipeline.tracking import FrameResult, STAGES, TrackingPipeline
from deepsort_ros.recordings.bag_reader import bag_topics, BagReadSummary, read_messages
from deepsort_ros.recordings.mot import write_mot_rows
from deepsort_ros.ros.convert.stamps import stamp_to_ns
from deepsort_ros.ros.convert.tracks import track_array_to_mot
from deepsort_ros.settings.tracker import NodeConfig
import numpy as np

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
# role -> (config field naming its topic, accepted message types)
ROLES = {
    'image': ('image_topic', (IMAGE_TYPE, COMPRESSED_TYPE)),
    'detections': ('detections_topic', ('vision_msgs/msg/Detection2DArray',)),
    'camera_info': ('camera_info_topic', ('sensor_msgs/msg/CameraInfo',)),
    'odom': ('odom_topic', ('nav_msgs/msg/Odometry',)),
}
TRACKS_TOPIC = '/deepsort_tracker/tracks'
TARGET_TOPIC = '/deepsort_tracker/target'


class OutputExistsError(FileExistsError):
    """An output file exists and overwriting was not asked for."""


@dataclass
class BagTrackResult:
    """
    What tracking a bag did.

    Attributes
    ----------
    topics : dict of str to str
        Role (image, detections, camera_info, odom) -> topic used; absent roles had none.
    notes : list of str
        How topics were chosen where the parameters' names were not in the bag.
    frames : int
        Frames tracked.
    rows : int
        MOTChallenge rows written.
    identities : int
        Distinct track ids written.
    unnumbered : int
        Frames with no image stamp to number them by (tracked, not written as MOT rows).
    frame_ms : list of float
        Pipeline time of each tracked frame (all stages), ms.
    stage_ms : dict of str to list of float
        The same per stage (:data:`deepsort_ros.pipeline.tracking.STAGES`).
    read : BagReadSummary
        Per-topic counts, skipped messages, unknown types, truncation.
    pipeline : TrackingPipeline
        The pipeline after the run (its ``stats`` and ``pairing`` counters).

    """

    topics: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    frames: int = 0
    rows: int = 0
    identities: int = 0
    unnumbered: int = 0
    frame_ms: List[float] = field(default_factory=list)
    stage_ms: Dict[str, List[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    read: BagReadSummary = field(default_factory=BagReadSummary)
    pipeline: Optional[TrackingPipeline] = None

    def percentile_ms(self, q: float, stage: Optional[str] = None) -> float:
        """Return the q-th percentile of the per-frame time (or one stage's), ms."""
        values = self.frame_ms if stage is None else self.stage_ms.get(stage, [])
        return float(np.percentile(values, q)) if values else float('nan')

    def describe(self) -> str:
        """Return a multi-line human-readable summary."""
        lines = [f'tracked {self.frames} frames: {self.rows} MOT rows, {self.identities} '
                 'identities']
        lines += [f'  {role}: {topic}' for role, topic in sorted(self.topics.items())]
        lines += [f'  note: {note}' for note in self.notes]
        if self.frame_ms:
            lines.append(f'  pipeline per frame p50/p99: {self.percentile_ms(50):.2f}/'
                         f'{self.percentile_ms(99):.2f} ms (' + ', '.join(
                             f'{s} {self.percentile_ms(50, s):.2f}' for s in STAGES) + ')')
        if self.unnumbered:
            lines.append(f'  {self.unnumbered} frames without an image were tracked but not '
                         'written as MOT rows')
        if self.pipeline is not None:
            stats, pairing = self.pipeline.stats, self.pipeline.pairing
            problems = {
                'bad images': stats.bad_images, 'bad detections': stats.bad_detections,
                'bad odometry': stats.bad_odometry, 'stamps going back (dropped)':
                stats.time_backwards, 'clock restarts': self.pipeline.clock.counters.restarts,
                'detections without an image (motion-only)': pairing.motion_only,
                'images without detections': pairing.images_without_detections}
            lines += [f'  {name}: {count}' for name, count in problems.items() if count]
        lines.append('  bag: ' + self.read.describe().replace('\n', '\n  '))
        return '\n'.join(lines)


def resolve_topics(available: Dict[str, str], config: NodeConfig
                   ) -> Tuple[Dict[str, str], List[str]]:
    """
    Choose the bag topic of each input role.

    A role takes the topic its parameter names (relative names are taken from the root, and an
    image topic also as ``<name>/compressed``) when the bag has it with an accepted type;
    otherwise the bag's only topic of an accepted type.

    Parameters
    ----------
    available : dict of str to str
        The bag's topic -> type name.
    config : NodeConfig
        Topic parameters.

    Returns
    -------
    topics : dict of str to str
        Role -> topic, for the roles the bag can serve.
    notes : list of str
        One sentence per role whose topic was guessed or is missing.

    """
    topics: Dict[str, str] = {}
    notes: List[str] = []
    for role, (param, types) in ROLES.items():
        name = getattr(config, param)
        name = name if name.startswith('/') else '/' + name
        wanted = [name, name.rstrip('/') + '/compressed'] if role == 'image' else [name]
        found = [t for t in wanted if available.get(t) in types]
        if found:
            topics[role] = found[0]
            continue
        candidates = sorted(t for t, kind in available.items() if kind in types)
        if role == 'image' and len(candidates) > 1:
            raw = [t for t in candidates if available[t] == IMAGE_TYPE]
            candidates = raw if len(raw) == 1 else candidates
        if len(candidates) == 1:
            topics[role] = candidates[0]
            notes.append(f'{param} {name} is not in the bag: using {candidates[0]}, its only '
                         f'{available[candidates[0]]} topic')
        elif candidates:
            notes.append(f'{param} {name} is not in the bag and it has several '
                         f'{"/".join(types)} topics ({", ".join(candidates)}): set {param}')
        elif role in ('image', 'detections'):
            notes.append(f'the bag has no {" or ".join(types)} topic for {param}')
    return topics, notes


def _check_new_file(path: Optional[Path], overwrite: bool) -> None:
    if path is not None and path.exists() and not overwrite:
        raise OutputExistsError(f'{path} exists already; pass --overwrite to replace it')


def track_bag(bag: Path, node_config: NodeConfig, tracker_config: Any,
              encoder: Optional[Callable] = None, out_mot: Optional[Path] = None,
              out_bag: Optional[Path] = None, overwrite: bool = False, progress: bool = True,
              on_result: Optional[Callable[[int, FrameResult], None]] = None) -> BagTrackResult:
    """
    Run the node's pipeline on a bag and write what it tracked.

    Parameters
    ----------
    bag : Path
        Bag folder or ``.mcap`` / ``.db3`` file.
    node_config : NodeConfig
        Topics, pairing, ego-motion, outputs, as the node takes them.
    tracker_config : deepsort_ros.core.TrackerConfig
        The core's settings.
    encoder : callable, optional
        Re-ID encoder; None tracks on motion and IoU.
    out_mot : Path, optional
        MOTChallenge results file: confirmed tracks matched in each frame, filtered boxes.
    out_bag : Path, optional
        Bag to create with the ``TrackArray`` and ``TargetStatus`` of every frame.
    overwrite : bool
        Replace existing outputs instead of refusing.
    progress : bool
        Show a progress bar (on stderr).
    on_result : callable, optional
        Called with ``(frame number or 0, FrameResult)`` for every tracked frame.

    Returns
    -------
    BagTrackResult

    Raises
    ------
    FileNotFoundError
        When the bag does not exist.
    OutputExistsError, deepsort_ros.recordings.bag_writer.BagExistsError
        When an output exists and ``overwrite`` is false.

    """
    from tqdm import tqdm

    bag = Path(bag)
    if not bag.exists():
        raise FileNotFoundError(f'bag {bag} does not exist')
    _check_new_file(out_mot, overwrite)
    available, counts = bag_topics(bag)
    result = BagTrackResult()
    result.topics, result.notes = resolve_topics(available, node_config)
    role_of = {topic: role for role, topic in result.topics.items()}
    pipeline = TrackingPipeline(node_config, tracker_config, encoder)
    result.pipeline = pipeline
    frame_of_stamp: Dict[int, int] = {}
    identities = set()
    writer = None
    if out_bag is not None:
        from deepsort_ros.recordings.bag_writer import TrackBagWriter

        writer = TrackBagWriter(out_bag, overwrite=overwrite, tracks_topic=TRACKS_TOPIC)
    stream: Optional[TextIO] = None
    if out_mot is not None:
        out_mot.parent.mkdir(parents=True, exist_ok=True)
        stream = open(out_mot, 'w')
    frames_role = 'image' if counts.get(result.topics.get('image', ''), 0) else 'detections'
    total = counts.get(result.topics.get(frames_role, ''), None)
    bar = tqdm(total=total, desc=f'track {bag.name}', unit='frame', disable=not progress)

    def handle(results: List[FrameResult]) -> None:
        for frame_result in results:
            result.frames += 1
            result.frame_ms.append(sum(frame_result.stage_ms.values()))
            for stage, value in frame_result.stage_ms.items():
                result.stage_ms[stage].append(value)
            number = frame_of_stamp.get(frame_result.stamp_ns, 0)
            if writer is not None:
                writer.write_tracks(frame_result.tracks)
                writer.write(TARGET_TOPIC, frame_result.target_status,
                             frame_result.stamp_ns)
            if number == 0:
                result.unnumbered += 1
            elif stream is not None:
                shown = track_array_to_mot(frame_result.tracks)
                result.rows += write_mot_rows(stream, number, *shown)
                identities.update(shown.track_ids.tolist())
            if on_result is not None:
                on_result(number, frame_result)

    try:
        for topic, _, _, msg in read_messages(bag, topics=list(role_of), summary=result.read):
            role = role_of[topic]
            if role == 'image':
                stamp_ns = stamp_to_ns(msg.header.stamp)
                frame_of_stamp.setdefault(stamp_ns, len(frame_of_stamp) + 1)
                handle(pipeline.track(pipeline.add_image(msg)))
            elif role == 'detections':
                if frames_role == 'detections':
                    stamp_ns = stamp_to_ns(msg.header.stamp)
                    frame_of_stamp.setdefault(stamp_ns, len(frame_of_stamp) + 1)
                handle(pipeline.track(pipeline.add_detections(msg)))
            elif role == 'camera_info':
                pipeline.add_camera_info(msg)
            else:
                pipeline.add_odometry(msg)
            if role == frames_role:
                bar.update(1)
        handle(pipeline.track(pipeline.flush()))
    finally:
        bar.close()
        if stream is not None:
            stream.close()
        if writer is not None:
            writer.close()
    result.identities = len(identities)
    return result
