"""The client against a real Alyx server, for maintainers.

Set ``ALYX_URL``, ``ALYX_USER`` and ``ALYX_PWD`` (a test account: these tests read, and download
the cache tables, but write nothing) to run them; without them they are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from one_async.alyx import AsyncAlyxClient, CacheInfo, PaginatedList, SessionDetail
from one_async.exceptions import AlyxAuthError, AlyxEndpointError

URL = os.environ.get('ALYX_URL', '')
USER = os.environ.get('ALYX_USER', '')
PWD = os.environ.get('ALYX_PWD', '')

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not (URL and USER and PWD),
        reason='set ALYX_URL, ALYX_USER and ALYX_PWD to test against a real Alyx',
    ),
]


def _client(tmp_path: Path, password: str = PWD) -> AsyncAlyxClient:
    return AsyncAlyxClient(
        URL, USER, password, cache_dir=tmp_path / 'cache', token_dir=tmp_path / 'tokens'
    )


async def test_real_rest_calls(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        schema = await client.schema()
        assert 'sessions' in schema.endpoints
        page = await client.rest('sessions', 'list', limit=2)
        assert len(page) >= 1
        if isinstance(page, PaginatedList):
            third = await page.get(min(2, len(page) - 1))
            assert 'id' in third
            first = await page.get(0)
        else:
            first = page[0]
        detail = SessionDetail.model_validate(
            await client.rest('sessions', 'read', id=first['id'])
        )
        assert str(detail.id) == first['id']
        with pytest.raises(AlyxEndpointError):
            await client.rest('sessions', 'list', not_a_filter=1)


async def test_real_cache_tables(tmp_path: Path) -> None:
    async with _client(tmp_path) as client:
        info = await client.cache_info()
        assert isinstance(info, CacheInfo)
        result = await client.download_cache_tables(tmp_path / 'tables')
    assert {p.name for p in result.files} >= {'sessions.pqt', 'datasets.pqt'}


async def test_real_bad_password(tmp_path: Path) -> None:
    async with _client(tmp_path, password=PWD + '-wrong') as client:
        with pytest.raises(AlyxAuthError):
            await client.authenticate()
