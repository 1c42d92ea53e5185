"""
Prove a Re-ID encoder works before tracking relies on it: two probe crops at load time.

A model with the wrong input (channels, size) loads fine and fails on every frame; one that
outputs NaN, zeros or the same vector for everyone loads and runs, and then every detection's
appearance is meaningless. :func:`verify_encoder` pushes two different person-sized crops
through the encoder as a frame would and refuses it, with the reason on the first line of an
``EncoderLoadError``, unless both rows are finite, non-zero, of the declared dimension and
different from each other.
"""

from typing import Any

from deepsort_ros.reid.base import EncoderLoadError
import numpy as np
import numpy.typing as npt

# Two crops side by side; mid-grey textures (pixel values 40-200) so that what is probed is
# the model, not an extreme image.
PROBE_HW = (128, 128)
PROBE_BOXES_TLWH = np.array([[8.0, 8.0, 48.0, 112.0], [72.0, 8.0, 48.0, 112.0]])
# Two different crops whose unit features agree this closely are the same output: the model
# ignores its input.
CONSTANT_COSINE = 1.0 - 1e-6


def probe_image() -> npt.NDArray[np.uint8]:
    """
    Return the probe frame: two differently textured and coloured person-sized regions.

    Returns
    -------
    numpy.ndarray, shape (128, 128, 3)
        uint8 BGR.

    """
    rng = np.random.default_rng(22)
    image = rng.integers(40, 200, size=(*PROBE_HW, 3), dtype=np.uint8)
    image[:, 64:] = (0.5 * image[:, 64:] + np.array([90, 30, 10])).astype(np.uint8)
    return image


def verify_encoder(encoder: Any, source: str) -> None:
    """
    Refuse an encoder that cannot tell two probe crops apart with finite features.

    Parameters
    ----------
    encoder : Encoder
        ``encoder(image_bgr, boxes_tlwh) -> (N, D)`` with ``feature_dim``.
    source : str
        What was loaded (the weights file), named in the refusal.

    Raises
    ------
    EncoderLoadError
        The first line says what is wrong and what to do; the runtime's own error follows.

    """
    advice = ('use a Re-ID model that maps Nx3xHxW RGB crops to NxD features, or '
              'use_appearance:=false to track on motion only')
    dim = int(getattr(encoder, 'feature_dim', 0))
    try:
        features = np.asarray(encoder(probe_image(), PROBE_BOXES_TLWH), dtype=np.float64)
    except Exception as error:  # noqa: B902 - runtimes raise their own untyped errors
        first = str(error).strip().splitlines()[0] if str(error).strip() else ''
        raise EncoderLoadError(
            f'Re-ID model {source} failed on a probe crop ({type(error).__name__}: '
            f'{first[:300]}): {advice}\n{error}') from error
    if features.shape != (len(PROBE_BOXES_TLWH), dim):
        raise EncoderLoadError(f'Re-ID model {source} returned features of shape '
                               f'{features.shape} for 2 probe crops, expected (2, {dim}): '
                               f'{advice}')
    if not np.isfinite(features).all():
        raise EncoderLoadError(f'Re-ID model {source} returned non-finite (NaN or inf) features '
                               f'for a probe crop: {advice}')
    norms = np.linalg.norm(features, axis=1)
    if not (norms > 0).all():
        raise EncoderLoadError(f'Re-ID model {source} returned an all-zero feature for a probe '
                               f'crop: {advice}')
    cosine = float(features[0] @ features[1] / (norms[0] * norms[1]))
    if cosine >= CONSTANT_COSINE:
        raise EncoderLoadError(f'Re-ID model {source} returned the same feature for two '
                               f'different probe crops (cosine {cosine:.7f}): it ignores its '
                               f'input; {advice}')
