"""Inserting and updating records, compared with ONE 2.9.0's ``_update_cache_from_records``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from cache_support import assert_same_values

from one_async.cache import QC_DTYPE, CacheTables
from one_async.exceptions import CacheTableError, InvalidArgument
from one_async.testing.generate import SyntheticData, generate


@pytest.fixture(scope='module')
def data() -> SyntheticData:
    return generate(30, seed=2)


def _one(tables_dir: Path):  # type: ignore[no-untyped-def]
    from one.api import One

    one = One(cache_dir=str(tables_dir), mode='local')
    # ONE 2.9 cannot assign into the read-only categorical arrays pyarrow hands it (ONE 3.x
    # copies them first, "assignment destination is read-only"): do what 3.x does.
    for name in ('sessions', 'datasets'):
        one._cache[name] = one._cache[name].copy()
    return one


def _to_pandas(frame: pl.DataFrame, index: list[str]):  # type: ignore[no-untyped-def]
    out = frame.to_pandas()
    if 'qc' in out:
        out['qc'] = out['qc'].astype(str)
    return out.set_index(index)


def _compare_with_one(ours: CacheTables, one) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    sessions = one._cache['sessions'].reset_index()
    sessions['date'] = pd.to_datetime(sessions['date']).dt.date  # records mix dates and stamps
    sessions['number'] = sessions['number'].astype(int)
    datasets = one._cache['datasets'].reset_index()
    datasets['qc'] = datasets['qc'].astype(str)
    datasets['file_size'] = datasets['file_size'].astype('Float64')
    assert_same_values(ours.frame('sessions'), pl.from_pandas(sessions), ['id'])
    assert_same_values(ours.frame('datasets'), pl.from_pandas(datasets), ['eid', 'id'])


def _edits(data: SyntheticData, other: SyntheticData, n_other: int) -> tuple[pl.DataFrame, ...]:
    """A modified session, new sessions, modified and new datasets of an existing session."""
    changed = (
        data.cache_sessions()
        .head(1)
        .with_columns(
            pl.lit('_iblrig_tasks_changedProtocol1.0.0').alias('task_protocol'),
            pl.lit('proj_a,proj_b').alias('projects'),
        )
    )
    new_sessions = other.cache_sessions().head(n_other)
    sessions = pl.concat([changed, new_sessions])
    eid = data.cache_sessions()['id'][1]
    existing = data.cache_datasets(session_path=True).filter(pl.col('eid') == eid).head(3)
    modified = existing.with_columns(
        pl.lit(12345, dtype=pl.UInt64).alias('file_size'),
        pl.lit('0' * 32).alias('hash'),
        pl.lit('FAIL', dtype=QC_DTYPE).alias('qc'),
    )
    added = other.cache_datasets(session_path=True).head(2).with_columns(pl.lit(eid).alias('eid'))
    new_datasets = other.cache_datasets(session_path=True).filter(
        pl.col('eid').is_in(new_sessions['id'].implode())
    )
    return sessions, pl.concat([modified, added, new_datasets])


@pytest.mark.parametrize('n_other', [2, 80])  # few sessions: spliced; many: re-sorted
def test_update_matches_one(tmp_path: Path, data: SyntheticData, n_other: int) -> None:
    other = generate(n_other, seed=11)
    data.write_tables(tmp_path, layout='one2')
    ours, one = CacheTables.open(tmp_path), _one(tmp_path)
    sessions, datasets = _edits(data, other, n_other)
    assert ours.meta.modified_time is None
    when = ours.update(sessions=sessions, datasets=datasets)
    assert when is not None
    assert ours.meta.modified_time == when
    one._update_cache_from_records(
        sessions=_to_pandas(sessions, ['id']), datasets=_to_pandas(datasets, ['eid', 'id'])
    )
    _compare_with_one(ours, one)
    frame = ours.frame('datasets')
    assert frame.height == data.datasets.height + 2 + datasets.height - 5
    assert frame.select('eid', 'id').equals(frame.select('eid', 'id').sort('eid', 'id'))
    for eid in sessions['id']:
        assert ours.session_datasets(eid).equals(frame.filter(pl.col('eid') == eid))


def test_update_records_as_dicts_and_partial_columns(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path, layout='alyx3')
    ours, one = CacheTables.open(tmp_path), _one(tmp_path)
    record = {
        'id': '11111111-2222-4333-8444-555555555555',
        'lab': 'newlab',
        'subject': 'NEW_001',
        'date': date(2024, 5, 6),
        'number': 2,
        'task_protocol': 'x',
        'projects': '',
        'unknown_column': 1,
    }
    ours.update(sessions=record)
    row = ours.session_datasets(record['id'])
    assert row.is_empty()
    assert ours.frame('sessions').filter(pl.col('id') == record['id'])['lab'].item() == 'newlab'
    partial = data.cache_datasets().head(2).drop('hash', 'file_size')
    ours.update(datasets=partial.to_dicts())
    one._update_cache_from_records(
        sessions=_to_pandas(pl.DataFrame([record]), ['id']).drop(columns='unknown_column'),
        datasets=_to_pandas(partial, ['eid', 'id']),
    )
    _compare_with_one(ours, one)
    updated = ours.frame('datasets').join(partial.select('eid', 'id'), on=['eid', 'id'])
    assert updated['hash'].null_count() == 2  # missing columns are nulled, as ONE does


def test_update_errors(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    tables = CacheTables.open(tmp_path)
    with pytest.raises(InvalidArgument, match='insertions'):
        tables.update(insertions=[{'id': 'x'}])
    with pytest.raises(InvalidArgument, match='missing'):
        tables.update(strict=True, sessions={'id': 'x', 'lab': 'y'})
    with pytest.raises(CacheTableError):
        tables.update(datasets={'eid': 'a', 'id': 'b', 'qc': 'SO_SO'})
    with pytest.raises(CacheTableError):
        tables.update(datasets={'eid': 'a', 'id': 'b', 'file_size': -3})
    assert tables.update(sessions=None, datasets=pl.DataFrame()) is None
    assert tables.meta.modified_time is None
    assert tables.dirty('sessions') is None


def test_update_strict_accepts_exact_columns(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path, layout='alyx3')
    tables = CacheTables.open(tmp_path)
    records = data.cache_datasets().head(3).with_columns(pl.lit(False).alias('exists'))
    tables.update(strict=True, datasets=records.reverse())
    frame = tables.frame('datasets').join(records.select('eid', 'id'), on=['eid', 'id'])
    assert not frame['exists'].any()
    assert tables.dirty('datasets') is not None
    assert tables.dirty('datasets').sort('eid', 'id').equals(records.select('eid', 'id'))


def test_record_loaded_ids(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    tables = CacheTables.open(tmp_path)
    with pytest.warns(Warning, match='No datasets loaded'):
        assert tables.save_loaded_ids() == ([], None)
    picks = data.cache_datasets().filter(
        pl.col('eid').is_in(data.sessions['id'].head(2).implode())
    )
    ids = picks['id'].head(5).to_list() + picks['id'].tail(1).to_list()
    tables.record_loaded(ids)
    tables.record_loaded(ids[:2])
    eids, path = tables.save_loaded_ids(sessions_only=True, clear_list=False)
    assert path is not None
    assert path.name.endswith('_loaded_session_uuids.csv')
    assert eids == sorted(set(picks.filter(pl.col('id').is_in(ids))['eid']))
    assert path.read_text().splitlines() == ['session_uuid', *eids]
    saved, path = tables.save_loaded_ids()
    assert saved == sorted(set(ids))
    assert path is not None
    assert path.read_text().splitlines() == ['dataset_uuid', *sorted(ids)]
    assert tables.loaded_ids == []


def test_session_path_filled_from_sessions(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path, layout='one2')
    tables = CacheTables.open(tmp_path)
    other = generate(2, seed=31)
    records = other.cache_datasets()  # no session_path column
    tables.update(sessions=other.cache_sessions(), datasets=records)
    added = tables.frame('datasets').join(records.select('eid', 'id'), on=['eid', 'id'])
    expected = other.datasets.select('id', 'session_path').sort('id')
    assert added.select('id', 'session_path').sort('id').equals(expected)
