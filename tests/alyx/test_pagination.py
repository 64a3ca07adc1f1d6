"""Paginated lists: lazy result fetching only the pages it needs, concurrent iteration."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from one_async.alyx import PaginatedList
from one_async.exceptions import OneWarning

from .conftest import FakeAlyx

pytestmark = pytest.mark.anyio


def _offsets(alyx: FakeAlyx) -> list[int]:
    """Offsets of the /sessions pages requested, in order."""
    return [
        int(parse_qs(q).get('offset', ['0'])[0])
        for _, q in alyx.state.requests('GET', '/sessions')
    ]


async def test_small_list_is_a_plain_list(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(7)
    async with make_client() as client:
        records = await client.rest('sessions', 'list')
    assert isinstance(records, list)
    assert records == alyx.state.sessions


async def test_lazy_list_fetches_only_needed_pages(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(23)
    alyx.state.page_size = 4
    expected = list(alyx.state.sessions)
    async with make_client() as client:
        result = await client.rest('sessions', 'list')
        assert isinstance(result, PaginatedList)
        assert len(result) == 23
        assert result.page_size == 4
        assert _offsets(alyx) == [0]
        assert await result.get(0) == expected[0]
        assert await result[1:3] == expected[1:3]
        assert _offsets(alyx) == [0]  # first page already held
        assert await result.get(10) == expected[10]
        assert _offsets(alyx) == [0, 8]
        assert await result[-1] == expected[-1]
        assert _offsets(alyx) == [0, 8, 20]
        assert result.is_loaded(9)
        assert not result.is_loaded(12)
        assert result.get_nowait(9) == expected[9]  # held: no request
        with pytest.raises(LookupError):
            result.get_nowait(12)
        assert _offsets(alyx) == [0, 8, 20]
        assert await result[9:13] == expected[9:13]
        assert _offsets(alyx) == [0, 8, 20, 12]
        with pytest.raises(IndexError):
            await result.get(23)
        assert await result.to_list() == expected
        assert sorted(_offsets(alyx)) == [0, 4, 8, 12, 16, 20]
        assert result.requests == 6


async def test_lazy_list_map_and_async_for(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(11)
    alyx.state.page_size = 3
    async with make_client() as client:
        result = await client.rest('sessions', 'list', no_cache=True)
        ids = result.map(lambda r: r['id'])
        assert await ids.get(4) == alyx.state.sessions[4]['id']
        assert [i async for i in ids] == [s['id'] for s in alyx.state.sessions]
        assert [r async for r in result] == alyx.state.sessions  # pages are shared
        with pytest.raises(TypeError, match='async for'):
            list(result)
    assert sorted(_offsets(alyx)) == [0, 3, 6, 9]


async def test_lazy_list_honours_user_offset_and_limit(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(23)
    async with make_client() as client:
        result = await client.rest('sessions', 'list', limit=5, offset=8)
        assert len(result) == 15
        assert await result.get(0) == alyx.state.sessions[8]
        assert await result.get(-1) == alyx.state.sessions[22]
    assert _offsets(alyx) == [8, 18]


async def test_pages_fetched_concurrently_within_bound(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(40)
    alyx.state.page_size = 4
    async with make_client(page_concurrency=3) as client:
        result = await client.rest('sessions', 'list')
        alyx.state.delay = 0.05
        alyx.state.max_inflight = 0
        records = await result.to_list()
    assert records == alyx.state.sessions
    assert alyx.state.max_inflight == 3


async def test_iter_rest_yields_all_in_order_concurrently(
    alyx: FakeAlyx, make_client: Any
) -> None:
    alyx.state.set_sessions(37)
    alyx.state.delay = 0.05
    async with make_client(page_concurrency=4) as client:
        await client.schema()
        alyx.state.max_inflight = 0
        records = [r async for r in client.iter_rest('sessions', limit=5)]
    assert records == alyx.state.sessions
    assert alyx.state.max_inflight == 4
    assert sorted(_offsets(alyx)) == list(range(0, 37, 5))


async def test_iter_rest_with_filters_and_one_page(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(30)
    async with make_client() as client:
        records = [r async for r in client.iter_rest('sessions', subject='SWC_101')]
    assert records == [s for s in alyx.state.sessions if s['subject'] == 'SWC_101']
    assert len(alyx.state.requests('GET', '/sessions')) == 1


async def test_count_change_while_paging_warns(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.set_sessions(10)
    alyx.state.page_size = 4
    async with make_client() as client:
        result = await client.rest('sessions', 'list', no_cache=True)
        alyx.state.sessions = alyx.state.sessions[:6]
        with pytest.warns(OneWarning, match='changed from 10 to 6'):
            records = await result.to_list()
    assert len(result) == 6
    assert records == alyx.state.sessions
