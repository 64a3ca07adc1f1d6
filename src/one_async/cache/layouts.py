"""Writers of cache tables in every on-disk layout ONE meets.

========================  ======================================================================
layout                    what writes it, and how it looks
========================  ======================================================================
``'alyx3'``               Alyx 3.x ``one_cache`` (what ONE-api 3.x expects, and what one_async
                          saves): pandas index ``id`` / ``(eid, id)`` of str UUIDs, ``number``
                          uint16, ``file_size`` nullable UInt64, ordered ``qc`` categorical,
                          ``default_revision``, no ``session_path``; ``min_api_version`` 2.10.
``'one2'``                ONE-api 2.x ``make_parquet_db`` and Alyx 2.x: the same str UUID index,
                          ``number`` int64 and a ``session_path`` column in datasets.
``'legacy'``              Old Alyx ``one_cache --int-id``: UUIDs as ``int64`` pairs
                          (``id_0``/``id_1``, ``eid_0``/``eid_1``), ``project`` instead of
                          ``projects``, float ``file_size``, no ``qc`` nor ``default_revision``
                          (the layout of ONE 2.9's own test fixtures).
``'legacy_plain'``        ``'legacy'`` without pandas metadata: the index stored as plain
                          columns, which ONE finds by name.
========================  ======================================================================
"""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, get_args

import polars as pl
import pyarrow as pa

from one_async.cache.metadata import make_table_metadata
from one_async.cache.parquet import fsync_directory, to_arrow, write_arrow
from one_async.cache.schema import INDEX_COLUMNS, session_path_expr
from one_async.cache.uuids import uuid_strings_to_int64_pairs
from one_async.exceptions import InvalidArgument

__all__ = [
    'ALYX_MIN_API_VERSION',
    'LAYOUTS',
    'Layout',
    'to_layout',
    'write_cache_info',
    'write_cache_zip',
    'write_layout',
    'write_tables',
]

Layout = Literal['alyx3', 'one2', 'legacy', 'legacy_plain']
LAYOUTS: Final[tuple[Layout, ...]] = get_args(Layout)

ALYX_MIN_API_VERSION: Final = '2.10'
"""The ``min_api_version`` Alyx 3.6.1 writes into its tables and cache info."""

_ALYX3_COLUMNS: Final = {
    'sessions': ('lab', 'subject', 'date', 'number', 'task_protocol', 'projects', 'id'),
    'datasets': (
        'file_size', 'hash', 'default_revision', 'qc', 'exists', 'rel_path', 'eid', 'id'
    ),
}  # fmt: skip
_ONE2_DATASETS: Final = (
    'session_path', 'rel_path', 'file_size', 'hash', 'exists', 'qc', 'default_revision', 'eid',
    'id',
)  # fmt: skip


def _check_layout(layout: Layout) -> Layout:
    if layout not in LAYOUTS:
        raise InvalidArgument(
            f'Unknown cache layout "{layout}"; expected one of {", ".join(LAYOUTS)}', value=layout
        )
    return layout


def _with_session_path(datasets: pl.DataFrame, sessions: pl.DataFrame | None) -> pl.DataFrame:
    if 'session_path' in datasets.columns and not datasets['session_path'].has_nulls():
        return datasets
    if sessions is None:
        raise InvalidArgument(
            'This layout stores session_path in the datasets table: pass the sessions table',
            value='sessions',
        )
    paths = sessions.select(pl.col('id').alias('eid'), session_path_expr().alias('_path'))
    joined = datasets.join(paths, on='eid', how='left', maintain_order='left')
    if 'session_path' in joined.columns:
        joined = joined.with_columns(pl.col('session_path').fill_null(pl.col('_path')))
    else:
        joined = joined.rename({'_path': 'session_path'})
    return joined.drop('_path', strict=False)


def _int_pair_columns(frame: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    for name in names:
        low, high = uuid_strings_to_int64_pairs(frame.get_column(name))
        frame = frame.with_columns(pl.Series(f'{name}_0', low), pl.Series(f'{name}_1', high)).drop(
            name
        )
    return frame


def to_layout(
    frame: pl.DataFrame,
    name: str,
    layout: Layout,
    *,
    sessions: pl.DataFrame | None = None,
) -> tuple[pa.Table, tuple[str, ...], bool]:
    """Convert a canonical table to a layout.

    Parameters
    ----------
    frame
        A canonical ``sessions`` or ``datasets`` table.
    name
        ``'sessions'`` or ``'datasets'``.
    layout
        One of :data:`LAYOUTS`.
    sessions
        The sessions table, needed to fill ``session_path`` for the datasets of the ``'one2'``
        and legacy layouts when ``frame`` has no such column.

    Returns
    -------
    pyarrow.Table
        The table as it goes to disk.
    tuple of str
        Its pandas index columns.
    bool
        Whether pandas metadata is written.
    """
    layout = _check_layout(layout)
    if name not in INDEX_COLUMNS:
        raise InvalidArgument(f'Unknown cache table "{name}"', value=name)
    frame = frame.sort(list(INDEX_COLUMNS[name]))
    index = INDEX_COLUMNS[name]
    if layout == 'alyx3':
        columns = [c for c in _ALYX3_COLUMNS[name] if c in frame.columns]
        extra = [c for c in frame.columns if c not in columns and c != 'session_path']
        return to_arrow(frame.select(columns + extra)), index, True
    if name == 'sessions':
        frame = frame.with_columns(pl.col('number').cast(pl.Int64))
        if layout == 'one2':
            return to_arrow(frame), index, True
        frame = _int_pair_columns(frame.rename({'projects': 'project'}), ('id',))
        return to_arrow(frame), ('id_0', 'id_1'), layout == 'legacy'
    frame = _with_session_path(frame, sessions)
    if layout == 'one2':
        columns = [c for c in _ONE2_DATASETS if c in frame.columns]
        extra = [c for c in frame.columns if c not in columns]
        return to_arrow(frame.select(columns + extra)), index, True
    frame = frame.drop('qc', 'default_revision', strict=False).with_columns(
        pl.col('file_size').cast(pl.Float64)
    )
    frame = _int_pair_columns(frame, ('eid', 'id'))
    return to_arrow(frame), ('id_0', 'id_1'), layout == 'legacy'


def default_metadata(
    layout: Layout, origin: str, date_created: datetime | None = None
) -> dict[str, Any]:
    """The ``one_metadata`` a writer of that layout puts in its tables."""
    if layout == 'alyx3':
        return make_table_metadata(
            origin, date_created=date_created, min_api_version=ALYX_MIN_API_VERSION
        )
    return make_table_metadata(origin, date_created=date_created)


def write_layout(
    path: str | Path,
    frame: pl.DataFrame,
    name: str,
    layout: Layout,
    meta: Mapping[str, Any],
    *,
    sessions: pl.DataFrame | None = None,
) -> Path:
    """Write one canonical table in a layout, atomically (see :func:`to_layout`)."""
    table, index, pandas = to_layout(frame, name, layout, sessions=sessions)
    return write_arrow(path, table, meta, index_columns=index, pandas=pandas)


def write_cache_info(
    tables_dir: str | Path, meta: Mapping[str, Any], tables: Mapping[str, Path]
) -> Path:
    """Write ``cache_info.json`` as Alyx serves it: the table metadata plus, per table, its
    record count (``nrecs``) and file size in bytes (``size``)."""
    import pyarrow.parquet as pq

    info = dict(meta)
    info['tables'] = {
        name: {'nrecs': pq.ParquetFile(path).metadata.num_rows, 'size': path.stat().st_size}
        for name, path in tables.items()
    }
    path = Path(tables_dir) / 'cache_info.json'
    _atomic_write_bytes(path, json.dumps(info, indent=1).encode())
    return path


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f'.{path.name}.{uuid.uuid4().hex}.part')
    try:
        with open(tmp, 'wb') as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def write_tables(
    tables_dir: str | Path,
    sessions: pl.DataFrame,
    datasets: pl.DataFrame,
    *,
    layout: Layout = 'alyx3',
    origin: str = 'one_async',
    date_created: datetime | None = None,
    meta: Mapping[str, Any] | None = None,
    cache_info: bool = True,
) -> dict[str, Path]:
    """Write a sessions and a datasets table (and ``cache_info.json``) in one layout.

    Parameters
    ----------
    tables_dir
        Existing folder to write into.
    sessions, datasets
        Canonical tables.
    layout
        One of :data:`LAYOUTS`.
    origin, date_created
        Metadata of the new tables (see :func:`default_metadata`); ignored when ``meta`` is
        given.
    meta
        The complete ``one_metadata`` object to write.
    cache_info
        Also write ``cache_info.json``.

    Returns
    -------
    dict
        The written files by name (``sessions``, ``datasets``, ``cache_info``).
    """
    layout = _check_layout(layout)
    tables_dir = Path(tables_dir)
    meta = dict(meta) if meta is not None else default_metadata(layout, origin, date_created)
    out = {
        'sessions': write_layout(tables_dir / 'sessions.pqt', sessions, 'sessions', layout, meta),
        'datasets': write_layout(
            tables_dir / 'datasets.pqt', datasets, 'datasets', layout, meta, sessions=sessions
        ),
    }
    if cache_info:
        out['cache_info'] = write_cache_info(tables_dir, meta, dict(out))
    return out


def write_cache_zip(tables_dir: str | Path, destination: str | Path) -> Path:
    """Zip ``sessions.pqt``, ``datasets.pqt`` and ``cache_info.json`` as Alyx's ``/cache.zip``."""
    tables_dir, destination = Path(tables_dir), Path(destination)
    tmp = destination.with_name(f'.{destination.name}.{uuid.uuid4().hex}.part')
    try:
        with zipfile.ZipFile(tmp, 'w', compression=zipfile.ZIP_DEFLATED) as archive:
            for name in ('sessions.pqt', 'datasets.pqt', 'cache_info.json'):
                if (tables_dir / name).exists():
                    archive.write(tables_dir / name, name)
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return destination
