"""Conversions between session paths, records, references and URLs (ONE's ``ConversionMixin``).

The table-reading half of ONE-api 2.9.0's converters; the parsing half (``to_eid``,
``path2eid``, ``ref2eid`` and the static reference helpers) is in
:mod:`one_async.api.identifiers`.  Like ONE, each method takes a list and returns a list.

Deliberate differences from ONE 2.9.0, which fails on these inputs:

* ``path2record`` accepts a str path and finds the dataset by its exact relative path (ONE
  crashes on a str, and matches any dataset whose relative path ends the path);
* ``path2record``, ``record2path`` work on tables without a ``session_path`` column (the
  Alyx 3.x layout): the session folder comes from the sessions table;
* records are dicts: a dataset record has ``eid`` and ``id`` first, a session record ``id``
  (ONE puts those in the name of a pandas Series).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path, PurePath, PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import polars as pl

from one_async.alf.bunch import AlfBunch
from one_async.alf.path import (
    add_uuid_string,
    get_session_path,
    remove_uuid_string,
    session_path_parts,
)
from one_async.alf.spec import is_session_path, is_uuid_string
from one_async.exceptions import (
    ALFMultipleObjectsFound,
    ArgumentTypeError,
    InvalidArgument,
    LocalModeError,
)

from .identifiers import is_listlike
from .listing import ListingMixin, _session_record_rows

__all__ = ['ConversionMixin', 'session_record2path']


def session_record2path(record: Mapping[str, Any], root: str | PurePath | None = None) -> Any:
    """The folder of a session record: ``[root/][lab/Subjects/]subject/date/nnn``.

    A PurePosixPath without ``root``; a :class:`pathlib.Path` under it.
    """
    lab = record.get('lab')
    rel = PurePosixPath(
        *((lab, 'Subjects') if lab else ()),
        record['subject'],
        str(record['date']),
        str(record['number']).zfill(3),
    )
    return rel if not root else Path(root, rel)


class ConversionMixin(ListingMixin):
    """Paths, records, references and URLs of sessions and datasets."""

    async def eid2path(self, eid: Any) -> Any:
        """The local folder of a session (None if not in the tables); a list for a list.

        Raises
        ------
        InvalidArgument
            ``eid`` is not a UUID.
        ALFMultipleObjectsFound
            Several sessions have this ID.
        """
        if is_listlike(eid):
            return [await self._eid2path(e) for e in eid]
        return await self._eid2path(eid)

    async def _eid2path(self, eid: Any) -> Path | None:
        if isinstance(eid, UUID):
            eid = str(eid)
        if not is_uuid_string(eid):
            raise InvalidArgument(f'{eid!r} is not a valid eID/UUID string', value=eid)
        record = await self._session_record(eid)
        return None if record is None else session_record2path(record, self.cache_dir)

    async def _session_record(self, eid: str) -> dict[str, Any] | None:
        tables = await self._query()
        rows = _session_record_rows(await self._sessions(tables), eid)
        if rows.height > 1:
            raise ALFMultipleObjectsFound(f'Duplicate eids in sessions table: {eid}', value=eid)
        return rows.row(0, named=True) if rows.height else None

    async def path2record(self, path: Any) -> Any:
        """The cache record of a session folder or dataset file (None if not in the tables).

        Parameters
        ----------
        path
            A local path (str or pathlib) or an HTTP URL of a dataset, or a session folder.

        Returns
        -------
        dict, None or list
            A session record (``id`` then ONE's columns) or a dataset record (``eid``, ``id``,
            then ONE's columns); a list for a list.
        """
        if is_listlike(path):
            return [await self.path2record(p) for p in path]
        record = await self._path2record(path)
        return None if record is None else AlfBunch(record)  # ONE: a Series (rec.rel_path)

    async def _path2record(self, path: Any) -> dict[str, Any] | None:
        if not isinstance(path, (str, PurePath)):
            raise ArgumentTypeError(f'Expected a path or URL, not {path!r}', value=path)
        tables = await self._query()
        shape = self._result_shape()
        if is_session_path(path):
            sessions = await self._sessions(tables)
            lab, subject, day, number = session_path_parts(path)
            if lab is None or subject is None or day is None or number is None:
                return None  # ONE compares the lab column with None: no match
            found = sessions.filter(
                (pl.col('lab') == lab)
                & (pl.col('subject') == subject)
                & (pl.col('number').cast(pl.Int64) == int(number))
                & (pl.col('date') == date.fromisoformat(day))
            )
            if found.height > 1:
                raise ALFMultipleObjectsFound(f'Several sessions match {path}', value=str(path))
            return shape.session_table(found).row(0, named=True) if found.height else None
        if isinstance(path, str) and path.startswith('http'):
            path = PurePosixPath(urlsplit(path).path.strip('/'))
        path = remove_uuid_string(PurePosixPath(PurePath(path).as_posix()))
        session_path = get_session_path(path)
        eid = await self._path2eid(path)
        if eid is None or session_path is None:
            return None
        rel = path.as_posix()[len(session_path.as_posix()) :].strip('/')
        rows = (await self._session_rows(tables, eid)).filter(pl.col('rel_path') == rel)
        if rows.height == 0:
            return None
        if rows.height > 1:
            raise ALFMultipleObjectsFound(f'Multiple records found for {path}', value=str(path))
        return shape.dataset_table(rows).row(0, named=True)

    async def record2path(self, dataset: Any) -> Path:
        """The local file of a dataset record (a dict or a one-row table).

        The session folder is the record's ``session_path``, else that of its session (``eid``)
        in the sessions table.  With :attr:`uuid_filenames` the dataset UUID is in the name.

        Raises
        ------
        InvalidArgument
            Not one record, or no way to find its session folder.
        """
        record = _one_record(dataset)
        try:
            rel_path = record['rel_path']
        except KeyError:
            raise InvalidArgument('A dataset record needs a rel_path', value=record) from None
        session_path = record.get('session_path')
        if not session_path:
            session = await self._session_record(str(record.get('eid')))
            if session is None:
                raise InvalidArgument(
                    f'No session folder for dataset {record.get("id")}', value=record
                )
            session_path = session_record2path(session).as_posix()
        file = Path(self.cache_dir, session_path, rel_path)
        if self.uuid_filenames:
            file = add_uuid_string(file, record.get('id'))
        return file

    async def record2url(self, record: Any) -> Any:
        """The URL of a dataset or session record on the data server.

        Raises
        ------
        LocalModeError
            Always in a local session: URLs come from the Alyx server's data repositories.
        """
        raise LocalModeError('record2url needs an Alyx server (local session)', value=record)

    async def path2url(self, filepath: Any) -> Any:
        """The URL of a local dataset file (None if it is not in the tables).

        Raises
        ------
        LocalModeError
            The file is in the tables but the session has no Alyx server.
        """
        if is_listlike(filepath):
            return [await self.path2url(f) for f in filepath]
        record = await self._path2record(filepath)
        if record is None:
            return None
        return await self.record2url(record)

    async def eid2ref(self, eid: Any, as_dict: bool = True, parse: bool = True) -> Any:
        """The experiment reference of a session: a dict (subject, date, sequence) or the
        string ``'yyyy-mm-dd_n_subject'`` (``'yyyy-mm-dd_nnn_subject'`` unparsed).

        Raises
        ------
        ALFObjectNotFound
            The session is not in the tables.
        """
        if is_listlike(eid):
            return [await self.eid2ref(e, as_dict, parse) for e in eid]
        details = await self.get_details(eid)
        assert isinstance(details, dict)
        subject, day, number = details['subject'], details['date'], details['number']
        if parse:
            ref: dict[str, Any] = {'subject': subject, 'date': day, 'sequence': number}
            return ref if as_dict else f'{day:%Y-%m-%d}_{number:d}_{subject:s}'
        ref = {'subject': subject, 'date': str(day), 'sequence': f'{number:03d}'}
        return ref if as_dict else '{date:s}_{sequence:s}_{subject:s}'.format(**ref)

    async def ref2path(self, ref: Any) -> Any:
        """The local folder of the session an experiment reference names; a list for a list."""
        if isinstance(ref, (list, tuple)):
            return [await self.ref2path(r) for r in ref]
        return await self._eid2path(await self.ref2eid(ref))


def _one_record(dataset: Any) -> dict[str, Any]:
    if isinstance(dataset, pl.DataFrame):
        if dataset.height != 1:
            raise InvalidArgument(
                f'Expected one dataset record, got {dataset.height}', value=dataset.height
            )
        return dataset.row(0, named=True)
    if isinstance(dataset, Mapping):
        return dict(dataset)
    raise ArgumentTypeError(f'Expected a record (dict or table), not {dataset!r}', value=dataset)
