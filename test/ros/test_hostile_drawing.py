"""The annotated image draws what a viewer should believe, and nothing that is not there."""

from deepsort_ros.ros.display.annotated_image import draw_tracks, TrailHistory
from deepsort_ros.ros.display.colours import track_colour_bgr
from deepsort_ros_msgs.msg import Track, TrackArray
import numpy as np

WIDTH, HEIGHT = 320, 240


def _track(track_id, state, cx, cy, time_since_update=0.0, w=20.0, h=40.0, occluded=False):
    return Track(id=track_id, state=state, center_x=cx, center_y=cy, size_x=w, size_y=h,
                 time_since_update=time_since_update, is_occluded=occluded,
                 detection_index=0 if state == Track.STATE_CONFIRMED else -1)


def _array(*tracks):
    return TrackArray(tracks=list(tracks), target_index=-1)


def _drawn(canvas, track):
    """Return the share of the box's top edge drawn in the track's colour."""
    x0, x1 = int(track.center_x - track.size_x / 2), int(track.center_x + track.size_x / 2)
    y = int(round(track.center_y + track.size_y / 2))  # bottom edge: no label tag there
    edge = canvas[y, x0:x1 + 1]
    return float(np.all(edge == track_colour_bgr(track.id), axis=1).mean())


def test_only_confirmed_and_briefly_coasting_tracks_are_drawn():
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    matched = _track(1, Track.STATE_CONFIRMED, 60, 60)
    coasting = _track(2, Track.STATE_COASTING, 160, 60, time_since_update=0.2)
    stale = _track(3, Track.STATE_COASTING, 260, 60, time_since_update=3.0)
    tentative = _track(0, Track.STATE_TENTATIVE, 60, 160)
    deleted = _track(5, Track.STATE_DELETED, 160, 160)
    canvas = draw_tracks(blank, _array(matched, coasting, stale, tentative, deleted),
                         coast_time_s=0.5, legend=False)
    assert _drawn(canvas, matched) == 1.0, 'a matched track is solid'
    assert 0.2 < _drawn(canvas, coasting) < 0.9, 'a coasting one is dashed'
    for gone in (stale, tentative, deleted):
        x, y = int(gone.center_x), int(gone.center_y)
        assert not canvas[y - 25:y + 25, x - 15:x + 15].any(), f'track {gone.id} was drawn'
    assert not draw_tracks(blank, _array(coasting), coast_time_s=0.0, legend=False).any()


def test_trails_hold_matched_positions_and_break_at_a_jump():
    trails = TrailHistory(length=10, max_jump=1.0)
    for step in range(5):
        trails.update([_track(1, Track.STATE_CONFIRMED, 50 + 4 * step, 100)])
    assert len(trails.points(1)) == 5
    trails.update([_track(1, Track.STATE_COASTING, 200, 100, time_since_update=0.1)])
    assert len(trails.points(1)) == 5, 'coasting predictions do not extend the trail'
    # Re-linked to an identity seen across the scene: 200 px is five box heights.
    trails.update([_track(1, Track.STATE_CONFIRMED, 270, 100)])
    assert list(trails.points(1)) == [(270, 120)], 'no segment across the jump'
    trails.update([_track(0, Track.STATE_TENTATIVE, 10, 10)])
    assert len(trails) == 0, 'the tracks that are gone are forgotten'


def test_the_legend_explains_the_styles():
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    canvas = draw_tracks(blank, _array())
    corner = canvas[HEIGHT // 2:, :WIDTH // 2]
    assert corner.any() and not canvas[:HEIGHT // 3, WIDTH // 2:].any()
    assert not draw_tracks(np.zeros((20, 20, 3), np.uint8), _array()).any(), 'too small: none'


def test_the_target_state_is_written_even_without_a_box():
    blank = np.zeros((240, 320, 3), np.uint8)
    assert not draw_tracks(blank, _array(), legend=False).any()
    canvas = draw_tracks(blank, _array(), legend=False, target_state='LOST')
    written = canvas.any(axis=2)
    assert written[:40, :160].sum() > 50, 'the state goes in the top-left corner'
    assert (canvas[written][:, 2] > canvas[written][:, 0]).all(), 'in the target colour (red)'
