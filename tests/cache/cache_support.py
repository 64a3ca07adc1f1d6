"""Helpers of the cache tests: ONE-api 2.9.0 as the oracle, fixture tables."""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl

FIXTURES = Path(__file__).parents[1] / 'fixtures'
ONE_2_9 = FIXTURES / 'one_2_9'
ALYX_ZIP = FIXTURES / 'alyx_3_6_1' / 'cache.zip'


def unzip_alyx_cache(target: Path) -> Path:
    """Unzip the tables of the real Alyx 3.6.1 ``cache.zip`` into ``target``."""
    with zipfile.ZipFile(ALYX_ZIP) as archive:
        archive.extractall(target)
    return target


def one_tables(tables_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sessions and datasets tables as ONE-api 2.9.0 loads them (after its patching),
    converted to polars with the index as columns, for comparison by values."""
    from one.api import One

    one = One(cache_dir=str(tables_dir), mode='local')
    sessions = one._cache['sessions'].reset_index()
    datasets = one._cache['datasets'].reset_index()
    datasets['qc'] = datasets['qc'].astype(str)
    if 'file_size' in datasets:
        datasets['file_size'] = datasets['file_size'].astype('Float64')
    return pl.from_pandas(sessions), pl.from_pandas(datasets)


def assert_same_values(ours: pl.DataFrame, theirs: pl.DataFrame, key: list[str]) -> None:
    """Same rows (by key) and same values in every column both have, whatever the dtypes."""
    common = [c for c in ours.columns if c in theirs.columns]
    assert set(key) <= set(common)
    left = ours.select(common).sort(key)
    right = theirs.select(common).sort(key)
    assert left.height == right.height
    for column in common:
        a, b = left.get_column(column), right.get_column(column)
        if column == 'date':
            b = b.cast(pl.Date)
        if a.dtype.is_numeric() or b.dtype.is_numeric():
            a, b = a.cast(pl.Float64), b.cast(pl.Float64).fill_nan(None)
        else:
            a, b = a.cast(pl.String), b.cast(pl.String)
        assert a.to_list() == b.to_list(), column
