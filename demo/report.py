"""
What a tracking run produced, for people: latency tables, a contact sheet, a markdown report.

ROS-free: numpy and OpenCV. The demo (``./dev.sh demo``) fills a :class:`RunReport` while it
runs and writes it at the end, also after Ctrl-C.
"""

from dataclasses import asdict, dataclass, field
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class LatencyStats:
    """
    Percentiles of a latency sample, milliseconds.

    Attributes
    ----------
    count : int
        Values in the sample.
    p50, p90, p99, maximum : float
        NaN when the sample is empty.

    """

    count: int
    p50: float
    p90: float
    p99: float
    maximum: float

    @classmethod
    def of(cls, values_ms: Sequence[float]) -> 'LatencyStats':
        """Summarise a sample (non-finite values are left out)."""
        values = np.asarray([v for v in values_ms if np.isfinite(v)], dtype=np.float64)
        if values.size == 0:
            nan = float('nan')
            return cls(0, nan, nan, nan, nan)
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        return cls(int(values.size), float(p50), float(p90), float(p99), float(values.max()))


def latencies_ms(start_ns: Dict[int, int], end_ns: Dict[int, int]) -> List[float]:
    """
    Return ``end - start`` in ms for every key (a frame stamp) present in both.

    Parameters
    ----------
    start_ns, end_ns : dict of int to int
        Frame stamp -> wall-clock time in nanoseconds (one clock for both).

    Returns
    -------
    list of float
        In stamp order.

    """
    return [(end_ns[k] - start_ns[k]) / 1e6 for k in sorted(start_ns) if k in end_ns]


def contact_sheet(images_bgr: Sequence[npt.NDArray[np.uint8]], labels: Sequence[str],
                  columns: int = 3, tile_width: int = 480) -> npt.NDArray[np.uint8]:
    """
    Tile a few frames into one picture, each with a caption.

    Parameters
    ----------
    images_bgr : sequence of ndarray, shape (H, W, 3)
        Frames (any sizes; each is scaled to ``tile_width``).
    labels : sequence of str
        One caption per frame.
    columns : int
        Tiles per row.
    tile_width : int
        Width of a tile in pixels.

    Returns
    -------
    ndarray of uint8, shape (rows * tile_h, columns * tile_width, 3)

    Raises
    ------
    ValueError
        When there are no images, or not one label per image.

    """
    if not images_bgr or len(images_bgr) != len(labels):
        raise ValueError('contact_sheet needs at least one image and one label per image')
    first = images_bgr[0]
    tile_height = int(round(first.shape[0] * tile_width / first.shape[1]))
    rows = -(-len(images_bgr) // columns)
    sheet = np.full((rows * tile_height, columns * tile_width, 3), 32, dtype=np.uint8)
    for index, (image, label) in enumerate(zip(images_bgr, labels)):
        tile = cv2.resize(image, (tile_width, tile_height), interpolation=cv2.INTER_AREA)
        cv2.rectangle(tile, (0, 0), (tile_width, 26), (0, 0, 0), -1)
        cv2.putText(tile, label, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                    cv2.LINE_AA)
        row, column = divmod(index, columns)
        sheet[row * tile_height:(row + 1) * tile_height,
              column * tile_width:(column + 1) * tile_width] = tile
    return sheet


@dataclass
class RunReport:
    """
    Everything the report of one run says.

    Attributes
    ----------
    title : str
    facts : dict of str to str
        What ran, in order: input, detector, encoder, machine, ...
    frames_published, frames_tracked : int
    latency : dict of str to LatencyStats
        Stage name -> its latencies, in the order they are shown.
    scores : dict of str to float
        HOTA, IDF1, MOTA, ... when ground truth exists.
    follow : dict of str to object
        The followed person: who was selected, frames TRACKED, re-acquisitions and, with
        ground truth, the share of TRACKED frames on the selected person.
    checks : list of str
        One sentence per target met or missed, with the numbers.
    files : dict of str to str
        Output file -> what it holds.
    notes : list of str
        Anything that went wrong or was skipped.

    """

    title: str
    facts: Dict[str, str] = field(default_factory=dict)
    frames_published: int = 0
    frames_tracked: int = 0
    latency: Dict[str, LatencyStats] = field(default_factory=dict)
    scores: Dict[str, float] = field(default_factory=dict)
    follow: Dict[str, object] = field(default_factory=dict)
    checks: List[str] = field(default_factory=list)
    files: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)

    def markdown(self) -> str:
        """Return the report as markdown."""
        lines = [f'# {self.title}', '']
        lines += [f'- {name}: {value}' for name, value in self.facts.items()]
        lines += ['', f'Frames published: {self.frames_published}; frames tracked: '
                  f'{self.frames_tracked}.', '']
        if self.latency:
            lines += ['## Latency (ms)', '', '| stage | n | p50 | p90 | p99 | max |',
                      '|---|---|---|---|---|---|']
            lines += [f'| {name} | {s.count or "-"} | {_ms(s.p50)} | {_ms(s.p90)} | '
                      f'{_ms(s.p99)} | {_ms(s.maximum)} |' for name, s in self.latency.items()]
            lines.append('')
        if self.scores:
            lines += ['## Accuracy against ground truth', '',
                      '| ' + ' | '.join(self.scores) + ' |',
                      '|' + '---|' * len(self.scores),
                      '| ' + ' | '.join(_score_text(v) for v in self.scores.values()) + ' |', '']
        if self.follow:
            lines += ['## Following one person', ''] + [
                f'- {name}: {_score_text(v) if v is None or isinstance(v, float) else v}'
                for name, v in self.follow.items()] + ['']
        if self.checks:
            lines += ['## Targets', ''] + [f'- {check}' for check in self.checks] + ['']
        if self.files:
            lines += ['## Files', ''] + [f'- `{name}`: {what}' for name, what in
                                         self.files.items()] + ['']
        if self.notes:
            lines += ['## Notes', ''] + [f'- {note}' for note in self.notes] + ['']
        return '\n'.join(lines)

    def write(self, directory: Path) -> Path:
        """Write ``report.md`` and ``report.json`` into ``directory``; return the markdown."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / 'report.md'
        path.write_text(self.markdown())
        data = _finite_or_none(asdict(self))
        (directory / 'report.json').write_text(json.dumps(data, indent=2) + '\n')
        return path


def _finite_or_none(value: object) -> object:
    # JSON has no NaN: an empty sample's percentiles become null.
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _ms(value: float) -> str:
    return f'{value:.1f}' if np.isfinite(value) else '-'


def _score_text(value: Optional[float]) -> str:
    if value is None or not np.isfinite(value):
        return 'n/a'
    return str(value) if isinstance(value, int) else f'{value:.3f}'
