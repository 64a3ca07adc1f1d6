"""Reading cache tables of every layout, compared with what ONE-api 2.9.0 loads."""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cache_support import FIXTURES, ONE_2_9, assert_same_values, one_tables

from one_async.cache import (
    DATASETS_COLUMNS,
    LAYOUTS,
    QC_DTYPE,
    SESSIONS_COLUMNS,
    CacheTables,
    read_cache_info,
)
from one_async.cache.layouts import Layout
from one_async.exceptions import CacheWarning, InvalidArgument
from one_async.testing.generate import SyntheticData, generate


@pytest.fixture(scope='module')
def data() -> SyntheticData:
    return generate(40, seed=7)


def _check_schema(tables: CacheTables) -> None:
    sessions, datasets = tables.frame('sessions'), tables.frame('datasets')
    assert list(sessions.columns[: len(SESSIONS_COLUMNS)]) == list(SESSIONS_COLUMNS)
    assert list(datasets.columns[: len(DATASETS_COLUMNS)]) == list(DATASETS_COLUMNS)
    for name, dtype in SESSIONS_COLUMNS.items():
        assert sessions.schema[name] == dtype, name
    for name, dtype in DATASETS_COLUMNS.items():
        assert datasets.schema[name] == dtype, name


def test_one_2_9_fixture_matches_one(tmp_path: Path) -> None:
    tables = CacheTables.open(ONE_2_9)
    _check_schema(tables)
    sessions, datasets = one_tables(ONE_2_9)
    assert_same_values(tables.frame('sessions'), sessions, ['id'])
    assert_same_values(tables.frame('datasets'), datasets, ['eid', 'id'])
    # legacy int64 UUID pairs became strings, 'project' became 'projects', qc was added
    assert tables.frame('sessions')['id'].str.len_bytes().unique().to_list() == [36]
    assert tables.frame('datasets')['qc'].unique().to_list() == ['NOT_SET']
    assert tables.frame('datasets')['default_revision'].null_count() == datasets.height
    assert 'session_path' in tables.frame('datasets').columns


def test_alyx_3_6_1_cache_matches_one(alyx_dir: Path) -> None:
    tables = CacheTables.open(alyx_dir)
    _check_schema(tables)
    sessions, datasets = one_tables(alyx_dir)
    assert_same_values(tables.frame('sessions'), sessions, ['id'])
    assert_same_values(tables.frame('datasets'), datasets, ['eid', 'id'])
    assert tables.meta.min_api_version == '2.10'
    assert tables.meta.origins == {'alyx'}
    assert tables.meta.created_time == datetime(2026, 11, 27, 4, 35)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_generated_layouts_read_identically(
    tmp_path: Path, data: SyntheticData, layout: Layout
) -> None:
    data.write_tables(tmp_path, layout=layout)
    tables = CacheTables.open(tmp_path)
    _check_schema(tables)
    sessions, datasets = tables.frame('sessions'), tables.frame('datasets')
    assert sessions.equals(data.cache_sessions())
    expected = data.cache_datasets()
    if layout.startswith('legacy'):  # no qc nor default_revision in these layouts
        expected = expected.with_columns(
            pl.lit('NOT_SET', dtype=QC_DTYPE).alias('qc'),
            pl.lit(None, dtype=pl.Boolean).alias('default_revision'),
        )
    assert datasets.select(expected.columns).equals(expected)
    assert ('session_path' in datasets.columns) == (layout != 'alyx3')
    # ONE-api 2.9.0 reads the same values from the same files
    one_sessions, one_datasets = one_tables(tmp_path)
    assert_same_values(sessions, one_sessions, ['id'])
    assert_same_values(datasets, one_datasets, ['eid', 'id'])


def test_all_layouts_normalise_to_the_same_table(tmp_path: Path, data: SyntheticData) -> None:
    frames = []
    for layout in LAYOUTS:
        data.write_tables(tmp_path / layout, layout=layout)
        tables = CacheTables.open(tmp_path / layout)
        common = ['eid', 'id', 'rel_path', 'file_size', 'hash', 'exists']
        frames.append((tables.frame('sessions'), tables.frame('datasets').select(common)))
    for sessions, datasets in frames[1:]:
        assert sessions.equals(frames[0][0])
        assert datasets.equals(frames[0][1])


def test_opening_reads_footers_only(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    tables = CacheTables.open(tmp_path)
    assert not tables.is_materialised('datasets')
    assert tables.num_rows('datasets') == data.datasets.height
    # a lazy query and a per-session lookup work without materialising the table
    eid = data.sessions['id'][3]
    sizes = tables.datasets.filter(pl.col('eid') == eid).select('file_size').collect()
    lookup = tables.session_datasets(eid)
    assert not tables.is_materialised('datasets')
    expected = data.cache_datasets().filter(pl.col('eid') == eid)
    assert lookup.equals(expected)
    assert sizes['file_size'].to_list() == expected['file_size'].to_list()
    # once materialised the lookup is a slice of the sorted table, with the same result
    tables.frame('datasets')
    assert tables.session_datasets(eid).equals(expected)
    assert tables.session_datasets('00000000-0000-0000-0000-000000000000').is_empty()
    several = data.sessions['id'].head(5).to_list()
    both = tables.sessions_datasets(several)
    assert both.equals(data.cache_datasets().filter(pl.col('eid').is_in(several)))


def test_unsorted_table_is_sorted_on_materialisation(tmp_path: Path, data: SyntheticData) -> None:
    shuffled = data.cache_datasets().sample(fraction=1.0, shuffle=True, seed=1)
    meta = {'date_created': '2024-01-01 10:00', 'origin': 'test'}
    table = shuffled.to_arrow().replace_schema_metadata({'one_metadata': json.dumps(meta)})
    pq.write_table(table, tmp_path / 'datasets.pqt')
    tables = CacheTables.open(tmp_path)
    assert tables.frame('datasets').equals(data.cache_datasets())


def test_no_tables_gives_empty_tables_and_a_warning(tmp_path: Path) -> None:
    with pytest.warns(CacheWarning, match='No cache tables found'):
        tables = CacheTables.open(tmp_path / 'missing')
    _check_schema(tables)
    assert tables.frame('sessions').is_empty()
    assert tables.frame('datasets').is_empty()
    assert tables.expired()
    assert tables.meta.created_time is None
    assert tables.meta.loaded_time is None
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        CacheTables.open(tmp_path, warn_missing=False)


def _meta_table(columns: dict[str, list[object]], meta: dict[str, object] | None) -> pa.Table:
    table = pa.table(columns)
    if meta is not None:
        table = table.replace_schema_metadata({'one_metadata': json.dumps(meta)})
    return table


def test_invalid_tables_are_skipped_with_a_warning(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    (tmp_path / 'garbage.pqt').write_bytes(b'not a parquet file')
    pq.write_table(_meta_table({'id': ['x']}, None), tmp_path / 'nometa.pqt')
    pq.write_table(_meta_table({'a': [1]}, {'origin': 'x'}), tmp_path / 'nodate.pqt')
    with pytest.warns(CacheWarning) as record:
        tables = CacheTables.open(tmp_path)
    messages = ' '.join(str(w.message) for w in record)
    for name in ('garbage.pqt', 'nometa.pqt', 'nodate.pqt'):
        assert name in messages
    assert set(tables.names) == {'sessions', 'datasets'}
    assert tables.frame('sessions').height == data.sessions.height


def test_table_missing_required_columns_is_skipped(tmp_path: Path) -> None:
    meta = {'date_created': '2024-01-01 10:00', 'origin': 'test'}
    pq.write_table(_meta_table({'id': ['a'], 'lab': ['x']}, meta), tmp_path / 'sessions.pqt')
    with pytest.warns(CacheWarning) as record:
        tables = CacheTables.open(tmp_path)
    messages = [str(w.message) for w in record]
    assert any('sessions.pqt' in m and 'subject' in m for m in messages)
    assert any('No cache tables' in m for m in messages)
    assert tables.frame('sessions').is_empty()


def test_other_tables_are_read_with_uuid_pairs_joined(tmp_path: Path) -> None:
    meta = {'date_created': '2024-01-01 10:00', 'origin': 'test'}
    # the pair of uuid 00000000-0000-0001-0000-000000000002 read as two little-endian int64
    low = int.from_bytes(bytes.fromhex('0000000000000001'), 'little', signed=True)
    high = int.from_bytes(bytes.fromhex('0000000000000002'), 'little', signed=True)
    columns: dict[str, list[object]] = {'id_0': [low], 'id_1': [high], 'name': ['probe00']}
    pq.write_table(_meta_table(columns, meta), tmp_path / 'insertions.pqt')
    tables = CacheTables.open(tmp_path)
    frame = tables.frame('insertions')
    assert frame.to_dicts() == [{'name': 'probe00', 'id': '00000000-0000-0001-0000-000000000002'}]
    with pytest.raises(InvalidArgument, match='nope'):
        tables.frame('nope')


def test_metadata_expiry_and_versions(tmp_path: Path, data: SyntheticData) -> None:
    created = datetime(2024, 3, 1, 12, 30)
    data.write_tables(tmp_path, layout='alyx3', date_created=created)
    tables = CacheTables.open(tmp_path, expiry=timedelta(days=2))
    meta = tables.meta
    assert meta.created_time == created
    assert not meta.expired(created + timedelta(days=1))
    assert meta.expired(created + timedelta(days=3))
    assert meta.min_api_version == '2.10'
    assert meta.api_version_supported()
    assert not meta.api_version_supported('2.9.0')
    info = read_cache_info(tmp_path / 'cache_info.json')
    assert info['min_api_version'] == '2.10'
    assert info['tables']['datasets']['nrecs'] == data.datasets.height
    assert info['tables']['sessions']['size'] == (tmp_path / 'sessions.pqt').stat().st_size


def test_real_cache_info_is_read(tmp_path: Path) -> None:
    info = read_cache_info(FIXTURES / 'alyx_3_6_1' / 'cache_info.json')
    assert info['tables']['datasets']['nrecs'] == 18
    bad = tmp_path / 'cache_info.json'
    bad.write_text('{"origin": "x"}')
    with pytest.raises(Exception, match='date_created'):
        read_cache_info(bad)


@pytest.mark.anyio
async def test_aopen_and_aframe(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    tables = await CacheTables.aopen(tmp_path)
    frame = await tables.aframe('datasets')
    assert frame.equals(data.cache_datasets())
    with pytest.warns(CacheWarning, match='No cache tables'):
        await CacheTables.aopen(tmp_path / 'empty')


@pytest.mark.skipif(not os.path.isdir('/proc/self/fd'), reason='files are pinned on Linux only')
def test_opened_tables_are_a_snapshot(tmp_path: Path, data: SyntheticData) -> None:
    data.write_tables(tmp_path)
    with CacheTables.open(tmp_path) as tables:
        generate(3, seed=99).write_tables(tmp_path)  # replaced by another writer
        assert tables.frame('datasets').equals(data.cache_datasets())
        assert tables.sessions.collect().equals(data.cache_sessions())


def test_replaced_file_is_reread_when_not_pinned(
    tmp_path: Path, data: SyntheticData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr('one_async.cache.parquet._PIN_FILES', False)
    data.write_tables(tmp_path)
    tables = CacheTables.open(tmp_path)
    other = generate(3, seed=99)
    other.write_tables(tmp_path)
    assert tables.frame('datasets').equals(other.cache_datasets())
