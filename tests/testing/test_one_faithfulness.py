"""Faithfulness: the reference client, ONE-api, works unchanged against the local Alyx.

ONE-api 2.9.0 (installed here as ``one``) runs in this process against a server advertising
``min_api_version`` 2.9 (it refuses newer tables); ONE-api 3.6.1 runs in its own interpreter
(``/work/ref361/bin/python``, or ``$ONE361_PYTHON``) against the Alyx 3.6.1 default.  ONE's
parameters (data server URL and credentials) are written in a temporary ``HOME`` through its own
``iblutil`` params files, never in the real home.  Every expectation is derived from the
server's store and the files on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from alyx_app_support import build_store, session_path, write_alf_tree

from one_async.testing.alyx.app import AlyxConfig
from one_async.testing.faults import FaultPlan, Faults
from one_async.testing.server import ConnectionInfo, LocalAlyx

one_api = pytest.importorskip('one.api')
one_params = pytest.importorskip('one.params')
iopar = pytest.importorskip('iblutil.io.params')

ONE361_PYTHON = Path(os.environ.get('ONE361_PYTHON', '/work/ref361/bin/python'))

pytestmark = [
    # ONE 2.9.0 and its pandas calls emit these on current pandas/numpy; they are ONE's, not ours.
    pytest.mark.filterwarnings('ignore::FutureWarning'),
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]


def write_one_params(info: ConnectionInfo, cache_dir: Path, *, with_password: bool) -> None:
    """Write ONE's parameter files for this server in the current (temporary) HOME."""
    key = one_params._key_from_url(info.base_url)
    params = info.one_params()
    if with_password:  # ONE only re-authenticates by itself with a stored password
        params['ALYX_PWD'] = info.password
    iopar.write(f'one/{key}', params)
    iopar.write('one/caches', {'CLIENT_MAP': {key: str(cache_dir)}, 'DEFAULT': key})


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    return write_alf_tree(tmp_path / 'server_data')


@pytest.fixture
def alyx29(data_root: Path) -> Iterator[LocalAlyx]:
    config = AlyxConfig(min_api_version='2.9')
    with LocalAlyx(build_store(data_root), data_root, config=config) as server:
        yield server


@pytest.fixture
def one29(alyx29: LocalAlyx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    cache_dir = tmp_path / 'one_cache'
    cache_dir.mkdir()
    info = alyx29.info
    write_one_params(info, cache_dir, with_password=True)
    one = one_api.ONE(
        base_url=info.base_url,
        username=info.username,
        password=info.password,
        silent=True,
        cache_dir=cache_dir,
    )
    yield one
    one_api.ONE.cache_clear()


def sessions(alyx: LocalAlyx) -> pl.DataFrame:
    return alyx.store.table('sessions').sort('start_time', descending=True)


def eids_where(alyx: LocalAlyx, predicate: pl.Expr) -> list[str]:
    return list(sessions(alyx).filter(predicate)['id'])


def session_folder(alyx: LocalAlyx, eid: str) -> Path:
    row = alyx.store.table('sessions').filter(pl.col('id') == eid).row(0, named=True)
    day = row['start_time'].strftime('%Y-%m-%d')
    return session_path(alyx.data_dir, row['lab'], row['subject'], day, row['number'])


def on_server(alyx: LocalAlyx) -> pl.DataFrame:
    """Datasets with an existing file on a server repository (those Alyx lists in sessions)."""
    repos = alyx.store.table('data_repositories').filter(~pl.col('globus_is_personal'))
    records = alyx.store.table('file_records').filter(
        pl.col('exists') & pl.col('data_repository').is_in(repos['name'].implode())
    )
    return alyx.store.table('datasets').filter(pl.col('id').is_in(records['dataset'].implode()))


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- ONE-api 2.9.0 ---------------------------------------------------------------------------


def test_one29_loads_the_cache_tables_from_cache_info(one29: Any, alyx29: LocalAlyx) -> None:
    cache = one29._cache
    assert sorted(cache['sessions'].index) == sorted(alyx29.store.table('sessions')['id'])
    datasets = alyx29.store.table('datasets')
    pairs = sorted(zip(datasets['session'], datasets['id'], strict=True))
    assert sorted(cache['datasets'].index) == pairs
    assert cache['_meta']['raw']['datasets']['min_api_version'] == '2.9'
    row = datasets.filter(pl.col('revision') != '').row(0, named=True)
    cached = cache['datasets'].loc[(row['session'], row['id'])]
    assert cached['rel_path'] == f'alf/#{row["revision"]}#/{row["name"]}'
    assert cached['hash'] == row['hash']
    assert cached['file_size'] == row['file_size']
    assert str(cached['qc']) == {0: 'NOT_SET', 10: 'PASS', 30: 'WARNING', 40: 'FAIL',
                                 50: 'CRITICAL'}[row['qc']]  # fmt: skip
    assert (Path(one29.cache_dir) / 'sessions.pqt').exists()
    alyx29.store.update('sessions', row['session'], {'task_protocol': 'changed'})
    # Tables made a minute later than those loaded are newer: ONE downloads them again.
    alyx29.store.modified += timedelta(minutes=2)
    one29.load_cache(clobber=True)
    assert one29._cache['sessions'].loc[row['session'], 'task_protocol'] == 'changed'


def test_one29_refuses_tables_above_its_version(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalAlyx(build_store(data_root), data_root) as server:  # Alyx 3.6.1's 2.10
        monkeypatch.setenv('HOME', str(tmp_path / 'home'))
        cache_dir = tmp_path / 'cache'
        cache_dir.mkdir(parents=True)
        (tmp_path / 'home').mkdir()
        write_one_params(server.info, cache_dir, with_password=False)
        with pytest.warns(UserWarning, match='Newer cache tables require ONE version'):
            one = one_api.ONE(
                base_url=server.info.base_url,
                username=server.info.username,
                password=server.info.password,
                silent=True,
                cache_dir=cache_dir,
            )
        assert one._cache['sessions'].empty
        one_api.ONE.cache_clear()


@pytest.mark.parametrize(
    ('query', 'predicate'),
    [
        ({'subject': 'swc_001'}, pl.col('subject') == 'SWC_001'),
        ({'lab': 'cortexlab'}, pl.col('lab') == 'cortexlab'),
        ({'date_range': ['2024-01-02', '2024-01-03']},
         pl.col('start_time').dt.date().is_between(pl.date(2024, 1, 2), pl.date(2024, 1, 3))),
        ({'number': 2}, pl.col('number') == 2),
        ({'task_protocol': 'ephys'}, pl.col('task_protocol').str.contains('ephys')),
        ({'projects': 'test_project'}, pl.col('projects').list.contains('test_project')),
        ({'subject': 'SWC_001', 'task_protocol': 'training'},
         (pl.col('subject') == 'SWC_001') & pl.col('task_protocol').str.contains('training')),
        ({'performance_gte': 80},
         (100 * pl.col('n_correct_trials') / pl.col('n_trials') >= 80).fill_null(False)),
    ],
)  # fmt: skip
def test_one29_remote_search(
    one29: Any, alyx29: LocalAlyx, query: dict[str, Any], predicate: pl.Expr
) -> None:
    eids = one29.search(query_type='remote', **query)
    assert list(eids) == eids_where(alyx29, predicate)


def test_one29_remote_search_on_datasets(one29: Any, alyx29: LocalAlyx) -> None:
    datasets = alyx29.store.table('datasets')
    with_spikes = set(datasets.filter(pl.col('name').str.contains('spikes'))['session'])
    found = one29.search(query_type='remote', dataset='spikes')
    assert set(found) == with_spikes
    names = ['spikes.times.npy', 'clusters.amps.npy']
    found = one29.search(query_type='remote', datasets=names)
    wanted = set(datasets.filter(pl.col('name') == names[0])['session']) & set(
        datasets.filter(pl.col('name') == names[1])['session']
    )
    # Alyx's datasets filter also requires QC <= FAIL and an existing file on a server.
    passing = datasets.filter(pl.col('qc') <= 40)
    both = set(passing.filter(pl.col('name') == names[0])['session']) & set(
        passing.filter(pl.col('name') == names[1])['session']
    )
    assert set(found) == both
    assert both <= wanted
    eids, details = one29.search(query_type='remote', subject='KS005', details=True)
    assert [d['date'].isoformat() for d in details] == ['2024-01-04']
    assert list(eids) == eids_where(alyx29, pl.col('subject') == 'KS005')


def test_one29_remote_list_datasets(one29: Any, alyx29: LocalAlyx) -> None:
    listed = on_server(alyx29)
    assert listed.height == alyx29.store.table('datasets').height - 1
    for eid in alyx29.store.table('sessions')['id']:
        # ONE lists the default revision of datasets of QC up to FAIL (not CRITICAL ones).
        rows = listed.filter(
            (pl.col('session') == eid) & (pl.col('qc') <= 40) & pl.col('default_dataset')
        )
        expected = sorted(
            '/'.join(p for p in (r['collection'], f'#{r["revision"]}#' if r['revision'] else '',
                                 r['name']) if p)
            for r in rows.iter_rows(named=True)
        )  # fmt: skip
        assert one29.list_datasets(eid, query_type='remote') == expected
    eid = eids_where(alyx29, pl.col('subject') == 'SWC_002')[0]
    probes = one29.list_datasets(eid, collection='alf/probe01', query_type='remote')
    rows = listed.filter((pl.col('session') == eid) & (pl.col('collection') == 'alf/probe01'))
    assert probes == sorted(f'alf/probe01/{n}' for n in rows.filter(pl.col('qc') <= 40)['name'])
    everything = one29.list_datasets(eid, collection='alf/probe01', qc='CRITICAL',
                                     query_type='remote')  # fmt: skip
    assert everything == sorted(f'alf/probe01/{n}' for n in rows['name'])


def test_one29_load_dataset_remote_downloads_and_verifies(one29: Any, alyx29: LocalAlyx) -> None:
    eid = eids_where(alyx29, pl.col('subject') == 'SWC_002')[0]
    folder = session_folder(alyx29, eid)
    data = one29.load_dataset(eid, 'spikes.times.npy', collection='alf/probe00',
                              query_type='remote')  # fmt: skip
    np.testing.assert_array_equal(data, np.load(folder / 'alf' / 'probe00' / 'spikes.times.npy'))
    local = Path(one29.cache_dir).joinpath(
        folder.relative_to(alyx29.data_dir), 'alf', 'probe00', 'spikes.times.npy'
    )
    assert local.exists()
    record = alyx29.store.table('datasets').filter(
        (pl.col('session') == eid) & (pl.col('name') == 'spikes.times.npy')
        & (pl.col('collection') == 'alf/probe00')
    ).row(0, named=True)  # fmt: skip
    assert md5(local) == record['hash']
    table = one29.load_dataset(eid, '_ibl_trials.table.pqt', query_type='remote')
    expected = pl.read_parquet(folder / 'alf' / '_ibl_trials.table.pqt')
    np.testing.assert_array_equal(table['choice'].to_numpy(), expected['choice'].to_numpy())


def test_one29_load_dataset_from_cache_tables(one29: Any, alyx29: LocalAlyx) -> None:
    eid = eids_where(alyx29, pl.col('subject') == 'KS005')[0]
    folder = session_folder(alyx29, eid)
    position = one29.load_dataset(eid, '_ibl_wheel.position.npy')  # auto mode: cache tables
    np.testing.assert_array_equal(position, np.load(folder / 'alf' / '_ibl_wheel.position.npy'))
    revised_eid = eids_where(alyx29, (pl.col('subject') == 'SWC_001') & (pl.col('number') == 2))[0]
    # The default revision is the last one; ONE 2.9 cannot pick a revision by name when a
    # dataset has several (it raises ALFMultipleRevisionsFound whatever the server).
    revised = one29.load_dataset(revised_eid, '_ibl_trials.intervals.npy')
    expected = np.load(session_folder(alyx29, revised_eid) / 'alf' / '#2024-02-01#'
                       / '_ibl_trials.intervals.npy')  # fmt: skip
    np.testing.assert_array_equal(revised, expected)


def test_one29_load_object_remote(one29: Any, alyx29: LocalAlyx) -> None:
    eid = eids_where(alyx29, pl.col('subject') == 'SWC_002')[0]
    folder = session_folder(alyx29, eid)
    wheel = one29.load_object(eid, 'wheel', query_type='remote')
    assert set(wheel) == {'position', 'timestamps'}
    for attribute in wheel:
        np.testing.assert_array_equal(
            wheel[attribute], np.load(folder / 'alf' / f'_ibl_wheel.{attribute}.npy')
        )
    spikes = one29.load_object(eid, 'spikes', collection='alf/probe01')
    np.testing.assert_array_equal(
        spikes['clusters'], np.load(folder / 'alf' / 'probe01' / 'spikes.clusters.npy')
    )


def test_one29_insertions(one29: Any, alyx29: LocalAlyx) -> None:
    probes = alyx29.store.table('insertions')
    pids = one29.search_insertions(query_type='remote')
    assert sorted(pids) == sorted(probes['id'])
    named = one29.search_insertions(name='probe01')
    assert list(named) == list(probes.filter(pl.col('name') == 'probe01')['id'])
    eid = eids_where(alyx29, pl.col('subject') == 'SWC_002')[0]
    by_session = probes.filter(pl.col('session') == eid)
    found = one29.search_insertions(session=eid, dataset='spikes.times')
    assert sorted(found) == sorted(by_session['id'])
    for row in probes.iter_rows(named=True):
        assert one29.pid2eid(row['id']) == (row['session'], row['name'])
    pids, labels = one29.eid2pid(eid)
    assert sorted(zip(pids, labels, strict=True)) == sorted(
        zip(by_session['id'], by_session['name'], strict=True)
    )


def test_one29_reauthenticates_when_its_token_expires(one29: Any, alyx29: LocalAlyx) -> None:
    issued = alyx29.app.tokens.issued
    alyx29.expire_tokens()
    eids = one29.search(query_type='remote', lab='testlab')
    assert list(eids) == eids_where(alyx29, pl.col('lab') == 'testlab')
    assert alyx29.app.tokens.issued == issued + 1


def test_one29_redownloads_a_corrupted_file(one29: Any, alyx29: LocalAlyx) -> None:
    eid = eids_where(alyx29, pl.col('subject') == 'SWC_002')[0]
    original = session_folder(alyx29, eid) / 'alf' / 'probe00' / 'spikes.clusters.npy'
    alyx29.data_faults.faults = Faults(seed=3, default=FaultPlan(corrupt_rate=1.0))
    local = Path(one29.load_dataset(eid, 'spikes.clusters.npy', collection='alf/probe00',
                                    query_type='remote', download_only=True))  # fmt: skip
    assert alyx29.data_faults.stats['corrupt'] >= 1
    assert md5(local) != md5(original)
    alyx29.data_faults.faults = Faults()
    # ONE checks the md5 of the local file against the record and downloads it again.
    data = one29.load_dataset(eid, 'spikes.clusters.npy', collection='alf/probe00')
    np.testing.assert_array_equal(data, np.load(original))
    assert md5(local) == md5(original)


def test_one29_tags_a_mismatched_file_record(one29: Any, alyx29: LocalAlyx) -> None:
    """ONE flags a file whose download mismatches through /files list and partial_update."""
    datasets = alyx29.store.table('datasets')
    did = datasets.filter(pl.col('name') == '_ibl_trials.intervals.npy')['id'][0]
    url = f'{alyx29.info.data_server_url}/lab/Subjects/s/2024-01-01/001/alf/x.{did}.npy'
    one29._tag_mismatched_file_record(url)
    records = alyx29.store.table('file_records').filter(pl.col('dataset') == did)
    server = records.filter(pl.col('data_repository') != 'laptop')
    assert [json.loads(j) for j in server['json']] == [{'mismatch_hash': True}]
    assert records.filter(pl.col('data_repository') == 'laptop')['json'].to_list() == [None]


# --- ONE-api 3.6.1 ---------------------------------------------------------------------------

_ONE361_SCRIPT = textwrap.dedent(
    """
    import json, sys, hashlib
    from pathlib import Path
    import numpy as np
    from iblutil.io import params as iopar
    import one.params
    from one.api import ONE

    args = json.loads(sys.argv[1])
    key = one.params._key_from_url(args['base_url'])
    iopar.write(f'one/{key}', args['params'])
    iopar.write('one/caches', {'CLIENT_MAP': {key: args['cache_dir']}, 'DEFAULT': key})
    one = ONE(base_url=args['base_url'], username=args['username'],
              password=args['password'], silent=True, cache_dir=args['cache_dir'])
    out = {'loaded': str(one.load_cache(clobber=True))}
    out['min_api_version'] = one._cache['_meta']['raw']['datasets'].get('min_api_version')
    out['cache_sessions'] = sorted(map(str, one._cache['sessions'].index))
    out['cache_datasets'] = sorted([str(e), str(d)] for e, d in one._cache['datasets'].index)
    out['search_subject'] = [str(e) for e in one.search(subject='SWC_001', query_type='remote')]
    out['search_datasets'] = sorted(map(str, one.search(datasets='spikes.times.npy',
                                                       query_type='remote')))
    eid = args['eid']
    out['list_datasets'] = [str(d) for d in one.list_datasets(eid, query_type='remote')]
    data = one.load_dataset(eid, 'spikes.times.npy', collection='alf/probe00',
                            query_type='remote')
    out['spikes_times_sum'] = float(np.sum(data))
    wheel = one.load_object(eid, 'wheel')
    out['wheel'] = {k: float(np.sum(v)) for k, v in wheel.items()}
    out['insertions'] = sorted(map(str, one.search_insertions(query_type='remote')))
    out['pid2eid'] = [str(x) for x in one.pid2eid(args['pid'])]
    out['eid2pid'] = [[str(y) for y in x] for x in one.eid2pid(eid)]
    out['endpoints'] = one.alyx.list_endpoints()
    print(json.dumps(out, default=str))
    """
)


@pytest.mark.skipif(
    not ONE361_PYTHON.exists(), reason=f'ONE-api 3.6.1 interpreter not found at {ONE361_PYTHON}'
)
def test_one361_against_the_alyx_3_6_1_defaults(data_root: Path, tmp_path: Path) -> None:
    home = tmp_path / 'home361'
    home.mkdir()
    cache_dir = tmp_path / 'cache361'
    cache_dir.mkdir()
    with LocalAlyx(build_store(data_root), data_root) as server:
        info = server.info
        store = server.store
        eid = store.table('sessions').filter(pl.col('subject') == 'SWC_002')['id'][0]
        pid = store.table('insertions')['id'][0]
        args = {
            'base_url': info.base_url,
            'username': info.username,
            'password': info.password,
            'cache_dir': str(cache_dir),
            'params': info.one_params(),
            'eid': eid,
            'pid': pid,
        }
        env = {**os.environ, 'HOME': str(home)}
        env.pop('PYTHONPATH', None)
        result = subprocess.run(
            [str(ONE361_PYTHON), '-c', _ONE361_SCRIPT, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout.strip().splitlines()[-1])
    sessions_frame = store.table('sessions').sort('start_time', descending=True)
    datasets = store.table('datasets')
    assert out['min_api_version'] == '2.10'
    assert out['cache_sessions'] == sorted(sessions_frame['id'])
    assert out['cache_datasets'] == sorted(map(list, zip(datasets['session'], datasets['id'],
                                                         strict=True)))  # fmt: skip
    assert out['search_subject'] == list(
        sessions_frame.filter(pl.col('subject') == 'SWC_001')['id']
    )
    spikes = datasets.filter((pl.col('name') == 'spikes.times.npy') & (pl.col('qc') <= 40))
    assert out['search_datasets'] == sorted(set(spikes['session']))
    assert out['search_datasets']
    folder = data_root / 'testlab' / 'Subjects' / 'SWC_002' / '2024-01-03' / '001' / 'alf'
    rows = datasets.filter((pl.col('session') == eid) & (pl.col('qc') <= 40))
    assert sorted(out['list_datasets']) == sorted(
        f'{r["collection"]}/{r["name"]}' for r in rows.iter_rows(named=True)
    )
    assert out['spikes_times_sum'] == pytest.approx(
        float(np.load(folder / 'probe00' / 'spikes.times.npy').sum())
    )
    assert out['wheel'] == pytest.approx(
        {k: float(np.load(folder / f'_ibl_wheel.{k}.npy').sum()) for k in out['wheel']}
    )
    assert set(out['wheel']) == {'position', 'timestamps'}
    probes = store.table('insertions')
    assert out['insertions'] == sorted(probes['id'])
    row = probes.filter(pl.col('id') == pid).row(0, named=True)
    assert out['pid2eid'] == [row['session'], row['name']]
    mine = probes.filter(pl.col('session') == eid)
    assert sorted(zip(*out['eid2pid'], strict=True)) == sorted(
        zip(mine['id'], mine['name'], strict=True)
    )
    assert {'sessions', 'datasets', 'insertions', 'files'} <= set(out['endpoints'])
