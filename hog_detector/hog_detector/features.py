"""
Histogram-of-oriented-gradients features (Dalal and Triggs, CVPR 2005) in numpy.

OpenCV 5 moved ``cv2.HOGDescriptor`` out of its main wheels, so the stand-in people detector
computes HOG itself: 8x8-pixel cells, 9 unsigned orientation bins with linear interpolation
between bins, 2x2-cell blocks normalised with L2-Hys, a 64x128 detection window (7x15 blocks,
3780 values). A linear classifier slides over the block grid at one-cell stride as 105 small
matrix products, never building a feature vector per window. numpy and OpenCV only.
"""

from typing import Tuple

import cv2
import numpy as np
import numpy.typing as npt

CELL_PX = 8
N_BINS = 9
BLOCK_CELLS = 2
WINDOW_W_PX, WINDOW_H_PX = 64, 128
WINDOW_BLOCKS = (WINDOW_H_PX // CELL_PX - 1, WINDOW_W_PX // CELL_PX - 1)  # (15, 7)
BLOCK_DIM = BLOCK_CELLS * BLOCK_CELLS * N_BINS  # 36
WINDOW_DIM = WINDOW_BLOCKS[0] * WINDOW_BLOCKS[1] * BLOCK_DIM  # 3780
L2HYS_CLIP = 0.2
_EPS = 1e-3


def cell_histograms(image: npt.NDArray) -> npt.NDArray[np.float32]:
    """
    Return the orientation histogram of every 8x8 cell.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, 3)
        Grey or BGR, any dtype; per pixel, the colour channel with the strongest gradient counts.

    Returns
    -------
    ndarray of float32, shape (H // 8, W // 8, 9)
        Gradient magnitude summed per orientation bin (0-180 degrees).

    """
    data = np.asarray(image, dtype=np.float32)
    gx = cv2.Sobel(data, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(data, cv2.CV_32F, 0, 1, ksize=1)
    if data.ndim == 3:
        strength = gx * gx + gy * gy
        best = np.argmax(strength, axis=2)[..., None]
        gx = np.take_along_axis(gx, best, 2)[..., 0]
        gy = np.take_along_axis(gy, best, 2)[..., 0]
    height, width = gx.shape
    hc, wc = height // CELL_PX, width // CELL_PX
    gx, gy = gx[:hc * CELL_PX, :wc * CELL_PX], gy[:hc * CELL_PX, :wc * CELL_PX]
    magnitude = cv2.magnitude(gx, gy)
    # Unsigned orientation in bins; bin k is centred at (k + 0.5) * 20 degrees.
    position = (np.arctan2(gy, gx) % np.pi) * (N_BINS / np.pi) - 0.5
    lower = np.floor(position)
    upper_weight = (position - lower) * magnitude
    lower_weight = magnitude - upper_weight
    lower_bin = lower.astype(np.int64) % N_BINS
    upper_bin = (lower_bin + 1) % N_BINS
    # Accumulate straight into cells: index = cell * 9 + bin.
    rows, cols = np.indices(lower_bin.shape)
    cell = (rows // CELL_PX) * wc + cols // CELL_PX
    size = hc * wc * N_BINS
    hist = np.bincount((cell * N_BINS + lower_bin).ravel(), lower_weight.ravel(), size)
    hist += np.bincount((cell * N_BINS + upper_bin).ravel(), upper_weight.ravel(), size)
    return hist.astype(np.float32).reshape(hc, wc, N_BINS)


def block_features(cells: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """
    Group 2x2 cells into overlapping blocks and normalise them (L2-Hys).

    Parameters
    ----------
    cells : ndarray, shape (Hc, Wc, 9)
        Output of :func:`cell_histograms`.

    Returns
    -------
    ndarray of float32, shape (Hc - 1, Wc - 1, 36)

    """
    blocks = np.concatenate([cells[:-1, :-1], cells[:-1, 1:], cells[1:, :-1], cells[1:, 1:]],
                            axis=2)
    blocks = blocks / np.sqrt((blocks * blocks).sum(axis=2, keepdims=True) + _EPS ** 2)
    blocks = np.minimum(blocks, L2HYS_CLIP)
    return blocks / np.sqrt((blocks * blocks).sum(axis=2, keepdims=True) + _EPS ** 2)


def image_blocks(image: npt.NDArray) -> npt.NDArray[np.float32]:
    """Return the normalised block grid of an image, shape (H // 8 - 1, W // 8 - 1, 36)."""
    return block_features(cell_histograms(image))


def window_descriptor(window: npt.NDArray) -> npt.NDArray[np.float32]:
    """
    Return the HOG descriptor of one 64x128 window.

    Parameters
    ----------
    window : ndarray, shape (128, 64) or (128, 64, 3)
        Grey or BGR pixels.

    Returns
    -------
    ndarray of float32, shape (3780,)
        Blocks in row-major order, the layout of :func:`window_scores`' weights.

    """
    if window.shape[:2] != (WINDOW_H_PX, WINDOW_W_PX):
        raise ValueError(f'window must be {WINDOW_H_PX}x{WINDOW_W_PX}, got {window.shape[:2]}')
    return image_blocks(window).reshape(-1)


def window_scores(blocks: npt.NDArray[np.float32], weights: npt.NDArray[np.float32],
                  bias: float) -> npt.NDArray[np.float32]:
    """
    Score a linear classifier on every window position of a block grid (one-cell stride).

    Parameters
    ----------
    blocks : ndarray, shape (Hb, Wb, 36)
        Output of :func:`image_blocks`.
    weights : ndarray, shape (3780,)
        Linear weights in :func:`window_descriptor`'s layout.
    bias : float
        Added to every score.

    Returns
    -------
    ndarray of float32, shape (Hb - 14, Wb - 6)
        Score of the window whose top-left cell is (row, col); empty when the image is
        smaller than a window.

    """
    wy, wx = WINDOW_BLOCKS
    ny, nx = blocks.shape[0] - wy + 1, blocks.shape[1] - wx + 1
    if ny <= 0 or nx <= 0:
        return np.zeros((0, 0), dtype=np.float32)
    kernel = weights.reshape(wy, wx, BLOCK_DIM)
    scores = np.full((ny, nx), bias, dtype=np.float32)
    for dy in range(wy):
        for dx in range(wx):
            scores += blocks[dy:dy + ny, dx:dx + nx] @ kernel[dy, dx]
    return scores


def window_origin_px(row: npt.NDArray, col: npt.NDArray) -> Tuple[npt.NDArray, npt.NDArray]:
    """Return the pixel (x, y) of the top-left corner of windows at block-grid (row, col)."""
    return np.asarray(col) * CELL_PX, np.asarray(row) * CELL_PX
