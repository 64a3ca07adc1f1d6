"""Writes through the local Alyx: create, update, partial_update, delete, JSON fields.

Part of it is driven by ONE-api 2.9.0's own ``AlyxClient`` (``rest`` validated against our
CoreAPI document, and its JSON-field helpers), part by plain HTTP to check Alyx's answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from alyx_app_support import build_store, write_alf_tree

from one_async.testing.server import LocalAlyx

webclient = pytest.importorskip('one.webclient')
one_params = pytest.importorskip('one.params')
iopar = pytest.importorskip('iblutil.io.params')


@pytest.fixture
def alyx(tmp_path: Path) -> Iterator[LocalAlyx]:
    root = write_alf_tree(tmp_path / 'alf')
    with LocalAlyx(build_store(root), root) as server:
        yield server


@pytest.fixture
def client(alyx: LocalAlyx) -> Iterator[httpx.Client]:
    info = alyx.info
    creds = {'username': info.username, 'password': info.password}
    token = httpx.post(f'{info.base_url}/auth-token', data=creds).json()['token']
    with httpx.Client(base_url=info.base_url, headers={'Authorization': f'Token {token}'}) as http:
        yield http


@pytest.fixture
def ac(alyx: LocalAlyx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """ONE-api 2.9.0's AlyxClient on the server, its parameters in a temporary HOME."""
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    (tmp_path / 'home').mkdir()
    info = alyx.info
    key = one_params._key_from_url(info.base_url)
    iopar.write(f'one/{key}', info.one_params())
    iopar.write('one/caches', {'CLIENT_MAP': {key: str(tmp_path / 'cache')}, 'DEFAULT': key})
    return webclient.AlyxClient(
        base_url=info.base_url,
        username=info.username,
        password=info.password,
        silent=True,
        cache_dir=tmp_path / 'cache',
        cache_rest=None,
    )


def eid_of(alyx: LocalAlyx, subject: str) -> str:
    return str(alyx.store.table('sessions').filter(pl.col('subject') == subject)['id'][0])


# --- through ONE's AlyxClient ----------------------------------------------------------------


def test_one_rest_validates_against_our_description(ac: Any) -> None:
    assert set(ac.list_endpoints()) == {
        'cache', 'cache.zip', 'data-repository', 'dataset-types', 'datasets', 'files',
        'insertions', 'revisions', 'sessions',
    }  # fmt: skip
    with pytest.raises(ValueError, match='REST endpoint "subjects" does not exist'):
        ac.rest('subjects', 'list')
    with pytest.raises(ValueError, match='Action "create" for REST endpoint "datasets"'):
        ac.rest('datasets', 'create', data={'name': 'x'})


def test_one_json_field_helpers(ac: Any, alyx: LocalAlyx) -> None:
    eid = eid_of(alyx, 'SWC_002')
    before = json.loads(alyx.store.get('sessions', eid)['extended_qc'])  # type: ignore[index]
    updated = ac.json_field_update('sessions', eid, 'extended_qc', {'video': 'PASS'})
    assert updated == {**before, 'video': 'PASS'}
    assert json.loads(alyx.store.get('sessions', eid)['extended_qc']) == updated  # type: ignore[index]
    removed = ac.json_field_remove_key('sessions', eid, 'extended_qc', 'behavior')
    assert removed == {'score': before['score'], 'video': 'PASS'}
    written = ac.json_field_write('sessions', eid, 'json', {'a': [1, 2]})
    assert written == {'a': [1, 2]}
    assert ac.json_field_delete('sessions', eid, 'extended_qc') is None
    assert ac.rest('sessions', 'read', id=eid)['extended_qc'] is None


def test_one_rest_create_update_delete(ac: Any, alyx: LocalAlyx) -> None:
    revision = ac.rest('revisions', 'create', data={'name': '2025-01-01', 'description': 'x'})
    assert revision['name'] == '2025-01-01'
    assert alyx.store.table('revisions').filter(pl.col('name') == '2025-01-01').height == 1
    eid = eid_of(alyx, 'KS005')
    probe = ac.rest('insertions', 'create',
                    data={'session': eid, 'name': 'probe02', 'model': 'NP2.1'})  # fmt: skip
    assert probe['session_info']['id'] == eid
    assert probe['datasets'] == []
    assert [p['name'] for p in ac.rest('insertions', 'list', session=eid)] == [
        'probe00', 'probe02'
    ]  # fmt: skip
    did = str(alyx.store.table('datasets').filter(pl.col('session') == eid)['id'][0])
    dataset = ac.rest('datasets', 'partial_update', id=did, data={'qc': 'PASS', 'tags': ['t1']})
    assert (dataset['qc'], dataset['tags']) == ('PASS', ['t1'])
    assert alyx.store.get('datasets', did)['qc'] == 10  # type: ignore[index]
    assert ac.rest('datasets', 'list', tag='t1')[0]['url'].endswith(did)
    ac.rest('insertions', 'delete', id=probe['id'])
    assert alyx.store.get('insertions', probe['id']) is None


def test_one_search_on_our_rest_lists_every_page(ac: Any, alyx: LocalAlyx) -> None:
    datasets = ac.rest('datasets', 'list', limit=3)  # paginated lazily by ONE
    assert len(datasets) == alyx.store.table('datasets').height
    ids = [d['url'].rsplit('/', 1)[-1] for d in datasets]
    assert ids == alyx.store.table('datasets')['id'].to_list()


# --- plain HTTP ------------------------------------------------------------------------------


def test_patch_validates_values_like_drf(client: httpx.Client, alyx: LocalAlyx) -> None:
    did = str(alyx.store.table('datasets')['id'][0])
    bad = client.patch(f'/datasets/{did}', json={'qc': 'GOOD', 'file_size': 'big'})
    assert bad.status_code == 400
    assert bad.json() == {
        'qc': ['Invalid qc, choices are: NOT_SET, PASS, WARNING, FAIL, CRITICAL'],
        'file_size': ['A valid integer is required.'],
        'status_code': 400,
    }
    unknown_type = client.patch(f'/datasets/{did}', json={'dataset_type': 'nope.nope'})
    assert unknown_type.json()['dataset_type'] == ['Object with name=nope.nope does not exist.']
    ignored = client.patch(f'/datasets/{did}', json={'url': 'x', 'colour': 'blue'})
    assert ignored.status_code == 200
    assert ignored.json() == client.get(f'/datasets/{did}').json()
    assert client.patch(f'/datasets/{did}', content=b'{not json').status_code == 400
    assert client.patch(f'/datasets/{did}', content=b'[1]').json()['non_field_errors']
    xml = client.patch(f'/datasets/{did}', content=b'<a/>', headers={'content-type': 'text/xml'})
    assert xml.status_code == 415


def test_put_needs_the_required_fields(client: httpx.Client, alyx: LocalAlyx) -> None:
    eid = eid_of(alyx, 'SWC_002')
    missing = client.put(f'/sessions/{eid}', json={'narrative': 'x'})
    assert missing.status_code == 400
    assert missing.json() == {'subject': ['This field is required.'], 'status_code': 400}
    ok = client.put(f'/sessions/{eid}', json={'subject': 'SWC_002', 'narrative': 'x'})
    assert ok.status_code == 200
    assert ok.json()['narrative'] == 'x'


def test_create_session_and_unique_names(client: httpx.Client, alyx: LocalAlyx) -> None:
    created = client.post(
        '/sessions',
        json={'subject': 'SWC_001', 'number': 3, 'start_time': '2024-02-01T09:00:00',
              'projects': ['p'], 'task_protocol': 'x', 'qc': 'PASS'},
    )  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert body['lab'] == 'testlab'  # the subject's lab
    assert body['qc'] == 'PASS'
    assert client.get('/sessions', params={'limit': 1}).json()['results'][0]['id'] == body['id']
    again = client.post('/dataset-types', json={'name': 'wheel.position'})
    assert again.status_code == 400
    assert again.json()['name'] == ['dataset type with this name already exists.']
    assert client.post('/sessions', json={'number': 1}).json() == {
        'subject': ['This field is required.'], 'status_code': 400
    }  # fmt: skip


def test_renaming_a_revision_updates_its_datasets(client: httpx.Client, alyx: LocalAlyx) -> None:
    renamed = client.patch('/revisions/2024-02-01', json={'name': '2024-03-01'})
    assert renamed.status_code == 200
    revised = client.get('/datasets', params={'revision': '2024-03-01'}).json()
    assert revised['count'] == 1
    assert client.get('/datasets', params={'revision': '2024-02-01'}).json()['count'] == 0
    assert client.get('/revisions/2024-02-01').status_code == 404


def test_delete_cascades(client: httpx.Client, alyx: LocalAlyx) -> None:
    eid = eid_of(alyx, 'SWC_002')
    datasets = alyx.store.table('datasets').filter(pl.col('session') == eid)['id'].to_list()
    assert client.delete(f'/sessions/{eid}').status_code == 204
    assert client.get(f'/sessions/{eid}').status_code == 404
    assert alyx.store.table('insertions').filter(pl.col('session') == eid).is_empty()
    assert alyx.store.table('file_records').filter(pl.col('dataset').is_in(datasets)).is_empty()
    assert client.delete(f'/sessions/{eid}').status_code == 404
    assert client.delete('/data-repository/laptop').status_code == 405


def test_insertion_delete_unlinks_its_datasets(client: httpx.Client, alyx: LocalAlyx) -> None:
    pid = str(alyx.store.table('insertions')['id'][0])
    linked = alyx.store.table('datasets').filter(pl.col('probe_insertion') == pid)['id']
    assert linked.len() > 0
    assert client.delete(f'/insertions/{pid}').status_code == 204
    for did in linked:
        assert alyx.store.get('datasets', did)['probe_insertion'] is None  # type: ignore[index]


def test_file_record_partial_update(client: httpx.Client, alyx: LocalAlyx) -> None:
    record = alyx.store.table('file_records').filter(pl.col('exists')).row(0, named=True)
    response = client.patch(f'/files/{record["id"]}', json={'exists': False, 'json': {'a': 1}})
    assert response.status_code == 200
    assert response.json()['exists'] is False
    dataset = client.get(f'/datasets/{record["dataset"]}').json()
    server = next(r for r in dataset['file_records'] if r['id'] == record['id'])
    assert server['exists'] is False
    assert client.get('/files', params={'exists': 'false'}).json()['count'] == 2
