"""The Re-ID export cache: keyed by the weights' digest, written atomically, no /tmp leftovers."""

import os
from pathlib import Path
import subprocess
import sys
import tempfile
import threading
import time

from deepsort_ros.reid import cache, create_encoder
from helpers.paths import REPO
import numpy as np
import pytest

torch = pytest.importorskip('torch')
pytest.importorskip('onnxruntime')


@pytest.fixture(scope='module')
def weights(tmp_path_factory) -> Path:
    from deepsort_ros.reid.osnet import osnet_x0_25

    torch.manual_seed(3)
    path = tmp_path_factory.mktemp('weights') / 'osnet_cache_test.pth'
    torch.save(osnet_x0_25(num_classes=5).state_dict(), path)
    return path


@pytest.fixture
def cache_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / 'cache'
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


def _reid_temporaries() -> set:
    return set(Path(tempfile.gettempdir()).glob('deepsort_reid_*'))


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert cache.cache_dir() == tmp_path / 'xdg' / 'deepsort_ros'
    monkeypatch.setenv('XDG_CACHE_HOME', 'relative/ignored')  # the XDG spec: absolute only
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert cache.cache_dir() == tmp_path / 'home' / '.cache' / 'deepsort_ros'
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / 'mine'))
    assert cache.cache_dir() == tmp_path / 'mine'


def test_entry_names_change_with_the_content(tmp_path) -> None:
    first, second = tmp_path / 'a.pth', tmp_path / 'b.pth'
    first.write_bytes(b'weights one')
    second.write_bytes(b'weights two')
    name = cache.entry_name(first, cache.file_digest(first), '256x128', 'export1')
    assert name == cache.entry_name(first, cache.file_digest(first), '256x128', 'export1')
    assert name != cache.entry_name(second, cache.file_digest(second), '256x128', 'export1')
    assert name != cache.entry_name(first, cache.file_digest(first), '192x96', 'export1')
    odd = cache.entry_name(Path('my weights (v2).pth'), 'ab' * 32, '256x128')
    assert '/' not in odd and ' ' not in odd and odd.endswith('.onnx')


def test_an_entry_is_built_once_and_a_failed_build_leaves_nothing(tmp_path) -> None:
    calls = []

    def build(path: Path) -> None:
        calls.append(path)
        assert path.parent == tmp_path  # beside the entry: the rename is atomic
        path.write_bytes(b'model')

    path, hit = cache.cached_file('m.onnx', build, tmp_path)
    assert (path.read_bytes(), hit, len(calls)) == (b'model', False, 1)
    assert cache.cached_file('m.onnx', build, tmp_path) == (path, True) and len(calls) == 1

    def broken(target: Path) -> None:
        target.write_bytes(b'half a mod')
        raise RuntimeError('export failed')

    with pytest.raises(RuntimeError):
        cache.cached_file('other.onnx', broken, tmp_path)
    assert not (tmp_path / 'other.onnx').exists()
    assert not list(tmp_path.glob('*.part')), 'a temporary was left behind'


def test_two_starts_at_once_build_once_and_read_whole_files(tmp_path) -> None:
    calls = []

    def slow_build(path: Path) -> None:
        calls.append(1)
        path.write_bytes(b'first half ')
        time.sleep(0.3)  # a reader now must neither see this nor build again
        with open(path, 'ab') as stream:
            stream.write(b'second half')

    results = []

    def start() -> None:
        path, _ = cache.cached_file('model.onnx', slow_build, tmp_path)
        results.append(path.read_bytes())

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == [b'first half second half'] * 3
    assert len(calls) == 1


def test_two_encoders_share_one_cached_export_and_leave_no_temporary(
        weights: Path, cache_folder: Path) -> None:
    before = _reid_temporaries()
    first = create_encoder(str(weights), device='cpu')
    second = create_encoder(str(weights), device='cpu')
    assert 'exported and cached' in first.name and 'export cached' in second.name
    assert 'fp32' in first.name and 'onnxruntime' in first.name
    entries = list(cache_folder.glob('*.onnx'))
    assert len(entries) == 1 and cache.file_digest(weights)[:16] in entries[0].name
    assert first.digest == second.digest == cache.file_digest(weights)  # no second hashing
    assert _reid_temporaries() == before, 'a /tmp/deepsort_reid_* folder was left behind'
    image = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = [[10, 10, 40, 90], [90, 20, 50, 80]]
    np.testing.assert_array_equal(first(image, boxes), second(image, boxes))
    # changed weights never get the old export
    other = weights.with_name('osnet_cache_test_other.pth')
    state = torch.load(weights, weights_only=True)
    state['conv1.conv.weight'] = state['conv1.conv.weight'] * 1.5
    torch.save(state, other)
    assert 'exported and cached' in create_encoder(str(other), device='cpu').name
    assert len(list(cache_folder.glob('*.onnx'))) == 2


def test_a_cache_hit_starts_without_torch(weights: Path, cache_folder: Path) -> None:
    create_encoder(str(weights), device='cpu')
    code = ('import sys; from deepsort_ros.reid import create_encoder; '
            f'e = create_encoder({str(weights)!r}, device="cpu"); '
            'print("torch" in sys.modules, e.name)')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=120, check=True,
                            env={**os.environ, cache.CACHE_ENV: str(cache_folder)})
    loaded, name = result.stdout.strip().split(' ', 1)
    assert loaded == 'False' and 'export cached' in name


def test_a_damaged_entry_is_rebuilt(weights: Path, cache_folder: Path) -> None:
    create_encoder(str(weights), device='cpu')
    entry, = cache_folder.glob('*.onnx')
    entry.write_bytes(b'truncated')
    encoder = create_encoder(str(weights), device='cpu')
    assert 're-exported' in encoder.name and entry.stat().st_size > 1000


def test_an_unwritable_cache_still_loads_and_leaves_nothing(weights: Path, tmp_path,
                                                            monkeypatch) -> None:
    blocker = tmp_path / 'not_a_folder'
    blocker.write_text('a file where the cache folder should be')
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / 'cache'))
    before = _reid_temporaries()
    encoder = create_encoder(str(weights), device='cpu')
    assert 'for this run' in encoder.name
    image = np.zeros((100, 100, 3), np.uint8)
    assert encoder(image, [[10, 10, 30, 60]]).shape == (1, 512)
    assert _reid_temporaries() == before


def test_bad_weights_are_still_refused(cache_folder: Path, tmp_path: Path) -> None:
    from deepsort_ros.reid import EncoderLoadError

    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'not a checkpoint')
    with pytest.raises(EncoderLoadError, match='junk.pth'):
        create_encoder(str(junk), device='cpu')
    pickled = tmp_path / 'whole_model.pth'
    torch.save(torch.nn.Linear(2, 2), pickled)  # a pickle, not a state dict
    with pytest.raises(EncoderLoadError):
        create_encoder(str(pickled), device='cpu')
    assert not list(cache_folder.glob('*.onnx'))
