"""Remote listings and conversions: ONE-api 2.9.0's ``OneAlyx`` methods that read Alyx records.

``list_datasets``, ``get_details``, ``eid2path``, ``path2eid``, ``path2url`` go to Alyx in
'remote' mode (``get_details`` in every mode but 'local', as ONE); ``record2url`` builds data
server URLs; ``describe_dataset``, ``describe_revision``, ``dataset2type`` and
``type2datasets`` always ask Alyx.  A session read remotely is added to the cache tables (its
record and its datasets), as ONE does, so later local queries and loads see it.

Concurrent reads of one session (many loads gathered at once) share one request.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, Final
from uuid import UUID

import anyio
import numpy as np
import polars as pl

from one_async.alf.path import add_uuid_string, get_session_path
from one_async.alf.spec import QC, is_uuid_string
from one_async.cache import CacheTables
from one_async.cache.uuids import int64_pairs_to_uuid_strings
from one_async.exceptions import (
    ALFObjectNotFound,
    AlyxHTTPError,
    ArgumentTypeError,
    ConfigError,
    InvalidArgument,
    OneWarning,
)

from ..converters import session_record2path
from ..filters import DatasetFilter, apply_filter, build_filter
from ..identifiers import is_listlike
from ..listing import _falsy, _rows
from ..present import DATASETS_INDEX
from .flight import SingleFlight
from .records import as_paginated, dataset_rows, session_datasets
from .search import RemoteSearch

__all__ = ['REMOTE_LIST_COLUMNS', 'RemoteListing']

REMOTE_LIST_COLUMNS: Final = (
    'file_size',
    'hash',
    'exists',
    'session_path',
    'rel_path',
    'default_revision',
    'qc',
)
"""The columns of ONE's remote ``list_datasets(details=True)`` (``ses2records``), in order."""

_DETAIL_FIELDS: Final = (
    'subject',
    'start_time',
    'number',
    'lab',
    'projects',
    'url',
    'task_protocol',
    'local_path',
)


class RemoteListing(RemoteSearch):
    """Remote listings, details, path and URL conversions, dataset types and revisions."""

    _session_flights: SingleFlight[str, tuple[dict[str, Any], pl.DataFrame]] | None = None

    # --- one session, remotely ----------------------------------------------------------------

    async def _remote_session(self, eid: str) -> tuple[dict[str, Any], pl.DataFrame]:
        """Read a session from Alyx and add it to the cache tables (one request per eid at a
        time, shared by concurrent callers)."""
        if self._session_flights is None:
            self._session_flights = SingleFlight()

        async def read() -> tuple[dict[str, Any], pl.DataFrame]:
            record = await self.alyx.rest('sessions', 'read', id=eid)
            session, datasets = session_datasets(record)
            await self._ingest(sessions=session, datasets=datasets)
            return session, datasets

        return await self._session_flights.run(eid, read)

    async def _remote_rows(self, eids: list[str]) -> pl.DataFrame:
        """The dataset rows of sessions read from Alyx (concurrently)."""
        frames: list[pl.DataFrame] = [pl.DataFrame()] * len(eids)

        async def one(i: int, eid: str) -> None:
            frames[i] = (await self._remote_session(eid))[1]

        async with anyio.create_task_group() as tg:
            for i, eid in enumerate(eids):
                tg.start_soon(one, i, eid)
        return pl.concat(frames) if frames else pl.DataFrame()

    async def _session_datasets(
        self,
        tables: CacheTables,
        eid: Any,
        collection: Any = None,
        query_type: str | None = None,
    ) -> pl.DataFrame:
        """The datasets a load chooses from: Alyx's record of the session in 'remote' mode
        (every revision, so that a named revision can be loaded), else the cache table's."""
        if not self._is_remote(query_type):
            return await super()._session_datasets(tables, eid, collection, query_type)
        rows = (await self._remote_session(eid))[1]
        if collection is not None and rows.height:
            rows = rows.filter(pl.Series(_rows(rows, [self._filter(collection=collection)])))
        return rows

    def _filtered(self, datasets: pl.DataFrame, filt: DatasetFilter) -> pl.DataFrame:
        """ONE's filter; rows read from Alyx always carry their default revision flag."""
        has_default = self._result_shape().has_default_revision or (
            datasets.height > 0 and not datasets.get_column('default_revision').has_nulls()
        )
        return apply_filter(datasets, filt, has_default=has_default)

    # --- listing ------------------------------------------------------------------------------

    async def list_datasets(
        self,
        eid: Any = None,
        filename: Any = None,
        collection: Any = None,
        revision: Any = None,
        qc: Any = QC.FAIL,
        ignore_qc_not_set: bool = False,
        details: bool = False,
        query_type: str | None = None,
    ) -> Any:
        """The datasets of a session, as ONE's ``OneAlyx.list_datasets``.

        Local as :meth:`AsyncOne.list_datasets`.  Remote (``query_type='remote'``), the
        session's datasets on Alyx (added to the cache tables), filtered as ONE filters them
        there: the revision is the last one up to ``revision`` (the default revision when
        None), not a pattern.  Listing every session remotely is not possible: a warning
        says so and the cache tables answer.

        Returns
        -------
        list of str or polars.DataFrame
            Sorted relative paths; with ``details`` the rows (``id`` first, then ONE's remote
            columns and ``revision``).
        """
        if not await self._remote(query_type):
            return await super().list_datasets(
                eid, filename, collection, revision, qc, ignore_qc_not_set, details, query_type
            )
        await self._query(query_type)
        if _falsy(eid):
            warnings.warn('Unable to list all remote datasets', OneWarning, stacklevel=2)
            return await super().list_datasets(
                eid, filename, collection, revision, qc, ignore_qc_not_set, details, query_type
            )
        eids = await self.to_eid(eid)
        wanted = [eids] if isinstance(eids, str) else [e for e in eids or [] if e]
        if not wanted:
            return (await self._tables_ready()).frame('datasets').clear() if details else []
        rows = await self._remote_rows(wanted)
        filt = build_filter(
            filename,
            collection,
            revision,
            qc=qc,
            ignore_qc_not_set=ignore_qc_not_set,
            assert_unique=False,
            wildcards=self.wildcards,
        )
        rows = apply_filter(rows, filt, has_default=True)
        if not details:
            paths: list[str] = rows.get_column('rel_path').sort().to_list()
            return paths
        index = ('id',) if isinstance(eids, str) else DATASETS_INDEX
        extra = ('revision',) if 'revision' in rows.columns else ()
        return rows.select(*index, *REMOTE_LIST_COLUMNS, *extra)

    async def get_details(
        self, eid: Any, full: bool = False, query_type: str | None = None
    ) -> Any:
        """Session details, as ONE's ``OneAlyx.get_details``.

        In 'local' mode (or without a server) from the cache tables (see
        :meth:`AsyncOne.get_details`); otherwise from Alyx's session record: the whole record
        with ``full``, else ONE's fields (``subject``, ``start_time``, ``number``, ``lab``,
        ``projects`` joined by commas, ``url``, ``task_protocol``) with ``local_path`` and
        ``date`` added.  A list of sessions gives a list.

        Raises
        ------
        InvalidArgument
            Not a session identifier.
        AlyxHTTPError
            (remote) No such session on Alyx (404).
        """
        if self.has_server:
            await self._tables_ready()
        if not self.has_server or (query_type or self.mode) == 'local':
            return await super().get_details(eid, full=full)
        await self._query(query_type)
        resolved = await self._parse_id(eid)
        if isinstance(resolved, list):
            return [await self._remote_details(e, full) for e in resolved]
        return await self._remote_details(resolved, full)

    async def _remote_details(self, eid: str, full: bool) -> dict[str, Any]:
        record: dict[str, Any] = await self.alyx.rest('sessions', 'read', id=eid)
        if full:
            return record
        out = {k: v for k, v in record.items() if k in _DETAIL_FIELDS}
        out['projects'] = ','.join(out.get('projects') or [])
        out['local_path'] = await self.eid2path(eid)
        out['date'] = datetime.fromisoformat(str(out['start_time'])).date()
        return out

    # --- conversions --------------------------------------------------------------------------

    async def eid2path(self, eid: Any, query_type: str | None = None) -> Any:
        """The local folder of a session; a list for a list.

        From the cache tables, else (or in 'remote' mode) from Alyx's session record.
        """
        await self._query(query_type)
        mode = query_type or self.mode
        resolved = await self._parse_id(eid)
        if mode != 'remote':
            path = await super().eid2path(resolved)
            if mode == 'local' or not self.has_server or _found(path):
                return path
        if isinstance(resolved, list):
            return [await self._remote_eid2path(e) for e in resolved]
        return await self._remote_eid2path(resolved)

    async def _remote_eid2path(self, eid: str | None) -> Path | None:
        if eid is None:
            return None
        found = await as_paginated(
            await self.alyx.rest('sessions', 'list', django=f'pk,{eid}')
        ).to_list()
        if not found:
            return None
        ses = found[0]
        return Path(
            self.cache_dir,
            ses['lab'],
            'Subjects',
            ses['subject'],
            str(ses['start_time'])[:10],
            str(ses['number']).zfill(3),
        )

    async def path2eid(self, path_obj: Any, query_type: str | None = None) -> Any:
        """The eid of the session a path belongs to (None if none); a list for a list.

        From the cache tables, else (or in 'remote' mode) by searching Alyx for the subject,
        date and number.
        """
        if is_listlike(path_obj):
            return [await self.path2eid(p, query_type) for p in path_obj]
        await self._query(query_type)
        mode = query_type or self.mode
        if mode != 'remote':
            eid = await super().path2eid(path_obj)
            if eid or mode == 'local' or not self.has_server:
                return eid
        session_path = get_session_path(PurePath(path_obj))
        if session_path is None:
            return None
        subject, day, number = session_path.parts[-3:]
        found = await self.search(
            subject=subject, date_range=day, number=number, query_type='remote'
        )
        return await found.get(0) if len(found) else None

    async def path2url(self, filepath: Any, query_type: str | None = None) -> Any:
        """The data server URL of a local dataset file, as ONE's ``OneAlyx.path2url``.

        From the cache tables and the configured data server; in 'remote' mode, from the
        dataset's file records on Alyx.

        Raises
        ------
        ALFObjectNotFound
            (remote) No single dataset with an existing file record matches the path.
        """
        await self._query(query_type)
        if not await self._remote(query_type):
            return await super().path2url(filepath)
        if is_listlike(filepath):
            return [await self.path2url(f, query_type) for f in filepath]
        eid = await self.path2eid(filepath)
        name = PurePath(filepath).name
        found = await as_paginated(
            await self.alyx.rest('datasets', 'list', session=eid, name=name)
        ).to_list()
        urls = [
            r['data_url']
            for r in (found[0]['file_records'] if len(found) == 1 else [])
            if r.get('data_url') and r.get('exists')
        ]
        if not urls:
            raise ALFObjectNotFound(
                f'File record for {filepath} not found on Alyx', value=str(filepath)
            )
        return urls[0]

    def _data_server(self) -> str:
        settings = self._settings
        server = settings.http_data_server if settings is not None else None
        if not server:
            raise ConfigError(
                'No HTTP data server is configured (http_data_server, ONE_HTTP_DATA_SERVER or '
                "ONE-api's HTTP_DATA_SERVER)",
                value=self.base_url,
            )
        return server.rstrip('/')

    async def record2url(self, record: Any) -> Any:
        """The data server URL of a dataset or session record (a list for a table or list).

        A dataset's URL has its UUID in the file name, as data servers name files.
        """
        if not self.has_server:
            return await super().record2url(record)
        if isinstance(record, pl.DataFrame):
            return [await self.record2url(r) for r in record.iter_rows(named=True)]
        if is_listlike(record):
            return [await self.record2url(r) for r in record]
        if not isinstance(record, Mapping):
            raise ArgumentTypeError(
                f'A record must be a dict or a table, not {type(record).__name__}', value=record
            )
        server = self._data_server()
        if 'rel_path' not in record:
            path = record.get('session_path') or session_record2path(record).as_posix()
            return f'{server}/{str(path).strip("/")}'
        session_path = record.get('session_path')
        if session_path is None:
            session = await self._session_record(str(record.get('eid')))
            if session is None:
                raise InvalidArgument(
                    f'No session folder for dataset {record.get("id")}', value=dict(record)
                )
            session_path = session_record2path(session).as_posix()
        rel = add_uuid_string(PurePosixPath(record['rel_path']), record['id'])
        return f'{server}/{PurePosixPath(str(session_path), rel).as_posix().strip("/")}'

    # --- dataset types and revisions ------------------------------------------------------------

    async def describe_dataset(self, dataset_type: str | None = None) -> Any:
        """The Alyx record of a dataset type (or a dataset name's type); its description is
        printed, as ONE does.  Without a type, every dataset type record.

        Raises
        ------
        LocalModeError
            In 'local' mode.
        """
        self._require_server('describe_dataset')
        if not dataset_type:
            return await as_paginated(await self.alyx.rest('dataset-types', 'list')).to_list()
        record: dict[str, Any] | None = None
        if isinstance(dataset_type, str) and not is_uuid_string(dataset_type):
            try:
                record = await self.alyx.rest('dataset-types', 'read', id=dataset_type)
            except AlyxHTTPError:
                record = None
        if record is None:
            kind = await self.dataset2type(dataset_type)
            record = await self.alyx.rest('dataset-types', 'read', id=kind)
        assert record is not None
        print(record.get('description'))
        return record

    async def describe_revision(self, revision: str, full: bool = False) -> Any:
        """Print a revision's description; its record with ``full`` (None if not found).

        Raises
        ------
        LocalModeError
            In 'local' mode.
        AlyxHTTPError
            Any error but 404.
        """
        self._require_server('describe_revision')
        try:
            record: dict[str, Any] = await self.alyx.rest('revisions', 'read', id=revision)
        except AlyxHTTPError as exc:
            if exc.status_code != 404:
                raise
            print(f'revision "{revision}" not found')
            return None
        print(record.get('description'))
        return record if full else None

    async def _dataset_name2id(self, name: str) -> str:
        """The first dataset of the cache tables whose relative path ends with ``name``."""
        tables = await self._tables_ready()
        frame = await self._datasets(tables)
        found = await self._run(
            lambda: frame.filter(pl.col('rel_path').str.ends_with(name)).head(1)
        )
        if found.height == 0:
            raise InvalidArgument(f'Dataset {name} not found in cache', value=name)
        return str(found.item(0, 'id'))

    async def dataset2type(self, dset: Any) -> str:
        """The dataset type of a dataset (name in the cache tables, UUID, or int64 pair).

        Raises
        ------
        InvalidArgument
            Not a known name nor a UUID.
        LocalModeError
            In 'local' mode.
        """
        self._require_server('dataset2type')
        if isinstance(dset, str) and not is_uuid_string(dset):
            dset = await self._dataset_name2id(dset)
        elif isinstance(dset, UUID):
            dset = str(dset)
        elif isinstance(dset, (np.ndarray, tuple, list)):
            pair = np.asarray(dset, dtype=np.int64).reshape(-1)
            if pair.size != 2:
                raise InvalidArgument(f'Unrecognized name or UUID {dset!r}', value=dset)
            dset = str(int64_pairs_to_uuid_strings(pair[:1], pair[1:])[0])
        if not is_uuid_string(dset):
            raise InvalidArgument(f'Unrecognized name or UUID {dset!r}', value=dset)
        record = await self.alyx.rest('datasets', 'read', id=dset)
        return str(record['dataset_type'])

    async def type2datasets(self, eid: Any, dataset_type: Any, details: bool = False) -> Any:
        """The datasets of a session of one dataset type (or any of a list of types).

        Returns
        -------
        numpy.ndarray or polars.DataFrame
            Sorted relative paths (an array, as ONE), or the dataset rows (``eid``, ``id``,
            then ONE's columns).

        Raises
        ------
        ArgumentTypeError
            ``dataset_type`` is neither a str nor a list of them.
        LocalModeError
            In 'local' mode.
        """
        self._require_server('type2datasets')
        eid = await self._parse_id(eid)
        if isinstance(dataset_type, str):
            restriction = f'session__id,{eid},dataset_type__name,{dataset_type}'
        elif isinstance(dataset_type, (list, tuple)):
            restriction = f'session__id,{eid},dataset_type__name__in,{list(dataset_type)}'
        else:
            raise ArgumentTypeError('dataset_type must be a str or str list', value=dataset_type)
        records = await as_paginated(
            await self.alyx.rest('datasets', 'list', django=restriction)
        ).to_list()
        rows = dataset_rows(records)
        if details:
            return rows.select(
                'eid', 'id', 'file_size', 'hash', 'session_path', 'rel_path',
                'default_revision', 'qc',
            )  # fmt: skip
        return rows.get_column('rel_path').sort().to_numpy()  # ONE: a numpy array of str


def _found(path: Any) -> bool:
    """ONE's truth test of a local eid2path result (a list is true when not empty)."""
    return bool(path)
