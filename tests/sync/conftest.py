"""Shared fixtures of the sync facade tests: an async class and its sync twin."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from one_async.exceptions import InvalidArgument
from one_async.sync import SyncFacade, sync_method, sync_property


class AsyncSample:
    """A small async class standing in for AsyncOne."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.log = log if log is not None else []
        self.flag = 1
        self._root = Path('/data')
        self.loop_thread: int | None = None
        self.closed_in: int | None = None

    @property
    def root(self) -> Path:
        """The root folder."""
        return self._root

    @root.setter
    def root(self, value: Path) -> None:
        self._root = value

    async def search(self, subject: str, *, limit: int = 2) -> list[str]:
        """Search sessions.

        Examples
        --------
        >>> await sample.search('SW_001')
        """
        await anyio.lowlevel.checkpoint()
        self.loop_thread = threading.get_ident()
        return [subject] * limit

    async def fail(self, value: object) -> None:
        raise InvalidArgument(f'bad value {value!r}', value=value)

    async def thread_id(self) -> int:
        return threading.get_ident()

    async def items(self, n: int) -> AsyncIterator[int]:
        """Count to n."""
        try:
            for i in range(n):
                await anyio.lowlevel.checkpoint()
                yield i
        finally:
            self.log.append(f'items closed in {threading.get_ident()}')

    async def stream(self, n: int) -> AsyncIterator[int]:
        """A coroutine returning an async iterator."""
        return self.items(n)

    @asynccontextmanager
    async def opened(self, name: str) -> AsyncIterator[str]:
        """A context holding a cancel scope, which only works when entered and exited in one
        task."""
        with anyio.CancelScope():
            self.log.append(f'enter {name}')
            try:
                yield name.upper()
            except KeyError as exc:
                self.log.append(f'saw {exc!r}')
                raise
            finally:
                self.log.append(f'exit {name}')

    async def wait_forever(self, started: threading.Event) -> None:
        try:
            started.set()
            await anyio.sleep_forever()
        finally:
            self.log.append('wait_forever cleaned up')

    async def call_back(self, callback: Callable[[], Any]) -> Any:
        return callback()

    async def in_worker(self, callback: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(callback)

    def double(self, x: int) -> int:
        """A plain method."""
        return 2 * x

    async def aclose(self) -> None:
        self.closed_in = threading.get_ident()
        self.log.append('aclose')


class Sample(SyncFacade[AsyncSample]):
    """Sync twin of AsyncSample, declaring some members (the rest is completed at run time)."""

    search = sync_method(AsyncSample.search)
    items = sync_method(AsyncSample.items)
    opened = sync_method(AsyncSample.opened)
    root = sync_property(AsyncSample.root)


@pytest.fixture(params=['asyncio', 'trio'])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def sample(backend: str, log: list[str]) -> Iterator[Sample]:
    with Sample(lambda: AsyncSample(log), backend=backend) as facade:
        yield facade
