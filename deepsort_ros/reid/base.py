"""
The encoder contract and the box handling every backend shares (numpy only, no torch).

An encoder maps ``(image_bgr, boxes_tlwh)`` to one L2-normalised row per box. A box that
has no pixels inside the image (after clipping to the image) gets an all-zero row: its
norm is 0 instead of 1, so ``np.linalg.norm(features, axis=1) > 0`` tells the tracker
which rows carry appearance, and a zero row sits at cosine distance 1 from every feature
(never closer than an unrelated person), without the NaNs that break assignment solvers.
"""

import abc
from pathlib import Path
from typing import Tuple
import zipfile

import numpy as np
import numpy.typing as npt

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
# The ONNX metadata key that deepsort_ros.reid.export writes the model's description under
# and the runtimes read it back from.
DESCRIPTION_KEY = 'deepsort_ros.description'


class EncoderLoadError(ValueError):
    """
    A weights file is missing, truncated, unsafe or does not fit the expected model.

    The message names the file and what was expected.
    """


class Encoder(abc.ABC):
    """
    Appearance encoder: ``encoder(image_bgr, boxes_tlwh) -> (N, D)`` float32 features.

    Attributes
    ----------
    feature_dim : int
        D, the length of a feature row.
    device : str
        Where the network runs ('cpu', 'cuda:0', ...).
    name : str
        Human-readable model description for logs and diagnostics.
    digest : str
        SHA-256 (hex) of the weights file the features come from, when the loader read it;
        '' otherwise.

    """

    feature_dim: int
    device: str
    name: str
    digest: str = ''

    def __call__(self, image_bgr: npt.NDArray[np.uint8],
                 boxes_tlwh: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """
        Encode the boxes of one frame in one batched pass.

        Parameters
        ----------
        image_bgr : numpy.ndarray
            HxWx3 uint8 BGR image.
        boxes_tlwh : array_like
            Nx4 boxes (top-left x, top-left y, width, height) in pixels.

        Returns
        -------
        numpy.ndarray
            NxD float32; unit-norm rows, all-zero rows for boxes without pixels in the image.

        """
        image_bgr = check_image(image_bgr)
        boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
        features = np.zeros((len(boxes), self.feature_dim), dtype=np.float32)
        clipped_tlwh, valid = clip_boxes_tlwh(boxes, image_bgr.shape[:2])
        if valid.any():
            features[valid] = self._encode_valid(image_bgr, clipped_tlwh[valid])
        return features

    @abc.abstractmethod
    def _encode_valid(self, image_bgr: npt.NDArray[np.uint8],
                      boxes_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
        """
        Encode boxes already clipped to the image, each with at least one pixel.

        Parameters
        ----------
        image_bgr : numpy.ndarray
            HxWx3 uint8 BGR image.
        boxes_tlwh : numpy.ndarray
            Mx4 clipped boxes, M >= 1.

        Returns
        -------
        numpy.ndarray
            MxD float32 unit-norm rows.

        """

    def __repr__(self) -> str:
        """Describe the encoder."""
        return f'<{type(self).__name__} {self.name}>'


def check_image(image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """
    Validate an HxWx3 uint8 image.

    Parameters
    ----------
    image_bgr : numpy.ndarray
        The image.

    Returns
    -------
    numpy.ndarray
        The same image, C-contiguous.

    Raises
    ------
    ValueError
        If it is not HxWx3 uint8.

    """
    image_bgr = np.asarray(image_bgr)
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f'expected an HxWx3 uint8 BGR image, got shape {image_bgr.shape} '
                         f'dtype {image_bgr.dtype}')
    return np.ascontiguousarray(image_bgr)


def clip_boxes_tlwh(boxes_tlwh: npt.NDArray[np.float64], image_hw: Tuple[int, int],
                    min_size_px: float = 1.0
                    ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """
    Clip boxes to the image and flag those left with too few pixels.

    Parameters
    ----------
    boxes_tlwh : numpy.ndarray
        Nx4 boxes (x, y, w, h) in pixels; non-finite values are allowed.
    image_hw : tuple of int
        Image height and width.
    min_size_px : float
        A clipped box narrower or lower than this is invalid.

    Returns
    -------
    clipped_tlwh : numpy.ndarray
        Nx4 clipped boxes (rows of invalid boxes are meaningless).
    valid : numpy.ndarray
        N booleans, True where the clipped box has at least ``min_size_px`` per side.

    """
    height, width = image_hw
    boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
    finite = np.isfinite(boxes).all(axis=1)
    boxes = np.where(finite[:, None], boxes, 0.0)
    x1 = np.clip(boxes[:, 0], 0.0, width)
    y1 = np.clip(boxes[:, 1], 0.0, height)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0.0, width)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0.0, height)
    clipped = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    valid = finite & (clipped[:, 2] >= min_size_px) & (clipped[:, 3] >= min_size_px)
    return clipped, valid


def gaussian_mask(height: int, width: int, sigma_fraction: float) -> npt.NDArray[np.float32]:
    """
    Centred Gaussian weight map that de-emphasises the background at the crop borders.

    Parameters
    ----------
    height, width : int
        Crop size in pixels.
    sigma_fraction : float
        Standard deviation as a fraction of each side (0.5 = half the side).

    Returns
    -------
    numpy.ndarray
        HxW float32, 1 at the centre.

    """
    ys = (np.arange(height) + 0.5) / height - 0.5
    xs = (np.arange(width) + 0.5) / width - 0.5
    weights = np.exp(-0.5 * ((ys[:, None] / sigma_fraction) ** 2
                             + (xs[None, :] / sigma_fraction) ** 2))
    return weights.astype(np.float32)


def is_torchscript_archive(path: Path) -> bool:
    """
    Tell whether a file is a TorchScript archive (a zip holding compiled code).

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    bool
        True for a TorchScript archive.

    """
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split('/', 1)[-1].startswith('code/') for name in archive.namelist())
    except zipfile.BadZipFile:
        return False
