"""
The stand-in people detector: HOG features and a linear classifier over an image pyramid.

This is a placeholder that lets the tracker run end to end without a neural detector; replace
it with your own (anything that publishes ``vision_msgs/Detection2DArray``). It uses
``cv2.HOGDescriptor`` with OpenCV's default people detector where the installed OpenCV has it
(OpenCV 4, contrib builds of 5), and otherwise this package's numpy HOG
(:mod:`hog_detector.features`) with weights trained by
:mod:`hog_detector.train` (stored as data in ``person_model.npz``). numpy and OpenCV
only; no ROS.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import cv2
from deepsort_ros.core.boxes import iou_matrix_tlbr, tlwh_to_tlbr
from hog_detector import features as hf
import numpy as np
import numpy.typing as npt

BACKENDS = ('auto', 'numpy', 'opencv')


@dataclass(frozen=True)
class HogPeopleDetectorConfig:
    """
    Settings of :class:`HogPeopleDetector`.

    Attributes
    ----------
    resize : float
        Factor applied to the image first: > 1 upscales, so that people smaller than the
        classifier's 96-px-tall person are found; < 1 downscales for speed.
    scale_step : float
        Ratio between pyramid levels, > 1.
    win_stride_px : int
        Window stride in pixels of the resized image (numpy backend: a multiple of 8).
    padding_px : int
        Border added around the image (replicated) so people cut by the edge are found.
    hit_threshold : float
        Classifier margin a window needs before non-maximum suppression.
    nms_iou : float
        Boxes overlapping a better one by more than this IoU are dropped, in (0, 1].
    nms_containment : float
        Boxes whose overlap with a better one covers more than this fraction of the smaller
        of the two are dropped too, in (0, 1]: a window on a person's torso and one on the
        whole person have a small IoU, yet are one person (nested boxes).
    min_score : float
        Minimum detection score in [0, 1] (the margin through a logistic).
    min_height_px : float
        Smallest box height reported, pixels of the original image.
    backend : str
        ``'auto'`` (OpenCV's HOG when it exists, else numpy), ``'numpy'`` or ``'opencv'``.

    """

    resize: float = 1.5
    scale_step: float = 1.1
    win_stride_px: int = 8
    padding_px: int = 16
    hit_threshold: float = 1.0
    nms_iou: float = 0.4
    nms_containment: float = 0.7
    min_score: float = 0.0
    min_height_px: float = 0.0
    backend: str = 'auto'

    def __post_init__(self) -> None:
        """Validate every setting."""
        if not self.resize > 0:
            raise ValueError(f'resize must be > 0, got {self.resize}')
        if not self.scale_step > 1:
            raise ValueError(f'scale_step must be > 1, got {self.scale_step}')
        if self.win_stride_px <= 0:
            raise ValueError(f'win_stride_px must be > 0, got {self.win_stride_px}')
        if self.padding_px < 0:
            raise ValueError(f'padding_px must be >= 0, got {self.padding_px}')
        if not 0 < self.nms_iou <= 1:
            raise ValueError(f'nms_iou must be in (0, 1], got {self.nms_iou}')
        if not 0 < self.nms_containment <= 1:
            raise ValueError(f'nms_containment must be in (0, 1], got {self.nms_containment}')
        if not 0 <= self.min_score <= 1:
            raise ValueError(f'min_score must be in [0, 1], got {self.min_score}')
        if self.backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {self.backend!r}')


@dataclass(frozen=True)
class LinearPersonModel:
    """
    A linear person/background classifier on 64x128 HOG windows.

    Attributes
    ----------
    weights : ndarray of float32, shape (3780,)
    bias : float
    person_height : float
        Height of the person box as a fraction of the window height.
    person_aspect : float
        Width / height of the reported person box.

    """

    weights: npt.NDArray[np.float32]
    bias: float
    person_height: float
    person_aspect: float


MODEL_FILE = 'person_model.npz'


def load_model(path: Optional[Path] = None) -> LinearPersonModel:
    """
    Load a linear person model written by :func:`save_model`.

    Parameters
    ----------
    path : Path, optional
        An ``.npz`` file; the model shipped with the package when omitted (trained by
        :mod:`hog_detector.train`, see its ``note``).

    Returns
    -------
    LinearPersonModel

    Raises
    ------
    ValueError
        When the file is not such a model (it is read without unpickling).

    """
    if path is None:
        path = Path(__file__).resolve().parent / MODEL_FILE
    try:
        with np.load(path, allow_pickle=False) as stored:
            weights = stored['weights'].astype(np.float32)
            model = LinearPersonModel(weights, float(stored['bias']),
                                      float(stored['person_height']),
                                      float(stored['person_aspect']))
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f'{path} is not a person model (.npz with weights, bias, '
                         f'person_height, person_aspect): {error}') from None
    if weights.shape != (hf.WINDOW_DIM,):
        raise ValueError(f'{path}: expected {hf.WINDOW_DIM} weights, got {weights.shape}')
    return model


def save_model(model: LinearPersonModel, note: str, path: Path) -> None:
    """Write a model as ``.npz`` (plain arrays: loading it never unpickles anything)."""
    np.savez(path, weights=model.weights.astype('<f4'), bias=np.float64(model.bias),
             person_height=np.float64(model.person_height),
             person_aspect=np.float64(model.person_aspect), note=np.array(note))


def default_model() -> LinearPersonModel:
    """Return the model shipped with the package."""
    return load_model()


def nms_tlwh(boxes_tlwh: npt.NDArray[np.float64], scores: npt.NDArray[np.float64],
             iou_threshold: float, containment_threshold: float = 1.0
             ) -> npt.NDArray[np.int64]:
    """
    Greedy non-maximum suppression, of duplicates and of nested boxes.

    Parameters
    ----------
    boxes_tlwh : ndarray, shape (N, 4)
        Candidate boxes, pixels.
    scores : ndarray, shape (N,)
        Higher is better.
    iou_threshold : float
        A box is dropped when it overlaps a kept, better box by more than this IoU.
    containment_threshold : float
        A box is dropped when its intersection with a kept, better box is more than this
        fraction of the smaller box's area (one inside the other); 1.0: never.

    Returns
    -------
    ndarray of int, shape (K,)
        Indices of the kept boxes, best first.

    """
    order = np.argsort(-scores, kind='stable')
    boxes_tlbr = tlwh_to_tlbr(boxes_tlwh)
    areas = np.clip(boxes_tlwh[:, 2], 0, None) * np.clip(boxes_tlwh[:, 3], 0, None)
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        iou = iou_matrix_tlbr(boxes_tlbr[best:best + 1], boxes_tlbr[rest])[0]
        top_left = np.maximum(boxes_tlbr[best, :2], boxes_tlbr[rest, :2])
        bottom_right = np.minimum(boxes_tlbr[best, 2:], boxes_tlbr[rest, 2:])
        intersection = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        smaller = np.maximum(np.minimum(areas[best], areas[rest]), 1e-9)
        order = rest[(iou <= iou_threshold) & (intersection / smaller <= containment_threshold)]
    return np.asarray(keep, dtype=np.int64)


class HogPeopleDetector:
    """
    Detect upright people in BGR images.

    Parameters
    ----------
    config : HogPeopleDetectorConfig, optional
        Settings; defaults when omitted.
    model : LinearPersonModel, optional
        Classifier of the numpy backend; :func:`default_model` when omitted.

    Raises
    ------
    RuntimeError
        When ``backend='opencv'`` and this OpenCV has no ``HOGDescriptor``.

    """

    def __init__(self, config: Optional[HogPeopleDetectorConfig] = None,
                 model: Optional[LinearPersonModel] = None) -> None:
        self.config = config if config is not None else HogPeopleDetectorConfig()
        has_opencv_hog = hasattr(cv2, 'HOGDescriptor')
        if self.config.backend == 'opencv' and not has_opencv_hog:
            raise RuntimeError(f'OpenCV {cv2.__version__} has no HOGDescriptor (OpenCV 5 moved '
                               "it to contrib); use backend 'numpy' or 'auto'")
        self.backend = 'opencv' if self.config.backend == 'opencv' or (
            self.config.backend == 'auto' and has_opencv_hog and model is None) else 'numpy'
        if self.backend == 'opencv':
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
            self.model = None
        else:
            self.model = model if model is not None else default_model()

    def detect(self, image_bgr: npt.NDArray[np.uint8]
               ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """
        Find people in an image.

        Parameters
        ----------
        image_bgr : ndarray of uint8, shape (H, W, 3)
            The image.

        Returns
        -------
        boxes_tlwh : ndarray, shape (N, 4)
            Person boxes in pixels of ``image_bgr``, best first.
        scores : ndarray, shape (N,)
            Confidence in [0, 1].

        """
        cfg = self.config
        if self.backend == 'opencv':
            windows_tlwh, margins = self._opencv_windows(image_bgr)
            boxes_tlwh = windows_tlwh  # OpenCV's people windows: person ~ central 50% x 75%
            boxes_tlwh = np.column_stack([
                windows_tlwh[:, 0] + 0.25 * windows_tlwh[:, 2],
                windows_tlwh[:, 1] + 0.125 * windows_tlwh[:, 3],
                0.5 * windows_tlwh[:, 2], 0.75 * windows_tlwh[:, 3]])
        else:
            windows_tlwh, margins = self.detect_windows(image_bgr)
            boxes_tlwh = self._person_boxes(windows_tlwh)
        scores = 1.0 / (1.0 + np.exp(-margins))
        ok = (scores >= cfg.min_score) & (boxes_tlwh[:, 3] >= cfg.min_height_px)
        boxes_tlwh, scores = boxes_tlwh[ok], scores[ok]
        keep = nms_tlwh(boxes_tlwh, scores, cfg.nms_iou, cfg.nms_containment)
        return boxes_tlwh[keep], scores[keep]

    def detect_windows(self, image_bgr: npt.NDArray[np.uint8]
                       ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """
        Return every window above ``hit_threshold`` (numpy backend), before NMS.

        Parameters
        ----------
        image_bgr : ndarray of uint8, shape (H, W, 3)
            The image.

        Returns
        -------
        windows_tlwh : ndarray, shape (N, 4)
            Classifier windows (64x128 at their level) in pixels of ``image_bgr``.
        margins : ndarray, shape (N,)
            Classifier margins.

        """
        cfg, model = self.config, self.model
        pad = cfg.padding_px
        image = cv2.copyMakeBorder(image_bgr, pad, pad, pad, pad, cv2.BORDER_REPLICATE) \
            if pad else image_bgr
        stride_cells = max(1, int(round(cfg.win_stride_px / hf.CELL_PX)))
        windows, margins = [], []
        scale = cfg.resize
        height, width = image.shape[:2]
        while height * scale >= hf.WINDOW_H_PX and width * scale >= hf.WINDOW_W_PX:
            size = (int(round(width * scale)), int(round(height * scale)))
            level = image if scale == 1.0 else cv2.resize(
                image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            scores = hf.window_scores(hf.image_blocks(level), model.weights, model.bias)
            scores = scores[::stride_cells, ::stride_cells]
            rows, cols = np.nonzero(scores > cfg.hit_threshold)
            if rows.size:
                x, y = hf.window_origin_px(rows * stride_cells, cols * stride_cells)
                sx, sy = width / size[0], height / size[1]
                windows.append(np.column_stack([x * sx - pad, y * sy - pad,
                                                np.full(rows.size, hf.WINDOW_W_PX * sx),
                                                np.full(rows.size, hf.WINDOW_H_PX * sy)]))
                margins.append(scores[rows, cols].astype(np.float64))
            scale /= cfg.scale_step
        if not windows:
            return np.zeros((0, 4)), np.zeros(0)
        return np.vstack(windows), np.concatenate(margins)

    def _person_boxes(self, windows_tlwh: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        model = self.model
        heights = windows_tlwh[:, 3] * model.person_height
        widths = heights * model.person_aspect
        return np.column_stack([windows_tlwh[:, 0] + (windows_tlwh[:, 2] - widths) / 2,
                                windows_tlwh[:, 1] + (windows_tlwh[:, 3] - heights) / 2,
                                widths, heights])

    def _opencv_windows(self, image_bgr: npt.NDArray[np.uint8]
                        ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        cfg = self.config
        image = image_bgr if cfg.resize == 1.0 else cv2.resize(
            image_bgr, None, fx=cfg.resize, fy=cfg.resize)
        rects, weights = self._hog.detectMultiScale(
            image, hitThreshold=cfg.hit_threshold, winStride=(cfg.win_stride_px,) * 2,
            padding=(cfg.padding_px,) * 2, scale=cfg.scale_step)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / cfg.resize
        return rects, np.asarray(weights, dtype=np.float64).reshape(-1)
