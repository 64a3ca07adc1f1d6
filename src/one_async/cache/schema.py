"""The canonical polars schema of the cache tables, and the normalisation of every older layout.

Cache tables come in several layouts (Alyx 3.x ``one_cache``, ONE 2.x ``make_parquet_db``,
legacy tables with integer UUID pairs).  Whatever the layout on disk, a table read through this
module has one shape:

``sessions`` (key ``id``)
    ``id`` str UUID, ``lab``, ``subject`` str, ``date`` :class:`polars.Date`, ``number`` UInt16,
    ``task_protocol``, ``projects`` str (comma-joined project names).
``datasets`` (key ``eid``, ``id``)
    ``eid``, ``id`` str UUIDs, ``rel_path`` str (relative to the session folder, may contain a
    ``#revision#`` folder), ``file_size`` UInt64, ``hash`` str, ``exists`` bool, ``qc``
    :data:`QC_DTYPE`, ``default_revision`` bool; then ``session_path`` (str, relative to the
    root) only when the file had it.

The required columns come first in that order, any extra column of the file follows unchanged.
Nulls are kept: a null ``default_revision`` means the table did not say (old tables), and the
query layer falls back to ONE 2.9's rule (the lexicographically last revision).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import numpy as np
import polars as pl

from one_async.alf.spec import QC
from one_async.cache.metadata import parse_version
from one_async.cache.uuids import int64_pairs_to_uuid_strings
from one_async.exceptions import CacheTableError

__all__ = [
    'DATASETS_COLUMNS',
    'INDEX_COLUMNS',
    'OPTIONAL_COLUMNS',
    'QC_DTYPE',
    'QC_LEVELS',
    'QC_VALUES',
    'SESSIONS_COLUMNS',
    'empty_table',
    'normalise',
    'normalise_frame',
    'required_columns',
    'session_path_expr',
]

QC_LEVELS: Final = tuple(q.name for q in sorted(QC))
"""QC outcome names from best to worst (the :class:`~one_async.alf.spec.QC` enum by value)."""

QC_VALUES: Final = {q.name: q.value for q in QC}
"""The integer values Alyx stores for each QC outcome."""

QC_DTYPE: Final = pl.Enum(QC_LEVELS)
"""The ``qc`` column type: ordered, so ``pl.col('qc') <= 'WARNING'`` compares outcomes."""

SESSIONS_COLUMNS: Final[Mapping[str, pl.DataType]] = {
    'id': pl.String(),
    'lab': pl.String(),
    'subject': pl.String(),
    'date': pl.Date(),
    'number': pl.UInt16(),
    'task_protocol': pl.String(),
    'projects': pl.String(),
}
"""Required columns of the sessions table and their types, in order."""

DATASETS_COLUMNS: Final[Mapping[str, pl.DataType]] = {
    'eid': pl.String(),
    'id': pl.String(),
    'rel_path': pl.String(),
    'file_size': pl.UInt64(),
    'hash': pl.String(),
    'exists': pl.Boolean(),
    'qc': QC_DTYPE,
    'default_revision': pl.Boolean(),
}
"""Required columns of the datasets table and their types, in order."""

OPTIONAL_COLUMNS: Final[Mapping[str, Mapping[str, pl.DataType]]] = {
    'sessions': {},
    'datasets': {'session_path': pl.String()},
}
"""Columns kept with a fixed type when a file has them (ONE 2.x datasets carry session_path)."""

INDEX_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    'sessions': ('id',),
    'datasets': ('eid', 'id'),
}
"""The key of each known table; rows are unique and sorted by it."""

_REQUIRED: Final[Mapping[str, Mapping[str, pl.DataType]]] = {
    'sessions': SESSIONS_COLUMNS,
    'datasets': DATASETS_COLUMNS,
}
# Columns ONE itself fills in when an old table lacks them: name -> fill expression.
_FILLED: Final[Mapping[str, Mapping[str, pl.Expr]]] = {
    'sessions': {},
    'datasets': {
        'qc': pl.lit('NOT_SET', dtype=QC_DTYPE),
        'default_revision': pl.lit(None, dtype=pl.Boolean),
    },
}
_PANDAS_INDEX = re.compile(r'^__index_level_\d+__$')
_INT_PAIR = re.compile(r'^(?P<name>.+)_0$')


def session_path_expr() -> pl.Expr:
    """The relative session folder of a sessions row, as ONE's ``session_record2path`` builds it.

    ``lab/Subjects/subject/yyyy-mm-dd/nnn``, or ``subject/yyyy-mm-dd/nnn`` without a lab; the
    session number is zero-padded to three digits.
    """
    tail = pl.concat_str(
        pl.col('subject'),
        pl.col('date').cast(pl.String),
        pl.col('number').cast(pl.String).str.zfill(3),
        separator='/',
    )
    lab = pl.col('lab').fill_null('')
    return (
        pl.when(lab != '')
        .then(pl.concat_str(lab, pl.lit('Subjects'), tail, separator='/'))
        .otherwise(tail)
        .alias('session_path')
    )


def required_columns(name: str) -> Mapping[str, pl.DataType]:
    """Required columns of table ``name`` (empty for tables ONE does not define)."""
    return _REQUIRED.get(name, {})


def empty_table(name: str) -> pl.DataFrame:
    """An empty table with the canonical schema (``sessions`` or ``datasets``)."""
    if name not in _REQUIRED:
        raise CacheTableError(f'Unknown cache table "{name}"', value=name)
    return pl.DataFrame(schema=dict(_REQUIRED[name]))


def _int_pairs(schema: pl.Schema) -> dict[str, tuple[str, str]]:
    """Legacy UUID columns stored as ``<name>_0``/``<name>_1`` integer pairs."""
    pairs: dict[str, tuple[str, str]] = {}
    for column, dtype in schema.items():
        match = _INT_PAIR.match(column)
        if not match or not dtype.is_integer():
            continue
        partner = f'{match["name"]}_1'
        if partner in schema and schema[partner].is_integer():
            pairs[match['name']] = (column, partner)
    return pairs


def _pair_to_uuid(batch: pl.Series) -> pl.Series:
    low, high = (batch.struct.field(f).to_numpy() for f in batch.struct.fields)
    return int64_pairs_to_uuid_strings(np.asarray(low), np.asarray(high))


def _coerce(column: str, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """An expression turning ``column`` of type ``source`` into ``target`` (strict)."""
    col = pl.col(column)
    if source == target:
        return col
    if target == QC_DTYPE:
        if source.is_integer():
            names = {value: name for name, value in QC_VALUES.items()}
            return col.replace_strict(names, return_dtype=pl.String).cast(QC_DTYPE)
        return col.cast(pl.String).cast(QC_DTYPE)
    if target == pl.Date:
        if source == pl.String or isinstance(source, pl.Categorical):
            return col.cast(pl.String).str.to_date('%Y-%m-%d', strict=True)
        if isinstance(source, pl.Datetime):
            return col.dt.date()
    if target == pl.UInt64 and source.is_float():
        return col.fill_nan(None).cast(target, strict=True)
    if target == pl.String and isinstance(source, (pl.Categorical, pl.Enum)):
        return col.cast(pl.String)
    return col.cast(target, strict=True)


def normalise(
    frame: pl.LazyFrame,
    name: str,
    schema: pl.Schema,
    *,
    min_api_version: str | None = None,
) -> pl.LazyFrame:
    """Turn a table of any known layout into the canonical schema (lazily).

    Parameters
    ----------
    frame
        The table as read, e.g. ``pl.scan_parquet(path)``.
    name
        The table name (file stem): ``sessions`` and ``datasets`` get the canonical schema,
        other tables only have their integer UUID pairs joined into strings.
    schema
        The schema of ``frame`` as read (so that nothing is computed to find it).
    min_api_version
        The ``min_api_version`` the table's metadata gives, if any.

    Raises
    ------
    CacheTableError
        A required column is missing or has a type that cannot be converted.  Values that do not
        convert (e.g. an unknown QC name) only fail when the frame is collected, with a polars
        error.
    """
    exprs: list[pl.Expr] = []
    types: dict[str, pl.DataType] = {}
    pairs = _int_pairs(schema)
    paired = {c for pair in pairs.values() for c in pair}
    for column, dtype in schema.items():
        if _PANDAS_INDEX.match(column) or column in paired:
            continue
        exprs.append(pl.col(column))
        types[column] = dtype
    for uuid_name, (low, high) in pairs.items():
        if uuid_name in types:
            continue  # a string column of that name wins over the integer pair
        joined = pl.struct(low, high).map_batches(_pair_to_uuid, return_dtype=pl.String)
        exprs.append(joined.alias(uuid_name))
        types[uuid_name] = pl.String()
    version = parse_version(min_api_version)
    if 'project' in types and 'projects' not in types and version < (1, 13):
        exprs = [e.alias('projects') if e.meta.output_name() == 'project' else e for e in exprs]
        types = {('projects' if k == 'project' else k): v for k, v in types.items()}
    frame = frame.select(exprs)
    required = _REQUIRED.get(name)
    if required is None:
        return frame

    missing = [c for c in required if c not in types and c not in _FILLED[name]]
    if missing:
        raise CacheTableError(
            f'Cache table "{name}" lacks the column(s) {", ".join(missing)}', value=missing
        )
    out: list[pl.Expr] = []
    for column, target in required.items():
        if column in types:
            out.append(_checked(column, types[column], target, name))
        else:
            out.append(_FILLED[name][column].alias(column))
    optional = OPTIONAL_COLUMNS[name]
    for column, dtype in types.items():
        if column in required:
            continue
        if column in optional:
            out.append(_checked(column, dtype, optional[column], name))
        else:
            out.append(pl.col(column))
    return frame.select(out)


def _checked(column: str, source: pl.DataType, target: pl.DataType, table: str) -> pl.Expr:
    allowed = (
        source == target
        or source.is_numeric()
        or source == pl.String
        or source == pl.Boolean
        or source == pl.Null
        or isinstance(source, (pl.Categorical, pl.Enum, pl.Datetime, pl.Date))
    )
    if not allowed:
        raise CacheTableError(
            f'Column "{column}" of cache table "{table}" has type {source}, expected {target}',
            value=column,
        )
    return _coerce(column, source, target).alias(column)


def normalise_frame(
    frame: pl.DataFrame | pl.LazyFrame, name: str, *, min_api_version: str | None = None
) -> pl.DataFrame:
    """Normalise an in-memory table (e.g. records to insert) to the canonical schema.

    Raises
    ------
    CacheTableError
        Columns are missing or values do not convert to the canonical types.
    """
    lazy = frame.lazy()
    try:
        schema = lazy.collect_schema()
        return normalise(lazy, name, schema, min_api_version=min_api_version).collect()
    except pl.exceptions.PolarsError as exc:
        message = f'Invalid records for cache table "{name}": {exc}'
        raise CacheTableError(message, value=name) from exc
