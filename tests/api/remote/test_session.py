"""Constructing a remote session (arguments, settings, a given Alyx client), credentials only to
their server, and the coalescing of concurrent calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from one_async.alyx import AsyncAlyxClient
from one_async.api import AsyncOne
from one_async.api.remote.flight import SingleFlight
from one_async.api.remote.transfers import OriginBasicAuth
from one_async.config import resolve_settings
from one_async.exceptions import InvalidArgument, LocalModeError
from one_async.testing.server import LocalAlyx

from .conftest import sessions

pytestmark = pytest.mark.anyio


async def test_explicit_settings_need_no_parameter_files(
    alyx: LocalAlyx, home: Path, tmp_path: Path
) -> None:
    info = alyx.info
    one = AsyncOne(
        base_url=info.base_url,
        username=info.username,
        password=info.password,
        cache_dir=tmp_path / 'cache',
        http_data_server=info.data_server_url,
        http_data_server_login=info.data_server_login,
        http_data_server_password=info.data_server_password,
        silent=True,
    )
    assert one.mode == 'auto'
    assert one.base_url == info.base_url
    assert one.settings is not None
    assert 'password' not in repr(one)
    assert info.password not in repr(one)
    async with one:
        eid = sessions(alyx)['id'][0]
        wheel = await one.load_object(eid, 'wheel', download_only=True)
        assert all(path.is_relative_to(tmp_path / 'cache') for path in wheel)
    assert one._alyx is None  # closed with the session


async def test_resolved_settings_and_a_given_client(
    alyx: LocalAlyx, home: Path, tmp_path: Path
) -> None:
    info = alyx.info
    settings = resolve_settings(
        base_url=info.base_url,
        username=info.username,
        password=info.password,
        cache_dir=tmp_path / 'cache',
        mode='remote',
    )
    async with AsyncAlyxClient(
        info.base_url, info.username, info.password, token_dir=tmp_path / 'tokens'
    ) as client:
        one = AsyncOne(settings=settings, alyx=client)
        assert one.mode == 'remote'
        assert one.alyx is client
        found = await one.search(subject=sessions(alyx)['subject'][0])
        assert len(found) >= 1
        await one.aclose()
        assert one.alyx is client  # a given client is left open
        assert await client.rest('sessions', 'list', limit=1) is not None
    alone = AsyncOne(alyx=AsyncAlyxClient(info.base_url, info.username, info.password),
                     cache_dir=tmp_path / 'c2', mode='remote')  # fmt: skip
    assert alone.base_url == info.base_url
    assert alone.settings is not None
    assert alone.settings.username == info.username
    await alone.alyx.aclose()


async def test_bad_arguments(tmp_path: Path, home: Path) -> None:
    with pytest.raises(InvalidArgument, match='no_such_setting'):
        AsyncOne(base_url='http://127.0.0.1:9', cache_dir=tmp_path, no_such_setting=1)
    with pytest.raises(InvalidArgument, match='local session'):
        AsyncOne(cache_dir=tmp_path, silent=True)
    settings = resolve_settings(base_url='http://127.0.0.1:9', cache_dir=tmp_path)
    with pytest.raises(InvalidArgument, match='with settings='):
        AsyncOne(settings=settings, silent=True)
    with pytest.raises(InvalidArgument, match='sideways'):
        AsyncOne(base_url='http://127.0.0.1:9', cache_dir=tmp_path, mode='sideways')
    local = AsyncOne(cache_dir=tmp_path)
    assert local.mode == 'local'
    assert local.offline
    assert not local.has_server
    with pytest.raises(LocalModeError):
        _ = local.alyx
    with pytest.raises(LocalModeError):
        await local.search(query_type='remote')


def test_data_server_credentials_go_to_the_data_server_only() -> None:
    auth = OriginBasicAuth('http://data.example.org:8080', 'login', 'secret')
    assert 'secret' not in repr(auth)
    ours = httpx.Request('GET', 'http://data.example.org:8080/lab/file.npy')
    theirs = httpx.Request('GET', 'http://s3.example.org/bucket/file.npy')
    other_port = httpx.Request('GET', 'http://data.example.org/lab/file.npy')
    for request in (ours, theirs, other_port):
        next(auth.auth_flow(request))
    assert ours.headers['Authorization'].startswith('Basic ')
    assert 'Authorization' not in theirs.headers
    assert 'Authorization' not in other_port.headers


async def test_single_flight_shares_one_call() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls = 0
    release = anyio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    results: list[int] = []

    async def caller() -> None:
        results.append(await flights.run('key', work))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(caller)
        await anyio.wait_all_tasks_blocked()
        assert 'key' in flights
        release.set()
    assert results == [42] * 5
    assert calls == 1
    assert 'key' not in flights


async def test_single_flight_errors_reach_every_caller() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    started = anyio.Event()

    async def failing() -> int:
        started.set()
        await anyio.sleep(0.01)
        raise ValueError('boom')

    errors: list[BaseException] = []

    async def caller() -> None:
        try:
            await flights.run('key', failing)
        except ValueError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller)
        await started.wait()
        tg.start_soon(caller)
    assert len(errors) == 2


async def test_a_cancelled_leader_leaves_the_work_to_the_waiters() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    calls: list[str] = []
    leader_started = anyio.Event()

    async def work(name: str) -> str:
        calls.append(name)
        if name == 'leader':
            leader_started.set()
            await anyio.sleep_forever()
        return name

    got: list[Any] = []
    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await flights.run('key', lambda: work('leader'))

    async def waiter() -> None:
        got.append(await flights.run('key', lambda: work('waiter')))

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await leader_started.wait()
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        leader_scope.cancel()
    assert got == ['waiter']
    assert calls == ['leader', 'waiter']
