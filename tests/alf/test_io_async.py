"""The async twins: same results as the sync functions, loop never blocked, cancellable."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import numpy as np
import pytest

from one_async.alf import formats, io
from one_async.exceptions import ALFFileError, ALFObjectNotFound

from .io_helpers import assert_bunch_equal

SAFETY_TIMEOUT = 30.0  # only bounds a hang when the code under test is broken


@pytest.mark.anyio
async def test_aload_object_same_as_sync(alf_path: Path) -> None:
    results: dict[str, Any] = {}

    async def load(obj: str, **kwargs: Any) -> None:
        results[obj] = await io.aload_object(alf_path, obj, **kwargs)

    async with anyio.create_task_group() as tg:
        tg.start_soon(load, 'clusters')
        tg.start_soon(load, 'wheel')
        tg.start_soon(load, 'passiveGabor')
    for obj, out in results.items():
        assert_bunch_equal(out, io.load_object(alf_path, obj))
    folder = alf_path / 'probe00'
    kwargs: dict[str, Any] = {'namespace': None, 'timescale': None, 'attribute': '[!t]*'}
    probe = await io.aload_object(folder, 'spikes', short_keys=True, **kwargs)
    assert_bunch_equal(probe, io.load_object(folder, 'spikes', True, **kwargs))


@pytest.mark.anyio
async def test_aload_file_content(alf_path: Path) -> None:
    path = alf_path / '_ibl_trials.choice.npy'
    np.testing.assert_array_equal(await io.aload_file_content(path), np.load(path))
    mapped = await io.aload_file_content(path, mmap=True)
    assert isinstance(mapped, np.memmap)
    assert await io.aload_file_content(None) is None


@pytest.mark.anyio
async def test_async_errors_are_typed(alf_path: Path) -> None:
    with pytest.raises(ALFObjectNotFound, match='nothing'):
        await io.aload_object(alf_path, 'nothing')
    bad = alf_path / 'obj.attr.json'
    bad.write_text('{')
    with pytest.raises(ALFFileError, match=r'obj\.attr\.json'):
        await io.aload_file_content(bad)


class _BlockingReader:
    """An .npy reader that waits in its worker thread until the test releases it."""

    def __init__(self) -> None:
        self.started = anyio.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.thread_ids: list[int] = []

    def __call__(self, path: Path, mmap: bool, allow_pickle: bool) -> Any:
        try:
            self.thread_ids.append(threading.get_ident())
            anyio.from_thread.run_sync(self.started.set)
            if not self.release.wait(SAFETY_TIMEOUT):
                raise RuntimeError('reader was never released')
            return np.load(path)
        finally:
            self.finished.set()


@pytest.mark.anyio
async def test_loop_not_blocked(alf_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The load waits for a release only another task on the loop can give: no deadlock."""
    reader = _BlockingReader()
    monkeypatch.setitem(formats.READERS, '.npy', reader)  # type: ignore[arg-type]
    out: dict[str, Any] = {}

    async def load() -> None:
        out['data'] = await io.aload_object(alf_path, 'clusters', attribute='depths')

    async def release() -> None:
        await reader.started.wait()
        reader.release.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(load)
        tg.start_soon(release)
    np.testing.assert_array_equal(out['data'].depths, np.load(alf_path / 'clusters.depths.npy'))
    assert reader.thread_ids != [threading.get_ident()]


@pytest.mark.anyio
@pytest.mark.parametrize('which', ['object', 'file'])
async def test_cancellation(alf_path: Path, monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    """Cancelling returns at once, while the worker still reads; its result is discarded."""
    reader = _BlockingReader()
    monkeypatch.setitem(formats.READERS, '.npy', reader)  # type: ignore[arg-type]
    out: dict[str, Any] = {}

    async def load() -> None:
        if which == 'object':
            out['data'] = await io.aload_object(alf_path, 'clusters', attribute='depths')
        else:
            out['data'] = await io.aload_file_content(alf_path / 'clusters.depths.npy')

    async with anyio.create_task_group() as tg:
        tg.start_soon(load)
        await reader.started.wait()
        tg.cancel_scope.cancel()
    assert 'data' not in out
    assert not reader.finished.is_set()  # the scope exited while the worker was blocked
    reader.release.set()
    assert await anyio.to_thread.run_sync(reader.finished.wait, SAFETY_TIMEOUT)
    assert 'data' not in out
