"""
Files derived from Re-ID weights (the ONNX export), made once and kept, keyed by content.

A node that starts with a ``.pth`` runs it through onnxruntime, which needs an ONNX export of
it. The export takes seconds (torch is imported for it), so it is made once per weights file
and kept in the cache folder, named by the file's SHA-256, the input size and the export
format: changed weights get a new entry and an old entry is never served for them. Entries
are written to a temporary name in the same folder and renamed into place (atomic on POSIX),
under an advisory lock so that two nodes starting together export once; a reader never sees
half a file. The folder is ``$DEEPSORT_ROS_CACHE_DIR``, else ``$XDG_CACHE_HOME/deepsort_ros``,
else ``~/.cache/deepsort_ros``.
"""

import contextlib
import hashlib
import logging
import os
from pathlib import Path
import re
import tempfile
import time
from typing import Callable, Iterator, Optional, Tuple

LOGGER = logging.getLogger(__name__)
CACHE_ENV = 'DEEPSORT_ROS_CACHE_DIR'
LOCK_TIMEOUT_S = 120.0
_LOCK_POLL_S = 0.05
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """
    Return the cache folder (not created here).

    Returns
    -------
    pathlib.Path
        ``$DEEPSORT_ROS_CACHE_DIR``, else ``$XDG_CACHE_HOME/deepsort_ros``, else
        ``~/.cache/deepsort_ros``.

    """
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    xdg = os.environ.get('XDG_CACHE_HOME')
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / '.cache'
    return base / 'deepsort_ros'


def file_digest(path: 'str | Path') -> str:
    """
    Return the SHA-256 of a file's bytes, as hex.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    str
        64 hex digits.

    """
    digest = hashlib.sha256()
    with open(path, 'rb') as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def entry_name(source: Path, digest: str, *parts: object, suffix: str = '.onnx') -> str:
    """
    Name a cache entry after its source file, the source's digest and what else it depends on.

    Parameters
    ----------
    source : pathlib.Path
        The weights file (only its stem is used, for people reading the folder).
    digest : str
        The weights' SHA-256 (the first 16 hex digits go into the name).
    *parts : object
        Everything else the entry depends on (input size, format version, ...).
    suffix : str
        File suffix.

    Returns
    -------
    str
        A file name of letters, digits, '.', '_', '-' and 'x' only.

    """
    stem = re.sub(r'[^A-Za-z0-9_-]+', '_', source.name.split('.')[0])[:48] or 'weights'
    fields = [stem, digest[:16], *(re.sub(r'[^A-Za-z0-9_-]+', '_', str(p)) for p in parts)]
    return '.'.join(fields) + suffix


def cached_file(name: str, build: Callable[[Path], object],
                folder: Optional[Path] = None,
                lock_timeout_s: float = LOCK_TIMEOUT_S) -> Tuple[Path, bool]:
    """
    Return a cache entry, building it first if it is not there yet.

    Parameters
    ----------
    name : str
        The entry's file name (see :func:`entry_name`).
    build : callable
        ``build(path)`` writes the entry's content to ``path`` (a temporary name in the cache
        folder); it is renamed into place only when ``build`` returns.
    folder : pathlib.Path, optional
        The cache folder; default :func:`cache_dir`.
    lock_timeout_s : float
        How long to wait for another process building the same entry before building it too
        (the rename keeps that safe; the lock only saves the duplicate work).

    Returns
    -------
    path : pathlib.Path
        The entry.
    hit : bool
        True when it was there already (or another process made it meanwhile).

    Raises
    ------
    OSError
        When the folder cannot be created or written (the caller decides what to do instead).

    """
    folder = Path(folder) if folder is not None else cache_dir()
    target = folder / name
    if target.is_file():
        return target, True
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / (name + '.lock'), lock_timeout_s):
        if target.is_file():
            return target, True
        descriptor, temporary = tempfile.mkstemp(prefix=f'.{name}.', suffix='.part', dir=folder)
        os.close(descriptor)
        try:
            build(Path(temporary))
            os.chmod(temporary, 0o644)  # mkstemp makes it private; entries are plain files
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    return target, False


def discard(path: Path) -> None:
    """
    Remove a cache entry that turned out unreadable, so that the next start rebuilds it.

    Parameters
    ----------
    path : pathlib.Path
        The entry.

    """
    with contextlib.suppress(OSError):
        path.unlink()
        LOGGER.warning('Re-ID cache: removed unreadable %s', path)


@contextlib.contextmanager
def _locked(lock_path: Path, timeout_s: float) -> Iterator[None]:
    """Hold an advisory lock on ``lock_path`` for the block; give up waiting after timeout_s."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the atomic rename alone keeps entries whole
        yield
        return
    with open(lock_path, 'a') as stream:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    LOGGER.warning('Re-ID cache: %s still locked after %.0f s; building anyway',
                                   lock_path, timeout_s)
                    yield
                    return
                time.sleep(_LOCK_POLL_S)
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)
