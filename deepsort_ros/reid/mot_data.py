"""
Identity crops from MOTChallenge-style sequences (gt/gt.txt + img1/ frames or a video).

Used by ``deepsort-ros train-reid`` and by the Re-ID quality evaluation; numpy and OpenCV
only. A sequence folder holds ``gt/gt.txt`` and either ``seqinfo.ini`` naming the frame
folder (``imDir``, default ``img1``) or a video file (``imDir=vtest.avi``, frame k = MOT k).
"""

import configparser
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import numpy.typing as npt

VIDEO_SUFFIXES = ('.avi', '.mp4', '.mkv', '.mov', '.webm')


@dataclass(frozen=True)
class IdentityBox:
    """
    One annotated person box.

    Attributes
    ----------
    frame : int
        1-based MOT frame number.
    identity : int
        Track identity from gt.txt.
    tlwh : tuple of float
        Box (x, y, w, h) in pixels.

    """

    frame: int
    identity: int
    tlwh: Tuple[float, float, float, float]


def read_gt_boxes(sequence_dir: Path, min_height_px: float = 32.0,
                  min_visibility: float = 0.3) -> List[IdentityBox]:
    """
    Read the person boxes of a sequence's gt/gt.txt.

    Rows with flag 0 (ignored), MOT16/17 classes other than 1 (pedestrian), visibility
    below ``min_visibility`` or height below ``min_height_px`` are left out.

    Parameters
    ----------
    sequence_dir : pathlib.Path
        The sequence folder.
    min_height_px : float
        Smallest box height kept.
    min_visibility : float
        Smallest visibility kept (MOT16/17 column 9; MOT15 files have none).

    Returns
    -------
    list of IdentityBox
        Sorted by frame.

    """
    path = Path(sequence_dir) / 'gt' / 'gt.txt'
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no ground truth (expected MOTChallenge gt/gt.txt)')
    rows = np.loadtxt(path, delimiter=',', ndmin=2)
    keep = (rows[:, 6] != 0) & (rows[:, 5] >= min_height_px)
    # MOT16/17: column 8 is the class (1 = pedestrian) and column 9 the visibility in [0, 1];
    # MOT15 stores world coordinates there instead.
    is_mot17 = (rows.shape[1] >= 9 and np.all(np.isin(rows[:, 7], np.arange(1, 13)))
                and np.all((rows[:, 8] >= 0) & (rows[:, 8] <= 1)))
    if is_mot17:
        keep &= (rows[:, 7] == 1) & (rows[:, 8] >= min_visibility)
    rows = rows[keep]
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    return [IdentityBox(int(r[0]), int(r[1]), (float(r[2]), float(r[3]), float(r[4]), float(r[5])))
            for r in rows]


def _image_source(sequence_dir: Path) -> Tuple[Path, str]:
    info = configparser.ConfigParser()
    info.read(Path(sequence_dir) / 'seqinfo.ini')
    im_dir = info.get('Sequence', 'imDir', fallback='img1')
    im_ext = info.get('Sequence', 'imExt', fallback='.jpg')
    source = Path(sequence_dir) / im_dir
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        return source, 'video'
    if source.is_dir():
        return source, im_ext
    raise FileNotFoundError(f'{sequence_dir}: no frames (expected {im_dir}/ with {im_ext} '
                            'images or a video named by imDir in seqinfo.ini)')


def iter_frames(sequence_dir: Path, frames: Optional[Sequence[int]] = None
                ) -> Iterator[Tuple[int, npt.NDArray[np.uint8]]]:
    """
    Yield (MOT frame number, BGR image) in order, only for ``frames`` when given.

    Parameters
    ----------
    sequence_dir : pathlib.Path
        The sequence folder.
    frames : sequence of int, optional
        1-based frame numbers wanted.

    Yields
    ------
    tuple
        (frame number, HxWx3 uint8 BGR image).

    """
    source, kind = _image_source(Path(sequence_dir))
    wanted = None if frames is None else {int(f) for f in frames}
    if kind == 'video':
        capture = cv2.VideoCapture(str(source))
        if not capture.isOpened():
            raise FileNotFoundError(f'{source}: OpenCV cannot open the video')
        try:
            number = 0
            last = max(wanted) if wanted else None
            while last is None or number < last:
                ok, image = capture.read()
                if not ok:
                    break
                number += 1
                if wanted is None or number in wanted:
                    yield number, image
        finally:
            capture.release()
        return
    for path in sorted(source.glob('*' + kind)):
        number = int(path.stem)
        if wanted is None or number in wanted:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise FileNotFoundError(f'{path}: OpenCV cannot read the image')
            yield number, image


def sample_identity_boxes(boxes: Sequence[IdentityBox], frame_step: int = 1,
                          max_per_identity: Optional[int] = None) -> List[IdentityBox]:
    """
    Thin annotated boxes to every ``frame_step``-th frame and at most N per identity.

    Parameters
    ----------
    boxes : sequence of IdentityBox
        Annotations.
    frame_step : int
        Keep frames whose number is a multiple of this.
    max_per_identity : int, optional
        Keep at most this many boxes per identity, evenly spread over its frames.

    Returns
    -------
    list of IdentityBox
        Sorted by frame.

    """
    if frame_step < 1:
        raise ValueError(f'frame_step must be >= 1, got {frame_step}')
    kept = [b for b in boxes if b.frame % frame_step == 0]
    if max_per_identity is not None:
        by_identity: Dict[int, List[IdentityBox]] = {}
        for box in kept:
            by_identity.setdefault(box.identity, []).append(box)
        kept = []
        for group in by_identity.values():
            if len(group) > max_per_identity:
                picks = np.linspace(0, len(group) - 1, max_per_identity).round().astype(int)
                group = [group[i] for i in picks]
            kept += group
    return sorted(kept, key=lambda b: (b.frame, b.identity))


def group_by_frame(boxes: Sequence[IdentityBox]) -> Dict[int, List[IdentityBox]]:
    """
    Group boxes by frame number.

    Parameters
    ----------
    boxes : sequence of IdentityBox
        Annotations.

    Returns
    -------
    dict
        Frame number -> boxes in that frame.

    """
    grouped: Dict[int, List[IdentityBox]] = {}
    for box in boxes:
        grouped.setdefault(box.frame, []).append(box)
    return grouped
