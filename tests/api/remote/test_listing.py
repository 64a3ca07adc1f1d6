"""Remote listings, details, conversions, dataset types and revisions, against ONE-api 2.9.0."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from one_async.api import AsyncOne
from one_async.exceptions import (
    ALFObjectNotFound,
    AlyxHTTPError,
    ArgumentTypeError,
    InvalidArgument,
    OneWarning,
)
from one_async.testing.server import LocalAlyx

from .conftest import OneFactory, generated, sessions

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings('ignore::FutureWarning'),  # ONE 2.9.0's pandas calls
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]


@pytest.fixture
def one29(alyx: LocalAlyx, make_one29: Callable[..., Any]) -> Any:
    return make_one29(alyx, mode='remote')


@pytest.fixture
def one29_auto(alyx: LocalAlyx, make_one29: Callable[..., Any]) -> Any:
    return make_one29(alyx, mode='auto')


def revised_session(alyx: LocalAlyx) -> str:
    """A session with datasets in several revisions."""
    data = generated(alyx).datasets
    return str(data.filter(pl.col('rel_path').str.contains('#'))['eid'][0])


FILTERS: list[dict[str, Any]] = [
    {},
    {'collection': 'alf'},
    {'filename': '*trials*'},
    {'filename': {'object': 'trials', 'attribute': ['intervals', 'table']}},
    {'collection': 'alf/probe0?'},
    {'qc': 'CRITICAL'},
    {'qc': 'PASS'},
    {'ignore_qc_not_set': True},
    {'revision': '2021-01-01'},
    {'revision': '2099-01-01'},
]


async def test_remote_list_datasets_matches_one29(
    alyx: LocalAlyx, one: AsyncOne, one29: Any
) -> None:
    for eid in sessions(alyx)['id']:
        for filters in FILTERS:
            expected = one29.list_datasets(eid, query_type='remote', **filters)
            found = await one.list_datasets(eid, query_type='remote', **filters)
            assert found == list(expected), (eid, filters)


async def test_remote_list_datasets_details_match_one29(
    alyx: LocalAlyx, one: AsyncOne, one29: Any
) -> None:
    eid = revised_session(alyx)
    expected = one29.list_datasets(eid, details=True, query_type='remote').reset_index()
    found = await one.list_datasets(eid, details=True, query_type='remote')
    assert isinstance(found, pl.DataFrame)
    assert found.columns == list(expected.columns)
    mine = found.with_columns(pl.col('qc').cast(pl.String)).sort('id').to_dicts()
    theirs = expected.astype({'qc': str}).sort_values('id').to_dict('records')
    assert mine == theirs


async def test_a_remote_listing_adds_the_session_to_the_tables(
    alyx: LocalAlyx, make_one: OneFactory
) -> None:
    eid = revised_session(alyx)
    async with make_one(alyx, mode='remote') as one:
        assert await one.list_datasets(eid, query_type='local') == []
        listed = await one.list_datasets(eid)
        assert listed
        local = await one.list_datasets(eid, query_type='local', details=True)
        on_server = generated(alyx).datasets.filter((pl.col('eid') == eid) & pl.col('exists'))
        assert sorted(local['id']) == sorted(on_server['id'])
        details = await one.get_details(eid, query_type='local')
        assert details['subject'] == sessions(alyx).filter(pl.col('id') == eid)['subject'][0]


async def test_listing_every_session_remotely_warns(alyx: LocalAlyx, one: AsyncOne) -> None:
    with pytest.warns(OneWarning, match='Unable to list all remote datasets'):
        everything = await one.list_datasets(query_type='remote')
    assert everything == await one.list_datasets()


async def test_remote_get_details_matches_one29(
    alyx: LocalAlyx, one: AsyncOne, one29: Any
) -> None:
    eid = sessions(alyx)['id'][0]
    full = await one.get_details(eid, full=True)
    assert full == one29.get_details(eid, full=True)
    mine = await one.get_details(eid)  # 'auto' mode: ONE asks Alyx too
    theirs = one29.get_details(eid)
    assert mine['local_path'].relative_to(one.cache_dir) == theirs['local_path'].relative_to(
        one29.cache_dir
    )
    del mine['local_path'], theirs['local_path']
    assert mine == theirs
    assert await one.get_details([eid, eid]) == [await one.get_details(eid)] * 2
    local = await one.get_details(eid, query_type='local')
    assert local['date'] == theirs['date']
    with pytest.raises(AlyxHTTPError, match='404'):
        await one.get_details('00000000-0000-4000-8000-000000000000')
    with pytest.raises(InvalidArgument):
        await one.get_details('not an eid')


async def test_remote_conversions_match_one29(
    alyx: LocalAlyx, one: AsyncOne, one29: Any, one29_auto: Any
) -> None:
    eid = revised_session(alyx)
    path = await one.eid2path(eid, query_type='remote')
    assert path.relative_to(one.cache_dir) == one29.eid2path(eid, query_type='remote').relative_to(
        one29.cache_dir
    )
    assert await one.eid2path(eid) == path  # from the tables
    assert await one.eid2path([eid], query_type='remote') == [path]
    missing = '00000000-0000-4000-8000-000000000000'
    assert await one.eid2path(missing, query_type='remote') is None
    assert await one.path2eid(path, query_type='remote') == one29.path2eid(
        one29.eid2path(eid, query_type='remote'), query_type='remote'
    )
    assert await one.path2eid(path) == eid
    assert await one.path2eid([path, path], query_type='remote') == [eid, eid]
    assert await one.path2eid(one.cache_dir / 'nothing', query_type='remote') is None
    rel_path = next(p for p in await one.list_datasets(eid, filename='*.npy') if '#' not in p)
    revised = next(p for p in await one.list_datasets(eid) if '#' in p)
    from one.alf.exceptions import ALFObjectNotFound as ONEObjectNotFound

    with pytest.raises(ONEObjectNotFound):  # one name, several revisions: ONE finds none
        one29.path2url(one29.eid2path(eid, query_type='remote') / revised, query_type='remote')
    with pytest.raises(ALFObjectNotFound):
        await one.path2url(path / revised, query_type='remote')
    file = path / rel_path
    expected = one29.path2url(one29.eid2path(eid, query_type='remote') / rel_path,
                              query_type='remote')  # fmt: skip
    assert await one.path2url(file, query_type='remote') == expected
    local = one29_auto.path2url(one29_auto.eid2path(eid) / rel_path)
    assert await one.path2url(file) == local
    assert await one.path2url([file]) == [local]
    assert local.startswith(alyx.info.data_server_url)
    with pytest.raises(ALFObjectNotFound):
        await one.path2url(path / 'alf' / 'nothing.here.npy', query_type='remote')
    record = await one.path2record(file)
    assert await one.record2url(record) == local
    session_url = await one.record2url(await one.path2record(path))
    assert session_url == f'{alyx.info.data_server_url}/{path.relative_to(one.cache_dir)}'
    with pytest.raises(ArgumentTypeError):
        await one.record2url(42)


async def test_dataset_types_and_revisions_match_one29(
    alyx: LocalAlyx, one: AsyncOne, one29: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    datasets = alyx.store.table('datasets')
    row = datasets.filter(pl.col('dataset_type').is_not_null()).row(0, named=True)
    kind = row['dataset_type']
    record = await one.describe_dataset(kind)
    assert record == one29.describe_dataset(kind)
    printed = capsys.readouterr().out.splitlines()
    assert printed == [record['description']] * 2
    by_name = await one.describe_dataset(row['name'])  # a dataset name: its type, from Alyx
    assert by_name['name'] == kind
    every = await one.describe_dataset()
    assert sorted(t['name'] for t in every) == sorted(alyx.store.table('dataset_types')['name'])
    assert await one.dataset2type(row['id']) == one29.dataset2type(row['id']) == kind
    with pytest.raises(InvalidArgument):
        await one.dataset2type('not-in-the-cache.npy')
    eid = row['session']
    paths = await one.type2datasets(eid, kind)
    assert isinstance(paths, np.ndarray)  # as ONE's: scripts call .tolist() on it
    assert paths.tolist() == one29.type2datasets(eid, kind).tolist()
    kinds = datasets.filter(pl.col('session') == eid)['dataset_type'].unique().head(3).to_list()
    assert (await one.type2datasets(eid, kinds)).tolist() == list(one29.type2datasets(eid, kinds))
    table = await one.type2datasets(eid, kinds, details=True)
    assert sorted(table['id']) == sorted(one29.type2datasets(eid, kinds, details=True).index
                                         .get_level_values('id'))  # fmt: skip
    with pytest.raises(ArgumentTypeError):
        await one.type2datasets(eid, 3)
    revision = alyx.store.table('revisions')['name'][0]
    capsys.readouterr()
    assert await one.describe_revision(revision) is None
    full = await one.describe_revision(revision, full=True)
    assert full == one29.describe_revision(revision, full=True)
    assert await one.describe_revision('no-such-revision') is None
    assert 'revision "no-such-revision" not found' in capsys.readouterr().out


async def test_local_sessions_refuse_remote_only_methods(
    alyx: LocalAlyx, make_one: OneFactory, tmp_path: Path
) -> None:
    async with make_one(alyx, cache_dir=tmp_path / 'c') as online:
        await online.search()
    async with make_one(alyx, mode='local', cache_dir=tmp_path / 'c') as one:
        from one_async.exceptions import LocalModeError

        for call in (
            one.describe_dataset('x'),
            one.describe_revision('x'),
            one.dataset2type('x'),
            one.type2datasets(sessions(alyx)['id'][0], 'x'),
            one.list_aggregates('subjects'),
        ):
            with pytest.raises(LocalModeError):
                await call
