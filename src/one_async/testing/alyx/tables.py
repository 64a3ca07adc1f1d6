"""The tables of the local Alyx database: their columns, types and defaults.

Each Alyx model the server exposes is one polars table.  Foreign keys hold the target's primary
key (a UUID string, or a name for data repositories), many-to-many relations to named things
(projects, users, tags ...) are list columns of names, JSON fields hold JSON text, and enumerated
QC fields hold Alyx's integer codes.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

__all__ = [
    'JSON_COLUMNS',
    'PRIMARY_KEYS',
    'QC_CODES',
    'QC_NAMES',
    'SCHEMAS',
    'conform',
    'empty',
]

QC_NAMES: Final[dict[int, str]] = {
    0: 'NOT_SET',
    10: 'PASS',
    30: 'WARNING',
    40: 'FAIL',
    50: 'CRITICAL',
}
"""Alyx's QC codes and their names, in increasing order of severity."""

QC_CODES: Final[dict[str, int]] = {name: code for code, name in QC_NAMES.items()}

_STR = pl.String()
_INT = pl.Int64()
_BOOL = pl.Boolean()
_TIME = pl.Datetime('us')
_NAMES = pl.List(pl.String())

SCHEMAS: Final[dict[str, dict[str, pl.DataType]]] = {
    'sessions': {
        'id': _STR,
        'subject': _STR,
        'lab': _STR,
        'start_time': _TIME,
        'end_time': _TIME,
        'number': _INT,
        'task_protocol': _STR,
        'projects': _NAMES,
        'users': _NAMES,
        'location': _STR,
        'procedures': _NAMES,
        'type': _STR,
        'narrative': _STR,
        'parent_session': _STR,
        'n_correct_trials': _INT,
        'n_trials': _INT,
        'qc': _INT,
        'extended_qc': _STR,
        'json': _STR,
        'auto_datetime': _TIME,
    },
    'datasets': {
        'id': _STR,
        'session': _STR,
        'name': _STR,
        'collection': _STR,
        'revision': _STR,
        'dataset_type': _STR,
        'data_format': _STR,
        'file_size': _INT,
        'hash': _STR,
        'version': _STR,
        'qc': _INT,
        'default_dataset': _BOOL,
        'protected': _BOOL,
        'public': _BOOL,
        'tags': _NAMES,
        'probe_insertion': _STR,
        'created_by': _STR,
        'created_datetime': _TIME,
        'auto_datetime': _TIME,
        'json': _STR,
    },
    'file_records': {
        'id': _STR,
        'dataset': _STR,
        'data_repository': _STR,
        'relative_path': _STR,
        'exists': _BOOL,
        'name': _STR,
        'json': _STR,
    },
    'data_repositories': {
        'name': _STR,
        'timezone': _STR,
        'globus_path': _STR,
        'hostname': _STR,
        'data_url': _STR,
        'repository_type': _STR,
        'globus_endpoint_id': _STR,
        'globus_is_personal': _BOOL,
        'json': _STR,
    },
    'insertions': {
        'id': _STR,
        'session': _STR,
        'name': _STR,
        'model': _STR,
        'serial': _STR,
        'chronic_insertion': _STR,
        'auto_datetime': _TIME,
        'json': _STR,
    },
    'dataset_types': {
        'id': _STR,
        'name': _STR,
        'created_by': _STR,
        'description': _STR,
        'filename_pattern': _STR,
    },
    'revisions': {
        'id': _STR,
        'name': _STR,
        'description': _STR,
        'created_datetime': _TIME,
        'json': _STR,
    },
}
"""Column names and types of every table, in the order records are built."""

PRIMARY_KEYS: Final[dict[str, str]] = {
    'sessions': 'id',
    'datasets': 'id',
    'file_records': 'id',
    'data_repositories': 'name',
    'insertions': 'id',
    'dataset_types': 'id',
    'revisions': 'id',
}

JSON_COLUMNS: Final[frozenset[str]] = frozenset({'json', 'extended_qc'})
"""Columns holding JSON text (``None`` for a JSON null)."""

_DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    'sessions': {
        'projects': [],
        'users': [],
        'procedures': [],
        'type': 'Experiment',
        'narrative': '',
        'task_protocol': '',
        'qc': 0,
    },
    'datasets': {
        'collection': '',
        'revision': '',
        'data_format': '',
        'version': '',
        'qc': 0,
        'default_dataset': True,
        'protected': False,
        'public': False,
        'tags': [],
        'created_by': '',
    },
    'file_records': {'exists': True, 'name': ''},
    'data_repositories': {
        'timezone': 'UTC',
        'globus_path': '',
        'hostname': '',
        'repository_type': 'Fileserver',
        'globus_is_personal': False,
    },
    'insertions': {'model': '', 'serial': ''},
    'dataset_types': {'created_by': '', 'description': '', 'filename_pattern': ''},
    'revisions': {'description': ''},
}


def empty(table: str) -> pl.DataFrame:
    """An empty frame of ``table``'s schema."""
    return pl.DataFrame(schema=SCHEMAS[table])


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Give ``frame`` exactly the columns of ``table``: cast, add defaults, drop extras.

    Raises
    ------
    KeyError
        The primary key column is missing.
    """
    schema = SCHEMAS[table]
    pk = PRIMARY_KEYS[table]
    if pk not in frame.columns:
        raise KeyError(f'table {table!r} needs a {pk!r} column')
    defaults = _DEFAULTS.get(table, {})
    columns = []
    for name, dtype in schema.items():
        if name in frame.columns:
            column = pl.col(name).cast(dtype)
            if name in defaults:
                column = column.fill_null(pl.lit(defaults[name], dtype=dtype))
        else:
            column = pl.lit(defaults.get(name), dtype=dtype)
        columns.append(column.alias(name))
    return frame.select(columns)
