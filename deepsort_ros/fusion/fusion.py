"""
Multi-camera fusion: the tracks of N cameras in, one set of global identities out.

Each camera's tracker sends its tracks at its own stamps and rate
(:meth:`TrackFusion.update`). An update is admitted (clock, sender and order checks), its bad
values are repaired or refused (:func:`~deepsort_ros.fusion.inputs.sanitise`), the global
tracks are predicted to its stamp (or, for input a little late, the input is predicted
forward to the fusion's time), bound local tracks keep their global identity while they stay
consistent (:func:`~deepsort_ros.fusion.association.consistent`), the others are matched to
the global tracks this camera does not already see
(:func:`~deepsort_ros.fusion.association.associate`: overlap by position and appearance,
handover by appearance and travel time, appearance alone without a ground position), the rest
start new identities, and the ground-plane filters and appearances are corrected.

Bad input is counted, never raised (:class:`~deepsort_ros.fusion.counters.FusionCounters`):
a stopped camera goes stale and its identities age out while the others go on; a camera whose
clock is off, a second sender under a taken name, stamps going back, NaN poses, features of
another length or encoder are refused with a reason. Only API misuse raises ValueError.
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union
import uuid

from deepsort_ros.fusion import association
from deepsort_ros.fusion.bindings import Bindings
from deepsort_ros.fusion.cameras import CameraRegistry, CameraStatus
from deepsort_ros.fusion.config import FusionConfig
from deepsort_ros.fusion.counters import FusionCounters
from deepsort_ros.fusion.global_table import GlobalTable
from deepsort_ros.fusion.global_track import (GlobalTrackOutput, identity_uuid,
                                              report_globals)
from deepsort_ros.fusion.ground_kalman import GroundKalmanCV
from deepsort_ros.fusion.inputs import CameraBatch, CameraTrack, sanitise, SanitisedBatch
from deepsort_ros.fusion.merging import absorb, MergeWatch
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class TrackFusion:
    """
    Global identities over many cameras, on the world ground plane.

    Parameters
    ----------
    config : FusionConfig, optional
        Defaults when omitted.
    namespace : uuid.UUID, optional
        Namespace of the global UUIDs; a fresh random one when omitted, so two fusion runs
        never share a UUID.

    Attributes
    ----------
    config : FusionConfig
    counters : FusionCounters
    namespace : uuid.UUID

    Notes
    -----
    Time is the cameras' stamps (seconds); the fusion's time is the latest stamp it took. An
    update older than that by up to ``max_delay`` is taken, its tracks predicted forward with
    their own velocities (``delayed``); an older one is refused (``too_late``), as is one
    stamped more than ``max_clock_ahead`` ahead of its arrival time ``received_s``
    (``clock_ahead``). Without arrival times, input that far ahead of the fusion's time is
    refused while other cameras keep that time going, and taken once none has for
    ``camera_timeout`` of its stamps (every camera paused and came back). A camera's stamps
    must not go back
    (``stamp_backwards``). The first sender of a camera name owns it; another sender under the
    same name is refused (``duplicate_name``) until the owner has been silent for
    ``camera_timeout``, then takes the name over with fresh bindings (a restarted tracker).
    Ground positions must all be in one frame (``FusionConfig.world_frame``, else the first
    one named): a camera reporting another frame is tracked by appearance only and counted
    (``world_frame_mismatch``).

    """

    def __init__(self, config: Optional[FusionConfig] = None,
                 namespace: Optional[uuid.UUID] = None) -> None:
        self.config = config if config is not None else FusionConfig()
        if not isinstance(self.config, FusionConfig):
            raise ValueError(f'config must be a FusionConfig, got {type(self.config).__name__}')
        self.namespace = namespace if namespace is not None else uuid.uuid4()
        self.kalman = GroundKalmanCV(self.config.std_acceleration,
                                     self.config.measurement_std_floor)
        self.counters = FusionCounters()
        self._next_id = 1
        self._encoder = self.config.encoder
        self._world_frame = self.config.world_frame
        self.forget()

    def forget(self) -> None:
        """
        Forget every global track, its gallery and the cameras' bindings (a user's reset).

        Global ids keep counting up (never reused); the counters, the encoder and the world
        frame learnt so far are kept.
        """
        self._table = GlobalTable()
        self._cameras = CameraRegistry(self.config)
        self._bindings = Bindings(self._table)
        self._time: Optional[float] = None
        self._outputs: List[GlobalTrackOutput] = []
        self._merges = MergeWatch()

    # ---- queries --------------------------------------------------------------------------

    @property
    def tracks(self) -> List[GlobalTrackOutput]:
        """Return the global tracks reported by the last update taken."""
        return list(self._outputs)

    @property
    def time(self) -> Optional[float]:
        """Return the latest stamp taken from any camera (None before the first update)."""
        return self._time

    @property
    def encoder(self) -> str:
        """Return the encoder whose features are compared ('' until one is seen)."""
        return self._encoder

    @property
    def world_frame(self) -> str:
        """Return the frame of the ground positions ('' until a camera names one)."""
        return self._world_frame

    @property
    def cameras(self) -> List[str]:
        """Return the names of the cameras heard of, in order of first contact."""
        return list(self._cameras.cameras)

    def global_id_of(self, camera: str, local_id: int) -> Optional[int]:
        """Return the global id bound to a camera's local track, or None."""
        status = self._cameras.cameras.get(camera)
        return None if status is None else status.bindings.get(int(local_id))

    def bindings(self, camera: str) -> Dict[int, int]:
        """Return a copy of a camera's map from local track ids to global ids."""
        status = self._cameras.cameras.get(camera)
        return {} if status is None else dict(status.bindings)

    # ---- the update -----------------------------------------------------------------------

    def update(self, camera: str, stamp_s: float,
               tracks: Union[CameraBatch, Sequence[CameraTrack]],
               received_s: Optional[float] = None) -> List[GlobalTrackOutput]:
        """
        Take one camera update; return every reported global track.

        Parameters
        ----------
        camera : str
            The camera's name (unique on the DDS domain).
        stamp_s : float
            Stamp of the camera frame the tracks were estimated at, seconds.
        tracks : CameraBatch or sequence of CameraTrack
            All tracks of the camera at ``stamp_s`` (a track left out is no longer bound).
        received_s : float, optional
            Arrival time in the fusion's clock, for the clock check; None trusts the stamps.

        Returns
        -------
        list of GlobalTrackOutput
            TRACKED and COASTING global tracks predicted to the fusion's time, by global id.
            A refused update changes nothing and returns the previous list.

        Raises
        ------
        ValueError
            Only for API misuse: ``tracks`` not a CameraBatch nor CameraTrack rows, arrays of
            shapes that do not fit, an empty camera name.

        """
        if not isinstance(camera, str) or not camera:
            raise ValueError(f'camera must be a non-empty string, got {camera!r}')
        batch = tracks if isinstance(tracks, CameraBatch) else CameraBatch.from_tracks(tracks)
        stamp = float(stamp_s)
        received = None if received_s is None else float(received_s)
        camera_counters = self.counters.camera(camera)
        status = self._cameras.get_or_add(camera, batch.source_id)
        self._table.ensure_cameras(len(self._cameras))
        reason = self._cameras.admit(status, stamp, batch.source_id, self._time, received)
        if reason is not None:
            camera_counters.refuse(reason)
            return self.tracks
        if batch.source_id != status.source_id:
            self._bindings.release_camera(status)
            status.source_id = batch.source_id
            status.last_stamp = None
            camera_counters.takeovers += 1
        clean = sanitise(batch, self._encoder, self._table.feature_dim,
                         self.config.max_position, self.config.initial_velocity_std,
                         self._world_frame)
        for why, count in clean.refused.items():
            camera_counters.refuse(why, count)
        self._fix_encoder(clean)
        now, lag = self._advance_clock(stamp)
        if lag > 0.0:
            camera_counters.delayed += 1
        status.last_stamp = stamp
        status.last_fusion_time = now
        status.stale = False
        self._expire(now)
        self._fuse(status, clean, now, stamp, lag)
        self.counters.updates += 1
        camera_counters.updates += 1
        camera_counters.tracks += len(clean.batch)
        camera_counters.no_world += int(np.sum(~clean.batch.world_valid))
        self._outputs = self._report(now)
        return self.tracks

    # ---- the steps of an update -----------------------------------------------------------

    def _fix_encoder(self, clean: SanitisedBatch) -> None:
        """Take the first encoder, feature length and world frame seen as the fusion's."""
        if not self._world_frame and np.any(clean.batch.world_valid):
            self._world_frame = clean.batch.world_frame
        features = clean.batch.features
        if features is None or not np.any(clean.has_feature):
            return
        if not self._encoder:
            self._encoder = clean.batch.encoder
        self._table.set_feature_dim(features.shape[1])

    def _advance_clock(self, stamp: float) -> Tuple[float, float]:
        """Predict the global tracks to ``stamp`` when it is later; return (now, lag)."""
        if self._time is None:
            self._time = stamp
            return stamp, 0.0
        if stamp <= self._time:
            return self._time, self._time - stamp
        dt = stamp - self._time
        slots = self._table.active
        if len(slots):
            table = self._table
            table.mean[slots], table.covariance[slots] = self.kalman.predict(
                table.mean[slots], table.covariance[slots], dt)
        self._time = stamp
        return stamp, 0.0

    def _expire(self, now: float) -> None:
        """Release stale cameras' bindings; forget global tracks past the handover window."""
        for status in self._cameras.stale_cameras(now):
            self._bindings.release_camera(status)
            status.stale = True
            self.counters.camera(status.name).stale += 1
        table = self._table
        slots = table.active
        old = slots[now - table.last_detected_time[slots] > self.config.handover_window]
        if len(old) == 0:
            return
        self._bindings.forget(self._cameras.cameras.values(), old)
        table.release(old)
        self.counters.deleted_globals += len(old)

    def _fuse(self, status: CameraStatus, clean: SanitisedBatch, now: float, stamp: float,
              lag: float) -> None:
        """Keep, break, make and start bindings for one camera update; correct the filters."""
        cfg = self.config
        table = self._table
        batch = clean.batch
        column = status.index
        position, position_cov = batch.positions_ahead(lag)
        features = (batch.features if batch.features is not None
                    else np.zeros((len(batch), 0), dtype=np.float32))
        has_feature = clean.has_feature
        self._bindings.drop_absent(status, batch.local_ids)
        slot_of_row = self._bindings.slots_of_rows(status, batch.local_ids)
        bound = np.flatnonzero(slot_of_row >= 0)
        broken_slot = np.full(len(batch), -1, dtype=np.int64)
        if len(bound):
            s = slot_of_row[bound]
            others = np.delete(table.member_seen[s], column, axis=1)
            supported = np.any(others >= now - cfg.overlap_max_gap, axis=1)
            ok = association.consistent(table, self.kalman, cfg, s, position[bound],
                                        position_cov[bound], batch.world_valid[bound],
                                        features[bound], has_feature[bound], supported)
            for row in bound[~ok].tolist():
                broken_slot[row] = slot_of_row[row]
                self._bindings.unbind(status, int(slot_of_row[row]),
                                      int(batch.local_ids[row]))
                slot_of_row[row] = -1
            status_counters = self.counters.camera(status.name)
            status_counters.broken_bindings += int(np.sum(~ok))
        # New camera tracks (detected, unbound) against the global tracks this camera does not
        # detect now: a person is one local track per camera.
        taken = slot_of_row[(slot_of_row >= 0) & batch.detected]
        candidates = table.active
        candidates = candidates[~np.isin(candidates, taken)]
        rows = np.flatnonzero((slot_of_row < 0) & batch.detected)
        reacquired = np.zeros(len(batch), dtype=bool)
        if len(rows) and len(candidates):
            forbidden = candidates[:, None] == broken_slot[rows][None, :]
            matches, kinds = association.associate(
                table, self.kalman, cfg, candidates, position[rows], position_cov[rows],
                batch.world_valid[rows], features[rows], has_feature[rows], now, column,
                forbidden)
            for (k, m), kind in zip(matches.tolist(), kinds.tolist()):
                slot, row = int(candidates[k]), int(rows[m])
                self._bindings.bind(status, slot, int(batch.local_ids[row]))
                slot_of_row[row] = slot
                name = association.KIND_NAMES[kind]
                self.counters.associations[name] += 1
                # After a gap the old motion says nothing: restart the filter at the sighting.
                reacquired[row] = kind != association.OVERLAP
        fresh = np.flatnonzero((slot_of_row < 0) & batch.detected)
        if len(fresh):
            slot_of_row[fresh] = self._start(status, batch, fresh, position, position_cov, now)
        self._correct(status, batch, slot_of_row, reacquired, position, position_cov, features,
                      has_feature, now, stamp)
        if cfg.merge_after > 0.0:
            self._merges.merge_colocated(table, self.kalman, cfg, column,
                                         slot_of_row[(slot_of_row >= 0) & batch.detected], now,
                                         self._merge)

    def _merge(self, older: int, younger: int) -> None:
        """Move the younger global track's local tracks and evidence into the older one."""
        self._bindings.move(self._cameras.cameras.values(), older, younger)
        absorb(self._table, self.kalman, older, younger)
        self._table.release(np.array([younger]))
        self.counters.merges += 1

    def _start(self, status: CameraStatus, batch: CameraBatch, rows: IntArray,
               position: FloatArray, position_cov: FloatArray, now: float) -> IntArray:
        """Start one global track per row; return their slots."""
        table = self._table
        slots = table.allocate(len(rows))
        ids = np.arange(self._next_id, self._next_id + len(rows), dtype=np.int64)
        self._next_id += len(rows)
        table.global_id[slots] = ids
        table.first_time[slots] = now
        table.last_detected_time[slots] = now
        table.mean[slots] = 0.0
        table.covariance[slots] = np.eye(4)
        for slot, global_id, row in zip(slots.tolist(), ids.tolist(), rows.tolist()):
            table.uuid[slot] = identity_uuid(self.namespace, global_id)
            self._bindings.start(status, slot, int(batch.local_ids[row]))
        self.counters.new_globals += len(rows)
        return slots

    def _correct(self, status: CameraStatus, batch: CameraBatch, slot_of_row: IntArray,
                 reacquired: npt.NDArray[np.bool_], position: FloatArray,
                 position_cov: FloatArray, features: npt.NDArray[np.float32],
                 has_feature: npt.NDArray[np.bool_], now: float, stamp: float) -> None:
        """Correct filters and appearances of the global tracks detected in this update."""
        cfg = self.config
        table = self._table
        rows = np.flatnonzero((slot_of_row >= 0) & batch.detected)
        if len(rows) == 0:
            return
        slots = slot_of_row[rows]
        valid = batch.world_valid[rows]
        restart = valid & (reacquired[rows] | ~table.has_position[slots])
        update = valid & ~restart
        if np.any(restart):
            r, s = rows[restart], slots[restart]
            velocity = _clip_speed(batch.velocity_xy[r], cfg.max_speed)
            velocity_cov = batch.velocity_cov[r] + cfg.initial_velocity_std ** 2 * np.eye(2)
            table.mean[s], table.covariance[s] = self.kalman.initiate(
                position[r], position_cov[r], velocity, velocity_cov)
            table.has_position[s] = True
        if np.any(update):
            r, s = rows[update], slots[update]
            table.mean[s], table.covariance[s] = self.kalman.update(
                table.mean[s], table.covariance[s], position[r], position_cov[r])
        located = slots[valid]
        table.last_xy[located] = table.mean[located, :2]
        table.last_velocity[located] = _clip_speed(table.mean[located, 2:], cfg.max_speed)
        table.last_xy_time[located] = now
        with_feature = has_feature[rows]
        if np.any(with_feature):
            table.add_features(slots[with_feature], features[rows[with_feature]],
                               cfg.feature_ema_alpha)
        table.last_detected_time[slots] = np.maximum(table.last_detected_time[slots], stamp)
        table.member_seen[slots, status.index] = stamp
        for slot in slots.tolist():
            table.seen(slot, status.name, stamp)

    def _report(self, now: float) -> List[GlobalTrackOutput]:
        """Return the TRACKED and COASTING global tracks, by global id."""
        latest = np.full(self._table.num_cameras, np.nan)
        for status in self._cameras.cameras.values():
            if not status.stale and status.last_stamp is not None:
                latest[status.index] = status.last_stamp
        return report_globals(self._table, latest, now, self.config.coast_max_age)


def _clip_speed(velocity_xy: FloatArray, max_speed: float) -> FloatArray:
    """Scale velocities faster than ``max_speed`` down to it."""
    speed = np.linalg.norm(velocity_xy, axis=1, keepdims=True)
    return velocity_xy * np.minimum(1.0, max_speed / np.maximum(speed, 1e-12))
