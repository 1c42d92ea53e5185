"""
Single-object mode: one chosen person followed, and never handed to a stranger.

:class:`TargetFollower` owns the target: which track is followed now, how the person looks (a
gallery of their features, taken only from frames where the match is beyond doubt), and who
they are not (a gallery of the people seen around them, and their identities). The target is
a hypothesis the tracks must keep earning; it never changes a track: the multi-object tracks
are the same whether a target is followed or not.

While the followed track is matched and looks like the person the target is TRACKED. When it
is not, other tracks may take over (a re-acquisition), but only as a CANDIDATE first: a track
that appeared after the person was last seen, is not one of the people seen beside them, could
have walked from where they were, and looks like them by a margin over every known non-target,
frame after frame for ``target_confirm_time``. After ``target_reacquire_window`` without the
person, position says nothing any more: only a confident match (``target_confident_cosine_
distance``) is a candidate, and otherwise the target stays LOST until the app selects again.
A followed track whose crops turn clearly closer to someone seen beside the target than to the
target (an identity switch in a crowd) is a CANDIDATE again, and dropped when that lasts.
A candidate with the target's own identity while SEARCHING (the dropped track looking like the
person again, or a new track the tracker re-linked to them) is confirmed over the shorter
``target_same_id_confirm_time``. When someone comes out of the followed box (a track first seen
overlapping it), the box may have held two people and the track kept the wrong one: over
``target_confirm_time`` the crops nearer what the app pointed at (the selection's) decide, and
when they keep the followed track, crops of the two once their boxes are apart decide again.
A target whose box was never seen alone since the selection (another track, tentative ones too,
overlapped it in every fresh frame) was pointed at in a box holding someone else too: a track
born in that box while it was followed may be the person, and is a candidate when the target is
lost, though born before the last sighting.
"""

import enum
from typing import Optional, Set, Tuple

from deepsort_ros.core.boxes import cxcywh_to_tlbr, iou_matrix_tlbr, warp_boxes_cxcywh
from deepsort_ros.core.config import TrackerConfig
from deepsort_ros.core.detections import DetectionBatch
from deepsort_ros.core.target_evidence import FeatureRing, fresh_features
from deepsort_ros.core.track_table import TrackTable
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Features of the selected track that seed the target's gallery: its last few crops.
SEED_FEATURES = 3


class TargetStatus(enum.Enum):
    """Status of the single followed target, reported every update."""

    NONE = 0
    """No target selected."""
    TRACKED = 1
    """The target's track was matched to a detection in this update."""
    SEARCHING = 2
    """Not seen now, for at most ``target_search_time``: predicted and searched for."""
    LOST = 3
    """Not seen for longer; the selection is kept and re-acquired only on strong evidence."""
    CANDIDATE = 4
    """Not seen; a track that looks like the target is being confirmed (not followed yet)."""


class TargetFollower:
    """
    The followed target: the track followed now, appearance, non-targets and status.

    Parameters
    ----------
    config : TrackerConfig
        The ``target_*`` settings (and ``relink_min_radius``,
        ``class_aware``, ``high_score_threshold``, ``occlusion_iou``).

    Attributes
    ----------
    track_id : int or None
        Identity of the track followed now; None when no target is selected.
    status : TargetStatus
        After the last update (or selection).
    confidence : float
        1 when TRACKED, the share of its confirmation time a CANDIDATE has been confirmed
        for, else 0.
    candidate_id : int or None
        Identity of the track being confirmed (status CANDIDATE), else None.
    reacquired : int
        Tracks that became the target after it was lost (since the follower was made).

    """

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.reacquired = 0
        self.clear()

    def clear(self) -> None:
        """Stop following a target."""
        self.track_id: Optional[int] = None
        self.status = TargetStatus.NONE
        self.confidence = 0.0
        self.candidate_id: Optional[int] = None
        self._first_time = 0.0
        self._last_first_time = np.nan
        self._class_id: Optional[int] = None
        self._last_seen = 0.0
        self._last_box_cxcywh = np.zeros(4)
        self._gallery = FeatureRing(self.config.target_gallery_size)
        self._negatives = FeatureRing(self.config.target_negatives_size)
        self._negative_ids: Set[int] = set()
        self._candidate: Optional[Tuple[int, float]] = None
        self._candidate_since = 0.0
        self._confirm_time = self.config.target_confirm_time
        # Frames of the candidate whose crop looked like the target, and whose did not.
        self._votes = [0, 0]
        self._doubt_since: Optional[float] = None
        # The followed track came back from a gap and no fresh crop has shown the person yet.
        self._on_probation = False
        # What the app pointed at: the selected track's crops at the selection, kept apart from
        # the gallery, which may learn a second person hidden in the followed box.
        self._seed = FeatureRing(SEED_FEATURES)
        # A track first seen overlapping the followed one (someone coming out of its box), and
        # the frames its crop / the followed track's was nearer the seed.
        self._split: Optional[Tuple[int, float]] = None
        self._split_since: Optional[float] = None
        self._split_votes = [0, 0]
        # The check kept the followed track on crops of overlapping boxes: it is asked again on
        # crops of the two boxes apart.
        self._split_again = False
        # Whether a fresh crop has shown the followed box alone (no other track seen now
        # overlapping it) since the selection, and until then the tracks born in that box, by
        # (slot, first time), not identity: a tentative track has none yet, a re-link changes it.
        self._seen_alone = False
        self._born_in_box: Set[Tuple[int, float]] = set()

    @property
    def followed_id(self) -> Optional[int]:
        """Return the identity of the track followed now (None when none is, or in doubt)."""
        if np.isnan(self._first_time) or self._doubt_since is not None:
            return None
        return self.track_id

    def select(self, table: TrackTable, track_id: Optional[int] = None,
               class_id: Optional[int] = None,
               point_xy: Optional[npt.ArrayLike] = None) -> Optional[int]:
        """
        Choose the target among the tracks; exactly one criterion must be given.

        The chosen track's gallery becomes the target's appearance, and the other confirmed
        tracks the first non-targets.

        Parameters
        ----------
        table : TrackTable
            The active tracks.
        track_id : int, optional
            This confirmed track (seen now or coasting).
        class_id : int, optional
            The confirmed track of this class with the best last detection score (tracks seen
            in the last update first).
        point_xy : array_like, shape (2,), optional
            The confirmed track whose box contains the point, nearest centre first; if none
            contains it, the one with the nearest centre.

        Returns
        -------
        int or None
            The chosen identity; None when nothing fits (the selection is then cleared).

        Raises
        ------
        ValueError
            When not exactly one criterion is given, or the point is not finite.

        """
        given = [v is not None for v in (track_id, class_id, point_xy)]
        if sum(given) != 1:
            raise ValueError('select_target needs exactly one of track_id, class_id, point_xy')
        slots = table.active
        chosen = -1
        if track_id is not None:
            # Tentative tracks have no identity (0) yet: they cannot be chosen by one.
            hit = slots[(table.track_id[slots] == int(track_id)) & table.confirmed[slots]]
            chosen = int(hit[0]) if len(hit) else -1
        else:
            slots = slots[table.confirmed[slots]]
            if class_id is not None:
                slots = slots[table.class_id[slots] == int(class_id)]
                if len(slots):
                    fresh = table.misses[slots] == 0
                    key = table.score[slots] + np.where(fresh, 1.0, 0.0)
                    chosen = int(slots[np.argmax(key)])
            elif len(slots):
                point = np.asarray(point_xy, dtype=np.float64).reshape(2)
                if not np.isfinite(point).all():
                    raise ValueError(f'point_xy must be finite, got {point}')
                boxes = table.mean[slots, :4]
                distance = np.linalg.norm(boxes[:, :2] - point, axis=1)
                inside = np.all(np.abs(boxes[:, :2] - point) <= boxes[:, 2:] / 2.0, axis=1)
                chosen = int(slots[np.argmin(distance + np.where(inside, 0.0, 1e9))])
        self.clear()
        if chosen < 0:
            return None
        self._bind(table, chosen)
        # Only the track's latest look: what the app pointed at. Older features may be of
        # someone else the track followed before (an identity switch), who would then pass
        # for the target.
        count = min(int(table.gallery_count[chosen]), SEED_FEATURES)
        if count:
            latest = (table.gallery_next[chosen] - 1 - np.arange(count)) % table.budget
            self._gallery.add(table.gallery[chosen, latest[::-1]])
            self._seed.add(table.gallery[chosen, latest[::-1]])
        others = table.active
        others = others[table.confirmed[others] & (others != chosen)]
        self._negative_ids.update(table.track_id[others].tolist())
        with_feature = others[table.has_feature[others]]
        if len(with_feature):
            self._negatives.add(table.representative[with_feature])
        self._last_seen = float(table.last_update_time[chosen])
        self._last_box_cxcywh = table.last_box_cxcywh[chosen].copy()
        self._watch_box(table, chosen, bool(table.misses[chosen] == 0))
        self.status = (TargetStatus.TRACKED if table.misses[chosen] == 0
                       else TargetStatus.SEARCHING)
        self.confidence = 1.0 if self.status is TargetStatus.TRACKED else 0.0
        return self.track_id

    def warp(self, homography: FloatArray) -> None:
        """Move where the target was last seen into the current camera image."""
        if self.track_id is not None:
            self._last_box_cxcywh = warp_boxes_cxcywh(self._last_box_cxcywh[None, :],
                                                      homography)[0]

    def update(self, table: TrackTable, detections: DetectionBatch, now: float) -> None:
        """
        Decide which track is the target after an update, and set the status.

        Parameters
        ----------
        table : TrackTable
            The tracks after association, life cycle and re-identification.
        detections : DetectionBatch
            This update's detections: their features are the evidence.
        now : float
            Seconds.

        """
        if self.track_id is None:
            self.status, self.confidence = TargetStatus.NONE, 0.0
            return
        cfg = self.config
        active = table.active
        seen = active[table.confirmed[active] & (table.misses[active] == 0)]
        features, fresh = fresh_features(table, seen, detections, cfg.high_score_threshold)
        own = np.flatnonzero(self._is_track(table, seen, (self.track_id, self._first_time)))
        if len(own):
            self._follow(table, seen, features, fresh, int(own[0]), now)
            return
        self._search(table, seen, features, fresh, now)

    # ---- the target seen ------------------------------------------------------------------

    def _follow(self, table: TrackTable, seen: IntArray, features: npt.NDArray[np.float32],
                fresh: npt.NDArray[np.bool_], row: int, now: float) -> None:
        """Check the matched followed track still is the person; learn from it."""
        cfg = self.config
        slot = seen[row]
        self._candidate = None
        self.candidate_id = None
        # Matched again after frames unseen: the track may have taken a stranger who stepped
        # where the person left (IoU), so its look must show the person again.
        if self.status in (TargetStatus.SEARCHING, TargetStatus.LOST):
            self._on_probation = True
        overlap = iou_matrix_tlbr(cxcywh_to_tlbr(table.mean[slot, None, :4]),
                                  cxcywh_to_tlbr(table.mean[seen, :4]))[0]
        apart = overlap < cfg.occlusion_iou
        apart[row] = False
        near = ~apart
        near[row] = False
        if not self._seen_alone:
            self._watch_box(table, slot, fresh[row])
        # Only an unoccluded crop is evidence: an overlapping one shows two people.
        if fresh[row] and not near.any():
            feature = features[row:row + 1]
            positive = self._gallery.distance(feature)[0]
            # Looks clearly more like someone seen beside the target than like the target, or,
            # back from a gap, unlike the target altogether: a coasting track can take a
            # stranger who steps where the person left (IoU), and the follower must not follow
            # the id there. A track matched frame after frame keeps the tracker's word: a weak
            # appearance model's distances vary too much on one person to judge it alone.
            unlike = self._on_probation and self._gallery.count > 0 and \
                positive > cfg.target_reacquire_max_cosine_distance
            if self._on_probation and positive <= cfg.target_reacquire_max_cosine_distance:
                self._on_probation = False
            if unlike or self._negatives.distance(feature)[0] + cfg.target_margin <= positive:
                if self._doubt_since is None:
                    self._doubt_since = now
            else:
                self._doubt_since = None
                # Learnt only from crops that look like the person: one wrong track must not
                # teach the target a stranger's look.
                if self._evidence(feature, cfg.target_reacquire_max_cosine_distance)[0]:
                    self._gallery.add(feature)
        if self._doubt_since is not None:
            # The track may have switched to someone else (an identity switch in a crowd):
            # not followed while in doubt, dropped when the doubt lasts.
            if now - self._doubt_since >= cfg.target_confirm_time:
                self._last_first_time = self._first_time
                self._first_time = np.nan
                self._doubt_since = None
                self._search(table, seen, features, fresh, now)
            else:
                self.status, self.confidence = TargetStatus.CANDIDATE, 0.0
                self.candidate_id = self.track_id
            return
        newcomer = self._check_split(table, seen, features, fresh, row, overlap, now)
        if newcomer is not None:
            self._follow(table, seen, features, fresh, newcomer, now)
            return
        self.status, self.confidence = TargetStatus.TRACKED, 1.0
        self._last_seen = now
        self._last_box_cxcywh = table.last_box_cxcywh[slot].copy()
        self._class_id = int(table.class_id[slot])
        # Whoever is seen beside the target is someone else, for good (a newcomer out of the
        # followed box once the split is decided: until then it may be the person).
        if self._split is not None:
            apart &= ~self._is_track(table, seen, self._split)
        self._negative_ids.update(table.track_id[seen[apart]].tolist())
        others = np.flatnonzero(apart & fresh)
        if len(others):
            self._negatives.add(features[others])

    def _check_split(self, table: TrackTable, seen: IntArray,
                     features: npt.NDArray[np.float32], fresh: npt.NDArray[np.bool_], row: int,
                     overlap: FloatArray, now: float) -> Optional[int]:
        """
        Decide who the target is when someone comes out of the followed box.

        A track first seen overlapping the followed one (not known as someone else) may be the
        person, and the followed track the one who was hidden with them: the box held two
        people, so the gallery may have learnt both. Over ``target_confirm_time`` each pair
        of fresh crops votes for the track whose crop is nearer the seed (what the app pointed
        at) by ``target_margin``. When the newcomer wins, it becomes the target, the followed
        track someone else, and the gallery is the seed again. Those first crops are of
        overlapping boxes, each showing part of the other person: when they keep the followed
        track, the check waits (while the newcomer's track lives) for the two boxes to be apart
        (IoU under ``occlusion_iou``) and votes again, over ``target_confirm_time``, on crops
        of each alone.

        Returns
        -------
        int or None
            The newcomer's row in ``seen`` when the target moved to it, else None.

        """
        cfg = self.config
        if self._split is None:
            new = (overlap >= cfg.occlusion_iou) & \
                ~np.isin(table.track_id[seen], list(self._negative_ids))
            new[row] = False
            if not new.any() or self._seed.count == 0:
                return None
            first = np.flatnonzero(new)[0]
            self._split = (int(table.track_id[seen[first]]), float(table.first_time[seen[first]]))
            self._split_since = now
            self._split_votes = [0, 0]
            self._split_again = False
        rows = np.flatnonzero(self._is_track(table, seen, self._split))
        if self._split_again:
            # Asked again: only boxes apart (IoU under occlusion_iou) show one person each.
            if not len(rows):
                if not self._is_track(table, table.active, self._split).any():
                    self._split = None
                return None
            if self._split_since is None:
                if overlap[rows[0]] >= cfg.occlusion_iou:
                    return None
                self._split_since = now
        if len(rows) and fresh[rows[0]] and fresh[row] and \
                (not self._split_again or overlap[rows[0]] < cfg.occlusion_iou):
            newcomer, followed = self._seed.distance(features[[rows[0], row]])
            if newcomer + cfg.target_margin <= followed:
                self._split_votes[0] += 1
            elif followed + cfg.target_margin <= newcomer:
                self._split_votes[1] += 1
        if now - self._split_since < cfg.target_confirm_time:
            return None
        votes = self._split_votes
        if not len(rows):
            self._split = None
            return None
        if votes[0] <= votes[1]:
            # Kept on crops of overlapping boxes: two people walking out together leave slices
            # of each other in both crops for seconds (PETS09 drone: the person's crops nearer
            # the seed only once apart), so the question stays open until they are apart.
            if self._split_again:
                self._split = None
            else:
                self._split_again = True
                self._split_since = None
                self._split_votes = [0, 0]
            return None
        self._split = None
        self._negative_ids.add(self.track_id)
        self._negative_ids.discard(int(table.track_id[seen[rows[0]]]))
        if fresh[row]:
            self._negatives.add(features[row:row + 1])
        self._gallery = FeatureRing(cfg.target_gallery_size)
        self._gallery.add(self._seed.rows[:self._seed.count])
        self._bind(table, seen[rows[0]])
        return int(rows[0])

    # ---- the target unseen ----------------------------------------------------------------

    def _search(self, table: TrackTable, seen: IntArray, features: npt.NDArray[np.float32],
                fresh: npt.NDArray[np.bool_], now: float) -> None:
        """Look for the unseen target among the other tracks."""
        cfg = self.config
        # Nobody comes out of a box that is not seen.
        self._split = None
        elapsed = now - self._last_seen
        within = elapsed <= cfg.target_reacquire_window
        # Tracks seen while the target was are someone else; the track the target was last
        # followed on may come back (an occlusion spoilt its appearance for a while).
        followed = self._is_track(table, seen, (self.track_id, self._last_first_time))
        # A target never seen alone since the selection was pointed at in a box that held
        # someone else too: a track born in that box while it was followed may be the person
        # (the two parted, and the followed track went on with the other).
        born = np.array([key in self._born_in_box for key in
                         zip(seen.tolist(), table.first_time[seen].tolist())], dtype=bool)
        ok = (fresh & ((table.first_time[seen] > self._last_seen) | followed | born)
              & ~np.isin(table.track_id[seen], list(self._negative_ids)))
        if cfg.class_aware and self._class_id is not None:
            ok &= table.class_id[seen] == self._class_id
        if within:
            height = self._last_box_cxcywh[3]
            radius = height * (cfg.relink_min_radius + cfg.target_max_speed * elapsed)
            distance = np.linalg.norm(table.mean[seen, :2] - self._last_box_cxcywh[:2], axis=1)
            ok &= distance <= radius
        limit = (cfg.target_reacquire_max_cosine_distance if within
                 else cfg.target_confident_cosine_distance)
        passed = np.zeros(len(seen), dtype=bool)
        passed[ok] = self._evidence(features[ok], limit)
        keys = list(zip(table.track_id[seen].tolist(), table.first_time[seen].tolist()))
        last_passed = False
        if self._candidate is not None:
            if self._candidate in keys:
                row = keys.index(self._candidate)
                if fresh[row]:
                    last_passed = bool(passed[row])
                    self._votes[0 if last_passed else 1] += 1
                # One crop spoilt by an overlap is forgiven; a third of them failing is not.
                if 2 * self._votes[1] > self._votes[0]:
                    self._candidate = None
            elif not self._is_track(table, table.active, self._candidate).any():
                self._candidate = None
        if self._candidate is None and passed.any():
            rows = np.flatnonzero(passed)
            best = rows[np.argmin(self._gallery.distance(features[rows]))]
            self._candidate = keys[best]
            self._candidate_since = now
            self._votes = [1, 0]
            last_passed = True
            # The target's own identity while the target is still searched for (not LOST): the
            # followed track back from a doubt, or a new track the tracker's re-identification
            # gave it. Two judges agree on a short gap, so the confirmation is shorter. After
            # longer the identity may have gone to a newcomer where the person left, and only
            # the full confirmation catches that.
            same_id = (table.track_id[seen[best]] == self.track_id
                       and elapsed <= cfg.target_search_time)
            self._confirm_time = (cfg.target_same_id_confirm_time if same_id
                                  else cfg.target_confirm_time)
        if self._candidate is not None:
            progress = (now - self._candidate_since) / max(self._confirm_time, 1e-9)
            if progress >= 1.0 and last_passed:
                row = keys.index(self._candidate)
                self._bind(table, seen[row])
                self.reacquired += 1
                self._follow(table, seen, features, fresh, row, now)
                return
            self.status = TargetStatus.CANDIDATE
            self.confidence = float(min(progress, 1.0))
            self.candidate_id = self._candidate[0]
            return
        self.candidate_id = None
        self.confidence = 0.0
        self.status = (TargetStatus.SEARCHING if elapsed <= cfg.target_search_time
                       else TargetStatus.LOST)

    # ---- helpers --------------------------------------------------------------------------

    def _watch_box(self, table: TrackTable, slot: int, fresh: bool) -> None:
        """
        Note whether the followed box is seen alone, and until it is, who is born in it.

        Other tracks seen now count, tentative ones too (someone just born there), when they
        overlap the followed box by ``occlusion_iou``.
        """
        active = table.active
        others = active[(table.misses[active] == 0) & (active != slot)]
        inside = iou_matrix_tlbr(cxcywh_to_tlbr(table.mean[slot, None, :4]),
                                 cxcywh_to_tlbr(table.mean[others, :4]))[0] \
            >= self.config.occlusion_iou
        if fresh and not inside.any():
            self._seen_alone = True
            self._born_in_box = set()
            return
        alive = set(zip(active.tolist(), table.first_time[active].tolist()))
        born = others[inside & ~table.confirmed[others]]
        self._born_in_box = {key for key in self._born_in_box if key in alive} | set(
            zip(born.tolist(), table.first_time[born].tolist()))

    def _evidence(self, features: npt.NDArray[np.float32], limit: float) -> npt.NDArray[np.bool_]:
        """Return which rows look like the target within ``limit`` and by the margin."""
        positive = self._gallery.distance(features)
        negative = self._negatives.distance(features)
        return (positive <= limit) & (negative - positive >= self.config.target_margin)

    @staticmethod
    def _is_track(table: TrackTable, rows: IntArray, key: Tuple[Optional[int], float]
                  ) -> npt.NDArray[np.bool_]:
        """Return which of the table ``rows`` hold the track of ``key`` (identity, first time)."""
        track_id, first_time = key
        return (table.track_id[rows] == track_id) & (table.first_time[rows] == first_time)

    def _bind(self, table: TrackTable, slot: int) -> None:
        """Follow the track in ``slot`` from now on."""
        self.track_id = int(table.track_id[slot])
        self._first_time = float(table.first_time[slot])
        self._class_id = int(table.class_id[slot])
        self._doubt_since = None
        self._on_probation = False
        self._candidate = None
        self.candidate_id = None
        self._split = None
