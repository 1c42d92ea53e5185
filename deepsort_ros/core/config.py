"""
Every threshold of the tracker, in one validated dataclass.

Times are in seconds, distances in pixels or box heights as named; nothing here is "per frame",
so the same settings work at 7 Hz and at 30 Hz.
"""

from dataclasses import dataclass

from deepsort_ros.core.validation import (check_above, check_at_least, check_field_types,
                                          check_range)


@dataclass
class TrackerConfig:
    """
    Settings of :class:`deepsort_ros.core.Tracker`; checked when constructed.

    Attributes
    ----------
    max_cosine_distance : float
        Largest cosine distance (0..2) of an appearance match.
    nn_budget : int
        Features kept per track in its gallery; the representative is their mean.
    feature_ema_alpha : float
        0 uses the gallery mean as a track's representative feature; in (0, 1) an exponential
        moving average with this weight on the old value instead.
    gallery_max_coverage : float
        A matched detection whose box another detection of the frame covers over more than
        this fraction of its area adds no feature to its track's gallery: its crop shows two
        people (1: every detection adds).
    appearance_weight : float
        Weight of the cosine distance in the first-stage cost; the rest is the normalised
        Mahalanobis distance (1.0 is DeepSORT's pure appearance cost).
    gating_threshold : float
        Squared Mahalanobis distance (4 dof) beyond which a track cannot take a detection by
        appearance. Wider than the chi-square 0.95 quantile (9.49): the filter's small process
        noise keeps it sure of a walker's path, too sure after an occlusion or a turn
        (measured on PETS09-S2L1 and TUD, bench/README.md).
    max_iou_distance : float
        Largest cost of an IoU-stage match: 1 - IoU, or 1 - IoU x score with
        ``iou_score_fusion``.
    iou_score_fusion : bool
        Weight the IoU stage's overlap by the detection score (ByteTrack's fused score): of two
        boxes overlapping a track alike, the confident one wins.
    confirmed_first : bool
        In the IoU stage, confirmed tracks take their detections before tentative ones
        (ByteTrack, BoT-SORT): a track just started by a stray box cannot take a confirmed
        track's person.
    observation_recovery : bool
        After the IoU stage, match confirmed tracks left to high-score detections by the IoU of
        their last detection's box rather than their prediction (OC-SORT's observation-centric
        recovery): a person who turned or stopped is found where the prediction overshot.
    recovery_max_iou_distance : float
        Largest 1 - IoU of an observation-centric recovery match.
    recovery_max_gap : float
        A confirmed track with appearance is recovered by its last detection's box only if it
        was seen at most this many seconds ago: the box of a person hidden longer is where
        someone else now walks (appearance finds the person again).
    iou_max_gap : float
        A confirmed track with appearance takes part in IoU matching only if it was seen at
        most this many seconds ago; after longer gaps only its appearance can claim a
        detection, so strangers do not inherit identities.
    matching_cascade : bool
        Match recently seen tracks first (DeepSORT's cascade by time since update).
    max_age : float
        Seconds a confirmed track coasts without a detection before it is deleted.
    n_init : int
        Consecutive hits that confirm a tentative track.
    confirm_first_frame : bool
        Confirm the tracks started by the very first update at once (ByteTrack does): with
        nothing tracked yet there is no identity to confuse them with.
    tentative_max_age : float
        Seconds a tentative track may miss before it is deleted (0: its first miss).
    high_score_threshold : float
        Detections at or above this score take part in the main association.
    low_score_threshold : float
        Detections below this score are ignored altogether.
    second_association : bool
        Match confirmed tracks left over to low-score detections by IoU (ByteTrack).
    second_max_iou_distance : float
        Largest 1 - IoU of a low-score match.
    new_track_score : float
        Lowest score of an unmatched detection that starts a track.
    class_aware : bool
        Never associate a track and a detection of different classes.
    std_position : float
        Process noise of centre and size, fraction of box size per sqrt(second).
    std_velocity : float
        Process noise of the velocities, fraction of box size per second per sqrt(second).
    std_measurement : float
        Detection noise, fraction of box size.
    initial_velocity_std : float
        Initial uncertainty of a new track's velocity, box sizes per second.
    score_scaled_noise : bool
        Scale the detection noise by (1 - score) as in StrongSORT's NSA Kalman filter.
    occlusion_iou : float
        A coasting track overlapping a tracked one at least this much is reported occluded.
    lost_gallery_size : int
        Identities of deleted confirmed tracks remembered for re-identification (0: off).
    lost_gallery_max_age : float
        Seconds an identity stays re-linkable after its last detection.
    relink_max_cosine_distance : float
        Largest cosine distance of a re-link of a new track to a coasting track's identity.
    relink_lost_max_cosine_distance : float
        Largest cosine distance of a re-link to a deleted identity: stricter, as people leaving
        a scene are often replaced by look-alikes entering it.
    relink_max_speed : float
        Largest plausible speed between the last and the new sighting, box heights per second.
    relink_min_radius : float
        Smallest search radius around the last sighting, box heights.
    target_search_time : float
        Seconds the single followed target is reported SEARCHING before LOST.
    target_reacquire_max_cosine_distance : float
        Largest cosine distance (to the nearest feature of the target's gallery) at which a
        track may become the lost followed target within ``target_reacquire_window``; a
        followed track matched again after a gap whose fresh look is further is doubted.
    target_confirm_time : float
        Seconds a re-acquisition candidate must keep looking like the target (CANDIDATE)
        before it is followed (TRACKED); also how long a track coming out of the followed
        box is compared with the followed one before the target may move to it.
    target_same_id_confirm_time : float
        Seconds instead of ``target_confirm_time`` when the candidate has the target's own
        identity (the followed track back from a doubt, or a new track the tracker's
        re-identification re-linked to it) within ``target_search_time`` of the target's last
        sighting.
    target_margin : float
        A candidate must be at least this much closer (cosine distance) to the target's
        gallery than to the nearest person seen around the target; the followed track is
        doubted when it is this much closer to such a person than to the target. A track
        coming out of the followed box gets a frame's vote when its crop is this much closer
        to the selection's crops than the followed track's.
    target_reacquire_window : float
        Seconds after the target was last seen during which a candidate must be where the
        target could have walked (``target_max_speed``, ``relink_min_radius``); after it the
        target stays LOST unless a track matches within ``target_confident_cosine_distance``.
    target_confident_cosine_distance : float
        Largest cosine distance of a re-acquisition after ``target_reacquire_window``.
    target_gallery_size : int
        Features of the target kept (learnt only from unoccluded, confident matches).
    target_negatives_size : int
        Features of the people seen around the target kept as non-targets.
    target_max_speed : float
        Fastest plausible walk of the target while unseen, box heights per second (a
        re-acquisition candidate must be within ``relink_min_radius`` plus this times the
        time unseen of where the target was last seen).
    report_deleted : bool
        Report a confirmed track once more, state DELETED, in the update that deletes it.
    max_time_step : float
        Largest dt predicted in one step; longer gaps are clamped (a paused stream).
    max_box_coordinate : float
        Pixels; a detection with a left, top, width or height beyond this in magnitude is
        dropped as bad data (squared box sizes feed the covariances and would overflow). A
        track whose box or box standard deviation grows beyond it (only absurd camera motions
        get there) is deleted.

    """

    max_cosine_distance: float = 0.2
    nn_budget: int = 100
    feature_ema_alpha: float = 0.0
    gallery_max_coverage: float = 0.6
    appearance_weight: float = 0.98
    gating_threshold: float = 30.0
    max_iou_distance: float = 0.7
    iou_score_fusion: bool = True
    confirmed_first: bool = True
    observation_recovery: bool = True
    recovery_max_iou_distance: float = 0.5
    recovery_max_gap: float = 0.5
    iou_max_gap: float = 1.5
    matching_cascade: bool = False
    max_age: float = 3.0
    n_init: int = 3
    confirm_first_frame: bool = True
    tentative_max_age: float = 0.0
    high_score_threshold: float = 0.5
    low_score_threshold: float = 0.1
    second_association: bool = True
    second_max_iou_distance: float = 0.5
    new_track_score: float = 0.5
    class_aware: bool = True
    std_position: float = 0.1
    std_velocity: float = 0.3
    std_measurement: float = 0.08
    initial_velocity_std: float = 1.0
    score_scaled_noise: bool = False
    occlusion_iou: float = 0.1
    lost_gallery_size: int = 200
    lost_gallery_max_age: float = 30.0
    relink_max_cosine_distance: float = 0.25
    relink_lost_max_cosine_distance: float = 0.1
    relink_max_speed: float = 1.5
    relink_min_radius: float = 1.0
    target_search_time: float = 2.0
    target_reacquire_max_cosine_distance: float = 0.3
    target_confirm_time: float = 0.5
    target_same_id_confirm_time: float = 0.1
    target_margin: float = 0.02
    target_reacquire_window: float = 5.0
    target_confident_cosine_distance: float = 0.05
    target_gallery_size: int = 100
    target_negatives_size: int = 200
    target_max_speed: float = 1.0
    report_deleted: bool = True
    max_time_step: float = 5.0
    max_box_coordinate: float = 1e5

    def __post_init__(self) -> None:
        """Check every value; raise ValueError naming the setting and the allowed range."""
        check_field_types(self)
        check_range(self, ('max_cosine_distance', 'relink_max_cosine_distance',
                           'relink_lost_max_cosine_distance',
                           'target_reacquire_max_cosine_distance',
                           'target_confident_cosine_distance', 'target_margin'), 0.0, 2.0)
        check_range(self, ('feature_ema_alpha',), 0.0, 1.0, high_open=True)
        check_range(self, ('appearance_weight', 'gallery_max_coverage', 'max_iou_distance',
                           'second_max_iou_distance', 'recovery_max_iou_distance',
                           'occlusion_iou', 'high_score_threshold', 'low_score_threshold',
                           'new_track_score'), 0.0, 1.0)
        check_above(self, ('gating_threshold', 'std_position', 'std_velocity', 'std_measurement',
                           'initial_velocity_std', 'max_age', 'lost_gallery_max_age',
                           'relink_max_speed', 'max_time_step', 'max_box_coordinate',
                           'target_max_speed'), 0.0)
        check_at_least(self, ('tentative_max_age', 'relink_min_radius', 'target_search_time',
                              'iou_max_gap', 'recovery_max_gap', 'target_confirm_time',
                              'target_same_id_confirm_time',
                              'target_reacquire_window'), 0.0)
        check_at_least(self, ('nn_budget', 'n_init', 'target_gallery_size',
                              'target_negatives_size'), 1)
        check_at_least(self, ('lost_gallery_size',), 0)
        if self.low_score_threshold > self.high_score_threshold:
            raise ValueError('low_score_threshold must be <= high_score_threshold, got '
                             f'{self.low_score_threshold} > {self.high_score_threshold}')
