"""
The life of a track: predicted, updated, missed, confirmed, started, deleted.

Each function acts on the slots of a :class:`TrackTable` at once; the tracker calls them in
order, once per update. Nothing here chooses which detection goes with which track (that is
:mod:`deepsort_ros.core.association`).
"""

from deepsort_ros.core.boxes import cxcywh_to_tlbr, iou_matrix_tlbr
from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.detections import DetectionBatch
from deepsort_ros.core.kalman_filter import KalmanFilterCV
from deepsort_ros.core.track_table import has_feature_rows, TrackTable
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
NO_IDENTITY = 0  # the identity of a tentative track: none yet


def predict(table: TrackTable, kalman: KalmanFilterCV, slots: IntArray, dt: float,
            max_coordinate: float) -> IntArray:
    """
    Predict the tracks in ``slots`` by ``dt`` seconds; delete those whose state broke.

    Parameters
    ----------
    table : TrackTable
        The tracks.
    kalman : KalmanFilterCV
        The motion model.
    slots : ndarray of int, shape (T,)
        Slots of the tracks concerned.
    dt : float
        Seconds (nothing is predicted when 0).
    max_coordinate : float
        Largest accepted magnitude of a box number and of a box standard deviation.

    Returns
    -------
    ndarray of int
        The slots that stay: a state is broken when it is not finite or out of range.

    """
    if len(slots) == 0:
        return slots
    # Rows taken once and checked before they are written back: each fancy-indexed read of
    # the (T, 8, 8) covariances is a copy.
    mean, cov = table.mean[slots], table.covariance[slots]
    if dt > 0.0:
        # Absurd camera motions may overflow; the check below removes what they break.
        with np.errstate(over='ignore', invalid='ignore'):
            mean, cov = kalman.predict(mean, cov, dt)
        table.mean[slots] = mean
        table.covariance[slots] = cov
    idx = np.arange(4)
    with np.errstate(invalid='ignore'):
        sane = (np.isfinite(mean).all(axis=1) & np.isfinite(cov).all(axis=(1, 2))
                & np.all(np.abs(mean[:, :4]) <= max_coordinate, axis=1)
                & np.all(np.abs(table.last_box_cxcywh[slots]) <= max_coordinate, axis=1)
                & np.all(cov[:, idx, idx] <= max_coordinate ** 2, axis=1))
    if sane.all():
        return slots
    table.release(slots[~sane])
    return slots[sane]


def update_matched(table: TrackTable, kalman: KalmanFilterCV, config: TrackerConfig,
                   slots: IntArray, dets: IntArray, detections: DetectionBatch,
                   now: float) -> None:
    """
    Correct matched tracks with their detections and add their appearance.

    Parameters
    ----------
    table : TrackTable
        The tracks.
    kalman : KalmanFilterCV
        The motion model.
    config : TrackerConfig
        The tracker settings.
    slots : ndarray of int, shape (K,)
        Matched tracks.
    dets : ndarray of int, shape (K,)
        Their detections, indices into ``detections``.
    detections : DetectionBatch
        This frame's detections.
    now : float
        Seconds.

    """
    if len(slots) == 0:
        return
    scores = detections.scores[dets]
    mean, cov = kalman.update(table.mean[slots], table.covariance[slots],
                              detections.boxes_cxcywh[dets],
                              scores if config.score_scaled_noise else None)
    table.mean[slots] = mean
    table.covariance[slots] = cov
    table.hits[slots] += 1
    table.misses[slots] = 0
    table.last_update_time[slots] = now
    table.last_box_cxcywh[slots] = detections.boxes_cxcywh[dets]
    table.score[slots] = scores
    table.detection_index[slots] = detections.rows[dets]
    if detections.features is not None:
        features = detections.features[dets]
        # Low-score detections are often occluded: their features would pollute the gallery.
        good = (scores >= config.high_score_threshold) & has_feature_rows(features)
        # A crop another box covers shows two people: it would pull the representative
        # towards the other one, and the track would take that person's next detection.
        good[good] = detections.max_coverage(dets[good]) <= config.gallery_max_coverage
        table.add_features(slots[good], features[good])


def mark_missed(table: TrackTable, slots: IntArray) -> None:
    """Count a miss for tracks left without a detection in this update."""
    table.misses[slots] += 1
    table.detection_index[slots] = -1


def confirm(table: TrackTable, slots: IntArray, n_init: int) -> IntArray:
    """Confirm the tentative tracks among ``slots`` with ``n_init`` hits; return them."""
    newly = slots[~table.confirmed[slots] & (table.hits[slots] >= n_init)]
    table.confirmed[newly] = True
    return newly


def start_tracks(table: TrackTable, kalman: KalmanFilterCV, config: TrackerConfig,
                 detection_match: IntArray, detections: DetectionBatch, now: float,
                 first_frame: bool) -> IntArray:
    """
    Start a track for every unmatched detection that scores high enough.

    A new track has no identity yet (``track_id`` 0): :func:`name_identities` gives it one
    once it is confirmed, so that identities count objects, not false alarms.

    Parameters
    ----------
    table : TrackTable
        The tracks.
    kalman : KalmanFilterCV
        The motion model.
    config : TrackerConfig
        The tracker settings.
    detection_match : ndarray of int, shape (M,)
        Track of each detection, -1 when unmatched.
    detections : DetectionBatch
        This frame's detections.
    now : float
        Seconds.
    first_frame : bool
        This is the tracker's first update (``confirm_first_frame``).

    Returns
    -------
    ndarray of int
        Slots of the new tracks, in detection order.

    """
    scores = detections.scores
    dets = np.flatnonzero((detection_match < 0) & (scores >= config.new_track_score)
                          & (scores >= config.high_score_threshold))
    slots = table.allocate(len(dets))
    if len(dets) == 0:
        return slots
    boxes = detections.boxes_cxcywh[dets]
    mean, cov = kalman.initiate(boxes)
    table.mean[slots] = mean
    table.covariance[slots] = cov
    table.track_id[slots] = NO_IDENTITY
    table.class_id[slots] = detections.class_ids[dets]
    table.score[slots] = scores[dets]
    table.confirmed[slots] = config.n_init <= 1 or (config.confirm_first_frame and first_frame)
    table.hits[slots] = 1
    table.age[slots] = 1
    table.misses[slots] = 0
    table.last_update_time[slots] = now
    table.first_time[slots] = now
    table.last_box_cxcywh[slots] = boxes
    table.detection_index[slots] = detections.rows[dets]
    if detections.features is not None:
        features = detections.features[dets]
        good = has_feature_rows(features)
        table.add_features(slots[good], features[good])
    return slots


def stale(table: TrackTable, config: TrackerConfig, slots: IntArray, now: float) -> IntArray:
    """
    Return the tracks among unmatched ``slots`` that have been unseen too long.

    A confirmed track lives ``max_age`` seconds without a detection; a tentative one
    ``tentative_max_age`` (0: it dies at its first miss).
    """
    unseen = now - table.last_update_time[slots]
    confirmed = table.confirmed[slots]
    too_old = np.where(confirmed, unseen > config.max_age,
                       unseen >= config.tentative_max_age if config.tentative_max_age > 0
                       else True)
    return slots[too_old]


def mark_occluded(table: TrackTable, slots: IntArray, occlusion_iou: float) -> None:
    """Flag coasting confirmed tracks that overlap a track seen in this update."""
    table.occluded[slots] = False
    coasting = slots[table.confirmed[slots] & (table.misses[slots] > 0)]
    seen = slots[table.misses[slots] == 0]
    if len(coasting) == 0 or len(seen) == 0:
        return
    iou = iou_matrix_tlbr(cxcywh_to_tlbr(table.mean[coasting, :4]),
                          cxcywh_to_tlbr(table.mean[seen, :4]))
    table.occluded[coasting] = iou.max(axis=1) >= max(occlusion_iou, 1e-9)


def name_identities(table: TrackTable, first_id: int) -> int:
    """
    Give every confirmed track that has no identity yet the next free ones.

    Parameters
    ----------
    table : TrackTable
        The tracks.
    first_id : int
        The next free identity.

    Returns
    -------
    int
        Identities handed out (in the order the tracks started).

    """
    active = table.active
    unnamed = active[table.confirmed[active] & (table.track_id[active] == NO_IDENTITY)]
    unnamed = unnamed[np.argsort(table.first_time[unnamed], kind='stable')]
    table.track_id[unnamed] = np.arange(first_id, first_id + len(unnamed))
    return len(unnamed)
