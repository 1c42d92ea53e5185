"""Hand-made detection frames for the core tests."""

from typing import Dict

import numpy as np
import numpy.typing as npt


def identity_features(count: int, dim: int = 32, seed: int = 0) -> npt.NDArray[np.float32]:
    """Return ``count`` random unit features, one per identity."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(count, dim)).astype(np.float32)
    return features / np.linalg.norm(features, axis=1, keepdims=True)


def noisy(feature: npt.NDArray[np.float32], rng: np.random.Generator,
          sigma: float = 0.02) -> npt.NDArray[np.float32]:
    """Return a unit feature near ``feature``."""
    out = feature + rng.normal(0, sigma, feature.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def frame(boxes_tlwh: list, features: list, class_ids: list = None) -> Dict[str, np.ndarray]:
    """Pack one frame of detections as keyword arguments of Tracker.update."""
    n = len(boxes_tlwh)
    return {
        'boxes_tlwh': np.asarray(boxes_tlwh, dtype=np.float64).reshape(n, 4),
        'scores': np.full(n, 0.9),
        'class_ids': np.asarray(class_ids if class_ids is not None else [0] * n, dtype=np.int64),
        'features': (np.asarray(features, dtype=np.float32).reshape(n, -1) if n else None),
    }
