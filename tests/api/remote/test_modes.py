"""Query modes and the remote cache tables, end to end against a local Alyx over sockets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from one_async.alyx import PaginatedList
from one_async.exceptions import (
    ALFObjectNotFound,
    CacheWarning,
    InvalidArgument,
    LocalModeError,
    OneWarning,
)
from one_async.testing.alyx.app import AlyxConfig
from one_async.testing.faults import FaultPlan, Faults
from one_async.testing.server import LocalAlyx

from .conftest import OneFactory, data_gets, make_server, sessions

pytestmark = pytest.mark.anyio


def publish_newer_tables(server: LocalAlyx) -> None:
    """Make the server's cache tables a new version, ten minutes newer."""
    store = server.store
    store.update('sessions', store.table('sessions')['id'][0], {})
    store.modified += timedelta(minutes=10)


def rest_hits(server: LocalAlyx, prefix: str = '/') -> int:
    return sum(n for (_, path), n in server.app.hits.items() if path.startswith(prefix))


async def test_auto_mode_downloads_the_tables_then_queries_them_locally(
    alyx: LocalAlyx, make_one: OneFactory
) -> None:
    one = make_one(alyx)
    assert one.mode == 'auto'
    assert not one.offline
    async with one:
        assert (one.cache_dir / 'sessions.pqt').exists()
        assert (one.cache_dir / 'datasets.pqt').exists()
        before = rest_hits(alyx, '/sessions')
        eids = await one.search()
        assert sorted(eids) == sorted(sessions(alyx)['id'])
        subject = sessions(alyx)['subject'][0]
        assert set(await one.search(subject=subject)) == set(
            sessions(alyx).filter(pl.col('subject') == subject)['id']
        )
        assert rest_hits(alyx, '/sessions') == before  # local queries
    assert repr(one).startswith('AsyncOne (online, http://127.0.0.1')


async def test_local_mode_never_touches_the_network(
    alyx: LocalAlyx, make_one: OneFactory, tmp_path: Path
) -> None:
    cache = tmp_path / 'shared_cache'
    eid = sessions(alyx)['id'][0]
    async with make_one(alyx, cache_dir=cache) as online:
        loaded = await online.load_object(eid, 'wheel')
        assert set(loaded) >= {'position', 'timestamps'}
    hits, gets = rest_hits(alyx), sum(data_gets(alyx).values())
    local = make_one(alyx, mode='local', cache_dir=cache)
    assert local.offline
    async with local:
        assert eid in await local.search()
        wheel = await local.load_object(eid, 'wheel')
        for key in wheel:
            assert (wheel[key] == loaded[key]).all()
        with pytest.raises(ALFObjectNotFound):  # on the server, not on disk: not fetched
            await local.load_object(eid, 'trials')
        with pytest.raises(LocalModeError):
            await local.describe_dataset('trials.intervals')
        with pytest.raises(LocalModeError):
            await local.search_insertions()
        with pytest.raises(LocalModeError):
            await local.download(eid)
    assert rest_hits(alyx) == hits
    assert sum(data_gets(alyx).values()) == gets


async def test_remote_mode_queries_alyx_and_adds_results_to_the_tables(
    alyx: LocalAlyx, make_one: OneFactory
) -> None:
    one = make_one(alyx, mode='remote')
    async with one:
        assert not (one.cache_dir / 'sessions.pqt').exists()  # ONE: no tables in remote mode
        assert await one.search(query_type='local') == []  # the local tables are empty
        eid = sessions(alyx)['id'][0]
        before = rest_hits(alyx, '/sessions')
        remote = await one.search()
        assert isinstance(remote, PaginatedList)
        assert await remote.to_list() == sessions(alyx)['id'].to_list()
        assert rest_hits(alyx, '/sessions') == before + 1
        listed = await one.list_datasets(eid)
        assert listed
        # the session read remotely is now in the tables: local queries see it
        assert await one.search(query_type='local') == [eid]
        local = await one.list_datasets(eid, query_type='local')
        assert set(listed) <= set(local)


async def test_refresh_mode_asks_the_server_before_every_query(
    alyx: LocalAlyx, make_one: OneFactory
) -> None:
    async with make_one(alyx, mode='refresh') as one:
        before = rest_hits(alyx, '/cache/info')
        await one.search()
        await one.list_subjects()
        assert rest_hits(alyx, '/cache/info') == before + 2
        zips = rest_hits(alyx, '/cache.zip')
        await one.search()
        assert rest_hits(alyx, '/cache.zip') == zips  # not newer: not downloaded again


async def test_query_type_overrides_the_mode(alyx: LocalAlyx, make_one: OneFactory) -> None:
    async with make_one(alyx, mode='auto') as one:
        before = rest_hits(alyx, '/sessions')
        remote = await one.search(query_type='remote')
        assert isinstance(remote, PaginatedList)
        assert rest_hits(alyx, '/sessions') == before + 1
        local = await one.search(query_type='local')
        assert sorted(local) == sorted(await remote.to_list())
        with pytest.raises(InvalidArgument, match='Unknown query type'):
            await one.search(query_type='sideways')


async def test_offline_fallback_when_the_server_cannot_be_reached(
    fresh_alyx: LocalAlyx, make_one: OneFactory, tmp_path: Path
) -> None:
    cache = tmp_path / 'cache'
    info = fresh_alyx.info
    async with make_one(info, cache_dir=cache) as online:
        eids = await online.search()
        eid = eids[0]
        await online.load_dataset(eid, '_ibl_trials.table.pqt')
    fresh_alyx.stop()
    # Expired tables make an 'auto' session ask the server, which is gone.
    stopped = make_one(info, cache_dir=cache, cache_expiry=timedelta(0), retry_attempts=1)
    with pytest.warns(OneWarning, match='Could not reach'):
        await stopped.search()
    assert stopped.mode == 'local'
    assert stopped.offline
    assert sorted(await stopped.search()) == sorted(eids)  # the existing tables stay usable
    table = await stopped.load_dataset(eid, '_ibl_trials.table.pqt')
    assert table.height > 0
    with pytest.raises(ALFObjectNotFound):  # not on disk, and no server to fetch it from
        await stopped.load_dataset(eid, '_ibl_wheel.position.npy')
    await stopped.aclose()


async def test_no_tables_and_no_server_leaves_empty_tables(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    info = fresh_alyx.info
    fresh_alyx.stop()
    one = make_one(info, retry_attempts=1)
    with pytest.warns(OneWarning, match='Could not reach'):
        assert await one.search() == []
    assert one.mode == 'local'
    await one.aclose()


async def test_newer_server_tables_are_downloaded(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    store = fresh_alyx.store
    eid = store.table('sessions')['id'][0]
    async with make_one(fresh_alyx) as one:
        details = await one.get_details(eid, query_type='local')
        assert details['task_protocol'] != 'changed'
        zips = rest_hits(fresh_alyx, '/cache.zip')
        store.update('sessions', eid, {'task_protocol': 'changed'})
        store.modified -= timedelta(minutes=5)  # the change is not newer than the tables
        await one.load_cache(clobber=True)
        assert rest_hits(fresh_alyx, '/cache.zip') == zips
        assert (await one.get_details(eid, query_type='local'))['task_protocol'] != 'changed'
        store.update('sessions', eid, {'task_protocol': 'changed'})  # a new version...
        store.modified += timedelta(minutes=10)  # ...of tables a few minutes newer
        await one.load_cache(clobber=True)
        assert rest_hits(fresh_alyx, '/cache.zip') == zips + 1
        assert (await one.get_details(eid, query_type='local'))['task_protocol'] == 'changed'
        files = sorted(p.name for p in one.cache_dir.iterdir() if p.is_file())
        assert 'sessions.pqt' in files
        assert not any(n.startswith('.tables') for n in files)


async def test_expired_tables_are_refreshed_in_auto_mode(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    store = fresh_alyx.store
    eid = store.table('sessions')['id'][0]
    async with make_one(fresh_alyx) as one:
        store.update('sessions', eid, {'task_protocol': 'refreshed'})
        publish_newer_tables(fresh_alyx)
        assert (await one.get_details(eid, query_type='local'))['task_protocol'] != 'refreshed'
        one.cache_expiry = timedelta(0)  # the tables are now expired: the next query refreshes
        await one.search()
        assert (await one.get_details(eid, query_type='local'))['task_protocol'] == 'refreshed'


async def test_tables_newer_than_one_api_are_refused(tmp_path: Path, make_one: OneFactory) -> None:
    server = make_server(tmp_path / 'data', n_sessions=1)
    server.app.config = AlyxConfig(min_api_version='9.1')
    with server:
        one = make_one(server)
        with pytest.warns(CacheWarning, match='Newer cache tables require ONE version 9.1'):
            assert await one.search() == []
        assert not (one.cache_dir / 'sessions.pqt').exists()
        await one.aclose()


async def test_alyx_361_tables_are_accepted(tmp_path: Path, make_one: OneFactory) -> None:
    server = make_server(tmp_path / 'data', n_sessions=1)
    server.app.config = AlyxConfig()  # Alyx 3.6.1's min_api_version, "2.10"
    with server:
        async with make_one(server) as one:
            assert one.cache is not None
            assert one.cache.meta.min_api_version == '2.10'
            assert await one.search() == server.store.table('sessions')['id'].to_list()


async def test_a_change_of_origin_warns(fresh_alyx: LocalAlyx, make_one: OneFactory) -> None:
    async with make_one(fresh_alyx) as one:
        fresh_alyx.app.config = AlyxConfig(min_api_version='2.9', origin='another_alyx')
        publish_newer_tables(fresh_alyx)
        with pytest.warns(CacheWarning, match='another origin'):
            await one.load_cache(clobber=True)
        assert one.cache is not None
        assert one.cache.meta.origins == {'another_alyx'}


async def test_release_tag_tables_go_in_their_own_folder(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    store = fresh_alyx.store
    datasets = store.table('datasets')
    tagged = datasets['id'].head(5).to_list()
    store.replace(
        'datasets',
        datasets.with_columns(
            pl.when(pl.col('id').is_in(tagged))
            .then(pl.lit(['release_1']))
            .otherwise(pl.col('tags'))
            .alias('tags')
        ),
    )
    async with make_one(fresh_alyx) as one:
        everything = await one.list_datasets(details=True)
        assert everything.height > 5
        await one.load_cache(tag='release_1')
        assert one.tables_dir == one.cache_dir / 'release_1'
        assert (one.tables_dir / 'datasets.pqt').exists()
        listed = await one.list_datasets(details=True)
        assert sorted(listed['id']) == sorted(tagged)
        with pytest.raises(InvalidArgument, match='no cache tables for tag'):
            await one.load_cache(tag='no_such_tag')


async def test_an_http_error_on_the_tables_sends_queries_to_the_server(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    fresh_alyx.faults.faults = Faults(
        routes={'/cache/info*': FaultPlan(error_rate=1.0, error_statuses=(500,))}
    )
    one = make_one(fresh_alyx)
    with pytest.warns(OneWarning, match='Failed to load the remote cache tables'):
        found = await one.search()
    assert one.mode == 'remote'
    assert isinstance(found, PaginatedList)
    assert sorted(await found.to_list()) == sorted(fresh_alyx.store.table('sessions')['id'])
    await one.aclose()
