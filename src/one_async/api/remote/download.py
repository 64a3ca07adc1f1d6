"""Downloading datasets: the fetch step of every ``load_*`` call, and ``download`` in bulk.

``load_object``, ``load_dataset``, ``load_datasets``, ``load_collection``,
``load_dataset_from_id`` and ``load_aggregate`` check the files of the datasets they chose
(:meth:`~one_async.api.AsyncOne._check_filesystem`) and hand the missing or stale ones, as one
batch, to :meth:`RemoteLoading._download_datasets`: one transfer job downloads them in
parallel, verified (size, md5) and placed atomically, then the cache tables record them as
present.  A file still corrupt after its retry is reported on Alyx as ONE does (the file record
is tagged ``mismatch_hash``) and is not placed.

Where files come from is ONE's choice: from S3 when the cache tables mark every dataset of the
batch as on AWS (``exists_aws``; bucket and credentials from the Alyx data repository record),
else (and for what S3 cannot serve) from the HTTP data server, at
``<data server>/<session path>/<relative path with the dataset UUID>``.

:meth:`RemoteLoading.download` is the bulk entry point: every dataset of some sessions (or of
a search) matching a filter, in one job, with the engine's aggregated progress display, a
callback per finished file, and the typed report.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import anyio
import polars as pl
from anyio.streams.memory import MemoryObjectReceiveStream

from one_async import defaults
from one_async.alf.path import add_uuid_string
from one_async.alf.spec import QC
from one_async.alyx.pagination import PaginatedList
from one_async.exceptions import (
    ALFObjectNotFound,
    AlyxError,
    AlyxHTTPError,
    ArgumentTypeError,
    DownloadError,
    LocalModeError,
    OneWarning,
)
from one_async.transfer import DownloadItem, DownloadReport, DownloadResult, S3Config, S3Location

from ..filters import build_filter
from ..identifiers import is_listlike
from ..loading import _dataset_id
from .aws import aws_objects, repository_s3
from .listing import RemoteListing
from .records import as_paginated, record_uuid
from .transfers import OnComplete, SessionDownloads

__all__ = ['RemoteLoading']

_logger = logging.getLogger('one_async.api')


def _size(value: Any) -> int | None:
    return int(value) if value else None


def _failed(item: DownloadItem, reason: str) -> DownloadResult:
    error = DownloadError(f'{item.label}: {reason}', value=item.dataset_id or item.source)
    return DownloadResult(item=item, status='failed', error=error)


class RemoteLoading(RemoteListing):
    """The download step of the loads, and :meth:`download`."""

    _transfers: SessionDownloads | None = None
    _s3_repos: dict[str, tuple[S3Config, str]] | None = None

    # --- plumbing -------------------------------------------------------------------------------

    def _session_downloads(self) -> SessionDownloads:
        """The session's download coordinator (shared pool, each file fetched once)."""
        if self._transfers is None:
            settings = self._settings
            auth = None
            per_host = None
            concurrency = defaults.DOWNLOAD_CONCURRENCY
            verify, attempts, timeout = True, defaults.RETRY_ATTEMPTS, defaults.RETRY_TIMEOUT
            connect, read = defaults.HTTP_CONNECT_TIMEOUT, defaults.HTTP_READ_TIMEOUT
            if settings is not None:
                login = settings.http_data_server_login
                password = settings.http_data_server_password
                if settings.http_data_server and login and password:
                    auth = (settings.http_data_server, login, password.get_secret_value())
                concurrency = settings.download_concurrency
                if 'download_per_host' in settings.model_fields_set:
                    per_host = settings.download_per_host  # set explicitly, even to the default
                verify = settings.verify_tls
                attempts, timeout = settings.retry_attempts, settings.retry_timeout
                connect, read = settings.connect_timeout, settings.read_timeout
            self._transfers = SessionDownloads(
                self.cache_dir,
                concurrency=concurrency,
                auth=auth,
                per_host=per_host,
                verify=verify,
                retry_attempts=attempts,
                retry_timeout=timeout,
                connect_timeout=connect,
                read_timeout=read,
            )
        return self._transfers

    async def _close_remote(self) -> None:
        transfers, self._transfers = self._transfers, None
        if transfers is not None:
            await transfers.aclose()
        await super()._close_remote()

    def _http_item(self, row: Mapping[str, Any], server: str) -> DownloadItem:
        session_path = str(row.get('session_path') or '')
        rel = PurePosixPath(row['rel_path'])
        remote = PurePosixPath(session_path, add_uuid_string(rel, row['id'])).as_posix()
        return DownloadItem(
            url=f'{server}/{remote.strip("/")}',
            rel_path=PurePosixPath(session_path, rel).as_posix(),
            size=_size(row.get('file_size')),
            md5=row.get('hash') or None,
            dataset_id=row['id'],
        )

    async def _s3_config(self, repository: str) -> tuple[S3Config, str]:
        if self._s3_repos is None:
            self._s3_repos = {}
        found = self._s3_repos.get(repository)
        if found is None:
            found = self._s3_repos[repository] = await repository_s3(
                self.alyx, repository, self._s3
            )
        return found

    async def _tag_mismatched_file_record(self, item: DownloadItem) -> None:
        """Flag the server file record of a dataset whose download does not match its record
        (``json.mismatch_hash``), as ONE does, for the database maintainers."""
        if not item.dataset_id:
            return
        records = await as_paginated(
            await self.alyx.rest(
                'files',
                'list',
                django=f'dataset,{item.dataset_id},data_repository__globus_is_personal,False',
                no_cache=True,
            )
        ).to_list()
        if not records:
            return
        record = records[0]
        field = dict(record.get('json') or {})
        field['mismatch_hash'] = True
        try:
            await self.alyx.rest(
                'files', 'partial_update', id=str(record['url'])[-36:], data={'json': field}
            )
        except AlyxHTTPError as exc:
            warnings.warn(
                f'Failed to tag remote file record mismatch: {exc}\n'
                'Please contact the database administrator.',
                OneWarning,
                stacklevel=2,
            )

    # --- fetching rows ----------------------------------------------------------------------

    async def _fetch_rows(
        self,
        rows: pl.DataFrame,
        *,
        progress: bool | None = None,
        on_complete: OnComplete | None = None,
        update_cache: bool = True,
    ) -> list[DownloadResult]:
        """Download the files of dataset rows (``id``, ``session_path``, ``rel_path``,
        ``file_size``, ``hash``) in one batch: from S3 when all are marked ``exists_aws``, else
        over HTTP; what S3 cannot serve is fetched over HTTP."""
        if rows.height == 0:
            return []
        records = rows.to_dicts()
        results: list[DownloadResult | None] = [None] * len(records)
        http_rows = list(range(len(records)))
        not_on_aws: list[int] = []
        if (
            'exists_aws' in rows.columns
            and rows.get_column('exists_aws').fill_null(False).cast(pl.Boolean).all()
        ):
            try:
                not_on_aws = await self._fetch_s3(records, results, progress, on_complete)
            except (AlyxError, DownloadError) as exc:
                _logger.debug('AWS download unavailable (%s); downloading over HTTP', exc)
            http_rows = [i for i, r in enumerate(results) if r is None or not r.ok]
        if http_rows:
            server = self._data_server()
            items = [self._http_item(records[i], server) for i in http_rows]
            fetched = await self._session_downloads().fetch(
                items,
                keep_uuid=self.uuid_filenames,
                progress=self._progress(progress),
                on_complete=on_complete,
                on_mismatch=self._tag_mismatched_file_record,
            )
            for i, result in zip(http_rows, fetched, strict=True):
                results[i] = result
        out = [r for r in results if r is not None]
        assert len(out) == len(records)
        for result in out:
            if not result.ok:
                _logger.warning('Download failed: %s', result.error)
        if update_cache:
            await self._record_outcome(rows, [r.ok for r in out], not_on_aws)
        return out

    async def _fetch_s3(
        self,
        records: list[dict[str, Any]],
        results: list[DownloadResult | None],
        progress: bool | None,
        on_complete: OnComplete | None,
    ) -> list[int]:
        """Download from S3 what Alyx has there (into ``results``); returns the rows without
        an AWS file record."""
        ids = [str(r['id']) for r in records]
        objects = await aws_objects(self.alyx, ids)
        groups: dict[str, list[int]] = {}
        for i, found in enumerate(objects):
            if found is not None:
                groups.setdefault(found[0], []).append(i)
        for repository, indices in groups.items():
            config, bucket = await self._s3_config(repository)
            items = []
            for i in indices:
                record, found = records[i], objects[i]
                assert found is not None
                items.append(
                    DownloadItem(
                        s3=S3Location(bucket=bucket, key=found[1]),
                        rel_path=PurePosixPath(
                            str(record.get('session_path') or ''), record['rel_path']
                        ).as_posix(),
                        size=_size(record.get('file_size')),
                        md5=record.get('hash') or None,
                        dataset_id=record['id'],
                    )
                )
            fetched = await self._session_downloads().fetch(
                items,
                keep_uuid=self.uuid_filenames,
                progress=self._progress(progress),
                on_complete=on_complete,
                on_mismatch=self._tag_mismatched_file_record,
                s3=config,
            )
            for i, result in zip(indices, fetched, strict=True):
                results[i] = result
        return [i for i, found in enumerate(objects) if found is None]

    def _progress(self, progress: bool | None) -> bool | None:
        return False if progress is None and self.silent else progress

    async def _record_outcome(
        self, rows: pl.DataFrame, ok: list[bool], not_on_aws: list[int]
    ) -> None:
        """Record in the cache tables the datasets now on disk (``exists``) and, as ONE, those
        Alyx has no AWS file record for (``exists_aws`` false)."""
        gone = [False] * rows.height
        for i in not_on_aws:
            gone[i] = True
        flags = rows.with_columns(
            pl.Series('_ok', ok, dtype=pl.Boolean), pl.Series('_gone', gone, dtype=pl.Boolean)
        ).filter((pl.col('_ok') | pl.col('_gone')) & (pl.col('eid').fill_null('') != ''))
        if flags.height == 0:
            return
        changes = [pl.when(pl.col('_ok')).then(True).otherwise(pl.col('exists')).alias('exists')]
        if 'exists_aws' in rows.columns:
            aws = pl.when(pl.col('_gone')).then(False).otherwise(pl.col('exists_aws'))
            changes.append(aws.alias('exists_aws'))
        tables = await self._tables_ready()
        await tables.aupdate(datasets=flags.with_columns(changes).drop('_ok', '_gone'))

    async def _download_datasets(
        self, datasets: pl.DataFrame, update_cache: bool = True
    ) -> list[Path | None]:
        """Fetch dataset files in one parallel batch; the file of each row, None if it failed.

        Raises
        ------
        LocalModeError
            The session is local (no server, or 'local' mode).
        ConfigError
            No data server is configured for HTTP downloads.
        """
        if self.offline:
            return await super()._download_datasets(datasets, update_cache)
        results = await self._fetch_rows(datasets, update_cache=update_cache)
        return [r.path if r.ok else None for r in results]

    async def load_dataset_from_id(
        self, dset_id: Any, download_only: bool = False, details: bool = False
    ) -> Any:
        """Load a dataset given its UUID, as ONE's ``load_dataset_from_id`` (downloading it
        if needed).

        In 'remote' mode a dataset missing from the cache tables is looked up on Alyx and its
        session added to the tables first (ONE only looks in the tables).

        Raises
        ------
        ALFObjectNotFound
            No such dataset, or its file could not be fetched.
        """
        if self.mode == 'remote' and self.has_server:
            tables = await self._query('remote')
            did = _dataset_id(dset_id)
            frame = await self._datasets(tables)
            known = await self._run(lambda: frame.filter(pl.col('id') == did).height)
            if not known:
                try:
                    record = await self.alyx.rest('datasets', 'read', id=did)
                except AlyxHTTPError as exc:
                    if exc.status_code != 404:
                        raise
                    raise ALFObjectNotFound('Dataset not found', value=did) from exc
                eid = record_uuid(record.get('session'))
                if eid:
                    await self._remote_session(eid)
        return await super().load_dataset_from_id(dset_id, download_only, details)

    # --- bulk -----------------------------------------------------------------------------------

    async def _download_eids(self, target: Any, query_type: str | None) -> list[str]:
        if isinstance(target, Mapping):
            found = await self.search(query_type=query_type, **target)
            target = found
        if isinstance(target, PaginatedList):
            target = await target.to_list()
        if not is_listlike(target):
            target = [target]
        resolved = await self.to_eid(list(target))
        return list(dict.fromkeys(e for e in resolved if e))

    async def _download_rows(
        self,
        eids: list[str],
        datasets: Any,
        collection: Any,
        revision: Any,
        qc: Any,
        ignore_qc_not_set: bool,
        query_type: str | None,
    ) -> pl.DataFrame:
        """The datasets the loads of these sessions would choose, that exist on the server."""
        tables = await self._query(query_type)
        filt = build_filter(
            datasets,
            collection,
            revision,
            qc=qc,
            ignore_qc_not_set=ignore_qc_not_set,
            assert_unique=False,
            wildcards=self.wildcards,
        )
        frames: list[pl.DataFrame | None] = [None] * len(eids)

        async def one(i: int, eid: str) -> None:
            rows = await self._session_datasets(tables, eid, query_type=query_type)
            rows = rows.filter(pl.col('exists').fill_null(False))
            frames[i] = self._filtered(rows, filt) if rows.height else rows

        async with anyio.create_task_group() as tg:
            for i, eid in enumerate(eids):
                tg.start_soon(one, i, eid)
        kept = [f for f in frames if f is not None and f.height]
        if not kept:
            return (await self._datasets(tables)).clear()
        common = [c for c in kept[0].columns if all(c in f.columns for f in kept)]
        rows = pl.concat([f.select(common) for f in kept], how='vertical_relaxed')
        return await self._with_session_paths(tables, rows)

    async def download(
        self,
        eids_or_query: Any,
        datasets: Any = None,
        collection: Any = None,
        revision: Any = None,
        *,
        qc: Any = QC.FAIL,
        ignore_qc_not_set: bool = False,
        query_type: str | None = None,
        progress: bool | None = None,
        on_complete: OnComplete | None = None,
    ) -> DownloadReport:
        """Download every dataset of some sessions matching a filter, in one parallel job.

        Parameters
        ----------
        eids_or_query
            A session identifier, a list of them, the result of :meth:`search`, or a dict of
            search terms (``{'subject': 'KS005', 'dataset': 'trials'}``).
        datasets
            File name pattern(s) or a dict of ALF parts, as ``list_datasets``'s ``filename``.
        collection
            Collection pattern(s).
        revision
            The revision wanted: for each dataset, the last one up to it (the default revision
            when None), as the loads choose.
        qc, ignore_qc_not_set
            QC threshold, as in ``list_datasets``.
        query_type
            Where the sessions' datasets are listed (the mode by default; 'remote': Alyx).
        progress
            Show the aggregated progress display (None: when interactive and not silent).
        on_complete
            Called (or awaited) with each file's result as soon as it is placed, found
            already present, or failed.

        Returns
        -------
        DownloadReport
            One result per dataset (``downloaded``, ``skipped`` when already present and
            verified, or ``failed`` with a typed error), in session then dataset order.

        Raises
        ------
        LocalModeError
            The session is local.
        """
        if self.offline:
            raise LocalModeError('Downloading needs an Alyx server (the session is local)')
        started = time.perf_counter()
        eids = await self._download_eids(eids_or_query, query_type)
        rows = await self._download_rows(
            eids, datasets, collection, revision, qc, ignore_qc_not_set, query_type
        )
        results = await self._fetch_rows(rows, progress=progress, on_complete=on_complete)
        return DownloadReport(results=tuple(results), seconds=time.perf_counter() - started)

    @asynccontextmanager
    async def download_stream(
        self, /, eids_or_query: Any, datasets: Any = None, collection: Any = None,
        revision: Any = None, **kwargs: Any,
    ) -> AsyncIterator[MemoryObjectReceiveStream[DownloadResult]]:  # fmt: skip
        """:meth:`download`, yielding each file's result as soon as it is known.

        Leaving the block early cancels what is left (no partial file is left under a final
        name)::

            async with one.download_stream({'subject': 'KS005'}, 'trials') as results:
                async for result in results:
                    ...
        """
        if 'on_complete' in kwargs:
            raise ArgumentTypeError(
                'download_stream yields results itself; on_complete is not accepted',
                value='on_complete',
            )
        send, receive = anyio.create_memory_object_stream[DownloadResult](math.inf)

        async def run() -> None:
            async with send:
                await self.download(
                    eids_or_query, datasets, collection, revision, on_complete=send.send, **kwargs
                )

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                async with receive:
                    yield receive
            finally:
                tg.cancel_scope.cancel()
