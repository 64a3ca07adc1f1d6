"""Flushing before placement, over real sockets: writeback during large downloads, batched
``syncfs`` with its fallbacks, and write errors reported instead of placed files."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from one_async.exceptions import DownloadError
from one_async.transfer import download_files
from one_async.transfer import files as file_side

from .conftest import check_target, make_tree, sizes_small

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
linux_only = pytest.mark.skipif(
    file_side._sync_file_range is None, reason='sync_file_range is Linux-only'
)


def recording(
    calls: list[tuple[Any, ...]], real: Callable[..., int], fail_waits: bool = False
) -> Callable[..., int]:
    """A stand-in for a libc function recording its calls (and failing waits with EIO)."""

    def fake(*args: Any) -> int:
        calls.append(args)
        if fail_waits and args[-1] & 4:  # SYNC_FILE_RANGE_WAIT_AFTER
            import ctypes

            ctypes.set_errno(errno.EIO)
            return -1
        return real(*args)

    return fake


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups."""
    inner: tuple[BaseException, ...] | None = getattr(error, 'exceptions', None)
    if inner is None:
        return [error]
    return [leaf for exc in inner for leaf in leaves(exc)]


@linux_only
async def test_large_files_are_written_back_while_downloading(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of a large file go to writeback as they land, and the writer waits for those
    older than the lag (bounded dirty data); the files are placed whole."""
    monkeypatch.setattr(file_side, 'DOWNLOAD_WRITEBACK_LAG', 2 * MIB)
    calls: list[tuple[Any, ...]] = []
    real = file_side._sync_file_range
    assert real is not None
    monkeypatch.setattr(file_side, '_sync_file_range', recording(calls, real))
    tree = make_tree(tmp_path / 'remote', [9 * MIB + 7, 5 * MIB, 4000])
    server = serve(tree.root)
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert report.ok
    check_target(tmp_path / 't', tree)
    starts = [c for c in calls if c[-1] == 2]  # SYNC_FILE_RANGE_WRITE alone
    waits = [c for c in calls if c[-1] == 7]  # wait before, write, wait after
    assert sum(c[2] for c in starts) >= 10 * MIB  # most of both files, piece by piece
    assert waits
    assert all(c[1] + c[2] <= 9 * MIB + 7 - 2 * MIB for c in waits)  # the lag is not waited


@linux_only
async def test_a_write_error_during_writeback_fails_the_file(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error reported while waiting for writeback (fsync would not report it again)
    fails that file: reported, not placed, no part file left; the others are placed."""
    monkeypatch.setattr(file_side, 'DOWNLOAD_WRITEBACK_LAG', MIB)
    real = file_side._sync_file_range
    assert real is not None
    monkeypatch.setattr(file_side, '_sync_file_range', recording([], real, fail_waits=True))
    tree = make_tree(tmp_path / 'remote', [4 * MIB, 3000, 5000])
    server = serve(tree.root)
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert [r.status for r in report.results] == ['failed', 'downloaded', 'downloaded']
    error = report.results[0].error
    assert isinstance(error, DownloadError)
    assert 'Could not write' in str(error)
    assert 'Input/output error' in str(error)
    assert check_target(tmp_path / 't', tree, expect_all=False) == 2


async def test_batches_fall_back_to_fsync_per_file(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When syncfs fails (an error anywhere on the file system) or would flush too much of
    other processes' data, each file is fsynced instead; all are placed."""
    fsynced: list[int] = []
    real_fsync = file_side.os.fsync

    def fsync(fd: int) -> None:
        fsynced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(file_side.os, 'fsync', fsync)
    monkeypatch.setattr(file_side, '_syncfs', lambda fd: -1)
    tree = make_tree(tmp_path / 'remote', sizes_small(80))
    server = serve(tree.root)
    report = await download_files(tree.items(server.url), tmp_path / 'a')
    assert report.ok
    assert len(fsynced) >= 80
    check_target(tmp_path / 'a', tree)

    fsynced.clear()
    synced: list[int] = []
    monkeypatch.setattr(file_side, '_syncfs', lambda fd: synced.append(fd) or 0)
    monkeypatch.setattr(file_side, 'DOWNLOAD_SYNCFS_MAX_OTHER', -(1 << 60))
    report = await download_files(tree.items(server.url), tmp_path / 'b')
    assert report.ok
    assert not synced
    assert len(fsynced) >= 80
    check_target(tmp_path / 'b', tree)


async def test_a_bug_in_the_file_side_raises_instead_of_hanging(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, jobs: Any) -> Any:
        raise RuntimeError('bug in placement')

    monkeypatch.setattr(file_side.FileSide, 'finish_many', broken)
    tree = make_tree(tmp_path / 'remote', sizes_small(40))
    server = serve(tree.root)
    with anyio.fail_after(60):  # a guard against the hang this test is about, not a timing
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any group holding the bug
            await download_files(tree.items(server.url), tmp_path / 't')
    assert 'bug in placement' in [str(e) for e in leaves(caught.value)]
    assert not list((tmp_path / 't').rglob('*.part'))
    assert check_target(tmp_path / 't', tree, expect_all=False) == 0
