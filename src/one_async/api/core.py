"""The state of an :class:`~one_async.api.AsyncOne` session and what every query shares.

``OneCore`` holds the cache directory, the mode, the cache tables and the query index, and
provides what the query mixins need:

* :meth:`OneCore._query` - the one place where ``query_type``/``mode`` are resolved: the cache
  is refreshed as the mode says (ONE's ``refresh`` decorator) and the tables opened; without a
  server a remote query is refused (:mod:`one_async.api.remote` overrides it to dispatch);
* :meth:`OneCore._session_rows` - one session's datasets: a pushed-down scan of the file for a
  first one-off question, an O(1) slice of the table in memory afterwards;
* :meth:`OneCore._datasets` and :meth:`OneCore._index` - the datasets table in memory and its
  whole-table index, materialised in a worker thread on first use;
* :meth:`OneCore._run` - running CPU-heavy work in a worker thread.

Work bounded by one session's datasets (a slice of ~100 rows found in O(1)) runs on the event
loop: it takes microseconds, less than a thread hop.  Anything that reads a file or scans a
whole table runs in a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, TypeVar, get_args

import anyio
import anyio.to_thread
import polars as pl

from one_async import defaults
from one_async.alf.path import add_uuid_string
from one_async.cache import CacheTables
from one_async.exceptions import InvalidArgument, LocalModeError

from .datasets_index import DatasetsIndex
from .present import ResultShape
from .terms import SEARCH_TERMS

__all__ = ['MODES', 'Mode', 'OneCore']

Mode = Literal['auto', 'local', 'remote', 'refresh']
MODES: Final[tuple[str, ...]] = get_args(Mode)

_T = TypeVar('_T')


class OneCore:
    """Session state and shared query plumbing (see the module docstring).

    Parameters
    ----------
    cache_dir
        Root folder of the data files.
    mode
        'local' (never refresh), 'auto' (reload the tables once they are older than
        :attr:`cache_expiry`), 'refresh' (reload them before every query) or 'remote'.
    wildcards
        Patterns are shell wildcards (``*``) in filters and regular expressions in ``search``
        when true, regular expressions in filters and plain substrings in ``search`` otherwise
        (ONE's convention).
    tables_dir
        Folder of the cache tables; ``cache_dir`` by default.
    """

    _search_terms: ClassVar[tuple[str, ...]] = SEARCH_TERMS

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        mode: str = 'local',
        wildcards: bool = True,
        tables_dir: str | Path | None = None,
    ) -> None:
        if cache_dir is None:
            raise InvalidArgument('A cache directory (cache_dir) is required', value=cache_dir)
        self.cache_dir = Path(cache_dir)
        self._tables_dir = Path(tables_dir) if tables_dir else self.cache_dir
        self._mode: Mode = _check_mode(mode)
        self._cache_expiry: timedelta = defaults.CACHE_EXPIRY
        self.wildcards = wildcards
        self.record_loaded = False
        """When true, the IDs of the datasets loaded are recorded (see ``save_loaded_ids``)."""
        self.uuid_filenames = False
        """When true, files on disk have the dataset UUID in their name."""
        self._tables: CacheTables | None = None
        self._shape: ResultShape | None = None
        self._index_cache: DatasetsIndex | None = None
        self._session_scans = 0
        self._index_lock = threading.Lock()
        self._open_lock = anyio.Lock()

    # --- attributes ---------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """The query mode: 'auto', 'local', 'remote' or 'refresh'."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = _check_mode(value)

    @property
    def cache_expiry(self) -> timedelta:
        """Age after which the tables are reloaded in 'auto' mode (24 h by default)."""
        return self._cache_expiry

    @cache_expiry.setter
    def cache_expiry(self, value: timedelta) -> None:
        if not isinstance(value, timedelta):
            raise InvalidArgument(f'cache_expiry must be a timedelta, not {value!r}', value=value)
        self._cache_expiry = value
        if self._tables is not None:
            self._tables.meta.expiry = value

    @property
    def tables_dir(self) -> Path:
        """The folder the cache tables are read from."""
        return self._tables_dir

    @property
    def offline(self) -> bool:
        """True in local mode or without an Alyx client (always, until remote mode exists)."""
        return True

    @property
    def cache(self) -> CacheTables | None:
        """The cache tables (None before they are opened)."""
        return self._tables

    # --- tables -------------------------------------------------------------------------------

    async def load_cache(self, tables_dir: str | Path | None = None) -> datetime | None:
        """(Re)load the cache tables from ``tables_dir`` (default: the current tables folder).

        Only the file footers are read; rows are read by the first query that needs them.
        Without tables, empty ones are used and (offline) a ``CacheWarning`` says so.

        Returns
        -------
        datetime or None
            When the tables were loaded (None without tables), as ONE's ``load_cache``.
        """
        async with self._open_lock:
            self._tables_dir = Path(tables_dir) if tables_dir else self._tables_dir
            tables = await CacheTables.aopen(
                self._tables_dir, expiry=self._cache_expiry, warn_missing=self.offline
            )
            self._install(tables)
            return tables.meta.loaded_time

    def _install(self, tables: CacheTables) -> None:
        self._tables = tables
        self._session_scans = 0
        self._shape = ResultShape.of(tables.info('sessions'), tables.info('datasets'))
        with self._index_lock:
            self._index_cache = None

    async def refresh_cache(self, mode: str = 'auto') -> datetime | None:
        """Reload the tables as ``mode`` says, as ONE's ``refresh_cache``.

        'local' and 'remote' never reload, 'auto' reloads tables loaded more than
        :attr:`cache_expiry` ago (or never loaded), 'refresh' always reloads.

        Returns
        -------
        datetime or None
            When the tables in use were loaded.

        Raises
        ------
        InvalidArgument
            An unknown mode.
        """
        if mode not in MODES:
            raise InvalidArgument(f'Unknown refresh type "{mode}"', value=mode)
        tables = self._tables
        loaded = tables.meta.loaded_time if tables is not None else None
        if mode == 'refresh' or (
            mode == 'auto' and (loaded is None or datetime.now() - loaded >= self.cache_expiry)
        ):
            return await self.load_cache()
        return loaded

    async def _tables_ready(self) -> CacheTables:
        tables = self._tables
        if tables is None:
            await self.load_cache()
            tables = self._tables
            assert tables is not None
        return tables

    async def _query(self, query_type: str | None = None) -> CacheTables:
        """Resolve the query type, refresh the cache accordingly and return the tables.

        This is the single dispatch point between local and remote queries.

        Raises
        ------
        InvalidArgument
            An unknown query type.
        LocalModeError
            A remote query (no Alyx client in this session).
        """
        mode = query_type if query_type and query_type != 'auto' else self.mode
        if mode not in MODES:
            raise InvalidArgument(f'Unknown query type "{mode}"', value=query_type)
        await self.refresh_cache(mode)
        if mode == 'remote':
            raise LocalModeError(
                'A remote query needs an Alyx server; this session only has local tables',
                value=query_type,
            )
        return await self._tables_ready()

    def _result_shape(self) -> ResultShape:
        shape = self._shape
        if shape is None:
            return ResultShape.of(None, None)
        return shape

    async def _sessions(self, tables: CacheTables) -> pl.DataFrame:
        """The sessions table in memory (read in a worker thread the first time)."""
        if tables.is_materialised('sessions'):
            return tables.frame('sessions')
        return await tables.aframe('sessions')

    async def _session_rows(self, tables: CacheTables, eid: str) -> pl.DataFrame:
        """The datasets of one session (sorted by ``id``).

        Once the table is in memory this is an O(1) slice.  Before, the first
        :data:`~one_async.defaults.SESSION_SCANS_BEFORE_LOAD` calls scan the file for that
        session only (a few row groups of the file sorted by session), so that a one-off
        question does not read millions of rows; the next call reads the table.
        """
        if not tables.is_materialised('datasets'):
            if self._session_scans < defaults.SESSION_SCANS_BEFORE_LOAD:
                self._session_scans += 1
                return await anyio.to_thread.run_sync(tables.session_datasets, eid)
            await self._datasets(tables)
        return tables.session_datasets(eid)

    async def _datasets(self, tables: CacheTables) -> pl.DataFrame:
        """The datasets table in memory (read in a worker thread the first time)."""
        if tables.is_materialised('datasets'):
            return tables.frame('datasets')
        return await tables.aframe('datasets')

    def _index(self, tables: CacheTables) -> DatasetsIndex:
        """The whole-table index of the datasets in memory, for one more whole-table query
        (blocking: call in a thread)."""
        frame = tables.frame('datasets')
        with self._index_lock:
            index = self._index_cache
            if index is None or index.frame is not frame:
                index = self._index_cache = DatasetsIndex.build(frame)
        index.touch()
        return index

    async def _run(self, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run a side-effect free computation in a worker thread (abandoned if cancelled)."""
        return await anyio.to_thread.run_sync(
            partial(func, *args, **kwargs), abandon_on_cancel=True
        )

    def _file_path(self, session_path: str, rel_path: str, dataset_id: str) -> Path:
        """The local file of a dataset (with its UUID in the name if :attr:`uuid_filenames`)."""
        path = Path(self.cache_dir, session_path, rel_path)
        return add_uuid_string(path, dataset_id) if self.uuid_filenames else path

    def __repr__(self) -> str:
        return f'{type(self).__name__} ({"off" if self.offline else "on"}line, {self.cache_dir})'


def _check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise InvalidArgument(f'Unknown mode "{mode}"; expected one of {MODES}', value=mode)
    return mode  # type: ignore[return-value]
