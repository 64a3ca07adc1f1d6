"""Loading datasets: ``load_object``, ``load_dataset``, ``load_datasets``, ``load_collection``,
``load_dataset_from_id`` (ONE-api 2.9.0's), and the filesystem check behind them.

Datasets are chosen as ONE chooses them (``list_datasets`` of the session, then
``filter_datasets`` with the revision rule: the named revision or the last one before it, the
default revision when none is named).  :meth:`LoadingMixin._check_filesystem` then checks the
files (existence, size, md5) in parallel worker threads, updates the ``exists`` column of the
cache as ONE does, and returns the missing datasets as one batch for a download step.  Files
are read in worker threads.

Deliberate differences from ONE 2.9.0:

* ``load_collection`` applies ``revision`` as a revision (ONE passes it on as a collection
  pattern, so that any revision fails);
* when a relative-path dataset of ``load_datasets`` matches several files it counts as not
  found (ONE keeps the extra rows, misaligning the results); ``load_dataset`` raises
  ``ALFMultipleObjectsFound`` there (ONE fails to unpack);
* file sizes of 0 or null and null hashes are not checked (ONE flags a null size as a
  mismatch);
* when a session has no datasets and ``assert_present`` is false, ``load_datasets`` returns
  ``(None, [])`` (ONE returns an empty DataFrame as the records);
* ``load_datasets`` takes dicts of ALF parts with wildcards on (ONE fails appending '' to
  them).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio.to_thread
import numpy as np
import polars as pl

from one_async.alf.bunch import AlfBunch
from one_async.alf.io import aload_file_content, aload_object
from one_async.alf.path import rel_path_parts
from one_async.cache import CacheTables
from one_async.cache.schema import session_path_expr
from one_async.cache.uuids import int64_pairs_to_uuid_strings
from one_async.exceptions import (
    ALFError,
    ALFMultipleCollectionsFound,
    ALFMultipleObjectsFound,
    ALFObjectNotFound,
    ALFWarning,
    ArgumentTypeError,
    InvalidArgument,
    LocalModeError,
)

from .converters import ConversionMixin
from .filesystem import FileCheck, check_files, dataset_label
from .filters import DatasetFilter, apply_filter, build_filter

__all__ = ['LoadingMixin']

_logger = logging.getLogger(__name__)

_CHECK_OPTIONS = frozenset({'offline', 'update_exists', 'check_hash'})


def _check_options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - _CHECK_OPTIONS)
    if unknown:
        raise ArgumentTypeError(
            f'Unexpected keyword argument(s) {unknown}; the file check takes '
            f'{sorted(_CHECK_OPTIONS)}',
            value=unknown,
        )
    return dict(kwargs)


class LoadingMixin(ConversionMixin):
    """Loading datasets from the local cache (downloading will be added for remote mode)."""

    # --- filesystem ---------------------------------------------------------------------------

    async def _with_session_paths(
        self, tables: CacheTables, datasets: pl.DataFrame
    ) -> pl.DataFrame:
        """``datasets`` with ``session_path`` filled from the sessions table where missing."""
        if 'session_path' in datasets.columns and not datasets['session_path'].has_nulls():
            return datasets
        sessions = await self._sessions(tables)
        wanted = datasets.get_column('eid').unique().implode()
        paths = sessions.filter(pl.col('id').is_in(wanted)).select(
            pl.col('id').alias('eid'), session_path_expr().alias('_session_path')
        )
        joined = datasets.join(paths, on='eid', how='left', maintain_order='left')
        if 'session_path' in datasets.columns:
            filled = pl.col('session_path').fill_null(pl.col('_session_path'))
            return joined.with_columns(filled).drop('_session_path')
        return joined.rename({'_session_path': 'session_path'})

    async def _check_filesystem(
        self,
        datasets: pl.DataFrame,
        offline: bool | None = None,
        update_exists: bool = True,
        check_hash: bool = True,
    ) -> FileCheck:
        """Check dataset rows against the files on disk, as ONE's ``_check_filesystem``.

        The ``exists`` column of the rows (and, with ``update_exists``, of the cache tables) is
        set to what is on disk; files of the wrong size or md5 are logged and counted as
        missing (they are still returned: ONE reads them in local mode).  With
        :attr:`record_loaded`, the datasets found are recorded.

        Returns
        -------
        FileCheck
            The files (None where missing) and the rows to download, as one batch.
        """
        tables = await self._tables_ready()
        rows = await self._with_session_paths(tables, datasets)
        session_paths = rows.get_column('session_path').fill_null('').to_list()
        rel_paths = rows.get_column('rel_path').to_list()
        ids = rows.get_column('id').to_list()
        paths = [
            self._file_path(s, r, i) for s, r, i in zip(session_paths, rel_paths, ids, strict=True)
        ]
        labels = [dataset_label(s, r) for s, r in zip(session_paths, rel_paths, strict=True)]
        states = await check_files(
            paths,
            rows.get_column('file_size').to_list(),
            rows.get_column('hash').to_list(),
            labels,
            check_hash=check_hash,
        )
        found = np.fromiter((s[0] for s in states), dtype=np.bool_, count=len(states))
        good = np.fromiter((s[1] for s in states), dtype=np.bool_, count=len(states))
        before = rows.get_column('exists').fill_null(False).to_numpy()
        rows = rows.with_columns(pl.Series('exists', found, dtype=pl.Boolean))
        changed = found != before
        if update_exists and changed.any():
            updates = rows.filter(pl.Series(changed))
            await anyio.to_thread.run_sync(partial(tables.update, datasets=updates))
        files: list[Path | None] = [p if f else None for p, f in zip(paths, found, strict=True)]
        missing = rows.filter(pl.Series(~good))
        if not (offline or self.offline) and missing.height:
            fetched = await self._download_datasets(missing, update_cache=update_exists)
            where = np.flatnonzero(~good)
            for row, file in zip(where, fetched, strict=True):
                files[row] = file
        if self.record_loaded:
            tables.record_loaded(i for i, f in zip(ids, files, strict=True) if f)
        return FileCheck(rows, files, missing)

    async def _download_datasets(
        self, datasets: pl.DataFrame, update_cache: bool = True
    ) -> list[Path | None]:
        """Fetch dataset files (one batch, in parallel): the hook of remote mode.

        Raises
        ------
        LocalModeError
            Always: this session has no Alyx server to download from.
        """
        raise LocalModeError(
            f'{datasets.height} dataset(s) need downloading but the session is local',
            value=datasets.get_column('rel_path').to_list(),
        )

    # --- helpers ------------------------------------------------------------------------------

    async def _parse_id(self, eid: Any) -> Any:
        resolved = await self.to_eid(eid)
        if resolved is None:
            raise InvalidArgument(
                f'Cannot parse session ID "{eid}" (session may not exist)', value=eid
            )
        return resolved

    async def _session_datasets(
        self,
        tables: CacheTables,
        eid: Any,
        collection: Any = None,
        query_type: str | None = None,
    ) -> pl.DataFrame:
        """``list_datasets(eid, collection=..., details=True)`` as canonical rows (remote mode
        reads them from Alyx: see :mod:`one_async.api.remote`)."""
        found = await self._list_selection(tables, eid, [self._filter(collection=collection)])
        return found.frame

    def _filtered(self, datasets: pl.DataFrame, filt: DatasetFilter) -> pl.DataFrame:
        return apply_filter(datasets, filt, has_default=self._result_shape().has_default_revision)

    def _offline_for(self, query_type: str | None) -> bool | None:
        return None if query_type == 'auto' else self.mode == 'local'

    # --- load methods -------------------------------------------------------------------------

    async def load_object(
        self,
        /,
        eid: Any,
        obj: str,
        collection: str | None = None,
        revision: str | None = None,
        query_type: str | None = None,
        download_only: bool = False,
        **kwargs: Any,
    ) -> AlfBunch | list[Path]:
        """Load all attributes of an ALF object of a session, as ONE's ``load_object``.

        Parameters
        ----------
        eid
            A session identifier (see :meth:`to_eid`).
        obj
            The object name (a pattern, e.g. ``'trials'``, ``'*Camera'``).
        collection
            The collection (a pattern); it must select a single collection.
        revision
            The revision to load, or the last one before it; None for the default revision.
        query_type
            'local' (or 'auto'/None: the session's mode).
        download_only
            Return the files instead of loading them.
        **kwargs
            Other ALF parts to filter on (``namespace``, ``attribute``, ``timescale``,
            ``extra``, ``extension``).

        Returns
        -------
        AlfBunch or list of pathlib.Path
            The attributes (arrays; tables as polars DataFrames), or the files.

        Raises
        ------
        ALFObjectNotFound
            No such dataset in the tables, or none on disk.
        ALFMultipleObjectsFound, ALFMultipleCollectionsFound
            The filters match several objects or collections.
        """
        tables = await self._query(query_type)
        eid = await self._parse_id(eid)
        datasets = await self._session_datasets(tables, eid, query_type=query_type)
        if datasets.height == 0:
            raise ALFObjectNotFound(obj, value=obj)
        filt = build_filter(
            {'object': obj, **kwargs},
            collection,
            revision,
            assert_unique=False,
            wildcards=self.wildcards,
        )
        datasets = self._filtered(datasets, filt)
        if datasets.height == 0:
            raise ALFObjectNotFound(obj, value=obj)
        parts = [rel_path_parts(p) for p in datasets.get_column('rel_path').to_list()]
        objects = sorted({p[3] or '' for p in parts})
        collections = sorted({p[0] or '' for p in parts})
        if len(objects) > 1:
            raise ALFMultipleObjectsFound(*objects, value=objects)
        if len(collections) > 1:
            raise ALFMultipleCollectionsFound(*collections, value=collections)
        check = await self._check_filesystem(datasets, offline=self._offline_for(query_type))
        files = [f for f in check.files if f]
        if not files:
            raise ALFObjectNotFound(f'ALF object "{obj}" not found on disk', value=obj)
        if download_only:
            return files
        return await aload_object(files, wildcards=self.wildcards, **kwargs)

    async def load_dataset(
        self,
        /,
        eid: Any,
        dataset: str | dict[str, Any],
        collection: str | None = None,
        revision: str | None = None,
        query_type: str | None = None,
        download_only: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Load one dataset of a session, as ONE's ``load_dataset``.

        Parameters
        ----------
        eid
            A session identifier.
        dataset
            A file name (``'_ibl_trials.table.pqt'``; with wildcards ``'trials.table'`` gets
            ``'.*'`` appended), a relative path with collection and revision, or a dict of ALF
            parts.
        collection, revision
            As in :meth:`load_object`; both None when ``dataset`` is a relative path.
        query_type
            'local' (or 'auto'/None: the session's mode).
        download_only
            Return the file instead of its content.
        **kwargs
            Options of the file check: ``check_hash`` (default True), ``update_exists``.

        Returns
        -------
        Any
            The content (numpy array, polars DataFrame for tables ...) or the file.

        Raises
        ------
        InvalidArgument
            A relative path with ``collection`` or ``revision``.
        ALFObjectNotFound
            Not in the tables, or not on disk.
        ALFMultipleCollectionsFound, ALFMultipleObjectsFound, ALFMultipleRevisionsFound
            The name is ambiguous.
        """
        options = _check_options(kwargs)
        tables = await self._query(query_type)
        eid = await self._parse_id(eid)
        datasets = await self._session_datasets(tables, eid, query_type=query_type)
        if self.wildcards and isinstance(dataset, str) and len(dataset.split('.')) == 2:
            dataset += '.*'
        relative = ('/' if isinstance(dataset, str) else 'collection') in dataset
        if relative and isinstance(dataset, str) and '*' in dataset:
            warnings.warn(
                'Wildcards should not be used with relative path as input.',
                ALFWarning,
                stacklevel=2,
            )
        if relative and (collection is not None or revision is not None):
            raise InvalidArgument(
                'collection and revision kwargs must be None when dataset is a relative path',
                value={'collection': collection, 'revision': revision},
            )
        filt = build_filter(
            dataset, collection, revision, assert_unique=not relative, wildcards=self.wildcards
        )
        datasets = self._filtered(datasets, filt)
        if datasets.height == 0:
            raise ALFObjectNotFound(f'Dataset "{dataset}" not found', value=dataset)
        if datasets.height > 1:
            found = datasets.get_column('rel_path').to_list()
            raise ALFMultipleObjectsFound(*found, value=found)
        check = await self._check_filesystem(datasets, **options)
        file = check.files[0]
        if not file:
            raise ALFObjectNotFound('Dataset not found', value=dataset)
        if download_only:
            return file
        return await aload_file_content(file)

    async def load_datasets(
        self,
        /,
        eid: Any,
        datasets: Sequence[str | dict[str, Any]],
        collections: str | Sequence[str | None] | None = None,
        revisions: str | Sequence[str | None] | None = None,
        query_type: str | None = None,
        assert_present: bool = True,
        download_only: bool = False,
        **kwargs: Any,
    ) -> tuple[list[Any] | None, list[AlfBunch | None]]:
        """Load several datasets of a session, as ONE's ``load_datasets``.

        Parameters
        ----------
        eid
            A session identifier.
        datasets
            File names, relative paths or dicts of ALF parts (not a single str).
        collections, revisions
            One value for all datasets or one per dataset (None with relative paths).
        query_type
            'local' (or 'auto'/None: the session's mode).
        assert_present
            Raise when a dataset is missing; otherwise it is None in the results.
        download_only
            Return files instead of contents.
        **kwargs
            Options of the file check (``check_hash``, ``update_exists``).

        Returns
        -------
        list or None
            Contents (or files), one per dataset, None where missing.
        list of dict or None
            The dataset records (``id``, ONE's columns, ``revision``), None where missing.

        Warns
        -----
        ALFWarning
            Some datasets chosen are not default revisions and no revision was given.

        Raises
        ------
        ArgumentTypeError
            ``datasets`` is a str, or holds something else than str and dict (e.g. it is a
            table, whose iteration gives columns).
        InvalidArgument
            Lists of collections or revisions of the wrong length; collections or revisions
            with relative paths.
        ALFObjectNotFound
            (``assert_present``) A dataset is not in the tables or not on disk.
        """
        options = _check_options(kwargs)
        if isinstance(datasets, str):
            raise ArgumentTypeError('`datasets` must be a non-string iterable', value=datasets)
        datasets = list(datasets)
        for item in datasets:
            if not isinstance(item, (str, Mapping)):
                raise ArgumentTypeError(
                    f'Each of `datasets` must be a str or a dict of ALF parts, not '
                    f'{type(item).__name__} (a table? pass list(table["rel_path"]))',
                    value=item,
                )
        collections_ = _specifiers(collections, len(datasets), 'collections')
        revisions_ = _specifiers(revisions, len(datasets), 'revisions')
        tables = await self._query(query_type)
        eid = await self._parse_id(eid)
        all_datasets = await self._session_datasets(tables, eid, query_type=query_type)
        if all_datasets.height == 0:
            if assert_present:
                raise ALFObjectNotFound(f'No datasets found for session {eid}', value=eid)
            _logger.warning('No datasets found for session %s', eid)
            return None, []
        if not datasets:
            return None, []
        if self.wildcards:
            datasets = [
                d + '.*' if isinstance(d, str) and len(d.split('.')) == 2 else d for d in datasets
            ]
        validate = not any(('/' if isinstance(d, str) else 'collection') in d for d in datasets)
        if not validate and not all(x is None for x in collections_ + revisions_):
            raise InvalidArgument(
                'collection and revision kwargs must be None when dataset is a relative path',
                value={'collections': collections, 'revisions': revisions},
            )
        slices = [
            self._filtered(
                all_datasets,
                build_filter(d, c, r, assert_unique=validate, wildcards=self.wildcards),
            )
            for d, c, r in zip(datasets, collections_, revisions_, strict=True)
        ]
        present = [s.height == 1 for s in slices]
        chosen = [s for s, here in zip(slices, present, strict=True) if here]
        rows = pl.concat(chosen) if chosen else all_datasets.clear()
        shape = self._result_shape()
        if (
            shape.has_default_revision
            and not any(revisions_)
            and not rows.get_column('default_revision').fill_null(False).all()
        ):
            old = rows.filter(~pl.col('default_revision').fill_null(False))['rel_path'].to_list()
            warnings.warn(
                'The following datasets may have been revised and are therefore not '
                'recommended for analysis:\n\t' + '\n\t'.join(old) + '\n'
                'To avoid this warning, specify the revision as a kwarg or use load_dataset.',
                ALFWarning,
                stacklevel=2,
            )
        if not all(present):
            missing = ', '.join(
                str(d) for d, here in zip(datasets, present, strict=True) if not here
            )
            message = f'The following datasets are not in the cache: {missing}'
            if assert_present:
                raise ALFObjectNotFound(message, value=missing)
            _logger.warning(message)
        check = await self._check_filesystem(rows, **options)
        if any(f is None for f in check.files):
            absent = ', '.join(
                p for p, f in zip(rows['rel_path'].to_list(), check.files, strict=True) if not f
            )
            message = f'The following datasets were not downloaded: {absent}'
            if assert_present:
                raise ALFObjectNotFound(message, value=absent)
            _logger.warning(message)
        records = shape.dataset_records(
            check.datasets, ('id',), _record_extras(check.datasets, shape)
        )
        files_iter = iter(check.files)
        records_iter = iter(AlfBunch(r) for r in records)  # ONE: Bunches (rec.rel_path)
        files = [next(files_iter) if here else None for here in present]
        out_records = [next(records_iter) if here else None for here in present]
        if download_only:
            return files, out_records
        contents = [await aload_file_content(f) if f else None for f in files]
        return contents, out_records

    async def load_collection(
        self,
        /,
        eid: Any,
        collection: str,
        object: str | None = None,
        revision: str | None = None,
        query_type: str | None = None,
        download_only: bool = False,
        **kwargs: Any,
    ) -> AlfBunch | list[Path]:
        """Load all objects of a collection of a session, as ONE's ``load_collection``.

        Parameters
        ----------
        eid
            A session identifier.
        collection
            The collection (a pattern; '' for the session root).
        object
            Only these objects (a pattern).
        revision
            The revision, or the last one before it; None for the default revision.
        query_type
            'local' (or 'auto'/None: the session's mode).
        download_only
            Return the files instead of loading them.
        **kwargs
            Other ALF parts to filter on.

        Returns
        -------
        AlfBunch or list of pathlib.Path
            One :class:`AlfBunch` per object, or the files.

        Raises
        ------
        ALFError
            The session has no datasets in the collection.
        ALFObjectNotFound
            No dataset matches the filters, or none is on disk.
        """
        tables = await self._query(query_type)
        eid = await self._parse_id(eid)
        datasets = await self._session_datasets(tables, eid, collection, query_type)
        if datasets.height == 0:
            raise ALFError(f'{collection} not found for session {eid}', value=collection)
        filt = build_filter(
            {'object': object, **kwargs},
            None,
            revision,
            assert_unique=False,
            wildcards=self.wildcards,
        )
        datasets = self._filtered(datasets, filt)
        if datasets.height == 0:
            raise ALFObjectNotFound(object or '', value=object)
        parts = [rel_path_parts(p) for p in datasets.get_column('rel_path').to_list()]
        check = await self._check_filesystem(datasets, offline=self._offline_for(query_type))
        kept = [(f, p) for f, p in zip(check.files, parts, strict=True) if f]
        if not kept:
            raise ALFObjectNotFound(
                f'ALF collection "{collection}" not found on disk', value=collection
            )
        files = [f for f, _ in kept]
        if download_only:
            return files
        out = AlfBunch()
        for name in dict.fromkeys(p[3] or '' for _, p in kept):
            group = [f for f, p in kept if (p[3] or '') == name]
            out[name] = await aload_object(group, wildcards=self.wildcards, **kwargs)
        return out

    async def load_dataset_from_id(
        self, dset_id: Any, download_only: bool = False, details: bool = False
    ) -> Any:
        """Load a dataset given its UUID, as ONE's ``load_dataset_from_id``.

        Parameters
        ----------
        dset_id
            A dataset UUID (str, :class:`uuid.UUID`, or a legacy pair of int64).
        download_only
            Return the file instead of its content.
        details
            Also return the dataset record (a dict of ONE's columns).

        Raises
        ------
        ALFObjectNotFound
            Not in the tables, or not on disk.
        ALFMultipleObjectsFound
            The ID is in the tables more than once.
        """
        tables = await self._query()
        dset_id = _dataset_id(dset_id)
        frame = await self._datasets(tables)
        rows = await self._run(frame.filter, pl.col('id') == dset_id)
        if rows.height == 0:
            raise ALFObjectNotFound('Dataset not found', value=dset_id)
        if rows.height > 1:
            raise ALFMultipleObjectsFound('Duplicate dataset IDs', value=dset_id)
        record = self._result_shape().dataset_records(rows)[0]
        check = await self._check_filesystem(rows)
        file = check.files[0]
        if not file:
            raise ALFObjectNotFound('Dataset not found', value=dset_id)
        output = file if download_only else await aload_file_content(file)
        return (output, record) if details else output


def _record_extras(rows: pl.DataFrame, shape: Any) -> list[str]:
    """Columns ONE adds to load_datasets records: ``revision``, and ``session_path`` when the
    table has none."""
    extras = ['revision'] if 'revision' in rows.columns else []
    if 'session_path' not in shape.datasets:
        extras.append('session_path')
    return extras


def _specifiers(value: Any, n: int, name: str) -> list[Any]:
    """ONE's ``_verify_specifiers``: one value per dataset."""
    if not value or isinstance(value, str):
        return [value] * n
    values = list(value)
    if len(values) != n:
        raise InvalidArgument(
            f'{name} must match the number of datasets ({n}), got {len(values)}', value=value
        )
    return values


def _dataset_id(value: Any) -> str:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str):
        return value
    try:
        pair = np.asarray(value, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f'Invalid dataset ID {value!r}', value=value) from None
    if pair.size != 2:
        raise InvalidArgument(f'Invalid dataset ID {value!r}', value=value)
    return str(int64_pairs_to_uuid_strings(pair[:1], pair[1:])[0])
