"""Remote search, search terms and insertions: AsyncOne against ONE-api 2.9.0 on one server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest

from one_async.alf.spec import QC
from one_async.alyx import PaginatedList
from one_async.api import AsyncOne
from one_async.exceptions import (
    ArgumentTypeError,
    CacheWarning,
    InvalidArgument,
    LocalModeError,
)
from one_async.testing.server import LocalAlyx

from .conftest import OneFactory, generated, sessions

pytestmark = [
    pytest.mark.anyio,
    # ONE 2.9.0 and its pandas calls emit these on current pandas/numpy; they are ONE's.
    pytest.mark.filterwarnings('ignore::FutureWarning'),
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]


@pytest.fixture
def one29(alyx: LocalAlyx, make_one29: Callable[..., Any]) -> Any:
    return make_one29(alyx, mode='remote')


def queries(alyx: LocalAlyx) -> list[dict[str, Any]]:
    """Search terms with matches and non-matches on the generated data."""
    table = sessions(alyx)
    first = table.row(0, named=True)
    day = first['start_time'].date()
    data = generated(alyx)
    name = data.datasets.filter(pl.col('rel_path').str.contains('spikes.times'))['rel_path'][0]
    dataset_type = data.datasets['dataset_type'].drop_nulls()[0]
    return [
        {},
        {'subject': first['subject']},
        {'subject': [first['subject'], 'nobody']},
        {'laboratory': first['lab']},
        {'lab': table['lab'][-1]},
        {'date_range': day.isoformat()},
        {'date_range': [day - timedelta(days=2), day]},
        {'date_range': [day, None]},
        {'date_range': [None, day]},
        {'number': 1},
        {'number': 2},
        {'task_protocol': 'ephys'},
        {'projects': 'brainwide'},
        {'dataset': 'trials'},
        {'dataset': 'spikes.times'},
        {'datasets': [name.rsplit('/', 1)[-1]]},
        {'datasets': ['_ibl_trials.table.pqt', '_ibl_wheel.position.npy']},
        {'dataset_types': dataset_type},
        {'dataset_qc_lte': 'PASS', 'dataset': 'trials'},
        {'performance_gte': 50},
        {'performance_lte': 50},
        {'django': 'subject__nickname__icontains,ks'},
        {'subject': first['subject'], 'task_protocol': 'habituation'},
        {'location': 'nowhere'},
    ]


async def test_remote_search_matches_one29(alyx: LocalAlyx, one: AsyncOne, one29: Any) -> None:
    for query in queries(alyx):
        expected = list(one29.search(query_type='remote', **query))
        found = await one.search(query_type='remote', **query)
        assert isinstance(found, PaginatedList)
        assert len(found) == len(expected), query
        assert await found.to_list() == expected, query
    assert len(await (await one.search(query_type='remote')).to_list()) == sessions(alyx).height


async def test_remote_search_details_match_one29(
    alyx: LocalAlyx, one: AsyncOne, one29: Any
) -> None:
    subject = sessions(alyx)['subject'][0]
    eids29, details29 = one29.search(query_type='remote', subject=subject, details=True)
    eids, details = await one.search(query_type='remote', subject=subject, details=True)
    assert await eids.to_list() == list(eids29)
    records = await details.to_list()
    assert records == list(details29)
    assert all(isinstance(r['date'], date) for r in records)
    assert [r['date'] for r in records] == [
        d.date() for d in sessions(alyx).filter(pl.col('subject') == subject)['start_time']
    ]


async def test_remote_search_is_lazy(alyx: LocalAlyx, one: AsyncOne) -> None:
    found = await one.search(query_type='remote', limit=2)
    assert isinstance(found, PaginatedList)
    assert len(found) == sessions(alyx).height
    assert found.requests == 1
    assert await found[3] == sessions(alyx)['id'][3]
    assert found.requests == 2
    assert [e async for e in found] == sessions(alyx)['id'].to_list()


async def test_remote_search_errors_match_one29(one: AsyncOne, one29: Any) -> None:
    with pytest.raises(ValueError, match='Invalid search term'):
        one29.search(query_type='remote', colour='red')
    with pytest.raises(InvalidArgument, match='Invalid search term'):
        await one.search(query_type='remote', colour='red')
    with pytest.raises(TypeError):
        one29.search(query_type='remote', dataset=['a', 'b'])
    with pytest.raises(ArgumentTypeError, match='For lists use "datasets"'):
        await one.search(query_type='remote', dataset=['a', 'b'])
    with pytest.raises(ValueError, match='Ambiguous'):
        one29.search(query_type='remote', n='1')  # number or n_trials...
    with pytest.raises(InvalidArgument, match='Ambiguous'):
        await one.search(query_type='remote', n='1')
    with pytest.raises(InvalidArgument):
        await one.search(query_type='remote', dataset_qc_lte='SO_SO')


async def test_qc_members_are_sent_by_name(alyx: LocalAlyx, one: AsyncOne) -> None:
    by_name = await one.search(query_type='remote', dataset_qc_lte='WARNING')
    by_member = await one.search(query_type='remote', dataset_qc_lte=QC.WARNING)
    by_value = await one.search(query_type='remote', dataset_qc_lte=30)
    assert await by_member.to_list() == await by_name.to_list() == await by_value.to_list()


async def test_search_terms(alyx: LocalAlyx, one: AsyncOne, one29: Any) -> None:
    local = await one.search_terms()
    assert local == one29.search_terms(query_type='local')
    remote = await one.search_terms(query_type='remote')
    assert remote is not None
    assert list(remote) == sorted(remote)
    # ONE 2.9 reads the CoreAPI document, one_async the OpenAPI schema: same sessions filters.
    assert set(remote) == set(one29.search_terms(query_type='remote'))
    insertions = await one.search_terms(query_type='remote', endpoint='insertions')
    assert insertions is not None
    assert set(insertions) == set(one29.search_terms(query_type='remote', endpoint='insertions'))
    assert await one.search_terms(endpoint='insertions') is None


async def test_search_insertions_match_one29(alyx: LocalAlyx, one: AsyncOne, one29: Any) -> None:
    probes = alyx.store.table('insertions')
    eid = probes['session'][0]
    subject = sessions(alyx).filter(pl.col('id') == eid)['subject'][0]
    for query in (
        {},
        {'name': 'probe01'},
        {'session': eid},
        {'session': eid, 'dataset': 'spikes.times'},
        {'subject': subject},
        {'laboratory': sessions(alyx).filter(pl.col('id') == eid)['lab'][0]},
        {'number': 1},
        {'datasets': 'spikes.times.npy'},
    ):
        expected = list(one29.search_insertions(**query))
        found = await one.search_insertions(**query)
        assert await found.to_list() == expected, query
    pids, records = await one.search_insertions(details=True, name='probe00')
    assert [r['id'] for r in await records.to_list()] == await pids.to_list()
    assert sorted(await pids.to_list()) == sorted(probes.filter(pl.col('name') == 'probe00')['id'])
    with pytest.raises(ArgumentTypeError):
        await one.search_insertions(dataset=['a'])


async def test_pid2eid_and_eid2pid_match_one29(alyx: LocalAlyx, one: AsyncOne, one29: Any) -> None:
    probes = alyx.store.table('insertions')
    for row in probes.iter_rows(named=True):
        assert await one.pid2eid(row['id']) == one29.pid2eid(row['id'])
        assert await one.pid2eid(row['id']) == (row['session'], row['name'])
    for eid in sessions(alyx)['id']:
        pids, labels = await one.eid2pid(eid)
        assert (pids, labels) == tuple(one29.eid2pid(eid))
        pids, labels, records = await one.eid2pid(eid, details=True)
        assert [r['id'] for r in records] == pids
    assert await one.eid2pid(None) == (None, None)
    assert await one.eid2pid(None, details=True) == (None, None, None)


async def test_insertions_need_the_server(alyx: LocalAlyx, make_one: OneFactory) -> None:
    one = make_one(alyx, mode='local')
    with pytest.warns(CacheWarning, match='No cache tables'):
        await one.search()
    async with one:
        with pytest.raises(LocalModeError):
            await one.search_insertions()
        with pytest.raises(LocalModeError):
            await one.pid2eid(alyx.store.table('insertions')['id'][0])
        with pytest.raises(LocalModeError):
            await one.eid2pid(sessions(alyx)['id'][0])
