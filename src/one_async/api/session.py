"""``AsyncOne``: ONE-api 2.9.0's ``One`` class as an async session over polars cache tables.

Every public method of ONE's ``One`` is a coroutine here with the same name, parameters and
defaults; results are the same, except that tables are polars DataFrames where ONE returns
pandas (ONE's index levels as first columns), and single records are dicts.  Errors are the
typed errors of :mod:`one_async.exceptions` (ALF errors keep ONE's names; bad arguments are
``ValueError``/``TypeError`` subclasses naming the value).

Usage::

    async with AsyncOne(cache_dir='/data/one') as one:
        eids = await one.search(subject='KS005', dataset='trials')
        trials = await one.load_object(eids[0], 'trials')

Tables open on entry (footers only: rows are read by the first query needing them); outside
``async with`` they open on first use, and :meth:`AsyncOne.aclose` releases them.

Deliberate differences from ONE-api 2.9.0 (each pinned by a test), where ONE fails or is
inconsistent:

* lists stay lists: ``list_datasets`` of an unknown session gives ``[]`` (ONE: an empty
  DataFrame); a ``search`` whose remaining sessions have no datasets gives ``[]`` (ONE: a
  TypeError);
* ``path2record`` takes str paths and tables without ``session_path`` (Alyx 3.x layout), and
  matches the exact relative path; records are dicts with their key columns first;
* ``load_collection`` applies ``revision`` as a revision (ONE uses it as a collection pattern);
* assertion failures of ONE are typed errors (a reference matching no session:
  ``ALFObjectNotFound``); unparsable dates must be ISO 8601 (ONE accepts what pandas parses);
* ``save_cache`` waits for the (atomic, locked) write and writes to the tables folder;
* search terms also accept ONE 3.x's ``datasets`` (exact file names), spelled in full;
* a file that fails to download after the retries (a 404, a corrupt body) is logged and left
  out of what ``load_*`` returns, as a file missing offline is, while the rest of the batch is
  kept (ONE raises the first ``HTTPError`` and drops the batch); :meth:`download` reports
  every failure with its cause.
"""

from __future__ import annotations

import warnings
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio.to_thread

from one_async.exceptions import CacheWarning, InvalidArgument

from .remote import RemoteMixin

__all__ = ['AsyncOne']


class AsyncOne(RemoteMixin):
    """An async ONE session on a local cache (ONE-api 2.9.0's ``One``), or on an Alyx server
    and its cache (``OneAlyx``: give ``base_url``, ``username``, ``password``, ``settings`` or
    ``alyx``; see :mod:`one_async.api.remote`).

    Parameters
    ----------
    cache_dir
        Root folder of the data files (and, by default, of the cache tables).
    mode
        'local' (default without a server: never reload the tables), 'auto' (default with a
        server: reload them once older than :attr:`cache_expiry`, from the server if newer),
        'refresh' (reload before every query) or 'remote' (queries go to Alyx).  Most methods
        take a ``query_type`` overriding it for one call.
    wildcards
        When true (default), filters take shell wildcards (``*probe0?``) and ``search``
        takes regular expressions; when false, filters take regular expressions and
        ``search`` plain substrings (ONE's convention).
    tables_dir
        Folder of the cache tables, if not ``cache_dir``.
    base_url, username, password, alyx, settings, s3, **kwargs
        The Alyx server and settings (keyword only; see
        :class:`~one_async.api.remote.modes.RemoteCore`).

    Raises
    ------
    InvalidArgument
        No ``cache_dir``, or an unknown mode.
    """

    @classmethod
    async def setup(
        cls,
        cache_dir: str | Path | None = None,
        silent: bool = False,
        *,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> AsyncOne:
        """Set up a session: index a data folder (ONE's ``One.setup``) or record a database
        (``OneAlyx.setup``), and return a session on it (not yet entered).

        Without ``base_url``: the ALF files under ``cache_dir`` (asked for when interactive and
        not ``silent``, else the working folder) are indexed into cache tables with
        :func:`~one_async.cache.abuild_cache` (``kwargs``: its options, e.g. ``hash=True``).
        Existing tables are kept unless an interactive user asks to rebuild them, as in ONE.
        The session is local.  With ``base_url``: the database's settings are written with
        :func:`one_async.config.setup` (``kwargs``: its options) and the session uses them.

        Raises
        ------
        InvalidArgument
            ``cache_dir`` is not an existing folder.
        """
        from one_async.cache import abuild_cache
        from one_async.config import setup as setup_config
        from one_async.config.setup import is_interactive

        if base_url is not None:
            settings = await anyio.to_thread.run_sync(
                partial(setup_config, base_url, cache_dir=cache_dir, silent=silent, **kwargs)
            )
            return cls(settings=settings)
        ask = not silent and is_interactive()
        if not cache_dir and ask:
            prompt = f'Select a directory from which to build cache ({Path.cwd()}): '
            cache_dir = (await anyio.to_thread.run_sync(input, prompt)).strip()
        folder = Path(cache_dir or Path.cwd())
        if not await anyio.to_thread.run_sync(folder.is_dir):
            raise InvalidArgument(f'{folder} is not an existing folder', value=str(folder))
        build = not await anyio.to_thread.run_sync((folder / 'sessions.pqt').exists)
        if not build and ask:
            answer = await anyio.to_thread.run_sync(
                input, f'Cache tables exist for {folder}, overwrite? [y/N] '
            )
            build = answer.strip().lower().startswith('y')
        if build:
            await abuild_cache(folder, **kwargs)
        return cls(folder, mode='local')

    async def __aenter__(self) -> AsyncOne:
        await self._tables_ready()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the tables (unsaved changes are dropped; call :meth:`save_cache` first).

        The session may be used again afterwards: the tables are reopened on first use.
        """
        async with self._open_lock:
            if self._tables is not None:
                self._tables.close()
            self._tables = None
            self._shape = None
            with self._index_lock:
                self._index_cache = None
            self._session_keys = None
        await self._close_remote()

    async def save_cache(
        self, save_dir: str | Path | None = None, force: bool = False
    ) -> list[Path]:
        """Write the tables modified since they were loaded (all with ``force``).

        Tables are written atomically under an inter-process lock, to ``save_dir`` or the
        folder they were read from (ONE writes to ``cache_dir``, which differs when
        ``tables_dir`` is set), and are awaited (ONE saves in a background thread).

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        tables = await self._tables_ready()
        return await tables.asave(save_dir, force=force)

    async def save_loaded_ids(
        self, sessions_only: bool = False, clear_list: bool = True
    ) -> tuple[list[str], Path | None]:
        """Write the IDs of the datasets loaded (with :attr:`record_loaded`) to a CSV file.

        Returns
        -------
        list of str
            The dataset (or, with ``sessions_only``, session) IDs.
        pathlib.Path or None
            The file, in the tables folder; None (and a warning) when nothing was loaded.
        """
        tables = await self._tables_ready()
        if not tables.loaded_ids:
            warnings.warn(
                'No datasets loaded; check "record_loaded" attribute is True',
                CacheWarning,
                stacklevel=2,
            )
            return [], None
        saved: tuple[list[str], Path | None] = await self._run_blocking(
            tables.save_loaded_ids, sessions_only=sessions_only, clear_list=clear_list
        )
        return saved

    async def _update_cache_from_records(self, strict: bool = False, **kwargs: Any) -> Any:
        """Insert or replace cache records (ONE's ``_update_cache_from_records``).

        ``kwargs`` maps table names to records (a polars DataFrame, a dict, a list of dicts).

        Returns
        -------
        datetime or None
            When the tables were modified.
        """
        tables = await self._tables_ready()
        return await tables.aupdate(strict=strict, **kwargs)

    async def _run_blocking(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking call with side effects in a worker thread (it completes if cancelled)."""
        return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))
