"""download_cache_tables: streaming, atomic unpacking, zip-slip refusal, faults."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import anyio
import polars as pl
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from one_async.alyx import CacheInfo
from one_async.alyx.cache_download import safe_member_path
from one_async.exceptions import DownloadError, UnsafePathError
from one_async.testing.faults import FaultPlan, Faults
from one_async.testing.runner import serve_in_thread

from .conftest import FIXTURES, FakeAlyx

pytestmark = pytest.mark.anyio

MEMBERS = {'sessions.pqt', 'datasets.pqt', 'cache_info.json'}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as zipped:
        for name, content in members.items():
            zipped.writestr(name, content)
    return buffer.getvalue()


def _leftovers(folder: Path, pattern: str = '.*') -> list[str]:
    return [p.name for p in folder.rglob(pattern)]


def _expected() -> dict[str, bytes]:
    with zipfile.ZipFile(FIXTURES / 'cache.zip') as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


async def test_download_and_unpack(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    target = tmp_path / 'tables'
    async with make_client() as client:
        result = await client.download_cache_tables(target)
    assert isinstance(result.info, CacheInfo)
    assert result.info.tables['datasets'].nrecs == 18
    assert {p.name for p in result.files} == MEMBERS
    for name, content in _expected().items():
        assert (target / name).read_bytes() == content
    assert pl.read_parquet(target / 'sessions.pqt').height == 5
    assert _leftovers(target) == []
    gets = [p for m, p, _ in alyx.state.log if m == 'GET' and p.startswith('/cache')]
    assert gets == ['/cache/info/', '/cache.zip']


async def test_default_destination_is_cache_dir(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        result = await client.download_cache_tables()
    assert result.destination == tmp_path / 'cache'
    assert (tmp_path / 'cache' / 'datasets.pqt').exists()


async def test_tag(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    async with make_client() as client:
        result = await client.download_cache_tables(tmp_path / 't', tag='2024_Q1 release')
    assert result.info.database_tags == ['2024_Q1 release']
    assert ('GET', '/cache/info/2024_Q1 release', '') in alyx.state.log


async def test_existing_tables_replaced_whole(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    target = tmp_path / 'tables'
    target.mkdir()
    (target / 'sessions.pqt').write_bytes(b'old table')
    (target / 'other.pqt').write_bytes(b'untouched')
    async with make_client() as client:
        await client.download_cache_tables(target)
    assert (target / 'sessions.pqt').read_bytes() == _expected()['sessions.pqt']
    assert (target / 'other.pqt').read_bytes() == b'untouched'


@pytest.mark.parametrize(
    'name', ['../evil.pqt', '/tmp/evil.pqt', 'sub/../../evil.pqt', 'C:/evil.pqt', 'a\\..\\e']
)
async def test_zip_slip_refused_and_nothing_written(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path, name: str
) -> None:
    target = tmp_path / 'deep' / 'tables'
    target.mkdir(parents=True)
    (target / 'sessions.pqt').write_bytes(b'old table')
    alyx.state.cache_zip = _zip({'datasets.pqt': b'new', name: b'evil'})
    async with make_client() as client:
        with pytest.raises(UnsafePathError) as info:
            await client.download_cache_tables(target)
    assert info.value.value == name
    assert (target / 'sessions.pqt').read_bytes() == b'old table'
    assert not (target / 'datasets.pqt').exists()  # nothing unpacked, not even safe members
    assert sorted(_leftovers(tmp_path / 'deep', '*')) == ['sessions.pqt', 'tables']
    assert _leftovers(tmp_path, 'evil*') == []


async def test_symlink_member_refused(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as zipped:
        link = zipfile.ZipInfo('sessions.pqt')
        link.external_attr = (0o120777 << 16) | 0
        zipped.writestr(link, '/etc/passwd')
    alyx.state.cache_zip = buffer.getvalue()
    async with make_client() as client:
        with pytest.raises(UnsafePathError, match='link'):
            await client.download_cache_tables(tmp_path / 't')
    assert list((tmp_path / 't').iterdir()) == []


async def test_not_a_zip(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    alyx.state.cache_zip = b'<html>maintenance</html>'
    async with make_client() as client:
        with pytest.raises(DownloadError, match='not a valid zip'):
            await client.download_cache_tables(tmp_path / 't')
    assert list((tmp_path / 't').iterdir()) == []


async def test_corrupt_member(alyx: FakeAlyx, make_client: Any, tmp_path: Path) -> None:
    good = _zip({'sessions.pqt': b'S' * 5000, 'datasets.pqt': b'D' * 5000})
    offset = good.index(b'D' * 100) + 50  # inside the stored data of datasets.pqt
    alyx.state.cache_zip = good[:offset] + b'X' + good[offset + 1 :]
    target = tmp_path / 't'
    target.mkdir()
    (target / 'sessions.pqt').write_bytes(b'old table')
    async with make_client() as client:
        with pytest.raises(DownloadError, match=r'datasets\.pqt.*corrupt'):
            await client.download_cache_tables(target)
    assert (target / 'sessions.pqt').read_bytes() == b'old table'
    assert sorted(p.name for p in target.iterdir()) == ['sessions.pqt']


async def test_disconnect_mid_download_is_retried(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    async with make_client() as client:
        alyx.faults.faults = Faults(
            routes={'/cache.zip': FaultPlan(disconnect_rate=1.0, error_first_attempts=0)}
        )
        with pytest.raises(Exception, match='failed after 4 attempt'):
            await client.download_cache_tables(tmp_path / 'a')
        assert _leftovers(tmp_path / 'a') == []
        alyx.faults.reset()
        alyx.faults.faults = Faults(seed=3, routes={'/cache.zip': FaultPlan(disconnect_rate=0.5)})
        await client.download_cache_tables(tmp_path / 'b')
    assert alyx.faults.stats['disconnect'] >= 1
    assert (tmp_path / 'b' / 'datasets.pqt').read_bytes() == _expected()['datasets.pqt']


async def test_cancelled_download_leaves_nothing(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    alyx.faults.faults = Faults(routes={'/cache.zip': FaultPlan(trickle_rate=2000)})
    async with make_client() as client:
        with anyio.move_on_after(0.5) as scope:
            await client.download_cache_tables(tmp_path / 't')
    assert scope.cancelled_caught
    assert list((tmp_path / 't').iterdir()) == []


async def test_external_location_gets_no_token(
    alyx: FakeAlyx, make_client: Any, tmp_path: Path
) -> None:
    seen: list[str | None] = []

    async def archive(request: Request) -> Response:
        seen.append(request.headers.get('authorization'))
        return Response((FIXTURES / 'cache.zip').read_bytes(), media_type='application/zip')

    app = Starlette(routes=[Route('/tables/cache.zip', archive)])
    with serve_in_thread(app) as other:
        alyx.state.cache_info['location'] = f'{other}/tables/cache.zip'
        async with make_client() as client:
            result = await client.download_cache_tables(tmp_path / 't')
    assert seen == [None]
    assert {p.name for p in result.files} == MEMBERS
    assert not alyx.state.requests('GET', '/cache.zip')


def test_safe_member_path(tmp_path: Path) -> None:
    assert safe_member_path(tmp_path, 'a/b.pqt') == tmp_path / 'a' / 'b.pqt'
    for bad in ('', '..', 'a/../../b', '/abs', '\\abs', 'D:x'):
        with pytest.raises(UnsafePathError):
            safe_member_path(tmp_path, bad)
