"""The local Alyx server over real sockets: auth, routing, response shapes and pagination.

Shapes are compared key by key (order included) with the responses of a real Alyx 3.6.1 server
in ``tests/fixtures/alyx_3_6_1``; expected records are derived from the store's tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import polars as pl
import pytest
from alyx_app_support import build_store, write_alf_tree

from one_async.testing.alyx.app import DEFAULT_PASSWORD, DEFAULT_USER, AlyxApp, AlyxConfig
from one_async.testing.alyx.store import AlyxStore
from one_async.testing.runner import serve_in_thread
from one_async.testing.server import LocalAlyx

FIXTURES = Path(__file__).parents[1] / 'fixtures' / 'alyx_3_6_1'


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def fixture_body(name: str) -> Any:
    """The JSON body of a captured raw HTTP answer (headers, blank line, body)."""
    return json.loads((FIXTURES / name).read_text().split('\n\n', 1)[1])


def same_shape(ours: Any, real: Any, where: str = '$') -> None:
    """Same keys in the same order, recursively; same JSON types where the real one is set."""
    if isinstance(real, dict):
        assert isinstance(ours, dict), where
        assert list(ours) == list(real), f'{where}: {list(ours)} != {list(real)}'
        for key in real:
            same_shape(ours[key], real[key], f'{where}.{key}')
    elif isinstance(real, list):
        assert isinstance(ours, list), where
        if real and ours:
            same_shape(ours[0], real[0], f'{where}[0]')
    elif real is not None and ours is not None:
        assert type(ours) is type(real), f'{where}: {type(ours)} != {type(real)}'


@pytest.fixture(scope='module')
def alyx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlyx]:
    root = write_alf_tree(tmp_path_factory.mktemp('alf'))
    with LocalAlyx(build_store(root), root) as server:
        yield server


@pytest.fixture(scope='module')
def client(alyx: LocalAlyx) -> Iterator[httpx.Client]:
    info = alyx.info
    token = httpx.post(
        f'{info.base_url}/auth-token', data={'username': info.username, 'password': info.password}
    ).json()['token']
    headers = {'Authorization': f'Token {token}'}
    with httpx.Client(base_url=info.base_url, headers=headers) as http:
        yield http


def sessions_frame(alyx: LocalAlyx) -> pl.DataFrame:
    return alyx.store.table('sessions')


# --- authentication --------------------------------------------------------------------------


def test_auth_token_answers_a_token(alyx: LocalAlyx) -> None:
    info = alyx.info
    response = httpx.post(
        f'{info.base_url}/auth-token',
        data={'username': DEFAULT_USER, 'password': DEFAULT_PASSWORD},
    )
    assert response.status_code == 200
    body = response.json()
    same_shape(body, fixture_json('auth-token.json'))
    assert len(body['token']) == 40
    int(body['token'], 16)
    again = httpx.post(
        f'{info.base_url}/auth-token',
        json={'username': DEFAULT_USER, 'password': DEFAULT_PASSWORD},
    )
    assert again.json() == body  # one token per user, as Django REST framework's authtoken


def test_bad_credentials_answer_400_like_alyx(alyx: LocalAlyx) -> None:
    url = f'{alyx.info.base_url}/auth-token'
    response = httpx.post(url, data={'username': DEFAULT_USER, 'password': 'wrong'})
    assert response.status_code == 400
    assert response.json() == fixture_body('auth_bad.txt')
    missing = httpx.post(url, data={'username': DEFAULT_USER})
    assert missing.status_code == 400
    assert missing.json() == {'password': ['This field is required.'], 'status_code': 400}


@pytest.mark.parametrize(
    ('header', 'fixture', 'detail'),
    [
        (None, 'sessions_noauth.txt', None),
        ('Token 0123456789abcdef0123456789abcdef01234567', 'sessions_badtoken.txt', None),
        ('Token', None, 'Invalid token header. No credentials provided.'),
        ('Token a b', None, 'Invalid token header. Token string should not contain spaces.'),
        ('Bearer abc', 'sessions_noauth.txt', None),
    ],
)
def test_missing_or_invalid_token_is_403(
    alyx: LocalAlyx, header: str | None, fixture: str | None, detail: str | None
) -> None:
    headers = {'Authorization': header} if header else {}
    for path in ('/sessions', '/cache/info/', '/cache.zip', '/datasets'):
        response = httpx.get(f'{alyx.info.base_url}{path}', headers=headers)
        assert response.status_code == 403, path
        expected = fixture_body(fixture) if fixture else {'detail': detail, 'status_code': 403}
        assert response.json() == expected


def test_tokens_expire_after_n_requests_and_on_demand(tmp_path: Path) -> None:
    store = AlyxStore.from_records({'sessions': []})
    app = AlyxApp(store, AlyxConfig(token_expire_after=2))
    with serve_in_thread(app) as url:
        creds = {'username': DEFAULT_USER, 'password': DEFAULT_PASSWORD}
        token = httpx.post(f'{url}/auth-token', data=creds).json()['token']
        headers = {'Authorization': f'Token {token}'}
        assert [httpx.get(f'{url}/sessions', headers=headers).status_code for _ in range(2)] == [
            200,
            200,
        ]
        expired = httpx.get(f'{url}/sessions', headers=headers)
        assert expired.status_code == 403
        assert expired.json() == fixture_body('sessions_badtoken.txt')
        renewed = httpx.post(f'{url}/auth-token', data=creds).json()['token']
        assert renewed != token
        headers = {'Authorization': f'Token {renewed}'}
        assert httpx.get(f'{url}/sessions', headers=headers).status_code == 200
        assert app.expire_tokens() == 1
        assert httpx.get(f'{url}/sessions', headers=headers).status_code == 403
        assert app.tokens.issued == 2


def test_burst_throttle_answers_429_with_retry_after() -> None:
    app = AlyxApp(AlyxStore.from_records({'sessions': []}), AlyxConfig(throttle_per_minute=3))
    with serve_in_thread(app) as url:
        creds = {'username': DEFAULT_USER, 'password': DEFAULT_PASSWORD}
        token = httpx.post(f'{url}/auth-token', data=creds).json()['token']
        headers = {'Authorization': f'Token {token}'}
        statuses = [httpx.get(f'{url}/sessions', headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        throttled = httpx.get(f'{url}/datasets', headers=headers)
        assert throttled.status_code == 429
        wait = int(throttled.headers['retry-after'])
        assert 1 <= wait <= 60
        assert throttled.json() == {
            'detail': f'Request was throttled. Expected available in {wait} seconds.',
            'status_code': 429,
        }
        assert httpx.post(f'{url}/auth-token', data=creds).status_code == 200  # no user yet


def test_public_descriptions_need_no_token_but_reject_a_bad_one(alyx: LocalAlyx) -> None:
    base = alyx.info.base_url
    assert httpx.get(f'{base}/api/schema').status_code == 200
    bad = {'Authorization': 'Token ffffffffffffffffffffffffffffffffffffffff'}
    assert httpx.get(f'{base}/api/schema', headers=bad).status_code == 403


# --- routing ---------------------------------------------------------------------------------


def test_missing_trailing_slash_is_a_301_like_django(client: httpx.Client) -> None:
    response = client.get('/cache/info')
    assert response.status_code == 301
    assert response.headers['location'] == '/cache/info/'
    real = (FIXTURES / 'cache_info_noslash.txt').read_text()
    assert 'Location: /cache/info/' in real
    assert '301 Moved Permanently' in real
    docs = client.get('/docs', params={'x': '1'})
    assert docs.status_code == 301
    assert docs.headers['location'] == '/docs/?x=1'
    assert client.get('/cache/info', follow_redirects=True).status_code == 200


@pytest.mark.parametrize('path', ['/sessions/', '/nothing', '/datasets/x/y', '/cache'])
def test_unknown_paths_are_django_404_pages(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers['content-type'].startswith('text/html')
    assert '<h1>Not Found</h1>' in response.text


def test_unsupported_method_is_405(client: httpx.Client) -> None:
    response = client.post('/datasets', json={})
    assert response.status_code == 405
    assert response.json() == {'detail': 'Method "POST" not allowed.', 'status_code': 405}
    assert 'GET' in response.headers['allow']


def test_read_unknown_record_is_404_like_alyx(client: httpx.Client) -> None:
    response = client.get('/sessions/00000000-0000-4000-8000-000000000000')
    assert response.status_code == 404
    assert response.json() == fixture_json('sessions_read_404.json')
    assert client.get('/sessions/not-a-uuid').json() == {
        'detail': 'Not found.',
        'status_code': 404,
    }
    assert client.get('/dataset-types/nope').json()['detail'] == (
        'No DatasetType matches the given query.'
    )


def test_head_answers_headers_only(client: httpx.Client) -> None:
    response = client.head('/sessions')
    assert response.status_code == 200
    assert response.content == b''


# --- shapes ----------------------------------------------------------------------------------


def test_sessions_list_shape_and_order(client: httpx.Client, alyx: LocalAlyx) -> None:
    body = client.get('/sessions').json()
    real = fixture_json('sessions_list.json')
    same_shape(body, real)
    frame = sessions_frame(alyx).sort('start_time', descending=True)
    assert [s['id'] for s in body['results']] == frame['id'].to_list()
    first = body['results'][0]
    row = frame.row(0, named=True)
    assert first['url'] == f'{alyx.info.base_url}/sessions/{row["id"]}'
    assert first['start_time'] == row['start_time'].isoformat()
    assert first['projects'] == row['projects']


def test_session_read_shape_and_datasets(client: httpx.Client, alyx: LocalAlyx) -> None:
    row = sessions_frame(alyx).filter(pl.col('subject') == 'SWC_002').row(0, named=True)
    body = client.get(f'/sessions/{row["id"]}').json()
    real = fixture_json('sessions_read.json')
    same_shape(body, real)
    datasets = alyx.store.table('datasets').filter(pl.col('session') == row['id'])
    assert {d['id'] for d in body['data_dataset_session_related']} == set(datasets['id'])
    ks005 = sessions_frame(alyx).filter(pl.col('subject') == 'KS005')['id'][0]
    listed = client.get(f'/sessions/{ks005}').json()['data_dataset_session_related']
    missing = alyx.store.table('file_records').filter(~pl.col('exists'))['dataset']
    # Alyx lists only the datasets with an existing file on a server repository.
    everything = alyx.store.table('datasets').filter(pl.col('session') == ks005)['id']
    assert {d['id'] for d in listed} == set(everything) - set(missing)
    assert len(listed) == len(everything) - 1
    probes = alyx.store.table('insertions').filter(pl.col('session') == row['id'])
    assert sorted(p['name'] for p in body['probe_insertion']) == sorted(probes['name'])
    assert body['extended_qc'] == json.loads(row['extended_qc'])
    assert body['qc'] == 'WARNING'
    for dataset in body['data_dataset_session_related']:
        assert dataset['default_revision'] in ('True', 'False')
        stem, ext = dataset['name'].rsplit('.', 1)
        assert dataset['data_url'].endswith(f'{stem}.{dataset["id"]}.{ext}')
        assert dataset['data_url'].startswith(f'{alyx.info.data_server_url}/testlab/Subjects/')


def test_datasets_list_shape_and_file_records(client: httpx.Client, alyx: LocalAlyx) -> None:
    eid = sessions_frame(alyx).filter(pl.col('subject') == 'KS005')['id'][0]
    body = client.get('/datasets', params={'session': eid}).json()
    same_shape(body, fixture_json('datasets_list.json'))
    expected = alyx.store.table('datasets').filter(pl.col('session') == eid)
    assert body['count'] == expected.height
    by_id = {row['id']: row for row in expected.iter_rows(named=True)}
    for dataset in body['results']:
        did = dataset['url'].rsplit('/', 1)[-1]
        row = by_id[did]
        assert (dataset['name'], dataset['file_size'], dataset['hash']) == (
            row['name'],
            row['file_size'],
            row['hash'],
        )
        assert dataset['session'].endswith(eid)
        records = alyx.store.table('file_records').filter(pl.col('dataset') == did)
        assert len(dataset['file_records']) == records.height
        server = next(r for r in dataset['file_records'] if r['data_repository'] != 'laptop')
        stem, ext = server['relative_path'].rsplit('.', 1)
        expected_url = f'{alyx.info.data_server_url}/cortexlab/Subjects/{stem}.{did}.{ext}'
        assert server['data_url'] == expected_url
        assert server['data_repository_path'] == '/cortexlab/Subjects/'
    records = [r for d in body['results'] for r in d['file_records']]
    laptop = [r for r in records if r['data_repository'] == 'laptop']
    assert laptop
    assert all(r['data_url'] is None for r in laptop)


def test_datasets_read_and_limit1_like_alyx(client: httpx.Client, alyx: LocalAlyx) -> None:
    eid = sessions_frame(alyx).filter(pl.col('subject') == 'KS005')['id'][0]
    page = client.get('/datasets', params={'session': eid, 'limit': 1}).json()
    real = fixture_json('datasets_list_limit1.json')
    same_shape(page, real)
    assert page['next'] == f'{client.base_url}/datasets?limit=1&offset=1&session={eid}'
    did = page['results'][0]['url'].rsplit('/', 1)[-1]
    assert client.get(f'/datasets/{did}').json() == page['results'][0]


def test_insertions_list_and_read_shapes(client: httpx.Client, alyx: LocalAlyx) -> None:
    listing = client.get('/insertions').json()
    same_shape(listing, fixture_json('insertions_list.json'))
    probes = alyx.store.table('insertions')
    assert listing['count'] == probes.height
    first = listing['results'][0]
    datasets = alyx.store.table('datasets').filter(pl.col('probe_insertion') == first['id'])
    assert sorted(first['datasets']) == sorted(datasets['id'])
    detail = client.get(f'/insertions/{first["id"]}').json()
    same_shape(detail, fixture_json('insertions_read.json'))
    assert sorted(d['id'] for d in detail['datasets']) == sorted(datasets['id'])
    assert all(isinstance(d['qc'], int) for d in detail['datasets'])
    assert detail['session_info'] == first['session_info']


def test_dataset_type_revision_and_repository_shapes(
    client: httpx.Client, alyx: LocalAlyx
) -> None:
    types = client.get('/dataset-types').json()
    assert types['count'] == alyx.store.table('dataset_types').height
    detail = client.get('/dataset-types/trials.table').json()
    same_shape(detail, fixture_json('dataset_type.json'))
    assert detail['filename_pattern'] == '*trials.table*'
    repos = client.get('/data-repository').json()
    same_shape(repos, fixture_json('data_repository.json'))
    names = {r['name'] for r in repos['results']}
    assert names == {'flatiron_cortexlab', 'flatiron_testlab', 'laptop'}
    lab = client.get('/data-repository/flatiron_testlab').json()
    assert lab['data_url'] == f'{alyx.info.data_server_url}/testlab/Subjects/'
    assert (
        client.get('/data-repository', params={'globus_is_personal': 'True'}).json()['count'] == 1
    )
    revisions = client.get('/revisions').json()['results']
    assert [r['name'] for r in revisions] == ['2024-02-01']
    assert list(client.get('/revisions/2024-02-01').json()) == [
        'id', 'json', 'name', 'description', 'created_datetime'
    ]  # fmt: skip


def test_files_list_shape(client: httpx.Client, alyx: LocalAlyx) -> None:
    body = client.get('/files', params={'limit': 3}).json()
    assert body['count'] == alyx.store.table('file_records').height
    assert list(body['results'][0]) == [
        'url', 'dataset', 'data_repository', 'name', 'json', 'relative_path', 'exists'
    ]  # fmt: skip


# --- pagination ------------------------------------------------------------------------------


def test_pagination_links_like_alyx(client: httpx.Client, alyx: LocalAlyx) -> None:
    base = str(client.base_url)
    first = client.get('/sessions', params={'limit': 2}).json()
    real = fixture_json('sessions_list_limit2.json')
    same_shape(first, real)
    assert first['next'] == f'{base}/sessions?limit=2&offset=2'
    assert first['previous'] is None
    second = client.get(first['next']).json()
    real2 = fixture_json('sessions_list_limit2_offset2.json')
    assert urlsplit(real2['next']).query == 'limit=2&offset=4'
    assert second['next'] == f'{base}/sessions?limit=2&offset=4'
    assert second['previous'] == f'{base}/sessions?limit=2'
    third = client.get(second['next']).json()
    assert third['next'] is None
    assert third['previous'] == f'{base}/sessions?limit=2&offset=2'
    ids = [s['id'] for page in (first, second, third) for s in page['results']]
    assert ids == sessions_frame(alyx).sort('start_time', descending=True)['id'].to_list()


def test_pagination_keeps_filters_sorted_in_links(client: httpx.Client) -> None:
    page = client.get('/datasets', params={'name': '_ibl_wheel.position.npy', 'limit': 2}).json()
    query = parse_qs(urlsplit(page['next']).query)
    assert query == {'limit': ['2'], 'name': ['_ibl_wheel.position.npy'], 'offset': ['2']}
    assert urlsplit(page['next']).query.startswith('limit=2&name=')


def test_default_and_capped_page_sizes(tmp_path: Path) -> None:
    start = datetime(2020, 1, 1)
    sessions = [
        {'id': f'00000000-0000-4000-8000-{i:012d}', 'subject': 'S', 'lab': 'L', 'number': 1,
         'start_time': start + timedelta(days=i)}
        for i in range(1100)
    ]  # fmt: skip
    app = AlyxApp(AlyxStore.from_records({'sessions': sessions}))
    with serve_in_thread(app) as url:
        creds = {'username': DEFAULT_USER, 'password': DEFAULT_PASSWORD}
        token = httpx.post(f'{url}/auth-token', data=creds).json()['token']
        with httpx.Client(base_url=url, headers={'Authorization': f'Token {token}'}) as http:
            default = http.get('/sessions').json()
            assert (default['count'], len(default['results'])) == (1100, 250)
            assert default['next'] == f'{url}/sessions?limit=250&offset=250'
            capped = http.get('/sessions', params={'limit': 5000}).json()
            assert len(capped['results']) == 1000
            assert capped['next'] == f'{url}/sessions?limit=1000&offset=1000'
            for bad in ('abc', '0', '-3'):
                assert len(http.get('/sessions', params={'limit': bad}).json()['results']) == 250
            tail = http.get('/sessions', params={'limit': 100, 'offset': 1050}).json()
            assert len(tail['results']) == 50
            assert tail['next'] is None
            assert tail['previous'] == f'{url}/sessions?limit=100&offset=950'
            beyond = http.get('/sessions', params={'offset': 5000}).json()
            assert beyond['results'] == []
            assert beyond['count'] == 1100
            newest = default['results'][0]['id']
            assert newest == sessions[-1]['id']


# --- API descriptions ------------------------------------------------------------------------


def test_openapi_schema_describes_what_is_served(tmp_path: Path) -> None:
    """Every path and method of /api/schema is answered (no routing 404/405), and the list
    filters it documents are exactly those the server applies."""
    from one_async.testing.alyx.api_docs import SERVED
    from one_async.testing.alyx.filters import ENDPOINT_FILTERS

    root = write_alf_tree(tmp_path / 'alf')
    with LocalAlyx(build_store(root), root) as server:
        base = server.info.base_url
        schema = httpx.get(f'{base}/api/schema').json()
        real = fixture_json('schema.json')['paths']['/sessions']['get']
        ours = schema['paths']['/sessions']['get']
        assert list(ours) == list(real)
        real_params = {p['name']: p for p in real['parameters']}
        assert all(real_params[p['name']] == p for p in ours['parameters'])
        creds = {'username': server.info.username, 'password': server.info.password}
        token = httpx.post(f'{base}/auth-token', data=creds).json()['token']
        headers = {'Authorization': f'Token {token}'}
        missing = '00000000-0000-4000-8000-000000000000'
        for path, operations in schema['paths'].items():
            url = base + path.replace('{id}', missing).replace('{name}', 'missing-name')
            for method in operations:
                response = httpx.request(method.upper(), url, headers=headers, json={})
                assert response.status_code not in (405, 301), (method, path)
                if response.status_code == 404:
                    assert response.json()['status_code'] == 404, (method, path)
                if method == 'get' and '{' not in path:
                    assert response.status_code == 200, (method, path)
        for endpoint, filters in ENDPOINT_FILTERS.items():
            documented = {p['name'] for p in schema['paths'][f'/{endpoint}']['get']['parameters']}
            assert documented == {*filters, 'limit', 'offset'}, endpoint
        coreapi = httpx.get(f'{base}/docs/', headers={'Accept': 'application/coreapi+json'}).json()
        assert coreapi['_meta']['url'] == f'{base}/docs/'
        assert {k for k in coreapi if not k.startswith('_')} == set(SERVED)
        for endpoint, actions in SERVED.items():
            assert set(coreapi[endpoint]) == set(actions), endpoint
        html = httpx.get(f'{base}/docs/')
        assert html.headers['content-type'].startswith('text/html')


def test_without_a_data_server_records_have_no_data_url(tmp_path: Path) -> None:
    store = build_store(write_alf_tree(tmp_path / 'alf'))
    eid = store.table('sessions').filter(pl.col('subject') == 'SWC_002')['id'][0]
    with serve_in_thread(AlyxApp(store)) as url:
        creds = {'username': DEFAULT_USER, 'password': DEFAULT_PASSWORD}
        token = httpx.post(f'{url}/auth-token', data=creds).json()['token']
        headers = {'Authorization': f'Token {token}'}
        detail = httpx.get(f'{url}/sessions/{eid}', headers=headers).json()
        listed = detail['data_dataset_session_related']
        assert len(listed) == store.table('datasets').filter(pl.col('session') == eid).height
        assert all(d['data_url'] is None for d in listed)
        records = httpx.get(f'{url}/datasets', headers=headers, params={'session': eid}).json()
        assert all(r['data_url'] is None for d in records['results'] for r in d['file_records'])
