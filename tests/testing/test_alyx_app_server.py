"""The local Alyx as a whole: data server, faults, LocalAlyx, its pytest fixture, the CLI and the
generated demo data (driven by ONE-api 2.9.0 as well)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest
from alyx_app_support import build_store, write_alf_tree

from one_async.testing.alyx.app import AlyxConfig
from one_async.testing.demo import demo_server
from one_async.testing.faults import FaultPlan, Faults
from one_async.testing.server import LocalAlyx, local_alyx_fixture

demo = local_alyx_fixture(scope='module', name='demo')

INFO_KEYS = [
    'base_url', 'username', 'password', 'data_server_url', 'data_server_login',
    'data_server_password', 'cache_dir',
]  # fmt: skip


@pytest.fixture
def alyx(tmp_path: Path) -> Iterator[LocalAlyx]:
    root = write_alf_tree(tmp_path / 'alf')
    with LocalAlyx(build_store(root), root) as server:
        yield server


def login(alyx: LocalAlyx) -> httpx.Client:
    info = alyx.info
    creds = {'username': info.username, 'password': info.password}
    token = httpx.post(f'{info.base_url}/auth-token', data=creds).json()['token']
    return httpx.Client(base_url=info.base_url, headers={'Authorization': f'Token {token}'})


# --- data server -----------------------------------------------------------------------------


def test_data_urls_serve_the_files_behind_basic_auth(alyx: LocalAlyx) -> None:
    info = alyx.info
    with login(alyx) as client:
        eid = alyx.store.table('sessions').filter(pl.col('subject') == 'SWC_002')['id'][0]
        datasets = client.get(f'/sessions/{eid}').json()['data_dataset_session_related']
    auth = (info.data_server_login, info.data_server_password)
    for dataset in datasets:
        response = httpx.get(dataset['data_url'], auth=auth)
        assert response.status_code == 200
        assert hashlib.md5(response.content).hexdigest() == dataset['hash']
        assert int(response.headers['content-length']) == dataset['file_size']
    url = datasets[0]['data_url']
    refused = httpx.get(url)
    assert refused.status_code == 401
    assert refused.headers['www-authenticate'].startswith('Basic')
    assert httpx.get(url, auth=(info.data_server_login, 'wrong')).status_code == 401
    part = httpx.get(url, auth=auth, headers={'Range': 'bytes=2-9'})
    assert part.status_code == 206
    assert part.content == httpx.get(url, auth=auth).content[2:10]
    assert 'etag' in part.headers


def test_local_alyx_info_and_lifecycle(tmp_path: Path) -> None:
    root = write_alf_tree(tmp_path / 'alf')
    server = LocalAlyx.from_alf_folder(root, seed=3)
    with pytest.raises(RuntimeError, match='not running'):
        _ = server.info
    with server:
        info = server.info
        assert list(info.model_dump()) == INFO_KEYS
        assert info.password not in repr(info)
        assert info.data_server_password not in repr(info)
        assert info.password not in repr(server.config)
        assert info.cache_dir == str(root)
        assert httpx.get(f'{info.base_url}/api/schema').status_code == 200
        repos = server.store.table('data_repositories')['data_url'].to_list()
        assert all(url.startswith(info.data_server_url) for url in repos)
        base = info.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f'{base}/api/schema')
    again = LocalAlyx.from_alf_folder(root, seed=3)
    assert (
        again.store.table('sessions')['id'].to_list()
        == server.store.table('sessions')['id'].to_list()
    )  # same seed, same identifiers


# --- faults ----------------------------------------------------------------------------------


def test_faults_per_route_on_the_rest_server(alyx: LocalAlyx) -> None:
    plan = FaultPlan(error_first_attempts=1, error_statuses=(429,), retry_after=2)
    alyx.faults.faults = Faults(seed=1, routes={'/sessions': plan})
    with login(alyx) as client:
        first = client.get('/sessions')
        assert first.status_code == 429
        assert first.headers['retry-after'] == '2'
        assert first.json()['status_code'] == 429
        assert client.get('/sessions').status_code == 200
        assert client.get('/datasets').status_code == 200
    assert alyx.faults.stats['error'] == 1


def test_faults_on_the_data_server(alyx: LocalAlyx) -> None:
    info = alyx.info
    with login(alyx) as client:
        url = client.get('/datasets', params={'name': 'spikes.times.npy'}).json()['results'][0][
            'file_records'
        ][0]['data_url']
    auth = (info.data_server_login, info.data_server_password)
    good = httpx.get(url, auth=auth).content
    alyx.data_faults.faults = Faults(seed=2, routes={'*.npy': FaultPlan(corrupt_rate=1.0)})
    corrupted = httpx.get(url, auth=auth).content
    assert len(corrupted) == len(good)
    assert corrupted != good
    alyx.data_faults.faults = Faults(seed=2, default=FaultPlan(disconnect_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, auth=auth)


# --- fixture factory, generated demo data, CLI -----------------------------------------------


def test_fixture_factory_serves_generated_demo_data(demo: LocalAlyx) -> None:
    info = demo.info
    with login(demo) as client:
        sessions = client.get('/sessions').json()
        assert sessions['count'] == demo.store.table('sessions').height > 0
        eid = sessions['results'][0]['id']
        detail = client.get(f'/sessions/{eid}').json()
    auth = (info.data_server_login, info.data_server_password)
    checked = 0
    for dataset in detail['data_dataset_session_related']:
        if dataset['data_url'] and checked < 5:
            body = httpx.get(dataset['data_url'], auth=auth).content
            assert hashlib.md5(body).hexdigest() == dataset['hash']
            checked += 1
    assert checked


def test_one29_on_generated_demo_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one_api = pytest.importorskip('one.api')
    one_params = pytest.importorskip('one.params')
    iopar = pytest.importorskip('iblutil.io.params')
    config = AlyxConfig(min_api_version='2.9')
    with demo_server(tmp_path / 'data', n_sessions=6, seed=4, config=config) as server:
        info = server.info
        monkeypatch.setenv('HOME', str(tmp_path / 'home'))
        (tmp_path / 'home').mkdir()
        key = one_params._key_from_url(info.base_url)
        iopar.write(f'one/{key}', info.one_params())
        cache = tmp_path / 'cache'
        iopar.write('one/caches', {'CLIENT_MAP': {key: str(cache)}, 'DEFAULT': key})
        one = one_api.ONE(base_url=info.base_url, username=info.username,
                          password=info.password, silent=True, cache_dir=cache)  # fmt: skip
        try:
            sessions = server.store.table('sessions')
            assert sorted(one._cache['sessions'].index) == sorted(sessions['id'])
            behaviour = sessions.filter(pl.col('n_trials').is_not_null())
            eid = behaviour['id'][0]
            row = behaviour.row(0, named=True)
            trials = one.load_object(eid, 'trials', collection='alf')
            day, number = f'{row["start_time"]:%Y-%m-%d}', f'{row["number"]:03d}'
            folder = Path(info.cache_dir, row['lab'], 'Subjects', row['subject'], day, number)
            folder = folder / 'alf'
            assert trials
            for attribute, values in trials.items():
                matches = list(folder.glob(f'_ibl_trials.{attribute}.npy'))
                if matches:
                    np.testing.assert_array_equal(values, np.load(matches[0]))
            found = one.search(query_type='remote', lab=row['lab'])
            assert list(found) == list(
                sessions.filter(pl.col('lab') == row['lab']).sort('start_time', descending=True)[
                    'id'
                ]
            )
        finally:
            one_api.ONE.cache_clear()


@contextmanager
def running_cli(args: list[str], stop: signal.Signals = signal.SIGINT) -> Iterator[dict[str, Any]]:
    """Run ``python -m one_async.testing``, yield its JSON line, then stop it with ``stop``."""
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    with subprocess.Popen(
        [sys.executable, '-m', 'one_async.testing', *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        try:
            if not line:
                pytest.fail(f'the CLI printed nothing: {process.communicate()[1][-2000:]}')
            yield json.loads(line)
        finally:
            process.send_signal(stop)
            _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err[-2000:]


@pytest.mark.parametrize('stop', [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_an_alf_folder_until_interrupted(tmp_path: Path, stop: signal.Signals) -> None:
    root = write_alf_tree(tmp_path / 'alf')
    args = ['--data', str(root), '--min-api-version', '2.9', '--seed', '7']
    with running_cli(args, stop) as info:
        assert list(info) == INFO_KEYS
        assert info['cache_dir'] == str(root)
        creds = {'username': info['username'], 'password': info['password']}
        token = httpx.post(f'{info["base_url"]}/auth-token', data=creds).json()['token']
        headers = {'Authorization': f'Token {token}'}
        cache_info = httpx.get(f'{info["base_url"]}/cache/info/', headers=headers).json()
        assert cache_info['min_api_version'] == '2.9'
        assert cache_info['tables']['sessions']['nrecs'] == 5


def test_cli_generates_demo_data() -> None:
    with running_cli(['--sessions', '3', '--seed', '1']) as info:
        creds = {'username': info['username'], 'password': info['password']}
        token = httpx.post(f'{info["base_url"]}/auth-token', data=creds).json()['token']
        headers = {'Authorization': f'Token {token}'}
        assert httpx.get(f'{info["base_url"]}/sessions', headers=headers).json()['count'] == 3
        assert Path(info['cache_dir']).is_dir()
    assert not Path(info['cache_dir']).exists()  # the demo folder is temporary


def test_cli_rejects_a_missing_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, '-m', 'one_async.testing', '--data', str(tmp_path / 'nope')],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert 'not a folder' in result.stderr
    assert result.stdout == ''


# --- the project's async client --------------------------------------------------------------


@pytest.mark.anyio
async def test_async_client_works_against_the_local_alyx(alyx: LocalAlyx, tmp_path: Path) -> None:
    from one_async.alyx import AsyncAlyxClient, SessionDetail, download_cache_tables

    info = alyx.info
    sessions = alyx.store.table('sessions')
    async with AsyncAlyxClient(
        info.base_url,
        info.username,
        info.password,
        token_dir=tmp_path / 'tokens',
        cache_dir=tmp_path / 'rest',
    ) as client:
        found = await client.rest('sessions', 'list', subject='SWC_001')
        expected = sessions.filter(pl.col('subject') == 'SWC_001').sort(
            'start_time', descending=True
        )
        assert [s['id'] for s in found] == expected['id'].to_list()
        detail = SessionDetail.model_validate(
            await client.rest('sessions', 'read', id=found[0]['id'])
        )
        assert str(detail.id) == found[0]['id']
        ids = [d['url'].rsplit('/', 1)[-1] async for d in client.iter_rest('datasets', limit=4)]
        assert ids == alyx.store.table('datasets')['id'].to_list()
        issued = alyx.app.tokens.issued
        alyx.expire_tokens()
        probes = await client.rest('insertions', 'list')
        assert len(probes) == alyx.store.table('insertions').height
        assert alyx.app.tokens.issued == issued + 1  # the client logged in again
        download = await download_cache_tables(client, tmp_path / 'tables')
        assert download.info.tables['datasets'].nrecs == alyx.store.table('datasets').height
        assert sorted(p.name for p in download.files) == [
            'cache_info.json', 'datasets.pqt', 'sessions.pqt'
        ]  # fmt: skip
        updated = await client.json_field_update('sessions', found[0]['id'], 'json', {'k': 1})
        assert updated['k'] == 1
