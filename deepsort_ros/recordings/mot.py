"""
MOTChallenge-style sequences: seqinfo.ini, det/det.txt, frames, and results files.

A sequence folder holds ``seqinfo.ini`` (``imDir`` names a frame folder, default ``img1``, or a
video file whose frame k is MOT frame k), ``det/det.txt`` and optionally ``gt/gt.txt``. Rows
are ``frame, id, left, top, width, height, score, ...`` with 1-based frames. numpy and OpenCV
only; OpenCV is imported when frames are read.
"""

import configparser
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, TextIO, Tuple

import numpy as np
import numpy.typing as npt

VIDEO_SUFFIXES = ('.avi', '.mp4', '.mkv', '.mov', '.webm')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


@dataclass(frozen=True)
class SequenceInfo:
    """
    What ``seqinfo.ini`` says about a sequence (or what could be inferred without it).

    Attributes
    ----------
    name : str
    directory : Path
    frame_rate : float
        Frames per second; timestamps are ``(frame - 1) / frame_rate``.
    length : int
        Number of frames.
    width, height : int
        Image size in pixels (0 when unknown).
    image_source : Path or None
        Frame folder or video file; None when the sequence has no images.

    """

    name: str
    directory: Path
    frame_rate: float
    length: int
    width: int
    height: int
    image_source: Optional[Path]

    def timestamp(self, frame: int) -> float:
        """Return the time of a 1-based frame in seconds."""
        return (frame - 1) / self.frame_rate


@dataclass(frozen=True)
class MotDetections:
    """
    Rows of a det.txt.

    Attributes
    ----------
    frames : ndarray of int, shape (N,)
        1-based frame of each row.
    boxes_tlwh : ndarray, shape (N, 4)
        Pixels.
    scores : ndarray, shape (N,)
    class_ids : ndarray of int, shape (N,)
        0 unless the file has a class column (8th, when positive).

    """

    frames: npt.NDArray[np.int64]
    boxes_tlwh: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float64]
    class_ids: npt.NDArray[np.int64]

    def rows_by_frame(self) -> Dict[int, npt.NDArray[np.int64]]:
        """Return ``frame -> row indices`` (rows in file order)."""
        order = np.argsort(self.frames, kind='stable')
        frames = self.frames[order]
        starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
        ends = np.r_[starts[1:], len(frames)]
        return {int(frames[s]): order[s:e] for s, e in zip(starts, ends)}


def load_mot_rows(path: Path) -> npt.NDArray[np.float64]:
    """
    Read a MOTChallenge text file (comma or whitespace separated).

    Parameters
    ----------
    path : Path
        det.txt, gt.txt or a results file.

    Returns
    -------
    ndarray, shape (N, C)
        C >= 6; an empty file gives shape (0, 10).

    """
    text = Path(path).read_text().strip()
    if not text:
        return np.zeros((0, 10))
    rows = [line.replace(',', ' ').split() for line in text.splitlines() if line.strip()]
    width = min(len(r) for r in rows)
    if width < 6:
        raise ValueError(f'{path}: MOT rows need at least 6 columns, found {width}')
    return np.array([r[:width] for r in rows], dtype=np.float64)


def read_detections(path: Path) -> MotDetections:
    """
    Read a det.txt.

    Parameters
    ----------
    path : Path
        ``frame, -1, left, top, width, height, score[, x, y, z | class...]``.

    Returns
    -------
    MotDetections

    """
    rows = load_mot_rows(path)
    scores = rows[:, 6] if rows.shape[1] > 6 else np.ones(len(rows))
    class_ids = np.zeros(len(rows), dtype=np.int64)
    return MotDetections(rows[:, 0].astype(np.int64), rows[:, 2:6].copy(), scores.copy(),
                         class_ids)


def read_sequence_info(directory: Path) -> SequenceInfo:
    """
    Read seqinfo.ini, or infer what is missing from det.txt and the frame folder.

    Parameters
    ----------
    directory : Path
        The sequence folder.

    Returns
    -------
    SequenceInfo

    Raises
    ------
    FileNotFoundError
        When the folder does not exist.
    ValueError
        When the frame rate is not positive.

    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f'sequence folder {directory} does not exist')
    section: Dict[str, str] = {}
    ini = directory / 'seqinfo.ini'
    if ini.is_file():
        parser = configparser.ConfigParser()
        parser.read(ini)
        if parser.has_section('Sequence'):
            section = {k.lower(): v for k, v in parser.items('Sequence')}
    frame_rate = float(section.get('framerate', 30))
    if frame_rate <= 0:
        raise ValueError(f'{ini}: frameRate must be > 0, got {frame_rate}')
    source: Optional[Path] = directory / section.get('imdir', 'img1')
    if not source.exists():
        source = None
    length = int(section.get('seqlength', 0))
    if length <= 0:
        det = directory / 'det' / 'det.txt'
        if det.is_file():
            rows = load_mot_rows(det)
            length = int(rows[:, 0].max()) if len(rows) else 0
        elif source is not None and source.is_dir():
            length = len([p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES])
    return SequenceInfo(section.get('name', directory.name), directory, frame_rate, length,
                        int(section.get('imwidth', 0)), int(section.get('imheight', 0)), source)


def iter_frames(info: SequenceInfo) -> Iterator[Tuple[int, npt.NDArray[np.uint8]]]:
    """
    Yield ``(frame, image_bgr)`` for frames 1..length from the frame folder or the video.

    Parameters
    ----------
    info : SequenceInfo
        With an ``image_source``.

    Yields
    ------
    (int, ndarray of uint8, shape (H, W, 3))

    """
    import cv2

    source = info.image_source
    if source is None:
        raise FileNotFoundError(f'sequence {info.directory} has no frames (img1/ or a video)')
    if source.is_file() and source.suffix.lower() in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(source))
        try:
            for frame in range(1, info.length + 1):
                ok, image = capture.read()
                if not ok:
                    raise ValueError(f'{source}: video ends before frame {frame}')
                yield frame, image
        finally:
            capture.release()
        return
    files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    by_number = {int(p.stem): p for p in files if p.stem.isdigit()}
    for frame in range(1, info.length + 1):
        path = by_number.get(frame)
        image = cv2.imread(str(path)) if path is not None else None
        if image is None:
            raise FileNotFoundError(f'{source}: frame {frame} missing or unreadable')
        yield frame, image


def format_mot_row(frame: int, track_id: int, box_tlwh: Sequence[float],
                   score: float = 1.0) -> str:
    """
    Format one MOTChallenge results line.

    Parameters
    ----------
    frame : int
        1-based frame.
    track_id : int
        Identity.
    box_tlwh : sequence of 4 float
        Box, pixels.
    score : float
        Confidence.

    Returns
    -------
    str
        ``frame,id,left,top,width,height,score,-1,-1,-1`` with a newline.

    """
    x, y, w, h = (float(v) for v in box_tlwh)
    return f'{frame},{track_id},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score:.4f},-1,-1,-1\n'


def write_mot_rows(stream: TextIO, frame: int, track_ids: Sequence[int],
                   boxes_tlwh: npt.ArrayLike, scores: Optional[Sequence[float]] = None) -> int:
    """
    Write one frame's results to an open text stream.

    Parameters
    ----------
    stream : text stream
        Open for writing.
    frame : int
        1-based frame.
    track_ids : sequence of int
        Identities.
    boxes_tlwh : array_like, shape (N, 4)
        Boxes, pixels.
    scores : sequence of float, optional
        Confidences (1 when omitted).

    Returns
    -------
    int
        Rows written.

    """
    boxes = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
    for i, track_id in enumerate(track_ids):
        stream.write(format_mot_row(frame, int(track_id), boxes[i],
                                    1.0 if scores is None else float(scores[i])))
    return len(boxes)
