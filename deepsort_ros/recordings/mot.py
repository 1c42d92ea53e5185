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
import sys
from typing import Dict, Iterable, Iterator, Optional, Sequence, TextIO, Tuple, Union

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
        if len(self.frames) == 0:
            return {}
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


def available_frames(info: SequenceInfo) -> Optional[int]:
    """
    Return how many frames the sequence's images really hold, or None without images.

    Parameters
    ----------
    info : SequenceInfo
        The sequence.

    Returns
    -------
    int or None
        The highest numbered image of a frame folder, or a video's frame count.

    """
    source = info.image_source
    if source is None:
        return None
    if source.is_dir():
        numbers = [int(p.stem) for p in source.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()]
        return max(numbers, default=0)
    import cv2

    capture = cv2.VideoCapture(str(source))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return count if count > 0 else None


def line_of_frame(path: Path, frame: int) -> int:
    """Return the 1-based line of a MOT text file whose first field is ``frame`` (0: none)."""
    with open(path) as stream:
        for number, line in enumerate(stream, start=1):
            head = line.replace(',', ' ').split()[:1]
            try:
                if head and float(head[0]) == frame:
                    return number
            except ValueError:
                continue
    return 0


def iter_frames(source: Union[SequenceInfo, Path], frames: Optional[Iterable[int]] = None,
                max_frames: Optional[int] = None
                ) -> Iterator[Tuple[int, npt.NDArray[np.uint8]]]:
    """
    Yield ``(frame, image_bgr)`` in frame order from a sequence, a video or an image folder.

    The one frame reader of the package: a video's k-th frame is MOT frame k; a folder's images
    are numbered by their file names (``000001.jpg``).

    Parameters
    ----------
    source : SequenceInfo or Path
        A sequence (its ``image_source``; frames 1..length must all be there) or a video file
        or folder of numbered images (what is there is read).
    frames : iterable of int, optional
        Only these 1-based frames.
    max_frames : int, optional
        Stop after this many frames have been yielded.

    Yields
    ------
    (int, ndarray of uint8, shape (H, W, 3))

    Raises
    ------
    FileNotFoundError
        When there are no frames, a sequence's frame is missing or unreadable, or a video
        cannot be opened or ends before a sequence's length.

    """
    import cv2

    length: Optional[int] = None
    if isinstance(source, SequenceInfo):
        if source.image_source is None:
            raise FileNotFoundError(f'sequence {source.directory} has no frames (img1/ or a '
                                    'video named by imDir in seqinfo.ini)')
        length, path = source.length, source.image_source
    else:
        path = Path(source)
    wanted = None if frames is None else {int(f) for f in frames}
    limit = max_frames if max_frames is not None else sys.maxsize
    if limit <= 0 or wanted == set():
        return
    last = max(wanted) if wanted else length
    yielded = 0
    if path.is_file():
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise FileNotFoundError(f'{path}: OpenCV cannot open the video')
        try:
            frame = 0
            while last is None or frame < last:
                ok, image = capture.read()
                if not ok:
                    if length is not None and frame < min(length, last):
                        raise FileNotFoundError(f'{path}: video ends before frame {frame + 1}')
                    return
                frame += 1
                if wanted is None or frame in wanted:
                    yield frame, image
                    yielded += 1
                    if yielded >= limit:
                        return
        finally:
            capture.release()
        return
    if not path.is_dir():
        raise FileNotFoundError(f'{path}: no frames (a video file or a folder of numbered '
                                'images)')
    by_number = {int(p.stem): p for p in path.iterdir()
                 if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()}
    numbers = range(1, length + 1) if length is not None else sorted(by_number)
    for frame in numbers:
        if wanted is not None and frame not in wanted:
            continue
        file = by_number.get(frame)
        image = cv2.imread(str(file), cv2.IMREAD_COLOR) if file is not None else None
        if image is None:
            raise FileNotFoundError(f'{path}: frame {frame} missing or unreadable')
        yield frame, image
        yielded += 1
        if yielded >= limit:
            return


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
