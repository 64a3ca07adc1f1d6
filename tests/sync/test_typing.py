"""Static checkers see the async signatures and the sync return types of facade methods."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip('mypy.api')

SNIPPET = """
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from one_async.sync import SyncFacade, sync_method, sync_property


class AsyncThing:
    @property
    def root(self) -> Path:
        return Path()

    async def search(self, subject: str, *, limit: int = 10) -> list[str]:
        return [subject] * limit

    async def items(self, n: int) -> AsyncIterator[int]:
        yield n

    async def stream(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield b''

    @asynccontextmanager
    async def opened(self, name: str) -> AsyncIterator[str]:
        yield name


class Thing(SyncFacade[AsyncThing]):
    search = sync_method(AsyncThing.search)
    items = sync_method(AsyncThing.items)
    stream = sync_method(AsyncThing.stream)
    opened = sync_method(AsyncThing.opened)
    root = sync_property(AsyncThing.root)


thing = Thing(AsyncThing)
reveal_type(thing.search)
reveal_type(thing.items(3))
reveal_type(thing.stream())
reveal_type(thing.opened('x'))
reveal_type(thing.root)
thing.search(3)
thing.search('a', limit='many')
"""


def test_mypy_sees_async_parameters_and_sync_results(tmp_path: Path) -> None:
    module = tmp_path / 'snippet.py'
    module.write_text(textwrap.dedent(SNIPPET))
    stdout, stderr, _ = mypy_api.run(
        ['--strict', '--no-incremental', '--cache-dir', str(tmp_path / 'cache'), str(module)]
    )
    # Older mypy versions spell builtins with their module.
    notes = [
        line.split(': ', 2)[-1].replace('builtins.', '')
        for line in stdout.splitlines()
        if ': note: ' in line
    ]
    errors = [line.split(': ', 2)[-1] for line in stdout.splitlines() if ': error: ' in line]
    assert notes == [
        'Revealed type is "def (subject: str, *, limit: int =) -> list[str]"',
        'Revealed type is "one_async.sync.portal.SyncIterator[int]"',
        'Revealed type is "one_async.sync.portal.SyncIterator[bytes]"',
        'Revealed type is "one_async.sync.portal.SyncContextManager[str]"',
        'Revealed type is "pathlib.Path"',
    ], stdout + stderr
    assert errors == [
        'Argument 1 has incompatible type "int"; expected "str"  [arg-type]',
        'Argument "limit" has incompatible type "str"; expected "int"  [arg-type]',
    ], stdout
