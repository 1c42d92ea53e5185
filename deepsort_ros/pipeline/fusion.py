"""
The fusion behind the ``track_fusion`` node, usable without a running node (offline on bags).

:class:`FusionPipeline` takes each camera's ``TrackAppearanceArray`` (features, kept by track
UUID) and ``TrackArray`` (the update), converts them through :mod:`deepsort_ros.ros.convert`,
carries the tracks' ground estimates into the fusion's world frame (unchanged when the camera
already reports in it, else by TF or the camera's ``world_pose``), runs
:class:`deepsort_ros.fusion.TrackFusion` and returns the ``GlobalTrackArray`` to publish. The node
calls it from its callbacks; ``deepsort-ros fuse`` calls it on bags in arrival order, so both
run the same code. What the core refuses (a camera's clock off, a second sender under its name,
NaN poses, features of another encoder or length) is counted there, said once in a log line
(throttled by the caller's logger) and never stops the other cameras.
"""

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple
import uuid

from deepsort_ros.fusion import FusionConfig, TrackFusion
from deepsort_ros.fusion.appearance_feed import AppearanceCache
from deepsort_ros.fusion.counters import CameraCounters
from deepsort_ros.fusion.world_frames import PlanarTransform
from deepsort_ros.pipeline.diagnostics import RateMeter
from deepsort_ros.ros.convert.appearances import appearance_msg_to_arrays
from deepsort_ros.ros.convert.global_tracks import (global_tracks_to_msg,
                                                    track_array_to_camera_batch)
from deepsort_ros.settings.fusion import CameraInput, FusionNodeConfig
import numpy as np

DELAY_WINDOW = 200

# What a refusal means, for the log line: reason -> text after "camera <name>: ".
REFUSAL_TEXT = {
    'bad_stamp': 'an update with a non-finite stamp refused',
    'duplicate_name': 'a second sender publishes tracks as this camera: its updates are refused '
                      'while the first one is live (it takes over after camera_timeout of '
                      'silence); give each tracker its own namespace',
    'stamp_backwards': 'stamps went back: the update is refused',
    'clock_ahead': 'an update stamped ahead of its arrival by more than max_clock_ahead: this '
                   "camera's clock is off; refused",
    'too_late': 'an update arrived later than max_delay after its stamp (or after the fusion '
                "moved on): refused; check this camera's clock and latency",
    'bad_pose': 'tracks with a NaN, absurd or non-positive-definite ground pose: taken without '
                'a world estimate',
    'world_frame_mismatch': "ground positions in another frame than the fusion's, with no "
                            'transform: its tracks are associated by appearance only',
    'bad_velocity': 'tracks with a bad velocity: taken as standing still',
    'bad_feature': 'non-finite features dropped',
    'feature_length': "features of another length than the fusion's: not compared",
    'encoder_mismatch': 'features of another Re-ID encoder than the one the fusion compares '
                        'refused (give every tracker the same encoder_weights)',
    'duplicate_local_id': 'rows repeating a track id dropped',
    'bad_local_id': 'rows with track id 0 (or beyond int64) dropped',
    'encoder_changed': 'features of an encoder this camera no longer uses dropped',
}


@dataclass
class CameraInputStats:
    """
    What the node saw of one camera, beside the core's counters.

    Attributes
    ----------
    track_arrays : int
    appearance_arrays : int
    features : int
        Features received.
    features_refused : dict of str to int
        Features of an update left out by the cache (``encoder_changed``, ``feature_length``).
    no_world_transform : int
        Updates whose world frame could not be carried into the fusion's.
    world_transform : str
        How its positions reach the fusion's frame: 'same frame', 'TF', 'world_pose', 'none'.
    senders : set of str
        Publishers of its tracks seen.
    appearance_sources : set of str
        Tracker runs (source ids) that sent its features.
    rate : RateMeter
        Arrivals of its tracks (monotonic clock).
    delays_s : deque of float
        Arrival minus stamp of recent updates, s.

    """

    track_arrays: int = 0
    appearance_arrays: int = 0
    features: int = 0
    features_refused: Dict[str, int] = field(default_factory=dict)
    no_world_transform: int = 0
    world_transform: str = 'none'
    senders: Set[str] = field(default_factory=set)
    appearance_sources: Set[str] = field(default_factory=set)
    rate: RateMeter = field(default_factory=RateMeter)
    delays_s: Deque[float] = field(default_factory=lambda: deque(maxlen=DELAY_WINDOW))


class FusionPipeline:
    """
    Convert, fuse, convert: the cameras' messages in, global tracks out.

    Parameters
    ----------
    config : FusionNodeConfig
    cameras : list of CameraInput
    fusion_config : FusionConfig
    logger : callable, optional
        ``logger(level, text, key)``: ``level`` 'warn' or 'info', ``key`` one short name per
        problem and camera, for throttling.
    lookup_transform : callable, optional
        ``(target_frame, source_frame) -> PlanarTransform``, raising LookupError or ValueError
        when it cannot (TF); None: only the cameras' ``world_pose``.
    namespace : uuid.UUID, optional
        Of the global UUIDs (random when omitted).

    Attributes
    ----------
    fusion : TrackFusion
    cache : AppearanceCache
    stats : dict of str to CameraInputStats
    published : int
        Global track arrays returned.

    """

    def __init__(self, config: FusionNodeConfig, cameras: List[CameraInput],
                 fusion_config: FusionConfig,
                 logger: Optional[Callable[[str, str, str], None]] = None,
                 lookup_transform: Optional[Callable[[str, str], PlanarTransform]] = None,
                 namespace: Optional[uuid.UUID] = None) -> None:
        self.config = config
        self.cameras = {c.name: c for c in cameras}
        self.fusion = TrackFusion(fusion_config, namespace)
        self.cache = AppearanceCache(config.appearance_max_age)
        self.stats = {c.name: CameraInputStats() for c in cameras}
        self.published = 0
        self._log = logger or (lambda level, text, key: None)
        self._lookup = lookup_transform
        self._local_uuids: Dict[str, Dict[int, bytes]] = {c.name: {} for c in cameras}

    @property
    def world_frame(self) -> str:
        """Return the fusion's world frame ('' until configured or a camera names one)."""
        return self.config.world_frame_id or self.fusion.world_frame

    # ---- inputs -------------------------------------------------------------------------------

    def add_appearances(self, camera: str, msg: Any, received_s: Optional[float] = None) -> int:
        """
        Keep the features of one ``TrackAppearanceArray`` of ``camera``; return how many.

        Parameters
        ----------
        camera : str
            The camera whose topic it came on.
        msg : TrackAppearanceArray
            The features.
        received_s : float, optional
            Arrival on the caller's clock (the message's stamp when None).

        """
        stats = self.stats[camera]
        content = appearance_msg_to_arrays(msg)
        stats.appearance_arrays += 1
        stats.features += len(content.keys)
        if content.source_id not in stats.appearance_sources:
            stats.appearance_sources.add(content.source_id)
            if len(stats.appearance_sources) > 1:
                runs = sorted(s[:8] for s in stats.appearance_sources)
                self._log('warn', f'camera {camera}: features from {len(runs)} tracker runs '
                          f'(source ids {runs}): a restarted tracker, or two trackers under '
                          'one name',
                          f'{camera} sources')
        now = received_s if received_s is not None else content.stamp_ns * 1e-9
        return self.cache.add(content.encoder, content.keys, content.features, now)

    def add_tracks(self, camera: str, msg: Any, sender: str = '',
                   received_s: Optional[float] = None) -> Optional[Any]:
        """
        Fuse one ``TrackArray`` of ``camera``; return the ``GlobalTrackArray`` to publish.

        Parameters
        ----------
        camera : str
            The camera whose topic it came on.
        msg : TrackArray
            The camera's tracks at one stamp.
        sender : str
            Its publisher (two senders on one camera's topic are told apart by it).
        received_s : float, optional
            Arrival on the fusion's clock (for the clock check); None trusts the stamps.

        Returns
        -------
        GlobalTrackArray or None
            None when the update was refused (counted and logged).

        """
        stats = self.stats[camera]
        stats.track_arrays += 1
        stats.rate.tick()
        stats.senders.add(sender)
        tracks = track_array_to_camera_batch(msg, sender)
        stamp_s = tracks.stamp_ns * 1e-9
        if received_s is not None:
            stats.delays_s.append(received_s - stamp_s)
        batch = self._to_world_frame(camera, tracks.batch)
        now = received_s if received_s is not None else stamp_s
        found = self.cache.lookup(tracks.uuids, now)
        for reason, count in found.refused.items():
            stats.features_refused[reason] = stats.features_refused.get(reason, 0) + count
            self._say(camera, reason, stats.features_refused[reason])
        if found.features is not None:
            batch = replace(batch, features=found.features, encoder=found.encoder)
        before = _snapshot(self.fusion.counters.cameras)
        outputs = self.fusion.update(camera, stamp_s, batch, received_s)
        self._report_changes(camera, before, batch, stamp_s, received_s)
        counters = self.fusion.counters.camera(camera)
        if counters.updates == before.get(camera, (0, {}, 0))[0]:
            return None  # refused: nothing changed
        self._local_uuids[camera] = {int(i): key for i, key in
                                     zip(batch.local_ids.tolist(), tracks.uuids)}
        local_uuids = {(name, local_id): key for name, keys in self._local_uuids.items()
                       for local_id, key in keys.items()}
        self.published += 1
        fusion_time = self.fusion.time if self.fusion.time is not None else stamp_s
        return global_tracks_to_msg(outputs, int(round(fusion_time * 1e9)), self.world_frame,
                                    local_uuids, self.config.ground_height)

    # ---- steps --------------------------------------------------------------------------------

    def _to_world_frame(self, camera: str, batch: Any) -> Any:
        """Carry a batch's ground estimates into the fusion's frame where they are not."""
        stats = self.stats[camera]
        source, target = batch.world_frame, self.world_frame
        if not source or not target or source == target or not np.any(batch.world_valid):
            stats.world_transform = 'same frame' if source and source == target else \
                stats.world_transform
            return batch
        transform, how = None, 'none'
        if self._lookup is not None:
            try:
                transform, how = self._lookup(target, source), 'TF'
            except (LookupError, ValueError) as error:
                reason = str(error)
                if self.cameras[camera].world_pose is None:
                    self._log('warn', f'camera {camera}: no transform {target} <- {source} '
                              f'({reason})', f'{camera} tf')
        if transform is None and self.cameras[camera].world_pose is not None:
            transform, how = self.cameras[camera].world_pose, 'world_pose'
        stats.world_transform = how
        if transform is None:
            stats.no_world_transform += 1
            return batch  # the core refuses its positions (world_frame_mismatch), counted
        return transform.apply(batch, target)

    def _say(self, camera: str, reason: str, total: int, detail: str = '') -> None:
        text = REFUSAL_TEXT.get(reason, reason.replace('_', ' '))
        self._log('warn', f'camera {camera}: {text}{detail} ({total} so far)',
                  f'{camera} {reason}')

    def _report_changes(self, camera: str, before: Dict[str, Tuple[int, Dict[str, int], int]],
                        batch: Any, stamp_s: float, received_s: Optional[float]) -> None:
        """Log what this update refused, and cameras that went stale meanwhile."""
        counters = self.fusion.counters.cameras
        _, refused_before, _ = before.get(camera, (0, {}, 0))
        for reason, count in counters[camera].refused.items():
            if count > refused_before.get(reason, 0):
                detail = ''
                if reason == 'encoder_mismatch':
                    detail = (f' [{batch.encoder[:23]}..., the fusion compares '
                              f'{self.fusion.encoder[:23]}...]')
                elif reason in ('clock_ahead', 'too_late') and received_s is not None:
                    detail = f' [stamp {stamp_s - received_s:+.2f} s from its arrival]'
                elif reason == 'world_frame_mismatch':
                    detail = f' [{batch.world_frame}, the fusion is in {self.world_frame}]'
                elif reason == 'feature_length' and batch.features is not None:
                    detail = f' [length {batch.features.shape[1]}]'
                self._say(camera, reason, count, detail)
        new_camera = camera not in before
        for name, status in counters.items():
            stale_before = before.get(name, (0, {}, 0))[2]
            if status.stale > stale_before:
                self._log('warn', f'camera {name}: silent for more than camera_timeout '
                          f'({self.fusion.config.camera_timeout} s): its identities age out, the '
                          'other cameras go on', f'{name} stale')
        if new_camera and counters[camera].updates:
            self._log('info', f'camera {camera}: first tracks taken', f'{camera} first')
        if np.any(~batch.world_valid) and counters[camera].updates:
            self._log('info', f'camera {camera}: {int(np.sum(~batch.world_valid))} tracks '
                      'without a world estimate: associated by appearance only',
                      f'{camera} no world')


def _snapshot(cameras: Dict[str, CameraCounters]) -> Dict[str, Tuple[int, Dict[str, int], int]]:
    return {name: (c.updates, dict(c.refused), c.stale) for name, c in cameras.items()}
