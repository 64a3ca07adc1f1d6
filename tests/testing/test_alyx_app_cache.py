"""``cache/info`` and ``cache.zip``: Alyx 3.6.1's layout, consistent with the REST records.

The layout is compared with the ``cache.zip`` of a real Alyx 3.6.1 server; the contents with the
store (and, for generated data, with the generator's own cache tables).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pyarrow.parquet as pq
import pytest
from alyx_app_support import build_store, write_alf_tree

from one_async.testing.alyx.app import AlyxConfig
from one_async.testing.alyx.cache_tables import canonical_tables
from one_async.testing.alyx.store import AlyxStore
from one_async.testing.generate import generate
from one_async.testing.server import LocalAlyx

FIXTURES = Path(__file__).parents[1] / 'fixtures' / 'alyx_3_6_1'
QC = {0: 'NOT_SET', 10: 'PASS', 30: 'WARNING', 40: 'FAIL', 50: 'CRITICAL'}


def login(info_base: str, username: str, password: str) -> httpx.Client:
    token = httpx.post(
        f'{info_base}/auth-token', data={'username': username, 'password': password}
    ).json()['token']
    return httpx.Client(base_url=info_base, headers={'Authorization': f'Token {token}'})


@pytest.fixture
def alyx(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LocalAlyx]:
    version = getattr(request, 'param', '2.10')
    root = write_alf_tree(tmp_path / 'alf')
    config = AlyxConfig(min_api_version=version)
    with LocalAlyx(build_store(root), root, config=config) as server:
        yield server


@pytest.fixture
def client(alyx: LocalAlyx) -> Iterator[httpx.Client]:
    info = alyx.info
    with login(info.base_url, info.username, info.password) as http:
        yield http


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def parquet(data: bytes) -> pq.ParquetFile:
    return pq.ParquetFile(io.BytesIO(data))


def test_cache_zip_has_alyx_3_6_1_layout(client: httpx.Client) -> None:
    response = client.get('/cache.zip')
    assert response.status_code == 200
    assert response.headers['content-type'] == 'application/zip'
    status = (FIXTURES / 'cache_zip_status.txt').read_text()
    assert 'application/zip' in status
    ours, real = unzip(response.content), unzip((FIXTURES / 'cache.zip').read_bytes())
    assert set(ours) == set(real) == {'sessions.pqt', 'datasets.pqt', 'cache_info.json'}
    for name in ('sessions.pqt', 'datasets.pqt'):
        mine, theirs = parquet(ours[name]).schema_arrow, parquet(real[name]).schema_arrow
        assert mine.names == theirs.names
        assert [str(t) for t in mine.types] == [str(t) for t in theirs.types]
        ours_pandas = json.loads(mine.metadata[b'pandas'])
        real_pandas = json.loads(theirs.metadata[b'pandas'])
        assert ours_pandas['index_columns'] == real_pandas['index_columns']
        assert [c['pandas_type'] for c in ours_pandas['columns']] == [
            c['pandas_type'] for c in real_pandas['columns']
        ]
        meta = json.loads(mine.metadata[b'one_metadata'])
        assert list(meta) == list(json.loads(theirs.metadata[b'one_metadata']))
        assert meta['min_api_version'] == '2.10'
    qc = parquet(ours['datasets.pqt']).read().column('qc').chunk(0)
    assert qc.type.ordered
    assert qc.dictionary.to_pylist() == ['NOT_SET', 'PASS', 'WARNING', 'FAIL', 'CRITICAL']


def test_cache_info_like_alyx_and_matching_the_zip(client: httpx.Client) -> None:
    info = client.get('/cache/info/').json()
    real = json.loads((FIXTURES / 'cache_info.json').read_text())
    assert list(info) == list(real)
    assert list(info['tables']) == list(real['tables'])
    files = unzip(client.get('/cache.zip').content)
    assert json.loads(files['cache_info.json']) == info
    for name, table in info['tables'].items():
        metadata = parquet(files[f'{name}.pqt']).metadata
        assert table == {'nrecs': metadata.num_rows, 'size': metadata.serialized_size}
    assert info['min_api_version'] == '2.10'
    assert info['origin'] == 'alyx'


def test_cache_tables_match_the_rest_records(client: httpx.Client, alyx: LocalAlyx) -> None:
    files = unzip(client.get('/cache.zip').content)
    sessions = pl.from_arrow(parquet(files['sessions.pqt']).read())
    datasets = pl.from_arrow(parquet(files['datasets.pqt']).read())
    assert isinstance(sessions, pl.DataFrame)
    assert isinstance(datasets, pl.DataFrame)
    rest = {s['id']: s for s in client.get('/sessions').json()['results']}
    assert set(sessions['id']) == set(rest)
    for row in sessions.iter_rows(named=True):
        record = rest[row['id']]
        assert (row['lab'], row['subject'], row['number']) == (
            record['lab'], record['subject'], record['number']
        )  # fmt: skip
        assert row['date'].isoformat() == record['start_time'][:10]
        assert row['projects'] == ','.join(record['projects'])
        assert row['task_protocol'] == record['task_protocol']
    listing = client.get('/datasets', params={'limit': 1000}).json()['results']
    by_id = {d['url'].rsplit('/', 1)[-1]: d for d in listing}
    assert set(datasets['id']) == set(by_id)
    for row in datasets.iter_rows(named=True):
        record = by_id[row['id']]
        assert row['eid'] == record['session'].rsplit('/', 1)[-1]
        assert (row['file_size'], row['hash']) == (record['file_size'], record['hash'])
        assert row['qc'] == record['qc']
        assert row['default_revision'] == record['default_dataset']
        server = [r for r in record['file_records'] if r['data_repository'] != 'laptop']
        assert row['exists'] == any(r['exists'] for r in server)
        assert server[0]['relative_path'].endswith('/' + row['rel_path'])


@pytest.mark.parametrize('alyx', ['2.9'], indirect=True)
def test_tables_for_one_2_9_carry_session_paths(client: httpx.Client, alyx: LocalAlyx) -> None:
    info = client.get('/cache/info/').json()
    assert info['min_api_version'] == '2.9'
    files = unzip(client.get('/cache.zip').content)
    datasets = parquet(files['datasets.pqt']).read()
    assert 'session_path' in datasets.column_names
    sessions = {s['id']: s for s in alyx.store.table('sessions').to_dicts()}
    for eid, path in zip(datasets.column('eid').to_pylist(),
                         datasets.column('session_path').to_pylist(), strict=True):  # fmt: skip
        s = sessions[eid]
        assert path == f'{s["lab"]}/Subjects/{s["subject"]}/{s["start_time"]:%Y-%m-%d}/' + (
            f'{s["number"]:03d}'
        )
    meta = json.loads(datasets.schema.metadata[b'one_metadata'])
    assert meta['min_api_version'] == '2.9'


def test_tagged_cache(client: httpx.Client, alyx: LocalAlyx) -> None:
    info = client.get('/cache/info/2024_Q1_release/').json()
    assert info['database_tags'] == ['2024_Q1_release']
    assert info['location'] == f'{client.base_url}/cache/2024_Q1_release.zip'
    assert client.get('/cache/info/2024_Q1_release').json() == info
    files = unzip(client.get(info['location']).content)
    datasets = parquet(files['datasets.pqt']).read()
    tagged = alyx.store.table('datasets').filter(pl.col('tags').list.contains('2024_Q1_release'))
    assert sorted(datasets.column('id').to_pylist()) == sorted(tagged['id'])
    sessions = parquet(files['sessions.pqt']).read()
    assert sorted(sessions.column('id').to_pylist()) == sorted(set(tagged['session']))
    meta = json.loads(datasets.schema.metadata[b'one_metadata'])
    assert meta['database_tags'] == ['2024_Q1_release']
    assert client.get('/cache/info/nothing/').status_code == 404


def test_cache_follows_changes(client: httpx.Client, alyx: LocalAlyx) -> None:
    before = unzip(client.get('/cache.zip').content)
    did = str(alyx.store.table('datasets')['id'][0])
    client.patch(f'/datasets/{did}', json={'qc': 'CRITICAL'})
    after = unzip(client.get('/cache.zip').content)
    assert after['datasets.pqt'] != before['datasets.pqt']
    table = pl.from_arrow(parquet(after['datasets.pqt']).read())
    assert isinstance(table, pl.DataFrame)
    assert table.filter(pl.col('id') == did)['qc'].cast(pl.String)[0] == 'CRITICAL'


def test_generated_store_tables_equal_the_generator_tables() -> None:
    """The server's cache tables of generated data are the generator's own cache tables."""
    data = generate(40, seed=5)
    sessions, datasets = canonical_tables(AlyxStore.from_generated(data).snapshot()[1])
    expected_sessions = data.cache_sessions()
    expected_datasets = data.cache_datasets()
    assert sessions.sort('id').equals(expected_sessions.select(sessions.columns))
    ours = datasets.sort('eid', 'id')
    assert ours.columns == list(expected_datasets.columns)
    assert ours.equals(expected_datasets)
