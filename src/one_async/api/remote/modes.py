"""The remote half of a session: its Alyx server, its settings, and the query modes.

:class:`RemoteCore` makes :class:`~one_async.api.AsyncOne` the async counterpart of ONE-api
2.9.0's ``OneAlyx`` when it is given a server (``base_url``, ``username``, ``password``, settings
or an :class:`~one_async.alyx.AsyncAlyxClient`).  The modes keep ONE's meaning:

* ``'local'``: the cache tables only; nothing ever touches the network;
* ``'auto'`` (default with a server): queries run on the cache tables, which are refreshed from
  the server once expired; missing files are downloaded;
* ``'remote'``: queries go to Alyx (their results are added to the cache tables);
* ``'refresh'``: as 'auto', but the tables are checked against the server before every query.

A per-call ``query_type`` overrides the mode.  :meth:`RemoteCore._query` (refresh the tables as
the mode says) and :meth:`RemoteCore._is_remote` (send this query to Alyx?) are the only places
where modes are interpreted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Final

import anyio
import polars as pl

from one_async.alyx.client import AsyncAlyxClient
from one_async.cache import CacheTables
from one_async.config.settings import OneSettings, resolve_settings
from one_async.exceptions import InvalidArgument, LocalModeError, NoServerError
from one_async.transfer.s3 import S3Config

from ..core import MODES, Mode
from ..loading import LoadingMixin

__all__ = ['RemoteCore']

_logger = logging.getLogger('one_async.api')

_REMOTE_KWARGS: Final = ('token',)
"""Settings that, given alone, make a session remote (besides base_url/username/password)."""


class RemoteCore(LoadingMixin):
    """Construction, the Alyx client and mode dispatch (see the module docstring).

    Parameters
    ----------
    cache_dir
        Root folder of the data files (default for a server: the configured cache folder,
        ``~/Downloads/ONE/<server>`` as ONE-api's).
    mode
        'auto', 'local', 'remote' or 'refresh'; None gives 'auto' with a server, else 'local'.
    wildcards
        Shell wildcards (true) or regular expressions (false) in filters, as ONE.
    tables_dir
        Folder of the cache tables, if not ``cache_dir``.
    base_url, username, password
        The Alyx server and login (ONE-api's ``OneAlyx`` arguments; keyword only here).
    alyx
        An Alyx client to use (it stays open when the session closes).
    settings
        Resolved settings (:func:`~one_async.config.resolve_settings`) instead of resolving
        them from the arguments, ``ONE_*`` variables and configuration files.
    s3
        Endpoint (and, if wanted, credentials) of S3 downloads, overriding what the Alyx data
        repository record says.
    **kwargs
        Further settings (``silent``, ``cache_rest``, ``http_data_server`` ..., see
        :class:`~one_async.config.OneSettings`).
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        mode: str | None = None,
        wildcards: bool = True,
        tables_dir: str | Path | None = None,
        *,
        base_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        alyx: AsyncAlyxClient | None = None,
        settings: OneSettings | None = None,
        s3: S3Config | None = None,
        **kwargs: Any,
    ) -> None:
        named = {'base_url': base_url, 'username': username, 'password': password}
        remote = (
            alyx is not None
            or settings is not None
            or any(v is not None for v in named.values())
            or any(kwargs.get(k) is not None for k in _REMOTE_KWARGS)
        )
        if remote and settings is None:
            if alyx is not None and base_url is None:
                named['base_url'] = alyx.base_url
                named['username'] = named['username'] or alyx.user
            settings = resolve_settings(
                **named, cache_dir=cache_dir, tables_dir=tables_dir, mode=mode, **kwargs
            )
        elif kwargs:
            where = 'with settings=' if settings is not None else 'for a local session (no server)'
            raise InvalidArgument(
                f'Unexpected argument(s) {sorted(kwargs)} {where}', value=sorted(kwargs)
            )
        if settings is not None:
            cache_dir = cache_dir or settings.cache_dir
            tables_dir = tables_dir or settings.tables_dir
            mode = mode or settings.mode
        super().__init__(
            cache_dir=cache_dir,
            mode=mode or ('auto' if remote else 'local'),
            wildcards=wildcards,
            tables_dir=tables_dir,
        )
        if settings is not None:
            self.cache_expiry = settings.cache_expiry
        self._settings = settings
        self._alyx = alyx
        self._own_alyx = alyx is None
        self._s3 = s3
        self._sync_lock = anyio.Lock()

    # --- the server -----------------------------------------------------------------------

    @property
    def has_server(self) -> bool:
        """True when the session has an Alyx server (whatever its mode)."""
        return self._settings is not None or self._alyx is not None

    @property
    def settings(self) -> OneSettings | None:
        """The resolved settings of a session with a server (None for a local one)."""
        return self._settings

    @property
    def alyx(self) -> AsyncAlyxClient:
        """The Alyx client (ONE's ``one.alyx``), created on first use.

        Raises
        ------
        NoServerError
            The session has no server (a ``LocalModeError`` and an ``AttributeError``, so that
            ``hasattr(one, 'alyx')`` is false as for ONE-api's local ``One``).
        """
        if self._alyx is None:
            settings = self._settings
            if settings is None:
                raise NoServerError('This session has no Alyx server', value=str(self.cache_dir))
            password = settings.password.get_secret_value() if settings.password else None
            token = settings.token.get_secret_value() if settings.token else None
            self._alyx = AsyncAlyxClient(
                settings.base_url,
                settings.username,
                password,
                token=token,
                cache_dir=self.cache_dir,
                timeout=settings.http_timeout(),
                verify=settings.verify_tls,
                silent=settings.silent,
                cache_rest=settings.cache_rest,
                rest_expiry=settings.rest_cache_expiry,
                retry=settings.retry_policy(),
                page_concurrency=settings.rest_page_concurrency,
                http_data_server=settings.http_data_server,
                http_data_server_login=settings.http_data_server_login,
                http_data_server_password=(
                    settings.http_data_server_password.get_secret_value()
                    if settings.http_data_server_password
                    else None
                ),
            )
            self._own_alyx = True
        return self._alyx

    @property
    def base_url(self) -> str | None:
        """The Alyx server's URL (None for a local session)."""
        if self._alyx is not None:
            return self._alyx.base_url
        return self._settings.base_url if self._settings is not None else None

    @property
    def offline(self) -> bool:
        """True in 'local' mode or without a server: nothing is downloaded."""
        return self.mode == 'local' or not self.has_server

    @property
    def silent(self) -> bool:
        """No progress display (the ``silent`` setting)."""
        return bool(self._settings.silent) if self._settings is not None else True

    async def _close_remote(self) -> None:
        """Close the Alyx client this session created (a given one is left open)."""
        client, self._alyx = self._alyx, (None if self._own_alyx else self._alyx)
        if client is not None and self._own_alyx:
            await client.aclose()

    def __repr__(self) -> str:
        where = self.base_url or self.cache_dir
        return f'{type(self).__name__} ({"off" if self.offline else "on"}line, {where})'

    # --- modes ----------------------------------------------------------------------------

    def _is_remote(self, query_type: str | None) -> bool:
        """Whether a query goes to Alyx: ``(query_type or mode) == 'remote'``, as ONE.

        Raises
        ------
        LocalModeError
            A remote query in a session without a server.
        """
        remote = (query_type or self.mode) == 'remote'
        if remote and not self.has_server:
            raise LocalModeError(
                'A remote query needs an Alyx server; this session only has local tables',
                value=query_type,
            )
        return remote

    async def _remote(self, query_type: str | None) -> bool:
        """:meth:`_is_remote`, once the tables are open: opening them may change the mode
        (as ONE's constructor does when the server cannot be reached)."""
        if self._tables is None and self.has_server:
            await self._tables_ready()
        return self._is_remote(query_type)

    def _require_server(self, what: str) -> None:
        """ONE's ``assert self.mode != 'local' and not self.offline`` as a typed error."""
        if self.offline:
            raise LocalModeError(
                f'{what} needs a connection to Alyx (the session is local)', value=self.mode
            )

    async def _query(self, query_type: str | None = None) -> CacheTables:
        """Refresh the tables as ``query_type`` (or the mode) says and return them.

        Raises
        ------
        InvalidArgument
            An unknown query type.
        LocalModeError
            A remote query in a session without a server.
        """
        mode = query_type if query_type and query_type != 'auto' else self.mode
        if mode not in MODES:
            raise InvalidArgument(f'Unknown query type "{mode}"', value=query_type)
        self._is_remote(mode)
        await self.refresh_cache(mode)
        return await self._tables_ready()

    def _set_mode(self, mode: Mode, reason: str) -> None:
        """Change the mode after a failure, as ONE does, saying so."""
        if mode != self.mode:
            _logger.warning('%s: mode set to "%s"', reason, mode)
        self.mode = mode

    # --- the cache tables -----------------------------------------------------------------

    async def _ingest(
        self,
        sessions: dict[str, Any] | list[dict[str, Any]] | None = None,
        datasets: pl.DataFrame | None = None,
    ) -> None:
        """Add records seen remotely to the cache tables (ONE's ``_update_cache_from_records``)."""
        tables = await self._tables_ready()
        if sessions is None and datasets is None:
            return
        await tables.aupdate(sessions=sessions, datasets=datasets)
