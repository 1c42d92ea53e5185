"""
Every threshold of the multi-camera fusion, in one validated dataclass.

Distances are in metres on the world ground plane, times in seconds of the cameras' stamps,
appearance distances are cosine distances (0..2) of unit Re-ID features.
"""

from dataclasses import dataclass

from deepsort_ros.core.validation import (check_above, check_at_least, check_field_types,
                                          check_range)

# 0.999 quantile of the chi-square distribution with 2 degrees of freedom (x, y).
CHI2_999_2DOF = 13.816


@dataclass
class FusionConfig:
    """
    Settings of :class:`deepsort_ros.fusion.TrackFusion`; checked when constructed.

    Attributes
    ----------
    position_gate : float
        Squared Mahalanobis distance (2 dof) of a camera track's ground position to a global
        track's prediction beyond which they cannot be one person (overlapping views).
    keep_position_gate : float
        Looser gate that a local track already bound to a global track must stay within, as
        long as another camera also sees that global track; beyond it the binding is broken.
    measurement_std_floor : float
        Metres added (as a standard deviation, in quadrature) to every published position
        covariance: cameras disagree by more than their own filters believe (box bottoms,
        calibration, clock jitter).
    std_acceleration : float
        White-noise acceleration of the ground-plane constant-velocity filter, m/s^2.
    initial_velocity_std : float
        Velocity uncertainty of a new global track, m/s, added to the camera's own.
    max_speed : float
        Fastest plausible walk between two sightings, m/s: a handover farther than
        ``max_speed * gap + handover_min_radius`` from the last sighting is refused.
    handover_min_radius : float
        Metres a person may be from the last sighting (and from where its velocity then
        predicts it) however short the gap.
    handover_spread : float
        m/s: a handover must also lie within ``handover_min_radius + handover_spread * gap``
        of the constant-velocity prediction from the last sighting (people slow down and
        turn, but two people crossing the unseen strip in opposite directions are told
        apart).
    overlap_max_gap : float
        Seconds: a global track detected this recently is associated by position (overlapping
        views); an older one only by handover (appearance and travel time).
    merge_after : float
        Seconds two global tracks seen by different cameras must stay together (within
        ``position_gate`` of each other and ``overlap_max_cosine`` in appearance) before they
        are taken for one person and merged into the older identity: the repair for a
        person who entered two views at once, or whose first association failed. 0 turns
        merging off.
    coast_max_age : float
        Seconds after its last detection that a global track is still reported (COASTING).
    handover_window : float
        Seconds after its last detection that a global track is remembered for handover;
        then it is deleted.
    camera_timeout : float
        A camera silent this long (fusion time) is stale: its bindings are released, so its
        tracks age out while the other cameras go on.
    max_delay : float
        Input older than the fusion's time by up to this is predicted forward to it (counted
        as delayed); older input is refused as too late.
    max_clock_ahead : float
        Input stamped ahead of its arrival time (when given) by more than this is refused:
        that camera's clock is off. Without arrival times, input this far ahead of the
        fusion's time is refused while other cameras keep that time going, and taken once
        none has for ``camera_timeout`` (all cameras paused).
    appearance_weight : float
        Weight of the appearance term in the cost of a position-gated (overlap) pair; the
        rest is the normalised Mahalanobis distance.
    overlap_max_cosine : float
        Largest cosine distance of an overlap pair, when both sides have a feature.
    handover_max_cosine : float
        Largest cosine distance of a handover (no overlap, travel time only as a gate).
    appearance_only_max_cosine : float
        Largest cosine distance of a pair where one side has no world position.
    keep_max_cosine : float
        A bound local track whose feature drifts beyond this from its global track's is
        unbound.
    travel_weight : float
        Weight of the distance to the predicted position (over its radius, 0..1) in the
        handover cost, added to the normalised cosine distance.
    feature_ema_alpha : float
        Weight of the old value in the exponential moving average of a global track's
        appearance, in [0, 1).
    max_position : float
        Metres; a ground position beyond this in magnitude is bad data.
    encoder : str
        The Re-ID encoder (name and weights digest) whose features are compared; '' takes
        the first one seen. Features of any other encoder are refused.
    world_frame : str
        The frame all ground positions must be in; '' takes the first one named. Positions
        in another frame are refused (those tracks go on by appearance only).

    """

    position_gate: float = CHI2_999_2DOF
    keep_position_gate: float = 4.0 * CHI2_999_2DOF
    measurement_std_floor: float = 0.3
    std_acceleration: float = 1.0
    initial_velocity_std: float = 0.5
    max_speed: float = 2.5
    handover_min_radius: float = 2.0
    handover_spread: float = 3.0
    overlap_max_gap: float = 1.0
    merge_after: float = 2.0
    coast_max_age: float = 2.0
    handover_window: float = 30.0
    camera_timeout: float = 2.0
    max_delay: float = 1.0
    max_clock_ahead: float = 0.5
    appearance_weight: float = 0.5
    overlap_max_cosine: float = 0.4
    handover_max_cosine: float = 0.2
    appearance_only_max_cosine: float = 0.15
    keep_max_cosine: float = 0.5
    travel_weight: float = 0.05
    feature_ema_alpha: float = 0.9
    max_position: float = 1e4
    encoder: str = ''
    world_frame: str = ''

    def __post_init__(self) -> None:
        """Check every value; raise ValueError naming the setting and the allowed range."""
        check_field_types(self)
        check_range(self, ('overlap_max_cosine', 'handover_max_cosine',
                           'appearance_only_max_cosine', 'keep_max_cosine'), 0.0, 2.0)
        check_range(self, ('appearance_weight',), 0.0, 1.0)
        check_range(self, ('feature_ema_alpha',), 0.0, 1.0, high_open=True)
        check_above(self, ('position_gate', 'keep_position_gate', 'std_acceleration',
                           'max_speed', 'coast_max_age', 'handover_window', 'camera_timeout',
                           'max_position'), 0.0)
        check_at_least(self, ('measurement_std_floor', 'initial_velocity_std',
                              'handover_min_radius', 'handover_spread', 'overlap_max_gap',
                              'merge_after', 'max_delay', 'max_clock_ahead', 'travel_weight'),
                       0.0)
        if self.keep_position_gate < self.position_gate:
            raise ValueError('keep_position_gate must be >= position_gate, got '
                             f'{self.keep_position_gate} < {self.position_gate}')
        if self.handover_window < self.coast_max_age:
            raise ValueError('handover_window must be >= coast_max_age, got '
                             f'{self.handover_window} < {self.coast_max_age}')
