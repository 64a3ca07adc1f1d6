"""Remote searches: sessions and probe insertions on Alyx, as ONE-api 2.9.0's ``OneAlyx``.

``search(query_type='remote')`` maps ONE's search terms onto the filters of Alyx's
``sessions`` list (``laboratory`` -> ``lab``, ``dataset`` -> a ``django`` clause on the
session's datasets, ``date_range`` -> two ISO days, the others as they are) and returns the
results lazily: a :class:`~one_async.alyx.PaginatedList` of eids that fetches the pages it is
asked for (ONE's ``LazyId``)::

    eids = await one.search(subject='KS005', query_type='remote')
    len(eids)                  # the server's count, from the first page
    first = await eids[0]
    every = await eids.to_list()

The accepted terms come from the server's own API description (:meth:`search_terms`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

from one_async.alyx.pagination import PaginatedList
from one_async.exceptions import ArgumentTypeError, LocalModeError

from ..terms import SEARCH_TERMS, autocomplete, validate_date_range, validate_qc
from .cache_sync import RemoteCache
from .records import as_paginated, ses2eid

__all__ = ['RemoteSearch']

OPEN_START: Final = date(1677, 9, 21)
"""The start of an open date range sent to Alyx (ONE's ``pandas.Timestamp.min`` day)."""
OPEN_END: Final = date(2262, 4, 11)
"""The end of an open date range sent to Alyx (ONE's ``pandas.Timestamp.max`` day)."""

_SEARCH_ENDPOINT: Final = 'sessions'
_INSERTION_EXTRAS: Final = ('dataset', 'laboratory', 'number')


def _with_date(record: Mapping[str, Any]) -> dict[str, Any]:
    """A session record with ONE's ``date`` (the day of ``start_time``) added."""
    out = dict(record)
    start = out.get('start_time')
    if start:
        out['date'] = datetime.fromisoformat(str(start)).date()
    return out


def _append_django(params: dict[str, Any], clause: str) -> None:
    params['django'] = f'{params["django"]},{clause}' if params['django'] else clause


def _dataset_clause(value: Any, relation: str) -> str:
    if not isinstance(value, str):
        raise ArgumentTypeError(
            '"dataset" parameter must be a string. For lists use "datasets"', value=value
        )
    return f'{relation}__name__icontains,{value}'


class RemoteSearch(RemoteCache):
    """``search``, ``search_terms``, ``search_insertions``, ``pid2eid`` and ``eid2pid``."""

    async def _remote_terms(self, endpoint: str) -> tuple[str, ...]:
        filters = (await self.alyx.schema()).filters(endpoint, 'list')
        if endpoint != _SEARCH_ENDPOINT:
            return tuple(filters)
        return tuple(sorted({*SEARCH_TERMS, *(f for f in filters if f != 'lab')}))

    async def search_terms(  # type: ignore[override]
        self, query_type: str | None = None, endpoint: str | None = None
    ) -> tuple[str, ...] | None:
        """The search terms ``search`` accepts, as ONE's ``OneAlyx.search_terms``.

        Parameters
        ----------
        query_type
            'remote' for the terms of the server's REST endpoint; otherwise the local terms.
        endpoint
            The REST endpoint ('sessions' by default; 'insertions' for
            :meth:`search_insertions`).

        Returns
        -------
        tuple of str or None
            The terms (sorted, for remote sessions: ONE's local terms and the endpoint's
            filters); None for another endpoint than 'sessions' when not remote (as ONE).
        """
        await self._query(query_type)
        if not self._is_remote(query_type):
            if endpoint is None or endpoint == _SEARCH_ENDPOINT:
                return self._search_terms
            return None
        return await self._remote_terms(endpoint or _SEARCH_ENDPOINT)

    async def search(
        self, /, details: bool = False, query_type: str | None = None, **kwargs: Any
    ) -> Any:
        """Search sessions matching all the given criteria, as ONE's ``OneAlyx.search``.

        Local (the default outside 'remote' mode) as :meth:`AsyncOne.search` on the cache
        tables; remote, on Alyx's ``sessions`` list:

        * string terms (``subject``, ``laboratory``/``lab``, ``task_protocol``, ``projects``,
          ``location``, ``users``...) as the server matches them (mostly case-insensitive
          substrings; a list means any of them);
        * ``dataset``: a session dataset name contains this (one str); ``datasets``: every
          one of these exact names; ``dataset_types``; ``dataset_qc_lte``;
        * ``date_range``: a day or ``[start, end]`` (None leaves a bound open);
        * ``number``, ``performance_gte``, ``performance_lte`` (percent);
        * ``django``: raw Django lookups (``'field__lookup,value,...'``);
        * any other filter of the server's ``sessions`` list (see :meth:`search_terms`).

        Returns
        -------
        list of str or PaginatedList
            Local: the eids.  Remote: the eids, lazily (``len()``, ``await eids[i]``,
            ``async for``, ``await eids.to_list()``).
        (list or PaginatedList) of dict
            With ``details``: the session records (remote: Alyx's, with ``date`` added).

        Raises
        ------
        InvalidArgument
            An unknown or ambiguous term, a bad date or QC value.
        ArgumentTypeError
            ``dataset`` is not a str.
        AlyxEndpointError
            A term the server does not document.
        """
        if not await self._remote(query_type):
            return await super().search(details=details, query_type=query_type, **kwargs)
        await self._query(query_type)
        terms = await self._remote_terms(_SEARCH_ENDPOINT)
        params: dict[str, Any] = {'django': kwargs.pop('django', '')}
        for key, value in sorted(kwargs.items()):
            field = autocomplete(key, terms)
            if field == 'date_range':
                start, end = validate_date_range(value)
                params[field] = [
                    (start.date() if start else OPEN_START).isoformat(),
                    (end.date() if end else OPEN_END).isoformat(),
                ]
            elif field == 'dataset':
                _append_django(params, _dataset_clause(value, 'data_dataset_session_related'))
            elif field == 'laboratory':
                params['lab'] = value
            elif field == 'dataset_qc_lte':
                params[field] = validate_qc(value).name
            else:
                params[field] = value
        if not params['django']:
            params.pop('django')
        sessions = as_paginated(await self.alyx.rest(_SEARCH_ENDPOINT, 'list', **params))
        eids: PaginatedList[str] = sessions.map(ses2eid)
        if not details:
            return eids
        return eids, sessions.map(_with_date)

    async def _insertions_query(self, query_type: str | None, what: str) -> None:
        if self.has_server:
            await self._tables_ready()
        if (query_type or self.mode) == 'local':
            raise LocalModeError(f'{what} requires a remote connection', value=query_type)
        self._require_server(what)

    async def search_insertions(
        self, /, details: bool = False, query_type: str | None = None, **kwargs: Any
    ) -> Any:
        """Search probe insertions on Alyx, as ONE's ``search_insertions``.

        Terms are the filters of the server's ``insertions`` list (``session``, ``name``,
        ``lab``, ``subject``, ``task_protocol``, ``project``, ``datasets``, ``dataset_types``,
        ``dataset_qc_lte``, ``django`` ...), plus ``dataset`` (a name contains it),
        ``laboratory`` and ``number`` (the session number).

        Returns
        -------
        PaginatedList of str
            The probe insertion IDs (pids), lazily.
        PaginatedList of dict
            With ``details``: the insertion records.

        Raises
        ------
        LocalModeError
            In 'local' mode (ONE: NotImplementedError): insertions are only on Alyx.
        """
        await self._insertions_query(query_type, 'Searching on insertions')
        await self._query('remote')
        terms = (*await self._remote_terms('insertions'), *_INSERTION_EXTRAS)
        params: dict[str, Any] = {'django': kwargs.pop('django', '')}
        for key, value in sorted(kwargs.items()):
            field = autocomplete(key, terms)
            if field == 'dataset':
                _append_django(params, _dataset_clause(value, 'datasets'))
            elif field == 'laboratory':
                params['lab'] = value
            elif field == 'number':
                params['experiment_number'] = value
            elif field == 'dataset_qc_lte':
                params[field] = validate_qc(value).name
            else:
                params[field] = value
        if not params['django']:
            params.pop('django')
        insertions = as_paginated(await self.alyx.rest('insertions', 'list', **params))
        pids: PaginatedList[str] = insertions.map(ses2eid)
        return (pids, insertions) if details else pids

    async def pid2eid(self, pid: Any, query_type: str | None = None) -> tuple[str, str]:
        """The session and the probe label (ALF collection) of a probe insertion.

        Raises
        ------
        LocalModeError
            In 'local' mode: probe insertions are only on Alyx.
        """
        await self._insertions_query(query_type, 'Converting probe IDs')
        await self._query(query_type)
        record = await self.alyx.rest('insertions', 'read', id=str(pid))
        return str(record['session']), str(record['name'])

    async def eid2pid(
        self, eid: Any, query_type: str | None = None, details: bool = False
    ) -> tuple[Any, ...]:
        """The probe insertions of a session: pids and labels (and records with ``details``).

        Returns
        -------
        tuple
            ``(pids, labels)`` or ``(pids, labels, records)``; Nones for an unknown session.

        Raises
        ------
        LocalModeError
            In 'local' mode: probe insertions are only on Alyx.
        """
        await self._insertions_query(query_type, 'Converting probe IDs')
        await self._query(query_type)
        eid = await self.to_eid(eid)
        if not eid:
            return (None,) * (3 if details else 2)
        records = await as_paginated(
            await self.alyx.rest('insertions', 'list', session=eid)
        ).to_list()
        pids = [str(r['id']) for r in records]
        labels = [str(r['name']) for r in records]
        return (pids, labels, records) if details else (pids, labels)
