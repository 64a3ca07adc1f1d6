"""Alyx REST records as cache table rows: ONE-api 2.9.0's ``ses2records`` and
``datasets2records`` over polars, and its ``LazyId`` as a mapped :class:`PaginatedList`.

A session detail (``sessions/<eid>``) gives one sessions row and its datasets' rows; records of
the ``datasets`` endpoint give dataset rows from their first existing file record with a URL.
Rows have the canonical cache columns (:mod:`one_async.cache.schema`) plus ``session_path``, so
they go straight into :meth:`CacheTables.update` and the query machinery.

Where ONE fails on a record (a dataset listed without a ``data_url``), the path is built from
the record's session, collection, revision and name instead.  Paths that could lead outside
the cache directory (``..``, absolute) are refused
(:class:`~one_async.exceptions.UnsafePathError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import polars as pl

from one_async.alf.path import get_alf_path, get_session_path, remove_uuid_string
from one_async.alyx.pagination import PaginatedList
from one_async.cache.schema import DATASETS_COLUMNS, QC_DTYPE, QC_LEVELS, SESSIONS_COLUMNS
from one_async.exceptions import AlyxError
from one_async.transfer.safety import validate_rel_path

from ..converters import session_record2path

__all__ = [
    'DATASET_ROW_SCHEMA',
    'as_paginated',
    'dataset_rows',
    'record_uuid',
    'ses2eid',
    'session_datasets',
    'session_path_of',
    'session_row',
    'url_path',
]

DATASET_ROW_SCHEMA: Final[dict[str, pl.DataType]] = {
    **DATASETS_COLUMNS,
    'session_path': pl.String(),
}
"""Columns (and types) of the dataset rows built from REST records."""

_SESSION_SCHEMA: Final[dict[str, pl.DataType]] = dict(SESSIONS_COLUMNS)


def record_uuid(url_or_id: str | None) -> str:
    """The UUID ending a record URL (or the id itself), as ONE's ``url[-36:]``."""
    return (url_or_id or '').rstrip('/')[-36:]


def ses2eid(record: Mapping[str, Any]) -> str:
    """The eid of a sessions-endpoint record (ONE's ``LazyId.ses2eid``)."""
    eid = record.get('id') or record_uuid(record.get('url'))
    return str(eid)


def url_path(url: str) -> str:
    """The path of a data URL, ``#`` included (ONE splits without fragments), unescaped."""
    return unquote(urlsplit(url, allow_fragments=False).path).strip('/')


def _start_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value)).date()


def session_row(ses: Mapping[str, Any]) -> dict[str, Any]:
    """The sessions cache row of a session record (list or detail), as ONE's ``ses2records``."""
    projects = ses.get('projects') or []
    return {
        'id': ses2eid(ses),
        'lab': ses.get('lab'),
        'subject': ses.get('subject'),
        'date': _start_date(ses.get('start_time')),
        'number': ses.get('number'),
        'task_protocol': ses.get('task_protocol'),
        'projects': ','.join(projects) if not isinstance(projects, str) else projects,
    }


def session_path_of(row: Mapping[str, Any]) -> str:
    """``lab/Subjects/subject/yyyy-mm-dd/nnn`` of a sessions row (ONE's session_record2path)."""
    return str(session_record2path(row).as_posix())


def _qc_name(value: Any) -> str:
    if value is None:
        return 'NOT_SET'
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        from one_async.alf.spec import QC

        return QC(int(value)).name
    return str(value).upper() if str(value).upper() in QC_LEVELS else 'NOT_SET'


def _split_alf(path: str, uuid_first: bool = True) -> tuple[str, str] | None:
    """(session path, relative path) of a data URL path, the dataset UUID removed (before
    taking the ALF part as ONE's ``ses2records``, or after as its ``datasets2records``)."""
    if uuid_first:
        alf = get_alf_path(remove_uuid_string(PurePosixPath(path)).as_posix())
    else:
        found = get_alf_path(path)
        alf = remove_uuid_string(PurePosixPath(found)).as_posix() if found else None
    if alf is None:
        return None
    session = get_session_path(PurePosixPath(alf))
    session_path = session.as_posix() if session is not None else ''
    return session_path, alf[len(session_path) :].strip('/')


def _checked(session_path: str, rel_path: str) -> tuple[str, str]:
    """The paths of a record, refused when they could lead outside the cache directory.

    Raises
    ------
    UnsafePathError
        An absolute path, a ``..`` part, a backslash...
    """
    if session_path:
        validate_rel_path(session_path)
    validate_rel_path(rel_path)
    return session_path, rel_path


def _folder_rel_path(record: Mapping[str, Any]) -> str:
    parts = [record.get('collection') or '']
    revision = record.get('revision') or ''
    parts.append(f'#{revision}#' if revision else '')
    parts.append(str(record['name']))
    return '/'.join(p for p in parts if p)


def _bool_text(value: Any) -> bool:
    """Alyx sends ``default_revision`` as the text 'True'/'False' in session details."""
    if isinstance(value, str):
        return value == 'True'
    return bool(value)


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={**DATASET_ROW_SCHEMA, 'qc': pl.String()})
    return frame.with_columns(pl.col('qc').cast(QC_DTYPE)).sort('eid', 'id')


def session_datasets(ses: Mapping[str, Any]) -> tuple[dict[str, Any], pl.DataFrame]:
    """A session detail as a sessions row and its datasets' rows (ONE's ``ses2records``).

    Every dataset listed exists (Alyx lists those with a file on a server); its session path and
    relative path come from its data URL, the UUID removed.
    """
    session = session_row(ses)
    fallback = session_path_of(session)
    rows = []
    for d in ses.get('data_dataset_session_related') or []:
        split = _split_alf(url_path(d['data_url'])) if d.get('data_url') else None
        session_path, rel_path = _checked(
            *(split if split and split[0] else (fallback, _folder_rel_path(d)))
        )
        rows.append(
            {
                'eid': session['id'],
                'id': str(d['id']),
                'rel_path': rel_path,
                'file_size': d.get('file_size'),
                'hash': d.get('hash'),
                'exists': True,
                'qc': _qc_name(d.get('qc', 'NOT_SET')),
                'default_revision': _bool_text(d.get('default_revision')),
                'session_path': session_path,
            }
        )
    return session, _frame(rows)


def dataset_rows(records: Iterable[Mapping[str, Any]], extra: Sequence[str] = ()) -> pl.DataFrame:
    """Dataset rows of ``datasets`` endpoint records (ONE's ``datasets2records``).

    A dataset without an existing file record with a URL is left out.  Aggregate datasets (no
    session) get an empty ``eid`` and ``session_path``, their whole path as ``rel_path``.
    ``extra`` names record fields to keep as further (string) columns.
    """
    rows = []
    for d in records:
        record = next(
            (fr for fr in d.get('file_records') or [] if fr.get('data_url') and fr.get('exists')),
            None,
        )
        if record is None:
            continue
        split = _split_alf(url_path(record['data_url']), uuid_first=False)
        if split is None:
            raise AlyxError(
                f'Dataset {d.get("url")} has a data URL with no ALF path: {record["data_url"]}',
                value=record['data_url'],
            )
        session_path, rel_path = _checked(*split)
        row = {
            'eid': record_uuid(d.get('session')),
            'id': record_uuid(d['url']),
            'rel_path': rel_path,
            'file_size': d.get('file_size'),
            'hash': d.get('hash'),
            'exists': True,
            'qc': _qc_name(d.get('qc')),
            'default_revision': bool(d.get('default_dataset', True)),
            'session_path': session_path,
        }
        row.update({name: d.get(name) for name in extra})
        rows.append(row)
    base = _frame([{k: r[k] for k in DATASET_ROW_SCHEMA} for r in rows])
    if not extra:
        return base
    ordered = sorted(rows, key=lambda r: (r['eid'], r['id']))
    return base.with_columns(
        pl.Series(name, [r[name] for r in ordered], dtype=pl.String, strict=False)
        for name in extra
    )


def as_paginated(result: PaginatedList[Any] | Sequence[Any]) -> PaginatedList[Any]:
    """A REST list answer as a :class:`PaginatedList` (a plain list is one complete page)."""
    if isinstance(result, PaginatedList):
        return result
    records = list(result)
    page = {'count': len(records), 'next': None, 'previous': None, 'results': records}

    async def never(url: str) -> Any:  # pragma: no cover - every record is already held
        raise AlyxError('no further pages', value=url)

    return PaginatedList.from_first_page(page, query_url='', fetch=never)
