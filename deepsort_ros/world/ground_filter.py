"""
World positions and velocities of a camera's tracks, estimated on the ground plane.

The image tracker's Kalman state is built for association in pixels: its noise scales with
box size and its velocity prior says "unknown". Carried to the ground it gives a covariance
that is too confident across the line of sight, too cautious along it, and a velocity sigma
of metres per second. A navigation stack gates and inflates with these numbers, so the world
state is estimated here, in the world: one constant-velocity filter per confirmed track on the
ground plane (:class:`~deepsort_ros.fusion.ground_kalman.GroundKalmanCV`, the algebra the
multi-camera fusion uses), fed by the ground contact point of the detection the image track
matched. Its measurement noise is the detector's pixel error at the box bottom-centre carried
through the ray geometry, so it is narrow across the line of sight and long along it, growing
with distance as a pixel covers more ground. Coasting tracks are predicted; a track's filter
lives as long as its id. Tentative tracks (no id yet) get their detection's projection alone.

ROS-free: numpy (and the geometry room's OpenCV lens model).
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

from deepsort_ros.fusion.ground_kalman import GroundKalmanCV
from deepsort_ros.geometry.camera_model import PinholeCamera
from deepsort_ros.geometry.ground_projection import (ground_tracks, GroundProjectionConfig,
                                                     GroundTracks, project_tracks_to_ground)
from deepsort_ros.geometry.pose import Pose
from deepsort_ros.world.depth import DepthPositions
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GroundFilterConfig:
    """
    Settings of :class:`GroundTrackFilter`.

    Attributes
    ----------
    contact_std_px : tuple of 2 float
        Detector error of the box bottom-centre that does not grow with the box, (u, v) px.
    contact_std_height : tuple of 2 float
        Detector error of the box bottom-centre per pixel of box height, (u, v); added in
        quadrature to ``contact_std_px``. Measured for the SORT Faster R-CNN detections
        against gt boxes: 4.3 / 6.5 px RMS at 83 px tall (PETS09), 5.6 / 8.4 px at 167 px
        (TUD-Stadtmitte). Of that error, ``contact_bias_std_px`` and ``contact_bias_std_size``
        persist over a track's life; these two are the part that changes from frame to frame.
        The defaults are fitted on PETS09-S2L1 and TUD-Stadtmitte together
        (``bench/bench_world.py``). A linear a + b * size fits those residuals as well (the
        same likelihood) but, at every scale tried, put a position or velocity median of the
        filter up by 0.4-1.2 % on some run, so the quadrature stays.
    std_acceleration : float
        White-noise acceleration of a walking person, m/s^2.
    initial_velocity_std : float
        Sigma of each velocity axis of a walking person, zero-mean, m/s: a young track's
        velocity prior, fused with the image track's velocity carried to the ground with its
        covariance (a far or low camera barely measures it).
    measurement_std_floor : float
        Metres added in quadrature to every measurement (a ground that is not quite flat, a
        camera calibration that is not quite right).
    measurement_correlation_time : float
        Seconds over which a detector's error at the box bottom persists (the same feet
        hidden, the same shadow): measurements closer in time than this are not independent,
        so each one's covariance is scaled by ``correlation_time / dt`` (at least 1). Without
        it a 25 fps camera would claim five times the confidence of a 5 fps one.
    contact_bias_std_px : tuple of 2 float
        Part of the box bottom-centre error, (u, v) px, that persists over a track's life
        (where a detector puts the feet of this person in this pose, shadow and occluder) and
        does not grow with the box: averaging frames does not remove it, so it is not in the
        filter's measurement noise but added, carried through the ray geometry at the latest
        measurement, to the published position covariance. Along the line of sight it grows
        as range^2 / (focal * camera height), as the Jacobian of the ground intersection does.
    contact_bias_std_size : tuple of 2 float
        Persistent error per pixel of box width (u) and of box height (v), added to
        ``contact_bias_std_px`` (sigma = a + b * size): a near person's feet are misplaced by
        more pixels than a far one's, so that a constant sigma made the far range too cautious
        and the near one too confident (PETS09 2-sigma coverage along the line of sight 0.97
        beyond 30 m, 0.84 at 10-20 m). Measured with ``contact_bias_std_px`` on PETS09-S2L1 and
        TUD-Stadtmitte together: the detections' bottom-centre minus the gt world position
        projected through the fitted camera, averaged over +-2 s of each person (what the
        filter cannot average away), fitted as a + b * size by maximum likelihood
        (u: 1.21 + 0.032 w, v: 1.12 + 0.020 h px); the error is heavy-tailed, so that
        RMS-calibrated sigma covers 0.95 and more, and it is scaled by 0.2 (u) and 0.6 (v) for a
        2-sigma coverage in 0.80-0.92 (``bench/bench_world.py``).
    outlier_gate : float
        Squared Mahalanobis distance beyond which a measurement's covariance is inflated
        until it lies on the gate (a box bottom cut by an occluder is a range outlier that
        must not drag the track). 9.21 is the 99 % quantile of chi-square with 2 dof.
    relinearise : bool
        Carry a contact point's pixel error to the ground at the range of the estimate, not
        at the measured point. That noise grows with range across the line of sight and with
        range^2 along it, so linearised at the measured point a contact measured too near
        claims too small a noise, one measured too far too large, and the estimate is pulled
        near (TUD-Stadtmitte's camera at 1.7 m: 0.35 m short on average). With it each
        ground-plane update is done once, the measurement covariance rescaled by
        (r / r_measured, (r / r_measured)^2) across / along the line of sight, r the updated
        position's range, and done again from the prediction (an iterated update, one
        iteration). Depth measurements are not rescaled (their noise is the sensor's).
    relinearise_max_ratio : float
        Bound of that range ratio, >= 1: it is clipped to [1 / max, max], so that a wild
        first update cannot swing the noise by more than max^2 along the line of sight.

    """

    contact_std_px: Tuple[float, float] = (2.8, 4.0)
    contact_std_height: Tuple[float, float] = (0.022, 0.04)
    std_acceleration: float = 0.38
    initial_velocity_std: float = 1.0
    measurement_std_floor: float = 0.05
    measurement_correlation_time: float = 0.15
    contact_bias_std_px: Tuple[float, float] = (0.24, 0.67)
    contact_bias_std_size: Tuple[float, float] = (0.0064, 0.012)
    outlier_gate: float = 9.21
    relinearise: bool = True
    relinearise_max_ratio: float = 2.0

    def __post_init__(self) -> None:
        """Reject settings that cannot work."""
        for name in ('contact_std_px', 'contact_std_height', 'contact_bias_std_px',
                     'contact_bias_std_size'):
            value = getattr(self, name)
            if len(value) != 2 or not all(np.isfinite(v) and v >= 0.0 for v in value):
                raise ValueError(f'{name} must be two finite values >= 0, got {value!r}')
        pairs = zip(self.contact_std_px, self.contact_std_height)
        if not any(a > 0.0 or b > 0.0 for a, b in pairs):
            raise ValueError('contact_std_px and contact_std_height cannot both be zero')
        for name in ('std_acceleration', 'initial_velocity_std', 'outlier_gate'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0.0):
                raise ValueError(f'{name} must be finite and > 0, got {value!r}')
        for name in ('measurement_std_floor', 'measurement_correlation_time'):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f'{name} must be finite and >= 0, got {value!r}')
        if not (np.isfinite(self.relinearise_max_ratio) and self.relinearise_max_ratio >= 1.0):
            raise ValueError('relinearise_max_ratio must be finite and >= 1, got '
                             f'{self.relinearise_max_ratio!r}')

    def contact_covariance_uv(self, heights_px: npt.ArrayLike) -> FloatArray:
        """
        Return the pixel covariance of box bottom-centres.

        Parameters
        ----------
        heights_px : array_like, shape (N,)
            Box heights, px.

        Returns
        -------
        ndarray, shape (N, 2, 2)
            Diagonal (u, v) covariances, px^2.

        """
        heights = np.asarray(heights_px, dtype=np.float64).reshape(-1, 1)
        variance = (np.square(self.contact_std_px)[None, :]
                    + np.square(np.asarray(self.contact_std_height)[None, :] * heights))
        return variance[:, :, None] * np.eye(2)

    def bias_covariance_uv(self, sizes_wh: npt.ArrayLike) -> FloatArray:
        """
        Return the pixel covariance of the persistent error of box bottom-centres.

        Parameters
        ----------
        sizes_wh : array_like, shape (N, 2)
            Box widths and heights, px.

        Returns
        -------
        ndarray, shape (N, 2, 2)
            Diagonal (u, v) covariances, px^2.

        """
        sizes = np.asarray(sizes_wh, dtype=np.float64).reshape(-1, 2)
        sigma = (np.asarray(self.contact_bias_std_px)[None, :]
                 + np.asarray(self.contact_bias_std_size)[None, :] * sizes)
        return np.square(sigma)[:, :, None] * np.eye(2)


class GroundTrackFilter:
    """
    Ground-plane constant-velocity filters of one camera's tracks, keyed by track id.

    Parameters
    ----------
    config : GroundFilterConfig, optional
    projection : GroundProjectionConfig, optional
        Range and horizon limits of contact points.

    Attributes
    ----------
    outliers : int
        Measurements whose covariance was inflated onto the outlier gate, since creation.
    from_depth : ndarray, shape (N,)
        Rows of the last update whose measurement came from depth, not the ground plane.

    """

    def __init__(self, config: Optional[GroundFilterConfig] = None,
                 projection: Optional[GroundProjectionConfig] = None) -> None:
        self.config = config if config is not None else GroundFilterConfig()
        self.projection = projection
        self.kalman = GroundKalmanCV(self.config.std_acceleration,
                                     self.config.measurement_std_floor)
        self.outliers = 0
        self.from_depth = np.zeros(0, dtype=bool)
        # id -> (stamp s, mean (4,), covariance (4, 4), persistent contact error (2, 2) m^2)
        self._states: Dict[int, Tuple[float, FloatArray, FloatArray, FloatArray]] = {}

    def reset(self) -> None:
        """Forget every track (the clock restarted, or the world frame changed)."""
        self._states.clear()

    def __len__(self) -> int:
        """Return how many tracks have a filter."""
        return len(self._states)

    def update(self, stamp_s: float, tracks: Sequence[Any], detections_tlwh: npt.ArrayLike,
               camera: PinholeCamera, pose_world_camera: Pose,
               ground_height: float = 0.0, depth: Optional[DepthPositions] = None
               ) -> GroundTracks:
        """
        Advance every track's filter to ``stamp_s`` and correct it with its detection.

        Parameters
        ----------
        stamp_s : float
            Stamp of the update, s.
        tracks : sequence of track outputs
            N tracks of one tracker update (the core's ``TrackOutput``: ``track_id``,
            ``state``, ``detection_index``, ``box_cxcywh``, ``velocity_cxcywh``,
            ``covariance``). Ids absent from it are forgotten.
        detections_tlwh : array_like, shape (M, 4)
            The update's detections; ``detection_index`` points into them.
        camera : PinholeCamera
            The camera of those boxes.
        pose_world_camera : Pose
            Camera optical frame in the world frame at ``stamp_s``.
        ground_height : float
            Height of the ground plane in the world frame, m.
        depth : DepthPositions, optional
            N rows aligned with ``tracks``: positions from a registered depth image. Where
            valid they are the track's measurement instead of its ground contact point (no
            range error from a box bottom, no persistent contact error); elsewhere the ground
            plane is used, per track.

        Returns
        -------
        GroundTracks
            N rows aligned with ``tracks``: filtered position, velocity and covariances;
            ``valid`` False where the track has neither a filter nor a usable contact point.

        """
        n = len(tracks)
        position = np.full((n, 2), np.nan)
        position_cov = np.full((n, 2, 2), np.nan)
        velocity = np.full((n, 2), np.nan)
        velocity_cov = np.full((n, 2, 2), np.nan)
        valid = np.zeros(n, dtype=bool)
        ids = np.array([int(t.track_id) for t in tracks], dtype=np.int64)
        stale = [i for i, state in self._states.items() if state[0] > stamp_s]
        for track_id in stale:  # time went back for these: start them again
            del self._states[track_id]
        reported = set(ids.tolist())
        self._states = {i: s for i, s in self._states.items() if i in reported}
        self.from_depth = np.zeros(n, dtype=bool)
        if n == 0:
            return GroundTracks(position, position_cov, velocity, velocity_cov, valid)
        measured, measured_cov, bias_cov, has_measurement = self._measurements(
            tracks, detections_tlwh, camera, pose_world_camera, ground_height)
        if depth is not None:
            self.from_depth = (np.asarray(depth.valid, dtype=bool)
                               & np.all(np.isfinite(depth.position_xy), axis=1)
                               & np.all(np.isfinite(depth.position_cov), axis=(1, 2)))
            measured[self.from_depth] = depth.position_xy[self.from_depth]
            measured_cov[self.from_depth] = depth.position_cov[self.from_depth]
            bias_cov[self.from_depth] = 0.0
            has_measurement = has_measurement | self.from_depth
        known = np.array([i in self._states for i in ids.tolist()], dtype=bool)
        rows = np.flatnonzero(known)
        mean = np.zeros((n, 4))
        covariance = np.zeros((n, 4, 4))
        dt = np.zeros(n)
        if len(rows):
            states = [self._states[int(i)] for i in ids[rows]]
            dt[rows] = [stamp_s - s[0] for s in states]
            # A coasting track keeps the persistent error of its last measurement.
            previous_bias = np.array([s[3] for s in states])
            bias_cov[rows] = np.where(has_measurement[rows, None, None], bias_cov[rows],
                                      previous_bias)
            mean[rows], covariance[rows] = self.kalman.predict(
                np.array([s[1] for s in states]), np.array([s[2] for s in states]), dt[rows])
            # Depth does not share the box bottom's persistent error that the state carries
            # from ground-plane measurements: the state is that much less certain against it
            # (else the first depth after the ground plane looks like an outlier).
            switched = self.from_depth[rows]
            covariance[rows[switched], :2, :2] += previous_bias[switched]
        # A new track starts where the image track's box bottom is (it has averaged the
        # detections before confirmation), as uncertain as one detection, or where depth
        # puts it; its velocity is the walking prior fused with the image track's.
        new = np.flatnonzero(~known & has_measurement)
        if len(new):
            prior = ground_tracks([tracks[i] for i in new], camera, pose_world_camera,
                                  ground_height, self.projection)
            start = np.where(prior.valid[:, None] & ~self.from_depth[new, None],
                             prior.position_xy, measured[new])
            speed, speed_cov = self._velocity_prior(prior)
            mean[new], covariance[new] = self.kalman.initiate(
                start, measured_cov[new], speed, speed_cov)
        correct = np.flatnonzero(known & has_measurement)
        if len(correct):
            with np.errstate(divide='ignore'):
                correlated = np.maximum(
                    self.config.measurement_correlation_time / dt[correct], 1.0)
            noise = measured_cov[correct] * correlated[:, None, None]
            ground = ~self.from_depth[correct]
            if self.config.relinearise and ground.any():
                noise[ground] = self._relinearised(
                    mean[correct[ground]], covariance[correct[ground]],
                    measured[correct[ground]], noise[ground],
                    np.asarray(pose_world_camera.translation, dtype=np.float64)[:2])
            mean[correct], covariance[correct] = self._robust_update(
                mean[correct], covariance[correct], measured[correct], noise)
        estimated = known | has_measurement
        position[estimated] = mean[estimated, :2]
        velocity[estimated] = mean[estimated, 2:]
        position_cov[estimated] = covariance[estimated, :2, :2] + bias_cov[estimated]
        velocity_cov[estimated] = covariance[estimated, 2:, 2:]
        valid[estimated] = True
        for row in np.flatnonzero(estimated & (ids > 0)):
            self._states[int(ids[row])] = (stamp_s, mean[row].copy(), covariance[row].copy(),
                                           bias_cov[row].copy())
        return GroundTracks(position, position_cov, velocity, velocity_cov, valid)

    def _velocity_prior(self, prior: GroundTracks) -> Tuple[FloatArray, FloatArray]:
        # A walking person's velocity, zero-mean with initial_velocity_std per axis, fused with
        # the image track's velocity carried to the ground with its own covariance: near and
        # high cameras measure it, far and low ones (metres per pixel along the line of sight)
        # barely do, and their image velocity must not start the filter metres per second off.
        n = len(prior.valid)
        walk_info = np.eye(2) / self.config.initial_velocity_std ** 2
        image_cov = np.where(prior.valid[:, None, None], prior.velocity_cov, np.eye(2))
        image_xy = np.where(prior.valid[:, None], prior.velocity_xy, 0.0)
        usable = prior.valid & np.all(np.isfinite(image_cov), axis=(1, 2)) & np.all(
            np.isfinite(image_xy), axis=1)
        image_info = np.zeros((n, 2, 2))
        if usable.any():
            image_info[usable] = np.linalg.pinv(image_cov[usable], hermitian=True)
        covariance = np.linalg.inv(walk_info + image_info)
        velocity = np.einsum('nij,njk,nk->ni', covariance, image_info,
                             np.where(usable[:, None], image_xy, 0.0))
        return velocity, covariance

    def _measurements(self, tracks: Sequence[Any], detections_tlwh: npt.ArrayLike,
                      camera: PinholeCamera, pose_world_camera: Pose, ground_height: float
                      ) -> Tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        # The ground contact point of each track's matched detection, the covariance of its
        # frame-to-frame error and that of its persistent error.
        boxes = np.asarray(detections_tlwh, dtype=np.float64).reshape(-1, 4)
        index = np.array([int(t.detection_index) for t in tracks], dtype=np.int64)
        matched = (index >= 0) & (index < len(boxes))
        chosen = boxes[np.where(matched, index, 0)] if len(boxes) else np.zeros((len(index), 4))
        contact = np.column_stack([chosen[:, 0] + chosen[:, 2] / 2.0, chosen[:, 1] + chosen[:, 3]])
        zeros = np.zeros((len(index), 2))
        projected = project_tracks_to_ground(
            camera, pose_world_camera, ground_height, contact,
            self.config.contact_covariance_uv(chosen[:, 3]), zeros, np.zeros((len(index), 2, 2)),
            self.projection)
        bias = project_tracks_to_ground(
            camera, pose_world_camera, ground_height, contact,
            self.config.bias_covariance_uv(chosen[:, 2:4]), zeros, np.zeros((len(index), 2, 2)),
            self.projection)
        usable = matched & projected.valid
        bias_cov = np.where(usable[:, None, None], bias.position_cov, 0.0)
        return projected.position_xy, projected.position_cov, bias_cov, usable

    def _relinearised(self, mean: FloatArray, covariance: FloatArray, measured: FloatArray,
                      measured_cov: FloatArray, camera_xy: FloatArray) -> FloatArray:
        # The contact point's noise is the pixel error through the ray Jacobian at the measured
        # point: its sigma grows with range across the line of sight and with range^2 along
        # it. Linearised there, a box bottom that lands too near claims too small a noise and
        # pulls the estimate nearer still (and one too far is under-weighted), a range bias.
        # Re-evaluate the Jacobian's scale at the range the update settles on (one iteration
        # of an iterated Kalman update), the ratio clipped so that a first update dragged by
        # an outlier cannot swing the noise without bound.
        first, _ = self.kalman.update(mean, covariance, measured, measured_cov)
        line = measured - camera_xy
        measured_range = np.linalg.norm(line, axis=1)
        aside = measured_range > 1e-6  # a contact right under the camera has no line of sight
        along = np.where(aside[:, None], line / np.where(aside, measured_range, 1.0)[:, None],
                         [1.0, 0.0])
        limit = self.config.relinearise_max_ratio
        ratio = np.clip(np.linalg.norm(first[:, :2] - camera_xy, axis=1)
                        / np.where(aside, measured_range, 1.0), 1.0 / limit, limit)
        ratio = np.where(aside, ratio, 1.0)
        # Scale sigma by ratio across and ratio^2 along: M = ratio P_across + ratio^2 P_along
        # with P the projections on those axes, and R' = M R M.
        across = np.column_stack([-along[:, 1], along[:, 0]])
        scale = (ratio[:, None, None] * np.einsum('ni,nj->nij', across, across)
                 + np.square(ratio)[:, None, None] * np.einsum('ni,nj->nij', along, along))
        return np.einsum('nij,njk,nkl->nil', scale, measured_cov, scale)

    def _robust_update(self, mean: FloatArray, covariance: FloatArray, measured: FloatArray,
                       measured_cov: FloatArray) -> Tuple[FloatArray, FloatArray]:
        distance = self.kalman.pair_distance(mean, covariance, measured, measured_cov)
        # Inflating the whole innovation covariance onto the gate keeps an outlier's pull
        # bounded; inflating only R by the same factor is a close, simpler approximation.
        scale = np.maximum(distance / self.config.outlier_gate, 1.0)
        self.outliers += int(np.count_nonzero(scale > 1.0))
        return self.kalman.update(mean, covariance, measured,
                                  measured_cov * scale[:, None, None])
