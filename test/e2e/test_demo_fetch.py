"""ensure_pets09_video: shared copy first, then the cache, else a clear error without apt-get."""

import os
import time

from demo import fetch as data_fetch
from demo.fetch import DataFetchError, ensure_pets09_video, VIDEO_SIZE_BYTES
from helpers.paths import SHARED
import pytest


def test_shared_copy_is_used(tmp_path, shared_dir):
    path = ensure_pets09_video(tmp_path / 'cache')
    assert path == SHARED / 'data' / 'PETS09-S2L1' / 'vtest.avi'
    assert path.stat().st_size == VIDEO_SIZE_BYTES
    assert not (tmp_path / 'cache').exists(), 'nothing is fetched when the shared copy exists'


def test_cached_copy_is_used(tmp_path):
    cache = tmp_path / 'cache'
    cache.mkdir()
    with open(cache / 'vtest.avi', 'wb') as stream:
        stream.truncate(VIDEO_SIZE_BYTES)  # right size: taken as the cached video
    path = ensure_pets09_video(cache, shared_video=tmp_path / 'absent.avi')
    assert path == cache / 'vtest.avi'
    # Its frame rate beside it, as beside the shared copy, for `deepsort-ros detect`.
    assert 'frameRate=7\n' in (cache / 'seqinfo.ini').read_text()


def test_error_sentence_without_apt_get(tmp_path, monkeypatch):
    empty_bin = tmp_path / 'bin'
    empty_bin.mkdir()
    monkeypatch.setenv('PATH', str(empty_bin))
    cache = tmp_path / 'cache'
    with open(tmp_path / 'short.avi', 'wb') as stream:
        stream.write(b'not the video')  # a wrong-size shared copy is not trusted
    with pytest.raises(DataFetchError, match='apt-get is not installed'):
        ensure_pets09_video(cache, shared_video=tmp_path / 'short.avi')
    assert not (cache / 'vtest.avi').exists()
    assert list(cache.iterdir()) == [], 'a failed fetch leaves no partial files'


def test_error_sentence_when_apt_get_fails(tmp_path, monkeypatch):
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    fake = fake_bin / 'apt-get'
    fake.write_text('#!/bin/sh\necho "E: Unable to locate package opencv-doc" >&2\nexit 100\n')
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(fake_bin))
    with pytest.raises(DataFetchError, match=r'apt-get download opencv-doc failed \(exit 100\)'
                                             r': E: Unable to locate package'):
        ensure_pets09_video(tmp_path / 'cache', shared_video=tmp_path / 'absent.avi')


@pytest.mark.skipif(os.environ.get('DEEPSORT_TEST_DOWNLOAD') != '1',
                    reason='downloads ~96 MB from Debian; set DEEPSORT_TEST_DOWNLOAD=1 to run')
def test_real_download(tmp_path):
    started = time.monotonic()
    path = ensure_pets09_video(tmp_path / 'cache', shared_video=tmp_path / 'absent.avi')
    assert path == tmp_path / 'cache' / 'vtest.avi'
    assert path.stat().st_size == VIDEO_SIZE_BYTES
    assert sorted(p.name for p in path.parent.iterdir()) == ['vtest.avi']
    assert time.monotonic() - started < 120
    assert data_fetch.ensure_pets09_video(path.parent, shared_video=tmp_path / 'x') == path
