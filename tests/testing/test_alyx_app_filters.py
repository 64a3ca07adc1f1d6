"""Every list filter of the local Alyx, against expectations computed from the store in Python.

Each case gives query parameters and a predicate over plain records (dicts) of the store: the
server must answer exactly the matching records, in its order (newest sessions first), across
pages.  Error cases check Alyx's answers (400 naming the parameter, 500 for a query the database
would reject).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from alyx_app_support import build_store, write_alf_tree

from one_async.testing.server import LocalAlyx

Row = dict[str, Any]


@dataclass
class World:
    """The store's records as plain dicts, with the relations the predicates need."""

    sessions: list[Row]
    datasets: list[Row]
    records: list[Row]
    insertions: list[Row]
    repositories: dict[str, Row]

    def datasets_of(self, eid: str) -> list[Row]:
        return [d for d in self.datasets if d['session'] == eid]

    def session(self, eid: str) -> Row:
        return next(s for s in self.sessions if s['id'] == eid)

    def on_server(self, did: str, exists: bool = True) -> bool:
        return any(
            r['dataset'] == did
            and r['exists'] == exists
            and not self.repositories[r['data_repository']]['globus_is_personal']
            for r in self.records
        )


@pytest.fixture(scope='module')
def alyx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlyx]:
    root = write_alf_tree(tmp_path_factory.mktemp('alf'))
    with LocalAlyx(build_store(root), root) as server:
        yield server


@pytest.fixture(scope='module')
def world(alyx: LocalAlyx) -> World:
    store = alyx.store
    sessions = store.table('sessions').sort('start_time', descending=True).to_dicts()
    for s in sessions:
        s['extended_qc'] = json.loads(s['extended_qc']) if s['extended_qc'] else None
        s['json'] = json.loads(s['json']) if s['json'] else None
    repos = {r['name']: r for r in store.table('data_repositories').to_dicts()}
    return World(
        sessions,
        store.table('datasets').to_dicts(),
        store.table('file_records').to_dicts(),
        store.table('insertions').to_dicts(),
        repos,
    )


@pytest.fixture(scope='module')
def client(alyx: LocalAlyx) -> Iterator[httpx.Client]:
    info = alyx.info
    creds = {'username': info.username, 'password': info.password}
    token = httpx.post(f'{info.base_url}/auth-token', data=creds).json()['token']
    with httpx.Client(base_url=info.base_url, headers={'Authorization': f'Token {token}'}) as http:
        yield http


def fetch_all(client: httpx.Client, endpoint: str, params: dict[str, Any]) -> list[Row]:
    """Every result, following ``next`` links with small pages."""
    response = client.get(f'/{endpoint}', params={**params, 'limit': 2})
    assert response.status_code == 200, response.text
    page = response.json()
    results = list(page['results'])
    while page['next']:
        page = client.get(page['next']).json()
        results += page['results']
    assert len(results) == page['count']
    return results


def record_id(row: Row) -> str:
    return str(row.get('id') or row['url'].rsplit('/', 1)[-1])


def _day(row: Row) -> date:
    start: date = row['start_time'].date()
    return start


def _eid(world: World, subject: str, number: int = 1) -> str:
    return next(
        s['id'] for s in world.sessions if (s['subject'], s['number']) == (subject, number)
    )


def _perf(s: Row) -> float | None:
    return None if s['n_trials'] is None else 100 * s['n_correct_trials'] / s['n_trials']


SessionCase = tuple[dict[str, str], Callable[[Row, World], bool]]
SESSION_CASES: dict[str, SessionCase] = {
    'subject iexact': ({'subject': 'swc_001'}, lambda s, w: s['subject'] == 'SWC_001'),
    'nickname': ({'nickname': 'KS005'}, lambda s, w: s['subject'] == 'KS005'),
    'lab iexact': ({'lab': 'TESTLAB'}, lambda s, w: s['lab'] == 'testlab'),
    'task_protocol icontains': (
        {'task_protocol': 'Biased'},
        lambda s, w: 'biased' in s['task_protocol'].lower(),
    ),
    'projects icontains': (
        {'projects': 'TEST'},
        lambda s, w: any('test' in p.lower() for p in s['projects']),
    ),
    'project alias': (
        {'project': 'brainwide'},
        lambda s, w: any('brainwide' in p for p in s['projects']),
    ),
    'location': ({'location': 'CORTEX'}, lambda s, w: 'cortex' in s['location'].lower()),
    'users all of': (
        {'users': 'test_user,olivier'},
        lambda s, w: {'test_user', 'olivier'} <= set(s['users']),
    ),
    'type iexact': ({'type': 'experiment'}, lambda s, w: s['type'] == 'Experiment'),
    'number': ({'number': '2'}, lambda s, w: s['number'] == 2),
    'date_range': (
        {'date_range': '2024-01-02,2024-01-03'},
        lambda s, w: date(2024, 1, 2) <= _day(s) <= date(2024, 1, 3),
    ),
    'dataset_types all of': (
        {'dataset_types': 'spikes.times,trials.intervals'},
        lambda s, w: (
            {'spikes.times', 'trials.intervals'}
            <= {d['dataset_type'] for d in w.datasets_of(s['id'])}
        ),
    ),
    'datasets all of, QC up to FAIL, on a server': (
        {'datasets': 'spikes.times.npy,clusters.amps.npy'},
        lambda s, w: all(
            any(
                d['name'] == n and d['qc'] <= 40 and w.on_server(d['id'])
                for d in w.datasets_of(s['id'])
            )
            for n in ('spikes.times.npy', 'clusters.amps.npy')
        ),
    ),
    'datasets with dataset_qc_lte': (
        {'datasets': 'clusters.amps.npy', 'dataset_qc_lte': 'PASS'},
        lambda s, w: any(
            d['name'] == 'clusters.amps.npy' and d['qc'] <= 10 and w.on_server(d['id'])
            for d in w.datasets_of(s['id'])
        ),
    ),
    'datasets needing a file on a server': (
        {'datasets': '_ibl_trials.intervals.npy', 'dataset_qc_lte': 'CRITICAL'},
        lambda s, w: any(
            d['name'] == '_ibl_trials.intervals.npy' and w.on_server(d['id'])
            for d in w.datasets_of(s['id'])
        ),
    ),
    'dataset_qc_lte alone': (
        {'dataset_qc_lte': '0'},
        lambda s, w: any(d['qc'] <= 0 for d in w.datasets_of(s['id'])),
    ),
    'performance_gte': (
        {'performance_gte': '80'},
        lambda s, w: (p := _perf(s)) is not None and p >= 80,
    ),
    'performance_lte': (
        {'performance_lte': '75'},
        lambda s, w: (p := _perf(s)) is not None and p <= 75,
    ),
    'qc name': ({'qc': 'warning'}, lambda s, w: s['qc'] == 30),
    'tag icontains': (
        {'tag': 'RELEASE'},
        lambda s, w: any(
            'release' in t.lower() for d in w.datasets_of(s['id']) for t in d['tags']
        ),
    ),
    'json': ({'json': 'sign_off,True'}, lambda s, w: s['json'] == {'sign_off': True}),
    'extended_qc': (
        {'extended_qc': 'score__gte,0.8'},
        lambda s, w: s['extended_qc']['score'] >= 0.8,
    ),
    'extended_qc two keys': (
        {'extended_qc': 'behavior,False,score__lt,0.5'},
        lambda s, w: not s['extended_qc']['behavior'] and s['extended_qc']['score'] < 0.5,
    ),
    'n_trials': ({'n_trials': '500'}, lambda s, w: s['n_trials'] == 500),
    'empty values are ignored': ({'subject': '', 'lab': ''}, lambda s, w: True),
    'unknown parameters are ignored': ({'colour': 'blue'}, lambda s, w: True),
    'django in list': (
        {'django': "subject__nickname__in,['SWC_002', 'KS005']"},
        lambda s, w: s['subject'] in ('SWC_002', 'KS005'),
    ),
    'django date lt': (
        {'django': 'start_time__date__lt,2024-01-03'},
        lambda s, w: _day(s) < date(2024, 1, 3),
    ),
    'django year': ({'django': 'start_time__year,2024'}, lambda s, w: True),
    'django exclude m2m': (
        {'django': '~projects__name__icontains,test'},
        lambda s, w: not any('test' in p for p in s['projects']),
    ),
    'django reverse relation': (
        {'django': 'data_dataset_session_related__collection__startswith,alf/probe01'},
        lambda s, w: any(
            d['collection'].startswith('alf/probe01') for d in w.datasets_of(s['id'])
        ),
    ),
    'django exclude reverse relation': (
        {'django': '~data_dataset_session_related__qc__gte,50'},
        lambda s, w: all(d['qc'] < 50 for d in w.datasets_of(s['id'])),
    ),
    'django insertion relation': (
        {'django': 'probe_insertion__name,probe01'},
        lambda s, w: any(p['session'] == s['id'] and p['name'] == 'probe01' for p in w.insertions),
    ),
    'django isnull': ({'django': 'n_trials__isnull,True'}, lambda s, w: s['n_trials'] is None),
    'django several pairs': (
        {'django': 'lab__name,testlab,number__gte,2'},
        lambda s, w: s['lab'] == 'testlab' and s['number'] >= 2,
    ),
    'django json key': (
        {'django': 'extended_qc__behavior,True'},
        lambda s, w: s['extended_qc']['behavior'],
    ),
    'django regex': (
        {'django': 'subject__nickname__regex,^SWC_00[2-9]$'},
        lambda s, w: s['subject'] == 'SWC_002',
    ),
    'django iexact on a related name': (
        {'django': 'lab__name__iexact,CORTEXLAB'},
        lambda s, w: s['lab'] == 'cortexlab',
    ),
    'filters combine': (
        {'subject': 'SWC_001', 'number': '1', 'task_protocol': 'training'},
        lambda s, w: s['subject'] == 'SWC_001' and s['number'] == 1,
    ),
}


# Cases whose answer is every session of the test data (still checked against the predicate).
ALL_SESSIONS = frozenset(
    {'empty values are ignored', 'unknown parameters are ignored', 'django year',
     'dataset_qc_lte alone', 'type iexact'}
)  # fmt: skip


@pytest.mark.parametrize('case', list(SESSION_CASES), ids=list(SESSION_CASES))
def test_session_filters(client: httpx.Client, world: World, case: str) -> None:
    params, predicate = SESSION_CASES[case]
    expected = [s['id'] for s in world.sessions if predicate(s, world)]
    found = [record_id(r) for r in fetch_all(client, 'sessions', params)]
    assert found == expected
    if case not in ALL_SESSIONS:
        assert 0 < len(found) < len(world.sessions), 'cases must tell records apart'


def test_session_filter_by_id_and_pk(client: httpx.Client, world: World) -> None:
    eid = _eid(world, 'SWC_002')
    assert [record_id(r) for r in fetch_all(client, 'sessions', {'id': eid})] == [eid]
    assert [record_id(r) for r in fetch_all(client, 'sessions', {'django': f'pk,{eid}'})] == [eid]
    assert (
        fetch_all(client, 'sessions', {'django': f'~pk,{eid}'}).__len__()
        == len(world.sessions) - 1
    )


DatasetCase = tuple[Callable[[World], dict[str, str]], Callable[[Row, World], bool]]
DATASET_CASES: dict[str, DatasetCase] = {
    'session': (
        lambda w: {'session': _eid(w, 'SWC_002')},
        lambda d, w: d['session'] == _eid(w, 'SWC_002'),
    ),
    'name': (lambda w: {'name': 'spikes.times.npy'}, lambda d, w: d['name'] == 'spikes.times.npy'),
    'collection': (
        lambda w: {'collection': 'alf/probe00'},
        lambda d, w: d['collection'] == 'alf/probe00',
    ),
    'revision': (lambda w: {'revision': '2024-02-01'}, lambda d, w: d['revision'] == '2024-02-01'),
    'dataset_type': (
        lambda w: {'dataset_type': 'wheel.position'},
        lambda d, w: d['dataset_type'] == 'wheel.position',
    ),
    'subject': (
        lambda w: {'subject': 'SWC_001'},
        lambda d, w: w.session(d['session'])['subject'] == 'SWC_001',
    ),
    'lab': (
        lambda w: {'lab': 'cortexlab'},
        lambda d, w: w.session(d['session'])['lab'] == 'cortexlab',
    ),
    'date': (
        lambda w: {'date': '2024-01-02'},
        lambda d, w: _day(w.session(d['session'])) == date(2024, 1, 2),
    ),
    'experiment_number': (
        lambda w: {'experiment_number': '2'},
        lambda d, w: w.session(d['session'])['number'] == 2,
    ),
    'tag': (lambda w: {'tag': 'revised'}, lambda d, w: 'revised' in d['tags']),
    'exists on a server': (
        lambda w: {'exists': 'False'},
        lambda d, w: w.on_server(d['id'], exists=False),
    ),
    'qc': (lambda w: {'qc': 'FAIL'}, lambda d, w: d['qc'] == 40),
    'default_dataset': (
        lambda w: {'default_dataset': 'False'},
        lambda d, w: not d['default_dataset'],
    ),
    'probe_insertion': (
        lambda w: {
            'probe_insertion': next(p['id'] for p in w.insertions if p['name'] == 'probe01')
        },
        lambda d, w: (
            d['session'] == next(p['session'] for p in w.insertions if p['name'] == 'probe01')
            and 'probe01' in d['collection']
        ),
    ),
    'django id__in as ONE sends it': (
        lambda w: {'django': f'id__in,{[d["id"] for d in w.datasets[:3]]}'},
        lambda d, w: d['id'] in [x['id'] for x in w.datasets[:3]],
    ),
    'django through file records': (
        lambda w: {'django': 'file_records__data_repository__name,laptop'},
        lambda d, w: any(
            r['dataset'] == d['id'] and r['data_repository'] == 'laptop' for r in w.records
        ),
    ),
    'django through session': (
        lambda w: {'django': 'session__subject__nickname__icontains,swc,~name__startswith,_ibl'},
        lambda d, w: (
            'swc' in w.session(d['session'])['subject'].lower()
            and not d['name'].startswith('_ibl')
        ),
    ),
    'django tags isnull': (
        lambda w: {'django': 'tags__isnull,False'},
        lambda d, w: bool(d['tags']),
    ),
    'django insertion name': (
        lambda w: {'django': 'probe_insertion__name,probe00'},
        lambda d, w: any(
            p['id'] == d['probe_insertion'] and p['name'] == 'probe00' for p in w.insertions
        ),
    ),
}


@pytest.mark.parametrize('case', list(DATASET_CASES), ids=list(DATASET_CASES))
def test_dataset_filters(client: httpx.Client, world: World, case: str) -> None:
    make_params, predicate = DATASET_CASES[case]
    expected = [d['id'] for d in world.datasets if predicate(d, world)]
    found = [record_id(r) for r in fetch_all(client, 'datasets', make_params(world))]
    assert found == expected
    assert 0 < len(found) < len(world.datasets)


InsertionCase = tuple[Callable[[World], dict[str, str]], Callable[[Row, World], bool]]
INSERTION_CASES: dict[str, InsertionCase] = {
    'session': (
        lambda w: {'session': _eid(w, 'SWC_002')},
        lambda p, w: p['session'] == _eid(w, 'SWC_002'),
    ),
    'name': (lambda w: {'name': 'probe00'}, lambda p, w: p['name'] == 'probe00'),
    'subject': (
        lambda w: {'subject': 'SWC_001'},
        lambda p, w: w.session(p['session'])['subject'] == 'SWC_001',
    ),
    'lab iexact': (
        lambda w: {'lab': 'TESTLAB'},
        lambda p, w: w.session(p['session'])['lab'] == 'testlab',
    ),
    'project': (
        lambda w: {'project': 'test_'},
        lambda p, w: any('test_' in x for x in w.session(p['session'])['projects']),
    ),
    'task_protocol': (
        lambda w: {'task_protocol': 'EPHYS'},
        lambda p, w: 'ephys' in w.session(p['session'])['task_protocol'].lower(),
    ),
    'datasets, QC up to FAIL': (
        lambda w: {'datasets': 'clusters.amps.npy'},
        lambda p, w: any(
            d['probe_insertion'] == p['id'] and d['name'] == 'clusters.amps.npy' and d['qc'] <= 40
            for d in w.datasets
        ),
    ),
    'dataset_types': (
        lambda w: {'dataset_types': 'spikes.times,clusters.amps'},
        lambda p, w: (
            {'spikes.times', 'clusters.amps'}
            <= {d['dataset_type'] for d in w.datasets if d['probe_insertion'] == p['id']}
        ),
    ),
    'dataset_qc_lte': (
        lambda w: {'dataset_qc_lte': 'PASS'},
        lambda p, w: any(d['probe_insertion'] == p['id'] and d['qc'] <= 10 for d in w.datasets),
    ),
    'tag': (
        lambda w: {'tag': 'release'},
        lambda p, w: any(d['probe_insertion'] == p['id'] and d['tags'] for d in w.datasets),
    ),
    'django as ONE search_insertions(dataset=...)': (
        lambda w: {'django': 'datasets__name__icontains,amps', 'name': 'probe01'},
        lambda p, w: p['name'] == 'probe01',
    ),
    'django session relation': (
        lambda w: {'django': 'session__number,2'},
        lambda p, w: w.session(p['session'])['number'] == 2,
    ),
}


@pytest.mark.parametrize('case', list(INSERTION_CASES), ids=list(INSERTION_CASES))
def test_insertion_filters(client: httpx.Client, world: World, case: str) -> None:
    make_params, predicate = INSERTION_CASES[case]
    expected = [p['id'] for p in world.insertions if predicate(p, world)]
    found = [record_id(r) for r in fetch_all(client, 'insertions', make_params(world))]
    assert found == expected
    assert len(found) > 0
    if case not in ('tag', 'dataset_types', 'dataset_qc_lte'):
        assert len(found) < len(world.insertions)


def test_file_record_filters(client: httpx.Client, world: World) -> None:
    def ids(params: dict[str, str]) -> list[str]:
        return [record_id(r) for r in fetch_all(client, 'files', params)]

    did = next(r['dataset'] for r in world.records if r['data_repository'] == 'laptop')
    assert ids({'dataset': did}) == [r['id'] for r in world.records if r['dataset'] == did]
    assert ids({'exists': 'False'}) == [r['id'] for r in world.records if not r['exists']]
    assert ids({'data_repository': 'laptop'}) == [
        r['id'] for r in world.records if r['data_repository'] == 'laptop'
    ]
    assert ids({'globus_is_personal': 'true'}) == ids({'data_repository': 'laptop'})
    cortex = [r['id'] for r in world.records
              if next(d for d in world.datasets if d['id'] == r['dataset'])['session']
              in {s['id'] for s in world.sessions if s['lab'] == 'cortexlab'}]  # fmt: skip
    assert ids({'lab': 'cortexlab'}) == cortex
    # The query ONE makes to flag a file whose download does not match its record.
    server = ids({'django': f'dataset,{did},data_repository__globus_is_personal,False'})
    assert server == [
        r['id'] for r in world.records
        if r['dataset'] == did and r['data_repository'] != 'laptop'
    ]  # fmt: skip


@pytest.mark.parametrize(
    ('endpoint', 'params', 'status', 'body'),
    [
        ('sessions', {'number': 'abc'}, 400, {'number': ['Enter a number.']}),
        ('sessions', {'id': 'not-a-uuid'}, 400, {'id': ['Enter a valid UUID.']}),
        ('datasets', {'session': 'nope'}, 400, {'session': ['Enter a valid UUID.']}),
        ('insertions', {'session': 'x'}, 400, {'session': ['Enter a valid UUID.']}),
        ('sessions', {'django': 'colour,blue'}, 500, None),
        ('sessions', {'django': 'subject__nickname'}, 500, None),
        ('sessions', {'django': 'start_time__bogus,1'}, 500, None),
        ('sessions', {'dataset_qc_lte': 'GREAT'}, 500, None),
        ('sessions', {'date_range': '2024-01-01'}, 500, None),
        ('datasets', {'django': 'file_size__gt,big'}, 500, None),
        ('sessions', {'django': 'number,1,number,2'}, 500, None),
    ],
)
def test_bad_filters_answer_like_alyx(
    client: httpx.Client,
    endpoint: str,
    params: dict[str, str],
    status: int,
    body: dict[str, Any] | None,
) -> None:
    response = client.get(f'/{endpoint}', params=params)
    assert response.status_code == status
    payload = response.json()
    assert payload['status_code'] == status
    if body is not None:
        assert payload == {**body, 'status_code': status}
    else:
        assert set(payload) == {'detail', 'status_code'}
        assert payload['detail']


def test_unknown_field_error_lists_the_choices(client: httpx.Client) -> None:
    detail = client.get('/sessions', params={'django': 'colour,blue'}).json()['detail']
    assert detail.startswith("Cannot resolve keyword 'colour' into field. Choices are:")
    assert 'data_dataset_session_related' in detail


def test_small_endpoints_filters(client: httpx.Client, alyx: LocalAlyx) -> None:
    assert [r['name'] for r in fetch_all(client, 'revisions', {'name': '2024-02-01'})] == [
        '2024-02-01'
    ]
    assert fetch_all(client, 'revisions', {'name': 'nope'}) == []
    repos = fetch_all(client, 'data-repository', {'globus_is_personal': 'False'})
    assert sorted(r['name'] for r in repos) == ['flatiron_cortexlab', 'flatiron_testlab']
    types = fetch_all(client, 'dataset-types', {})
    assert sorted(t['name'] for t in types) == sorted(alyx.store.table('dataset_types')['name'])


def test_filter_engine_handles_paths_through_many_tables(tmp_path: Path) -> None:
    """A session filtered through datasets, file records and repositories (four tables)."""
    root = write_alf_tree(tmp_path / 'alf')
    store = build_store(root)
    from one_async.testing.alyx.lookups import lookup_mask

    key = 'data_dataset_session_related__file_records__data_repository__globus_is_personal'
    mask = lookup_mask(store, 'sessions', key, True)
    sessions = store.table('sessions').filter(mask)
    assert sessions['subject'].to_list() == ['KS005']
