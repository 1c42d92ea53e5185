"""
The fusion's bad-input guarantees as hypothesis properties.

Updates from three cameras and two senders mix good rows with NaN and absurd positions, broken
covariances, NaN, zero and wrongly sized features, another encoder, repeated and invalid local
ids; stamps repeat, go back, jump ahead and are not finite; arrival times are sometimes given.
After every update: no exception, every whole update either taken or refused with a reason,
one global id per (camera, local track) and one local track per camera and global id, outputs
consistent with the bindings, finite positive semi-definite covariances.
"""

from typing import List, Optional, Tuple

from deepsort_ros.fusion import CameraBatch, FusionConfig, GlobalState, TrackFusion
from deepsort_ros.fusion.counters import UPDATE_REFUSALS
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np

DIM = 6
# Reproducible, bounded and without an example database in the working tree.
PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])

POSITION_KINDS = ('good', 'good', 'good', 'nan', 'huge')
COVARIANCE_KINDS = ('good', 'good', 'good', 'negative', 'nan', 'asymmetric')
FEATURE_KINDS = ('good', 'good', 'good', 'nan', 'zero')
STEP_KINDS = ('normal', 'normal', 'normal', 'normal', 'repeat', 'back', 'jump', 'nan')


def person_feature(person: int) -> np.ndarray:
    """Return a person's unit feature."""
    feature = np.random.default_rng(person).normal(size=DIM)
    return feature / np.linalg.norm(feature)


row = st.tuples(st.integers(-1, 6), st.integers(0, 4), st.sampled_from(POSITION_KINDS),
                st.sampled_from(COVARIANCE_KINDS), st.sampled_from(FEATURE_KINDS),
                st.booleans(), st.booleans())
update = st.tuples(st.sampled_from(('a', 'b', 'c')), st.sampled_from(('s1', 's1', 's2')),
                   st.sampled_from(STEP_KINDS), st.lists(row, max_size=5),
                   st.sampled_from(('none', 'none', 'good', 'ahead')),
                   st.sampled_from(('good', 'good', 'good', 'other_encoder', 'other_dim',
                                    'none')))


def make_batch(rows: List[tuple], features_kind: str, source: str) -> CameraBatch:
    """Build one camera update from generated rows."""
    n = len(rows)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    position = np.zeros((n, 2))
    position_cov = np.tile(0.04 * np.eye(2), (n, 1, 1))
    features = np.zeros((n, DIM + (1 if features_kind == 'other_dim' else 0)), np.float32)
    for i, (_, person, p_kind, c_kind, f_kind, _, _) in enumerate(rows):
        position[i] = {'good': (2.0 * person, 0.1 * i), 'nan': (np.nan, 0.0),
                       'huge': (1e12, 0.0)}[p_kind]
        if c_kind == 'negative':
            position_cov[i] = -np.eye(2)
        elif c_kind == 'nan':
            position_cov[i] = np.nan
        elif c_kind == 'asymmetric':
            position_cov[i] = [[1.0, 3.0], [-3.0, 1.0]]
        if f_kind == 'good':
            features[i, :DIM] = person_feature(person)
        elif f_kind == 'nan':
            features[i] = np.nan
    velocity = np.zeros((n, 2))
    velocity_cov = np.tile(0.1 * np.eye(2), (n, 1, 1))
    encoder = 'other' if features_kind == 'other_encoder' else 'osnet'
    return CameraBatch(ids, np.array([r[5] for r in rows], dtype=bool), position, position_cov,
                       velocity, velocity_cov, np.array([r[6] for r in rows], dtype=bool),
                       None if features_kind == 'none' else features, encoder, source)


def next_stamp(last: float, kind: str) -> float:
    """Return the next stamp of a camera."""
    return {'normal': last + 0.1, 'repeat': last, 'back': last - 0.5, 'jump': last + 5.0,
            'nan': float('nan')}[kind]


def check(fusion: TrackFusion, calls: dict) -> None:
    """Assert the invariants after an update."""
    outputs = fusion.tracks
    ids = [o.global_id for o in outputs]
    assert ids == sorted(set(ids))
    for camera in fusion.cameras:
        bindings = fusion.bindings(camera)
        assert len(set(bindings.values())) == len(bindings)
        counters = fusion.counters.camera(camera)
        refused = sum(counters.refused.get(reason, 0) for reason in UPDATE_REFUSALS)
        assert counters.updates + refused == calls[camera]
    reported = {o.global_id for o in outputs}
    for o in outputs:
        assert o.state in (GlobalState.TRACKED, GlobalState.COASTING)
        for camera, local_id in o.members:
            assert fusion.global_id_of(camera, local_id) == o.global_id
        if o.world_valid:
            assert np.all(np.isfinite(o.position_xy)) and np.all(np.isfinite(o.covariance))
            assert np.allclose(o.covariance, o.covariance.T, atol=1e-6)
            assert np.linalg.eigvalsh(o.covariance).min() >= -1e-6
    for camera in fusion.cameras:
        for local_id, global_id in fusion.bindings(camera).items():
            if global_id in reported:
                members = dict(next(o for o in outputs if o.global_id == global_id).members)
                assert members.get(camera) == local_id


@PROPERTY_SETTINGS
@given(st.lists(update, min_size=1, max_size=25))
def test_any_input_is_counted_never_raised(updates: List[Tuple]) -> None:
    fusion = TrackFusion(FusionConfig(camera_timeout=1.0, coast_max_age=1.0,
                                      handover_window=3.0))
    last = {'a': 0.0, 'b': 0.0, 'c': 0.0}
    calls = {'a': 0, 'b': 0, 'c': 0}
    for camera, source, step, rows, received_kind, features_kind in updates:
        stamp = next_stamp(last[camera], step)
        if np.isfinite(stamp):
            last[camera] = stamp
        received: Optional[float] = {'none': None, 'good': stamp + 0.02,
                                     'ahead': stamp - 3.0}[received_kind]
        fusion.update(camera, stamp, make_batch(rows, features_kind, source), received)
        calls[camera] += 1
        check(fusion, calls)
