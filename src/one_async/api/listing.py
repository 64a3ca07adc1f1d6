"""Listing: ``list_subjects``, ``list_datasets``, ``list_collections``, ``list_revisions``,
``get_details`` (ONE-api 2.9.0's, over polars tables).

One session's datasets are an O(1) slice of the table sorted by session, filtered on the event
loop.  Queries over every session run in a worker thread on the whole-table index (each
distinct relative path is tested once).  Tables are polars DataFrames where ONE returns pandas:
the first columns are ONE's index (``id`` for one session, ``eid`` and ``id`` otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from one_async.alf.bunch import AlfBunch
from one_async.alf.path import rel_path_parts
from one_async.alf.spec import QC
from one_async.cache import CacheTables
from one_async.exceptions import ALFMultipleObjectsFound, ALFObjectNotFound, InvalidArgument

from .datasets_index import DatasetsIndex
from .filters import DatasetFilter, build_filter, qc_codes, qc_mask
from .identifiers import IdentifiersMixin
from .present import DATASETS_INDEX, ResultShape

__all__ = ['ListingMixin', 'Selection', 'TableSelection']


@dataclass(frozen=True)
class Selection:
    """Datasets rows selected by a listing (canonical columns) and ONE's index for them."""

    frame: pl.DataFrame
    index: tuple[str, ...]


@dataclass(frozen=True)
class TableSelection:
    """Rows of the whole datasets table selected by a listing, as a mask over its index."""

    index: DatasetsIndex
    rows: npt.NDArray[np.bool_]

    def frame(self) -> pl.DataFrame:
        """The selected rows (blocking for a large table)."""
        frame = self.index.frame
        return frame if self.rows.all() else frame.filter(pl.Series(self.rows))


@lru_cache(maxsize=1 << 16)
def _collection(path: str | None) -> str:
    """The collection of a relative path ('' if none or not ALF), as ONE's list_collections."""
    return (rel_path_parts(path, assert_valid=False)[0] or '') if path else ''


@lru_cache(maxsize=1 << 16)
def _revision(path: str | None) -> str:
    """The revision of a relative path ('' if none or not ALF), as ONE's list_revisions."""
    return ((rel_path_parts(path, assert_valid=False)[1] or '').strip('#')) if path else ''


def _rows(frame: pl.DataFrame, filters: Sequence[DatasetFilter]) -> npt.NDArray[np.bool_]:
    paths = frame.get_column('rel_path').to_list()
    codes = qc_codes(frame)
    mask = np.ones(frame.height, dtype=np.bool_)
    for filt in filters:
        mask &= filt.path.mask(paths) & qc_mask(codes, filt.qc, filt.ignore_qc_not_set)
    return mask


def _index_rows(index: DatasetsIndex, filters: Sequence[DatasetFilter]) -> npt.NDArray[np.bool_]:
    mask = np.ones(len(index.exists), dtype=np.bool_)
    for filt in filters:
        mask &= index.rows(filt.path) & qc_mask(index.qc, filt.qc, filt.ignore_qc_not_set)
    return mask


def _distinct_parts(index: DatasetsIndex, rows: npt.NDArray[np.bool_], part: str) -> list[str]:
    """Distinct collections (or revisions) of the selected rows, by first appearance."""
    name = _collection if part == 'collection' else _revision
    return list(dict.fromkeys(name(p) for p in index.distinct_in_order(rows)))


def _grouped(
    frame: pl.DataFrame, values: list[str], shape: ResultShape, index: tuple[str, ...]
) -> dict[str, pl.DataFrame]:
    """ONE's ``{key: table for key, table in groupby(...)}``: tables by sorted key."""
    keyed = frame.with_columns(pl.Series('_key', values, dtype=pl.String))
    groups = keyed.partition_by('_key', as_dict=True, maintain_order=True)
    return {
        str(key[0]): shape.dataset_table(groups[key].drop('_key'), index)
        for key in sorted(groups, key=lambda k: str(k[0]))
    }


class ListingMixin(IdentifiersMixin):
    """Listing subjects, datasets, collections and revisions; session details."""

    async def list_subjects(self) -> list[str]:
        """All subjects of the sessions table, sorted."""
        tables = await self._query()
        sessions = await self._sessions(tables)
        subjects: list[str] = (
            sessions.get_column('subject').unique().sort(nulls_last=True).to_list()
        )
        return subjects

    async def _selection(
        self, tables: CacheTables, eid: Any, filters: Sequence[DatasetFilter]
    ) -> Selection | TableSelection:
        """The rows of the sessions ``eid`` names that pass ``filters``.

        For a single session (or a list) the rows are returned; for all sessions (``eid``
        false), the row mask over the whole-table index.
        """
        if _falsy(eid):
            await self._datasets(tables)

            def select() -> TableSelection:
                index = self._index(tables)
                return TableSelection(index, _index_rows(index, filters))

            return await self._run(select)
        eids = await self.to_eid(eid)
        if _falsy(eids):
            return Selection(_empty_datasets(tables), DATASETS_INDEX)
        if isinstance(eids, str):
            frame = await self._session_rows(tables, eids)
            if frame.height == 0:  # ONE's KeyError branch: an empty table with both levels
                return Selection(frame, DATASETS_INDEX)
            index: tuple[str, ...] = ('id',)
        else:
            # as pandas' .loc with a list: sessions in order of first mention, once each
            unique = list(dict.fromkeys(e if isinstance(e, str) else None for e in eids))
            parts = [await self._session_rows(tables, e) if e else None for e in unique]
            if any(p is None or p.height == 0 for p in parts):
                return Selection(_empty_datasets(tables), DATASETS_INDEX)
            frame = pl.concat([p for p in parts if p is not None])
            index = DATASETS_INDEX
        if frame.height > 0:
            mask = _rows(frame, filters)
            if not mask.all():
                frame = frame.filter(pl.Series(mask))
        return Selection(frame, index)

    async def _list_selection(
        self,
        tables: CacheTables,
        eid: Any,
        filters: Sequence[DatasetFilter],
    ) -> Selection:
        """As :meth:`_selection`, always as rows (materialising a whole-table selection)."""
        found = await self._selection(tables, eid, filters)
        if isinstance(found, Selection):
            return found
        return Selection(await self._run(found.frame), DATASETS_INDEX)

    def _filter(
        self,
        filename: Any = None,
        collection: Any = None,
        revision: Any = None,
        qc: Any = QC.FAIL,
        ignore_qc_not_set: bool = False,
    ) -> DatasetFilter:
        return build_filter(
            filename,
            collection,
            revision,
            revision_last_before=False,
            qc=qc,
            ignore_qc_not_set=ignore_qc_not_set,
            assert_unique=False,
            wildcards=self.wildcards,
        )

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
    ) -> list[str] | pl.DataFrame:
        """The datasets of a session (or of all sessions), as ONE's ``list_datasets``.

        Parameters
        ----------
        eid
            A session identifier (see :meth:`to_eid`), a list of them, or None for all.
        filename
            A file name pattern, a list of them (any matches) or a dict of ALF parts
            (``{'object': 'trials', 'attribute': ['intervals', 'table']}``).
        collection, revision
            Patterns of the collection and revision folders ('' matches none, None any).
        qc
            Only datasets with this QC or better (default FAIL).
        ignore_qc_not_set
            Leave out datasets whose QC is NOT_SET.
        details
            Return the table rows instead of relative paths.
        query_type
            'local' (or 'auto'/None: the session's mode).

        Patterns are shell wildcards when ``wildcards`` is true, else regular expressions;
        only valid ALF paths match (unless a ``filename`` pattern says otherwise).

        Returns
        -------
        list of str or polars.DataFrame
            Relative paths: for sessions sorted, for the whole table distinct by first
            appearance.  With ``details``, the rows (``id`` first for one session, ``eid`` and
            ``id`` otherwise; ONE's columns).  Unknown sessions give an empty result (ONE
            returns an empty DataFrame even without ``details``).
        """
        tables = await self._query(query_type)
        filt = self._filter(filename, collection, revision, qc, ignore_qc_not_set)
        shape = self._result_shape()
        found = await self._selection(tables, eid, [filt])
        if isinstance(found, Selection):
            if details:
                return shape.dataset_table(found.frame, found.index)
            paths: list[str] = found.frame.get_column('rel_path').sort().to_list()
            return paths
        if details:
            return shape.dataset_table(await self._run(found.frame), DATASETS_INDEX)
        return await self._run(found.index.distinct_in_order, found.rows)

    async def list_collections(
        self,
        eid: Any = None,
        filename: Any = None,
        collection: Any = None,
        revision: Any = None,
        details: bool = False,
        query_type: str | None = None,
    ) -> list[str] | dict[str, pl.DataFrame]:
        """The collections of a session's datasets (of all sessions with no ``eid``).

        Arguments filter the datasets as in :meth:`list_datasets`.

        Returns
        -------
        list of str or dict
            Distinct collections by first appearance ('' for datasets at the session root);
            with ``details``, each collection's datasets table (as :meth:`list_datasets`),
            keys sorted.
        """
        tables = await self._query(query_type)
        filt = self._filter(filename, collection, revision)
        return await self._parts_listing(tables, eid, [filt], 'collection', details)

    async def list_revisions(
        self,
        eid: Any = None,
        filename: Any = None,
        collection: Any = None,
        revision: Any = None,
        details: bool = False,
        query_type: str | None = None,
    ) -> list[str] | dict[str, pl.DataFrame]:
        """The revisions of a session's datasets (of all sessions with no ``eid``).

        Arguments filter the datasets as in :meth:`list_datasets` (``revision`` is a pattern).

        Returns
        -------
        list of str or dict
            Distinct revisions by first appearance ('' for datasets without one); with
            ``details``, each revision's datasets table, keys sorted.
        """
        tables = await self._query(query_type)
        filters = [self._filter(), self._filter(filename, collection, revision)]
        return await self._parts_listing(tables, eid, filters, 'revision', details)

    async def _parts_listing(
        self,
        tables: CacheTables,
        eid: Any,
        filters: Sequence[DatasetFilter],
        part: str,
        details: bool,
    ) -> list[str] | dict[str, pl.DataFrame]:
        shape = self._result_shape()
        name = _collection if part == 'collection' else _revision
        found = await self._selection(tables, eid, filters)
        if isinstance(found, TableSelection):
            if not details:
                return await self._run(_distinct_parts, found.index, found.rows, part)
            found = Selection(await self._run(found.frame), DATASETS_INDEX)
        frame = found.frame
        values = [name(p) for p in frame.get_column('rel_path').to_list()]
        if not details:
            return list(dict.fromkeys(values))
        if frame.height > 1000:
            return await self._run(_grouped, frame, values, shape, found.index)
        return _grouped(frame, values, shape, found.index)

    async def get_details(self, eid: Any, full: bool = False) -> dict[str, Any] | pl.DataFrame:
        """The sessions-table record of a session (with its datasets if ``full``).

        Returns
        -------
        dict or polars.DataFrame
            The session's columns (ONE's Series as a dict); with ``full``, one row per dataset
            (``eid``, ``id``, the dataset columns, then the session columns; one row of nulls
            and the session columns for a session without datasets).

        Raises
        ------
        InvalidArgument
            ``eid`` is not a session identifier (or names no session, for a path).
        ALFObjectNotFound
            The session is not in the tables.
        ALFMultipleObjectsFound
            Several sessions have this ID.
        """
        tables = await self._query()
        resolved = await self.to_eid(eid)
        if resolved is None:
            raise InvalidArgument(
                f'Cannot parse session ID "{eid}" (session may not exist)', value=eid
            )
        if not isinstance(resolved, str):
            raise ALFObjectNotFound(f'Session "{resolved}" not found', value=resolved)
        sessions = await self._sessions(tables)
        record = _session_record_rows(sessions, resolved)
        if record.height == 0:
            raise ALFObjectNotFound(f'Session "{resolved}" not found', value=resolved)
        if record.height > 1:
            raise ALFMultipleObjectsFound(
                f'Multiple sessions in cache for eid {resolved}', value=resolved
            )
        shape = self._result_shape()
        if not full:
            return AlfBunch(shape.session_records(record)[0])  # ONE: a Series (det.subject)
        datasets = shape.dataset_table(await self._session_rows(tables, resolved))
        session = shape.session_records(record)[0]
        if datasets.height == 0:
            datasets = datasets.clear(1).with_columns(pl.lit(resolved).alias('eid'))
        clashing = [c for c in session if c in datasets.columns]
        return datasets.drop(clashing).with_columns(
            pl.lit(v, dtype=record.schema[k]).alias(k) for k, v in session.items()
        )


def _empty_datasets(tables: CacheTables) -> pl.DataFrame:
    """An empty datasets table with the columns of the cache's (without reading it)."""
    return tables.datasets.clear().collect()


def _falsy(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, dict)):
        return not value
    return False


def _session_record_rows(sessions: pl.DataFrame, eid: str) -> pl.DataFrame:
    """The rows of ``eid`` in the sessions table sorted by id (binary search)."""
    ids = sessions.get_column('id')
    start = int(ids.search_sorted(eid, 'left'))
    stop = int(ids.search_sorted(eid, 'right'))
    return sessions.slice(start, stop - start)
