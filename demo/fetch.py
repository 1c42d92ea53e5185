"""
Find or fetch the PETS09-S2L1 video that the demos and detector checks use.

OpenCV's sample ``vtest.avi`` is the PETS09-S2L1 sequence (video frame k is MOT frame k).
Developers have it in ``../shared/data/PETS09-S2L1``; anyone else gets the same file from
Debian's ``opencv-doc`` package without root (``apt-get download`` + ``dpkg -x``), cached.
"""

import os
from pathlib import Path
import shutil
import subprocess
import tempfile
import time
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_VIDEO = REPO_ROOT.parent / 'shared' / 'data' / 'PETS09-S2L1' / 'vtest.avi'
VIDEO_NAME = 'vtest.avi'
VIDEO_SIZE_BYTES = 8_131_690
# ../shared/data/PETS09-S2L1/seqinfo.ini, as MOTChallenge gives it.
SEQINFO = ('[Sequence]\nname=PETS09-S2L1\nimDir=vtest.avi\nframeRate=7\nseqLength=795\n'
           'imWidth=768\nimHeight=576\nimExt=.avi\n')
DEB_PACKAGE = 'opencv-doc'
DEB_MEMBER = Path('usr/share/doc/opencv-doc/examples/data/vtest.avi')
FETCH_TIMEOUT_S = 600.0
DEB_SIZE_BYTES = 95_715_012  # opencv-doc 4.6.0 in Debian 12; only the progress bar uses it


class DataFetchError(RuntimeError):
    """The video is neither present nor fetchable; the message says what to do."""


def _valid(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == VIDEO_SIZE_BYTES


def _run(command: list, cwd: Path, what: str, expected_bytes: int = 0) -> None:
    """Run a command in ``cwd``; with ``expected_bytes``, show the bytes it wrote there."""
    from tqdm import tqdm

    try:
        process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise DataFetchError(
            f'cannot fetch the PETS09 video: {command[0]} is not installed (it comes with '
            f'Debian/Ubuntu); copy {VIDEO_NAME} ({VIDEO_SIZE_BYTES} bytes) from the OpenCV '
            f'samples/data into the cache folder instead') from None
    deadline = time.monotonic() + FETCH_TIMEOUT_S
    with tqdm(total=expected_bytes or None, desc=f'{what} (once)', unit='B', unit_scale=True,
              disable=not expected_bytes) as bar:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    process.kill()
                    process.communicate()
                    raise DataFetchError(
                        f'{what} took longer than {FETCH_TIMEOUT_S:.0f} s') from None
                written = sum(p.stat().st_size for p in cwd.rglob('*') if p.is_file())
                bar.update(max(written - bar.n, 0))
        if process.returncode == 0 and expected_bytes:
            bar.update(max(expected_bytes - bar.n, 0))
    if process.returncode != 0:
        detail = (stderr or stdout).strip().splitlines()
        raise DataFetchError(f'{what} failed (exit {process.returncode}): '
                             f'{detail[-1] if detail else "no message"}')


def ensure_pets09_video(cache_dir: Path, shared_video: Optional[Path] = None) -> Path:
    """
    Return the path of PETS09-S2L1's ``vtest.avi``, downloading it once when needed.

    Parameters
    ----------
    cache_dir : Path
        Folder for the downloaded copy (created when missing).
    shared_video : Path, optional
        Where the developers' shared copy lies; ``../shared/data/PETS09-S2L1/vtest.avi``
        beside the repository when omitted.

    Returns
    -------
    Path
        The shared copy when present, else ``cache_dir / 'vtest.avi'``.

    Raises
    ------
    DataFetchError
        When the file must be fetched and ``apt-get`` / ``dpkg`` are missing or fail, or the
        package's file does not have the expected size.

    """
    shared = SHARED_VIDEO if shared_video is None else Path(shared_video)
    if _valid(shared):
        return shared
    cache_dir = Path(cache_dir)
    cached = cache_dir / VIDEO_NAME
    if _valid(cached):
        if not (cache_dir / 'seqinfo.ini').is_file():
            _write_seqinfo(cache_dir)  # a copy downloaded before it was written
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='pets09-', dir=cache_dir) as tmp:
        work = Path(tmp)
        _run(['apt-get', 'download', DEB_PACKAGE], work, f'apt-get download {DEB_PACKAGE}',
             DEB_SIZE_BYTES)
        debs = sorted(work.glob(f'{DEB_PACKAGE}_*.deb'))
        if not debs:
            raise DataFetchError(f'apt-get download {DEB_PACKAGE} left no .deb file')
        _run(['dpkg', '-x', str(debs[0]), 'root'], work, f'dpkg -x {debs[0].name}')
        extracted = work / 'root' / DEB_MEMBER
        if not extracted.is_file():
            raise DataFetchError(f'{debs[0].name} has no {DEB_MEMBER}')
        size = extracted.stat().st_size
        if size != VIDEO_SIZE_BYTES:
            raise DataFetchError(f'{DEB_MEMBER} in {debs[0].name} has {size} bytes, expected '
                                 f'{VIDEO_SIZE_BYTES}: not the PETS09 video')
        # Same file system as the cache: the rename is atomic, readers never see half a file.
        partial = cache_dir / f'.{VIDEO_NAME}.{os.getpid()}.partial'
        shutil.move(str(extracted), partial)
        os.replace(partial, cached)
    _write_seqinfo(cache_dir)
    return cached


def _write_seqinfo(cache_dir: Path) -> None:
    # Beside the downloaded copy, as beside the shared one: the video's header says 10 fps,
    # PETS09-S2L1 was recorded at 7, and `deepsort-ros detect` reads the rate from here.
    (cache_dir / 'seqinfo.ini').write_text(SEQINFO)
