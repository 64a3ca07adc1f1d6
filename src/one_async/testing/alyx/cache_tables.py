"""The ``cache.zip`` tables and ``cache/info`` of the local Alyx server.

Alyx's ``one_cache`` command writes ``sessions.pqt`` and ``datasets.pqt``, zips them with a
``cache_info.json`` and serves that info at ``cache/info/``.  This module derives the canonical
cache tables (:mod:`one_async.cache.schema`) from the store, consistent with the REST records
(same UUIDs, sizes, hashes, QC), and writes them with the project's layout writers: Alyx 3.6.1's
layout (``'alyx3'``) when ``min_api_version`` is 2.10 or later, ONE 2.x's (``'one2'``, with a
``session_path`` column) for older clients.  As on Alyx 3.6.1, a table's ``size`` in the info
is the size of its parquet footer (``FileMetaData.serialized_size``).

ONE 2.x tables are written in the database's order (sessions newest first), not sorted by key:
ONE 2.9 sorts them on load, which also gives it writable columns.  It updates its tables in
place, and a table already sorted is kept as read zero-copy by pyarrow, read-only.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ...cache.layouts import Layout, to_layout
from ...cache.metadata import make_table_metadata, parse_version
from ...cache.parquet import write_arrow
from ...cache.schema import QC_DTYPE
from .tables import QC_NAMES

__all__ = ['CacheBundle', 'build_cache', 'canonical_tables', 'layout_for']


def layout_for(min_api_version: str) -> Layout:
    """The table layout ONE clients of ``min_api_version`` and later read."""
    return 'alyx3' if parse_version(min_api_version) >= (2, 10) else 'one2'


def canonical_tables(
    tables: dict[str, pl.DataFrame], tag: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The canonical ``sessions`` and ``datasets`` cache tables of the store's tables.

    With ``tag`` only the datasets carrying it, and their sessions, are included.  A dataset
    ``exists`` when it has an existing file record on a server (not personal) repository.
    """
    sessions = tables['sessions']
    datasets = tables['datasets']
    if tag is not None:
        datasets = datasets.filter(pl.col('tags').list.contains(tag))
        sessions = sessions.filter(pl.col('id').is_in(datasets['session'].unique().implode()))
    datasets = datasets.filter(pl.col('session').is_in(sessions['id'].implode()))
    repos = tables['data_repositories'].filter(~pl.col('globus_is_personal').fill_null(False))
    on_server = tables['file_records'].filter(
        pl.col('exists') & pl.col('data_repository').is_in(repos['name'].implode())
    )['dataset']
    folder = pl.col('collection').fill_null('')
    revision = pl.col('revision').fill_null('')
    rel_path = pl.concat_str(
        pl.when(folder != '').then(folder + '/').otherwise(pl.lit('')),
        pl.when(revision != '').then('#' + revision + '#/').otherwise(pl.lit('')),
        pl.col('name'),
    )
    qc_names = pl.col('qc').replace_strict(QC_NAMES, default='NOT_SET', return_dtype=pl.String)
    canonical_datasets = datasets.select(
        pl.col('session').alias('eid'),
        pl.col('id'),
        rel_path.alias('rel_path'),
        pl.col('file_size').cast(pl.UInt64),
        pl.col('hash'),
        pl.col('id').is_in(on_server.implode()).alias('exists'),
        qc_names.cast(QC_DTYPE).alias('qc'),
        pl.col('default_dataset').alias('default_revision'),
    )
    sessions = sessions.sort('start_time', descending=True, nulls_last=True, maintain_order=True)
    canonical_sessions = sessions.select(
        pl.col('id'),
        pl.col('lab'),
        pl.col('subject'),
        pl.col('start_time').dt.date().alias('date'),
        pl.col('number').cast(pl.UInt16),
        pl.col('task_protocol').fill_null(''),
        pl.col('projects').list.join(',').alias('projects'),
    )
    return canonical_sessions, canonical_datasets


def _database_order(table: pa.Table, frame: pl.DataFrame, index: list[str]) -> pa.Array:
    """Positions in ``table`` (sorted by ``index``) of the rows of ``frame``, in its order."""
    keys = pl.from_arrow(table.select(index))
    assert isinstance(keys, pl.DataFrame)
    wanted = frame.select(index).with_row_index('_want')
    positions = keys.with_row_index('_pos').join(wanted, on=index).sort('_want')['_pos']
    return positions.to_arrow()


def _plain_strings(table: pa.Table) -> pa.Table:
    """Large strings as plain ``string``, the type pandas (so Alyx) writes."""
    fields = [
        f.with_type(pa.string()) if pa.types.is_large_string(f.type) else f for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


@dataclass(frozen=True)
class CacheBundle:
    """The cache info document and the bytes of the matching ``cache.zip``."""

    info: dict[str, Any]
    zip_bytes: bytes


def build_cache(
    tables: dict[str, pl.DataFrame],
    *,
    created: datetime,
    min_api_version: str,
    origin: str = 'alyx',
    tag: str | None = None,
    location: str | None = None,
) -> CacheBundle:
    """Write the cache tables of ``tables`` and zip them with their ``cache_info.json``.

    Parameters
    ----------
    tables
        A snapshot of the store's tables.
    created
        The creation time recorded in the tables and the info.
    min_api_version
        The oldest ONE version the tables are for (``2.10`` for Alyx 3.6.1); also picks the
        layout (:func:`layout_for`).
    origin
        The database name recorded as the tables' origin.
    tag
        Restrict to the datasets carrying this tag (and their sessions); recorded as
        ``database_tags``.
    location
        URL of the zip, recorded in the info (Alyx omits it for the untagged tables).
    """
    extra: dict[str, Any] = {'database_tags': [tag]} if tag is not None else {}
    meta = make_table_metadata(
        origin, date_created=created, min_api_version=min_api_version, **extra
    )
    layout = layout_for(min_api_version)
    sessions, datasets = canonical_tables(tables, tag)
    info: dict[str, Any] = {**meta, 'tables': {}}
    buffer = io.BytesIO()
    with (
        tempfile.TemporaryDirectory(prefix='one_async_cache_') as tmp,
        zipfile.ZipFile(buffer, 'w', compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, frame in (('sessions', sessions), ('datasets', datasets)):
            table, index, pandas = to_layout(frame, name, layout, sessions=sessions)
            if layout == 'one2':
                table = table.take(_database_order(table, frame, list(index)))
            table = _plain_strings(table)
            path = write_arrow(
                Path(tmp, f'{name}.pqt'), table, meta, index_columns=index, pandas=pandas
            )
            info['tables'][name] = {
                'nrecs': frame.height,
                'size': pq.ParquetFile(path).metadata.serialized_size,
            }
            archive.write(path, f'{name}.pqt')
        if location is not None:
            info['location'] = location
        archive.writestr('cache_info.json', json.dumps(info, indent=1))
    return CacheBundle(info=info, zip_bytes=buffer.getvalue())
