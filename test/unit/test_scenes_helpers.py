"""The scene helpers make what the core tests assume."""

from helpers.scenes import frame, identity_features, noisy
import numpy as np


def test_helpers_make_distinct_unit_features():
    feats = identity_features(4, seed=1)
    rng = np.random.default_rng(0)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0)
    assert np.max(np.abs(feats @ feats.T - np.eye(4))) < 0.7
    near = noisy(feats[0], rng)
    assert float(near @ feats[0]) > 0.9
    packed = frame([[0, 0, 1, 1]], [feats[0]])
    assert packed['boxes_tlwh'].shape == (1, 4) and packed['features'].shape == (1, 32)
