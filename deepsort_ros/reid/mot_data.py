"""
Identity crops from MOTChallenge-style sequences (gt/gt.txt + img1/ frames or a video).

Used by ``deepsort-ros train-reid``, the int8 calibration and the Re-ID quality evaluation.
Files are read by :mod:`deepsort_ros.recordings.mot`; this module chooses the boxes.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from deepsort_ros.recordings import mot
from deepsort_ros.recordings.mot import read_sequence_info
import numpy as np
import numpy.typing as npt


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
    rows = mot.load_mot_rows(path)
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


def iter_frames(sequence_dir: Path, frames: Optional[Sequence[int]] = None
                ) -> Iterator[Tuple[int, npt.NDArray[np.uint8]]]:
    """
    Yield (MOT frame number, BGR image) of the frames a sequence folder holds, in order.

    Parameters
    ----------
    sequence_dir : pathlib.Path
        The sequence folder (a partial copy is fine: only the frames present are read).
    frames : sequence of int, optional
        1-based frame numbers wanted.

    Yields
    ------
    tuple
        (frame number, HxWx3 uint8 BGR image).

    """
    info = read_sequence_info(Path(sequence_dir))
    if info.image_source is None:
        raise FileNotFoundError(f'{sequence_dir}: no frames (expected img1/ or a video named '
                                'by imDir in seqinfo.ini)')
    yield from mot.iter_frames(info.image_source, frames)


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
