"""Saving cache tables: round trips, ONE compatibility, atomicity, concurrent processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest
from cache_support import assert_same_values, one_tables

from one_async.cache import CacheTables, cache_lock
from one_async.cache.metadata import parse_timestamp
from one_async.exceptions import CacheLockError, CacheTableError, InvalidArgument
from one_async.testing.generate import SyntheticData, generate


@pytest.fixture(scope='module')
def data() -> SyntheticData:
    return generate(20, seed=5)


def _parts(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith('.part')]


def test_nothing_saved_unless_modified(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob('*.pqt')}
    tables = CacheTables.open(tmp_path)
    assert tables.save() == []
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob('*.pqt')} == before
    assert tables.meta.saved_time is None
    written = tables.save(force=True)
    assert sorted(p.name for p in written) == ['datasets.pqt', 'sessions.pqt']
    assert tables.meta.saved_time is not None


def test_save_round_trip_readable_by_one(tmp_path: Path, data: SyntheticData) -> None:
    data.head(10).write_tables(tmp_path, layout='legacy')
    tables = CacheTables.open(tmp_path)
    rest = data.subset(data.sessions['id'].tail(10).to_list())
    tables.update(sessions=rest.cache_sessions(), datasets=rest.cache_datasets())
    written = tables.save()
    assert sorted(p.name for p in written) == ['datasets.pqt', 'sessions.pqt']
    assert _parts(tmp_path) == []
    assert tables.save() == []  # saved: nothing left to write
    reopened = CacheTables.open(tmp_path)
    assert reopened.frame('sessions').equals(tables.frame('sessions'))
    assert reopened.frame('datasets').equals(tables.frame('datasets'))
    assert reopened.frame('sessions').height == data.sessions.height
    raw = reopened.meta.raw['datasets']
    assert parse_timestamp(raw['date_modified']) <= parse_timestamp(raw['date_modified'])
    assert raw['origin'] == 'one_async_test'  # the metadata of the loaded table is kept
    # ONE-api 2.9.0 reads the saved tables with the same values
    sessions, datasets = one_tables(tmp_path)
    assert_same_values(reopened.frame('sessions'), sessions, ['id'])
    assert_same_values(reopened.frame('datasets'), datasets, ['eid', 'id'])


def test_save_new_tables_to_another_dir(tmp_path: Path, data: SyntheticData) -> None:
    tables = CacheTables.empty()
    tables.update(sessions=data.cache_sessions(), datasets=data.cache_datasets())
    with pytest.raises(InvalidArgument):
        tables.save()
    tables.save(tmp_path / 'out')
    reopened = CacheTables.open(tmp_path / 'out')
    assert reopened.frame('datasets').equals(data.cache_datasets())
    assert 'date_created' in reopened.meta.raw['sessions']


def test_failed_write_leaves_previous_table(
    tmp_path: Path, data: SyntheticData, monkeypatch: pytest.MonkeyPatch
) -> None:
    data.write_tables(tmp_path)
    original = (tmp_path / 'datasets.pqt').read_bytes()
    tables = CacheTables.open(tmp_path)
    row = data.cache_datasets().head(1).with_columns(pl.lit(False).alias('exists'))
    tables.update(datasets=row)

    def broken(table: object, where: object, **kwargs: object) -> None:
        assert hasattr(where, 'write')
        where.write(b'PAR1 half a table')  # type: ignore[attr-defined]
        raise OSError('No space left on device')

    monkeypatch.setattr('one_async.cache.parquet.pq.write_table', broken)
    with pytest.raises(CacheTableError, match='No space left'):
        tables.save()
    assert (tmp_path / 'datasets.pqt').read_bytes() == original
    assert _parts(tmp_path) == []
    monkeypatch.undo()
    tables.save()
    saved = CacheTables.open(tmp_path).session_datasets(row['eid'][0])
    assert saved.filter(pl.col('id') == row['id'][0])['exists'].to_list() == [False]


def test_lock_timeout(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    tables = CacheTables.open(tmp_path)
    tables.update(sessions=data.cache_sessions().head(1))
    with cache_lock(tmp_path), pytest.raises(CacheLockError, match=r'one_async\.lock'):
        tables.save(lock_timeout=0.2)
    assert tables.save() == [tmp_path / 'sessions.pqt']


def test_merge_with_a_table_saved_by_someone_else(tmp_path: Path, data: SyntheticData) -> None:
    data.head(5).write_tables(tmp_path)
    first, second = CacheTables.open(tmp_path), CacheTables.open(tmp_path)
    a = data.subset(data.sessions['id'][5:10].to_list())
    b = data.subset(data.sessions['id'][10:15].to_list())
    first.update(sessions=a.cache_sessions(), datasets=a.cache_datasets())
    first.save()
    changed = data.head(5).cache_sessions().head(1).with_columns(projects=pl.lit('changed'))
    second.update(sessions=pl.concat([b.cache_sessions(), changed]), datasets=b.cache_datasets())
    second.save()
    final = CacheTables.open(tmp_path)
    expected = data.head(15).cache_sessions()
    expected = expected.with_columns(
        pl.when(pl.col('id') == changed['id'][0])
        .then(pl.lit('changed'))
        .otherwise(pl.col('projects'))
        .alias('projects')
    )
    assert final.frame('sessions').equals(expected)
    assert final.frame('datasets').equals(data.head(15).cache_datasets())
    assert second.frame('sessions').equals(expected)  # the saver now holds the merged table


@pytest.mark.anyio
async def test_asave(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    tables = CacheTables.open(tmp_path)
    await tables.aupdate(sessions=data.cache_sessions().head(2).with_columns(projects=pl.lit('')))
    assert await tables.asave() == [tmp_path / 'sessions.pqt']
    reopened = CacheTables.open(tmp_path)
    assert reopened.frame('sessions')['projects'].head(2).to_list() == ['', '']


_WRITER = textwrap.dedent(
    """
    import sys
    import polars as pl
    from one_async.cache import CacheTables
    from one_async.testing.generate import generate

    tables_dir, worker, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = generate(3 * rounds, seed=1000 + worker)
    tables = CacheTables.open(tables_dir)
    eids = data.sessions['id'].to_list()
    for r in range(rounds):
        part = data.subset(eids[3 * r : 3 * r + 3])
        tables.update(sessions=part.cache_sessions(), datasets=part.cache_datasets())
        assert tables.save(lock_timeout=60), 'nothing saved'
    """
)

_READER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from one_async.cache import CacheTables

    tables_dir, stop = Path(sys.argv[1]), Path(sys.argv[2])
    reads = 0
    while not stop.exists() or reads == 0:
        tables = CacheTables.open(tables_dir)
        sessions, datasets = tables.frame('sessions'), tables.frame('datasets')
        assert sessions['id'].is_unique().all() and sessions.height >= 5
        assert datasets.select('eid', 'id').is_unique().all()
        reads += 1
    print(reads)
    """
)


def test_concurrent_processes_never_corrupt_or_lose_records(
    tmp_path: Path, data: SyntheticData
) -> None:
    data.head(5).write_tables(tmp_path)
    stop = tmp_path / 'stop'
    env = {**os.environ, 'PYTHONWARNINGS': 'error'}
    command = [sys.executable, '-W', 'error', '-c']
    reader = subprocess.Popen(
        [*command, _READER, str(tmp_path), str(stop)], env=env, stdout=subprocess.PIPE, text=True
    )
    rounds, n_workers = 4, 3
    writers = [
        subprocess.Popen([*command, _WRITER, str(tmp_path), str(i), str(rounds)], env=env)
        for i in range(n_workers)
    ]
    try:
        codes = [w.wait(timeout=300) for w in writers]
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=300)
    assert codes == [0] * n_workers
    assert reader.returncode == 0
    assert int(out) > 0
    assert _parts(tmp_path) == []
    final = CacheTables.open(tmp_path)
    expected_sessions = [data.head(5).cache_sessions()]
    expected_datasets = [data.head(5).cache_datasets()]
    for i in range(n_workers):
        worker = generate(3 * rounds, seed=1000 + i)
        expected_sessions.append(worker.cache_sessions())
        expected_datasets.append(worker.cache_datasets())
    assert final.frame('sessions').equals(pl.concat(expected_sessions).sort('id'))
    assert final.frame('datasets').equals(pl.concat(expected_datasets).sort('eid', 'id'))
