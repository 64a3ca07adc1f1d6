"""rest(): every action, validation against the server's API description, raw verbs."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import pytest

from one_async.exceptions import AlyxEndpointError, AlyxHTTPError, InvalidArgument

from .conftest import FakeAlyx, fixture_json

pytestmark = pytest.mark.anyio

EID = '934bb3ea-c9a5-410c-b0df-c15b152535a0'


async def test_list_matches_captured_response(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        records = await client.rest('sessions', 'list')
    assert records == fixture_json('sessions_list.json')['results']


async def test_read_matches_captured_response(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        record = await client.rest('sessions', 'read', id=UUID(EID))
        by_url = await client.rest('sessions', 'read', url=f'{alyx.url}/sessions/{EID}')
        by_path = await client.rest(f'sessions/{EID}', 'read')
    assert record == by_url == by_path == fixture_json('sessions_read.json')


async def test_filters_are_sent_as_alyx_expects(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        records = await client.rest(
            'sessions', 'list', subject='SWC_001', date_range=['2024-01-02', '2024-01-02']
        )
        assert {r['subject'] for r in records} == {'SWC_001'}
        await client.rest('sessions?subject=SWC_002')  # a query implies list
        by_id = await client.rest('sessions', 'list', id=EID, django='lab__name,testlab')
    assert [r['id'] for r in by_id] == [EID]
    queries = [parse_qs(q) for _, q in alyx.state.requests('GET', '/sessions')]
    assert queries[0] == {'subject': ['SWC_001'], 'date_range': ['2024-01-02,2024-01-02']}
    assert queries[1] == {'subject': ['SWC_002']}
    assert queries[2] == {'django': [f'lab__name,testlab,pk,{EID}']}


async def test_create_update_partial_update_delete(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        created = await client.rest(
            'sessions', 'create', data={'subject': 'SWC_009', 'number': 3, 'lab': 'testlab'}
        )
        eid = created['id']
        assert created['subject'] == 'SWC_009'
        patched = await client.rest(
            'sessions', 'partial_update', id=eid, data={'narrative': 'patched'}
        )
        assert patched['narrative'] == 'patched'
        updated = await client.rest(
            'sessions', 'update', id=eid, data={'subject': 'SWC_010', 'number': 4}
        )
        assert (updated['subject'], updated['number']) == ('SWC_010', 4)
        assert await client.rest('sessions', 'delete', id=eid) is None
        with pytest.raises(AlyxHTTPError) as info:
            await client.rest('sessions', 'read', id=eid, no_cache=True)
    assert info.value.status_code == 404
    assert info.value.detail == 'No Session matches the given query.'
    assert eid in info.value.url
    methods = [m for m, p, _ in alyx.state.log if p.startswith('/sessions')]
    assert methods == ['POST', 'PATCH', 'PUT', 'DELETE', 'GET']


async def test_partial_update_dash_alias(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        answer = await client.rest('sessions', 'partial-update', id=EID, data={'n_trials': 9})
    assert answer['n_trials'] == 9


async def test_unknown_endpoint_lists_valid_ones(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        with pytest.raises(AlyxEndpointError) as info:
            await client.rest('sesions', 'list')
    message = str(info.value)
    assert info.value.value == 'sesions'
    assert 'sesions' in message
    for name in ('sessions', 'datasets', 'insertions', 'cache.zip'):
        assert f'\n    {name}' in message
    assert 'auth-token' not in message


async def test_unknown_action_lists_valid_ones(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        with pytest.raises(AlyxEndpointError, match='list, read, update, partial_update'):
            await client.rest('brain-regions', 'delete', id=1)
        with pytest.raises(AlyxEndpointError, match='Available actions are: list, create'):
            await client.rest('procedures')


async def test_unknown_filter_lists_valid_ones(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        with pytest.raises(AlyxEndpointError) as info:
            await client.rest('sessions', 'list', subjekt='SWC_001')
    assert info.value.value == 'subjekt'
    assert 'subjekt' in str(info.value)
    assert 'subject' in str(info.value)
    assert 'date_range' in str(info.value)
    assert alyx.state.requests('GET', '/sessions') == []


async def test_missing_id_or_data(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        with pytest.raises(InvalidArgument, match=r'/sessions/\{id\}'):
            await client.rest('sessions', 'read')
        with pytest.raises(InvalidArgument, match=r'subject \(required\)'):
            await client.rest('sessions', 'create')


async def test_coreapi_fallback_when_no_openapi(alyx: FakeAlyx, make_client: Any) -> None:
    alyx.state.openapi = False
    async with make_client() as client:
        schema = await client.schema()
        records = await client.rest('sessions', 'list', subject='SWC_001')
        info = await client.rest('cache', 'list')
    assert schema.backend == 'coreapi'
    assert {r['subject'] for r in records} == {'SWC_001'}
    assert info == fixture_json('cache_info.json')
    paths = [p for _, p, _ in alyx.state.log]
    assert paths[:4] == ['/auth-token', '/api/schema', '/docs', '/docs/']


async def test_schema_fetched_once_and_cached_on_disk(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        assert (await client.schema()).backend == 'openapi'
        await client.rest('sessions', 'list')
        await client.rest('insertions', 'list')
    async with make_client() as client:
        await client.rest('sessions', 'list', no_cache=True)
    assert len(alyx.state.requests('GET', '/api/schema')) == 1


async def test_list_endpoints_and_describe(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        endpoints = await client.list_endpoints()
        text = await client.describe('sessions', 'list')
        full = await client.describe('sessions')
    assert 'sessions' in endpoints
    assert 'auth-token' not in endpoints
    assert endpoints == sorted(endpoints)
    assert 'GET /sessions' in text
    assert 'date_range' in text
    for action in ('list', 'read', 'create', 'update', 'partial_update', 'delete'):
        assert f'  {action}: ' in full


async def test_raw_verbs_accept_relative_and_absolute_urls(
    alyx: FakeAlyx, make_client: Any
) -> None:
    async with make_client() as client:
        a = await client.get('sessions', params={'subject': 'SWC_003'})
        b = await client.get(f'{alyx.url}/sessions?subject=SWC_003', no_cache=True)
        c = await client.get(f'/sessions/{EID}')
        d = await client.patch(f'sessions/{EID}', data={'narrative': 'raw'})
        e = await client.put(f'{alyx.url}/sessions/{EID}', data={'subject': 'SWC_003'})
        f = await client.post('sessions', data={'subject': 'SWC_004'})
        g = await client.delete(f'sessions/{f["id"]}')
    assert a == b
    assert [r['id'] for r in a] == [EID]
    assert c['id'] == EID
    assert d['narrative'] == 'raw'
    assert e['subject'] == 'SWC_003'
    assert g is None


async def test_cache_info_redirect_followed(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        info = await client.get('cache/info')
    assert info == fixture_json('cache_info.json')
    assert [p for _, p, _ in alyx.state.log if p.startswith('/cache')] == [
        '/cache/info',
        '/cache/info/',
    ]


async def test_other_endpoints_match_captures(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        insertions = await client.rest('insertions', 'list')
        insertion = await client.rest('insertions', 'read', id=insertions[0]['id'])
        dtype = await client.rest('dataset-types', 'read', id='trials.table')
        repos = await client.rest('data-repository', 'list')
        datasets = await client.rest('datasets', 'list', session=EID)
    assert insertions == fixture_json('insertions_list.json')['results']
    assert insertion == fixture_json('insertions_read.json')
    assert dtype == fixture_json('dataset_type.json')
    assert repos == fixture_json('data_repository.json')['results']
    assert datasets == fixture_json('datasets_list.json')['results']
