"""The on-disk REST cache: hits, expiry, clobber, no_cache, errors, concurrency, fallback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from one_async.exceptions import AlyxHTTPError, OneWarning
from one_async.testing.faults import FaultPlan, Faults

from .conftest import FakeAlyx

pytestmark = pytest.mark.anyio

EID = '934bb3ea-c9a5-410c-b0df-c15b152535a0'


def _gets(alyx: FakeAlyx, path: str = '/sessions') -> int:
    return len(alyx.state.requests('GET', path))


def _entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / 'cache' / '.rest').iterdir())


async def test_get_is_cached_per_url(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    async with make_client() as client:
        first = await client.rest('sessions', 'list', subject='SWC_001', lab='testlab')
        again = await client.rest('sessions', 'list', lab='testlab', subject='SWC_001')
        other = await client.rest('sessions', 'list', subject='SWC_002')
    assert first == again
    assert other != first
    assert _gets(alyx) == 2  # parameter order does not matter, values do
    # ONE-api's format: [response, naive ISO expiry]
    pages = [json.loads(p.read_text()) for p in _entries(tmp_path)]
    pages = [(value, when) for value, when in pages if 'results' in value]
    assert len(pages) == 2
    for value, when in pages:
        assert datetime.fromisoformat(when) > datetime.now()
        assert {r['subject'] for r in value['results']} in ({'SWC_001'}, {'SWC_002'})


async def test_cache_shared_between_clients(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        await client.rest('sessions', 'read', id=EID)
    async with make_client() as client:
        record = await client.rest('sessions', 'read', id=EID)
    assert record['id'] == EID
    assert _gets(alyx, f'/sessions/{EID}') == 1


async def test_expiry(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        await client.rest('sessions', 'list', expires=True)  # stored already expired
        await client.rest('sessions', 'list')
        assert _gets(alyx) == 2
        await client.rest('sessions', 'list')
        assert _gets(alyx) == 2
    async with make_client(rest_expiry=timedelta(0)) as client:
        await client.rest('sessions', 'list', subject='SWC_001')  # default: expired at once
        await client.rest('sessions', 'list', subject='SWC_001', expires=timedelta(hours=1))
        await client.rest('sessions', 'list', subject='SWC_001')
    assert _gets(alyx) == 4


async def test_clobber_and_no_cache_argument(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        before = await client.rest('sessions', 'read', id=EID)
        alyx.state.details[EID]['narrative'] = 'changed on the server'
        assert await client.rest('sessions', 'read', id=EID) == before
        fresh = await client.get(f'sessions/{EID}', clobber=True)
        assert fresh['narrative'] == 'changed on the server'
        assert (await client.rest('sessions', 'read', id=EID))['narrative'] == fresh['narrative']
        alyx.state.details[EID]['narrative'] = 'again'
        assert (await client.rest('sessions', 'read', id=EID, no_cache=True))[
            'narrative'
        ] == 'again'
        # no_cache stores an expired entry: the next call asks the server again
        await client.rest('sessions', 'read', id=EID)
    assert _gets(alyx, f'/sessions/{EID}') == 4


async def test_no_cache_context_only_affects_its_task(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        await client.schema()
        async with client.no_cache():
            await client.rest('sessions', 'list')
            await client.rest('sessions', 'list')
            assert not [p for p in _entries(tmp_path) if EID in p.read_text()]
        assert _gets(alyx) == 2
        with client.no_cache():  # also a plain context manager
            await client.rest('sessions', 'list')
        assert _gets(alyx) == 3

        entered = anyio.Event()
        release = anyio.Event()

        async def uncached() -> None:
            async with client.no_cache():
                entered.set()
                await release.wait()
                await client.rest('insertions', 'list')

        async with anyio.create_task_group() as tg:
            tg.start_soon(uncached)
            await entered.wait()
            await client.rest('insertions', 'list')  # another task: cached
            await client.rest('insertions', 'list')
            release.set()
    assert _gets(alyx, '/insertions') == 2


async def test_errors_are_not_cached(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    missing = '00000000-0000-0000-0000-000000000000'
    async with make_client() as client:
        for _ in range(2):
            with pytest.raises(AlyxHTTPError):
                await client.rest('sessions', 'read', id=missing)
    assert _gets(alyx, f'/sessions/{missing}') == 2
    texts = [p.read_text() for p in _entries(tmp_path)]
    assert not any('No Session matches' in t for t in texts)
    assert not any(alyx.state.tokens['test_user'] in t for t in texts)


async def test_concurrent_gets_leave_valid_entries(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        await client.schema()
        lists: list[Any] = []
        reads: list[Any] = []

        async def get() -> None:
            lists.append(await client.get('sessions', params={'lab': 'testlab'}, clobber=True))
            reads.append(await client.rest('sessions', 'read', id=EID))

        async with anyio.create_task_group() as tg:
            for _ in range(16):
                tg.start_soon(get)
    assert lists == [alyx.state.sessions] * 16
    assert [r['id'] for r in reads] == [EID] * 16
    for entry in _entries(tmp_path):
        _, when = json.loads(entry.read_text())  # none torn
        assert datetime.fromisoformat(when)
    assert not [p for p in _entries(tmp_path) if p.name.endswith('.tmp')]


async def test_corrupt_entry_is_a_miss(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    async with make_client() as client:
        await client.rest('sessions', 'read', id=EID)
        for entry in _entries(tmp_path):
            if EID in entry.read_text():
                entry.write_text('[{"truncat')
        record = await client.rest('sessions', 'read', id=EID)
    assert record['id'] == EID
    assert _gets(alyx, f'/sessions/{EID}') == 2


async def test_unreachable_server_falls_back_to_stale_entry(
    alyx: FakeAlyx, make_client: Any
) -> None:
    async with make_client() as client:
        cached = await client.rest('sessions', 'read', id=EID, expires=True)
        cut = FaultPlan(disconnect_rate=1.0)
        alyx.faults.faults = Faults(routes={'/sessions/*': cut})
        with pytest.warns(OneWarning, match='cached response'):
            record = await client.rest('sessions', 'read', id=EID)
    assert record == cached
    assert alyx.faults.stats['disconnect'] >= 2


async def test_cache_disabled_without_cache_dir(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client(cache_dir=None) as client:
        await client.rest('sessions', 'list')
        await client.rest('sessions', 'list')
    assert _gets(alyx) == 2
