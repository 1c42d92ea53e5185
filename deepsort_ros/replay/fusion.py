"""
The fusion node's pipeline, offline, on one bag per camera (``deepsort-ros fuse``).

Each camera's bag is turned into its tracker's output, frame by frame: a bag of camera input
(images, detections, camera info, odometry) runs the node's own tracking pipeline
(:func:`deepsort_ros.replay.bag.track_bag`), which makes the ``TrackArray`` and the
``TrackAppearanceArray`` (features sent sparingly) the node would publish; a bag that already
holds a camera's ``TrackArray`` (and ``TrackAppearanceArray``) topics, recorded from a robot,
is read as it is. A frame arrives when its image was recorded (its log time in the bag: a rig
camera's ``latency_s`` after its stamp). Every camera's updates then reach one
:class:`deepsort_ros.pipeline.fusion.FusionPipeline`, the node's, in arrival order.

What comes out: per camera the rows of its confirmed tracks labelled with their global ids
(MOTChallenge text), every ``GlobalTrackArray`` (a bag), and, for a rig
(:mod:`deepsort_ros.recordings.rig`), the scores against its gt: per-camera IDF1 with local
and global ids, multi-camera IDF1 over the union of cameras, and the camera-to-camera
transitions that keep their global id (:mod:`deepsort_ros.evaluation.multicamera`).
"""

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from deepsort_ros.pipeline.fusion import FusionPipeline
from deepsort_ros.recordings.bag_reader import bag_topics, header_stamp_ns, iter_raw, \
    read_messages
from deepsort_ros.ros.convert.stamps import stamp_to_ns
from deepsort_ros.ros.convert.tracks import track_array_to_mot
import numpy as np

TRACKS_TYPE = 'deepsort_ros_msgs/msg/TrackArray'
APPEARANCES_TYPE = 'deepsort_ros_msgs/msg/TrackAppearanceArray'
GLOBAL_TOPIC = '/track_fusion/global_tracks'


@dataclass
class CameraUpdate:
    """
    One camera frame as the fusion receives it.

    Attributes
    ----------
    camera : str
    received_ns : int
        Arrival (the bag's log time of the frame).
    stamp_ns : int
    tracks : TrackArray
    appearances : TrackAppearanceArray or None

    """

    camera: str
    received_ns: int
    stamp_ns: int
    tracks: Any
    appearances: Any = None


@dataclass
class FuseResult:
    """
    What fusing the cameras did.

    Attributes
    ----------
    updates : dict of str to int
        Camera frames fused, by camera.
    global_rows, local_rows : dict of str to ndarray, shape (N, 10)
        Per camera, MOTChallenge rows (frame numbered by the caller's ``frame_of``) of its
        confirmed, matched tracks, with global ids and with its own local ids.
    global_arrays : list of GlobalTrackArray
    pipeline : FusionPipeline
    appearance_bytes : dict of str to list of int
        Serialised size of each camera frame's ``TrackAppearanceArray`` (0 when none).
    scores : dict
        Filled by :func:`score` when there is gt.

    """

    updates: Dict[str, int] = field(default_factory=dict)
    global_rows: Dict[str, np.ndarray] = field(default_factory=dict)
    local_rows: Dict[str, np.ndarray] = field(default_factory=dict)
    global_arrays: List[Any] = field(default_factory=list)
    pipeline: Optional[FusionPipeline] = None
    appearance_bytes: Dict[str, List[int]] = field(default_factory=dict)
    scores: Dict[str, Any] = field(default_factory=dict)


def image_arrivals(bag: Path, image_topic: str) -> Dict[int, int]:
    """Return ``stamp -> log time`` (ns) of a bag's images, read without decoding them."""
    arrivals: Dict[int, int] = {}
    for _, _, log_ns, data in iter_raw(bag, [image_topic]):
        stamp = header_stamp_ns(data)
        if stamp is not None:
            arrivals.setdefault(stamp, log_ns)
    return arrivals


def camera_updates(camera: str, bag: Path, node_config: Any = None, tracker_config: Any = None,
                   encoder: Optional[Callable] = None, progress: bool = False
                   ) -> List[CameraUpdate]:
    """
    Return a camera's frames as its tracker sends them, from its bag.

    Parameters
    ----------
    camera : str
        The camera's name.
    bag : Path
        Its bag: camera input (tracked here) or recorded ``TrackArray`` topics.
    node_config, tracker_config : NodeConfig, TrackerConfig
        The tracker's settings (for a bag of camera input).
    encoder : callable, optional
        The Re-ID encoder (for a bag of camera input).
    progress : bool
        Show the tracking's progress bar.

    Returns
    -------
    list of CameraUpdate
        In the camera's order.

    Raises
    ------
    ValueError
        A bag with neither camera input nor tracks, or with several TrackArray topics.

    """
    available, _ = bag_topics(bag)
    tracks = sorted(t for t, kind in available.items() if kind == TRACKS_TYPE)
    if len(tracks) > 1:
        raise ValueError(f'{bag} holds several TrackArray topics ({", ".join(tracks)}): give '
                         'one camera per bag')
    if tracks:
        return _recorded_updates(camera, bag, tracks[0], available)
    from deepsort_ros.replay.bag import resolve_topics, track_bag

    topics, notes = resolve_topics(available, node_config)
    if 'image' not in topics or 'detections' not in topics:
        raise ValueError(f'{bag} has neither a TrackArray topic nor images and detections to '
                         'track: ' + '; '.join(notes))
    arrivals = image_arrivals(bag, topics['image'])
    updates: List[CameraUpdate] = []

    def keep(_: int, result: Any) -> None:
        stamp = result.stamp_ns
        updates.append(CameraUpdate(camera, arrivals.get(stamp, stamp), stamp, result.tracks,
                                    result.appearances))

    track_bag(bag, node_config, tracker_config, encoder, progress=progress, on_result=keep)
    return updates


def _recorded_updates(camera: str, bag: Path, tracks_topic: str,
                      available: Dict[str, str]) -> List[CameraUpdate]:
    appearances = [t for t, kind in available.items() if kind == APPEARANCES_TYPE]
    updates: List[CameraUpdate] = []
    pending: Dict[int, Any] = {}
    for topic, _, log_ns, msg in read_messages(bag, [tracks_topic] + appearances[:1]):
        stamp = stamp_to_ns(msg.header.stamp)
        if topic == tracks_topic:
            updates.append(CameraUpdate(camera, log_ns, stamp, msg, pending.pop(stamp, None)))
        else:
            pending[stamp] = msg
    return updates


def fuse_updates(updates: Dict[str, List[CameraUpdate]], pipeline: FusionPipeline,
                 frame_of: Callable[[int], int]) -> FuseResult:
    """
    Feed every camera's frames to one fusion pipeline in arrival order.

    Parameters
    ----------
    updates : dict of str to list of CameraUpdate
        By camera (the pipeline's camera names).
    pipeline : FusionPipeline
        The node's pipeline, freshly made.
    frame_of : callable
        ``stamp_ns -> frame number`` of the result rows.

    Returns
    -------
    FuseResult

    """
    from rclpy.serialization import serialize_message

    order = sorted((u.received_ns, i, k, u) for i, (name, frames) in enumerate(updates.items())
                   for k, u in enumerate(frames))
    result = FuseResult(pipeline=pipeline)
    global_rows: Dict[str, List[List[float]]] = {name: [] for name in updates}
    local_rows: Dict[str, List[List[float]]] = {name: [] for name in updates}
    for received_ns, _, _, update in order:
        name = update.camera
        received_s = received_ns * 1e-9 if pipeline.config.use_arrival_time else None
        size = 0
        if update.appearances is not None:
            pipeline.add_appearances(name, update.appearances, received_s)
            size = len(serialize_message(update.appearances))
        result.appearance_bytes.setdefault(name, []).append(size)
        out = pipeline.add_tracks(name, update.tracks, f'bag:{name}', received_s)
        if out is not None:
            result.global_arrays.append(out)
        result.updates[name] = result.updates.get(name, 0) + 1
        frame = frame_of(update.stamp_ns)
        shown = track_array_to_mot(update.tracks)
        for local_id, box, score in zip(shown.track_ids.tolist(), shown.boxes_tlwh.tolist(),
                                        shown.scores.tolist()):
            local_rows[name].append([frame, local_id, *box, score, -1, -1, -1])
            global_id = pipeline.fusion.global_id_of(name, local_id)
            if global_id is not None:
                global_rows[name].append([frame, global_id, *box, score, -1, -1, -1])
    result.global_rows = {n: _array(r) for n, r in global_rows.items()}
    result.local_rows = {n: _array(r) for n, r in local_rows.items()}
    return result


def _array(rows: List[List[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64) if rows else np.zeros((0, 10))


def score(result: FuseResult, gt_by_camera: Dict[str, np.ndarray], frame_rate: float,
          max_gap_s: float = 10.0) -> Dict[str, Any]:
    """
    Score a fusion against per-camera gt with global ids; store and return the scores.

    Returns
    -------
    dict
        ``per_camera`` (IDF1 with local and global ids), ``mean_local_idf1``,
        ``multi_camera_idf1``, ``difference`` (points), ``transitions_kept`` (kept, total,
        rate; gaps up to ``max_gap_s``), ``purity``, ``completeness``.

    """
    from deepsort_ros.evaluation.mot_metrics import evaluate_mot
    from deepsort_ros.evaluation.multicamera import (camera_transitions, evaluate_multicamera,
                                                     keep_rate)

    names = [n for n in result.global_rows if n in gt_by_camera]
    gt = {n: gt_by_camera[n] for n in names}
    fused = evaluate_multicamera(gt, {n: result.global_rows[n] for n in names})
    local = {n: evaluate_mot(gt[n], result.local_rows[n]).idf1 for n in names}
    kept, total, rate = keep_rate(camera_transitions(gt, {n: result.global_rows[n]
                                                          for n in names}, frame_rate),
                                  max_gap_s)
    mean_local = float(np.mean(list(local.values()))) if local else float('nan')
    result.scores = {
        'per_camera': {n: {'idf1_local': local[n], 'idf1_global': fused.per_camera[n].idf1}
                       for n in names},
        'mean_local_idf1': mean_local, 'multi_camera_idf1': fused.union.idf1,
        'multi_camera_hota': fused.union.hota,
        'difference_points': 100.0 * (fused.union.idf1 - mean_local),
        'transitions_kept': [kept, total, rate], 'max_gap_s': max_gap_s,
        'purity': fused.purity, 'completeness': fused.completeness}
    return result.scores


def rig_camera_configs(manifest: Any, node_config: Any) -> Dict[str, Any]:
    """Return each rig camera's tracker settings: ``node_config`` with its topics and mount."""
    return {c.name: replace(node_config, image_topic=c.topics['image'],
                            image_transport=c.image_transport,
                            camera_info_topic=c.topics['camera_info'],
                            detections_topic=c.topics['detections'],
                            odom_topic=c.topics['odometry'],
                            base_to_camera_xyz=list(c.base_to_camera_xyz),
                            base_to_camera_rpy=list(c.base_to_camera_rpy))
            for c in manifest.cameras}


def write_outputs(result: FuseResult, out: Path, overwrite: bool = False) -> List[Path]:
    """
    Write ``<camera>.txt`` (global ids), ``<camera>_local.txt`` and the ``global_tracks`` bag.

    Returns
    -------
    list of Path
        What was written.

    """
    from deepsort_ros.recordings.bag_writer import BagWriter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in list(result.global_rows.items()) + [
            (f'{n}_local', r) for n, r in result.local_rows.items()]:
        path = out / f'{name}.txt'
        if path.exists() and not overwrite:
            raise FileExistsError(f'{path} exists already; pass --overwrite to replace it')
        order = np.lexsort((rows[:, 1], rows[:, 0])) if len(rows) else []
        np.savetxt(path, rows[order] if len(rows) else rows, fmt='%g', delimiter=',')
        written.append(path)
    bag = out / 'global_tracks'
    with BagWriter(bag, overwrite=overwrite) as writer:
        for msg in result.global_arrays:
            writer.write(GLOBAL_TOPIC, msg, stamp_to_ns(msg.header.stamp))
    written.append(bag)
    return written


def summary_lines(result: FuseResult) -> List[str]:
    """Return a human-readable summary: updates, associations, refusals, bytes, scores."""
    pipeline = result.pipeline
    counters = pipeline.fusion.counters
    lines = [f'fused {sum(result.updates.values())} camera frames '
             f'({", ".join(f"{n} {c}" for n, c in result.updates.items())}) into '
             f'{counters.new_globals} global identities started, {counters.merges} merged into '
             f'others; associations {counters.associations}']
    for name, sizes in result.appearance_bytes.items():
        sent = [s for s in sizes if s]
        core = counters.cameras.get(name)
        refused = dict(core.refused) if core else {}
        delayed = core.delayed if core else 0
        lines.append(f'  {name}: appearances {np.mean(sizes) if sizes else 0:.0f} B a frame on '
                     f'average ({len(sent)} of {len(sizes)} frames sent any); refused '
                     f'{refused}; delayed {delayed}')
    scores = result.scores
    if scores:
        kept, total, rate = scores['transitions_kept']
        lines.append(f'  multi-camera IDF1 {scores["multi_camera_idf1"]:.3f} vs mean per-camera '
                     f'{scores["mean_local_idf1"]:.3f} ({scores["difference_points"]:+.1f} '
                     f'points); transitions kept {kept}/{total} = {100 * rate:.0f}% (gap <= '
                     f'{scores["max_gap_s"]:g} s); id purity {scores["purity"]:.3f}')
        for name, per in scores['per_camera'].items():
            lines.append(f'  {name}: IDF1 local ids {per["idf1_local"]:.3f}, global ids '
                         f'{per["idf1_global"]:.3f}')
    return lines


def frame_numbers(updates: Dict[str, List[CameraUpdate]]) -> Callable[[int], int]:
    """Return ``stamp -> frame`` numbering every camera's stamps together in time order."""
    stamps = sorted({u.stamp_ns for frames in updates.values() for u in frames})
    index = {stamp: i + 1 for i, stamp in enumerate(stamps)}
    return lambda stamp: index.get(stamp, 0)


__all__ = ['camera_updates', 'CameraUpdate', 'frame_numbers', 'fuse_updates', 'FuseResult',
           'rig_camera_configs', 'score', 'summary_lines', 'write_outputs']
