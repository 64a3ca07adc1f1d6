"""Lazy REST lists for sync code: :class:`SyncPaginatedList`, the sync view of
:class:`~one_async.alyx.PaginatedList`.

ONE-api's ``AlyxClient.rest(..., 'list')`` and remote ``search`` return lists whose pages are
fetched when an index needs them (``_PaginatedResponse``, ``LazyId``).  The sync facades
return this view of the async list: ``len()``, indexing (negative too), slicing, iteration and
``in`` work in plain code, each missing page being fetched in the portal's event loop (a slice
or an iteration fetches its pages concurrently).  Passed back to a sync method (``eid2path``,
``get_details``, ``download``...) it is read in full and handed over as a list, where ONE-api's
lazy lists fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, overload

from one_async.alyx.pagination import PaginatedList
from one_async.sync.portal import CallGroup, Portal, register_sync_type

__all__ = ['SyncPaginatedList']

T = TypeVar('T')
U = TypeVar('U')


class SyncPaginatedList(Sequence[T]):
    """A list query's results, its pages fetched through ``portal`` as they are needed.

    Parameters
    ----------
    portal
        The portal whose loop the async list lives in.
    paginated
        The async list.
    group
        The call group of the facade that returned it (closing the facade cancels fetches).
    """

    def __init__(
        self, portal: Portal, paginated: PaginatedList[T], group: CallGroup | None = None
    ) -> None:
        self._portal = portal
        self._paginated = paginated
        self._group = group

    @property
    def paginated(self) -> PaginatedList[T]:
        """The async list behind this view."""
        return self._paginated

    def __len__(self) -> int:
        return len(self._paginated)

    def __repr__(self) -> str:
        return repr(self._paginated).replace('PaginatedList', type(self).__name__, 1)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        """Record ``index`` (or a slice's records as a list), fetching missing pages first."""
        paginated = self._paginated
        # A record already held needs no I/O: skip the trip through the loop.
        if isinstance(index, int) and not isinstance(index, bool) and paginated.is_loaded(index):
            return paginated.get_nowait(index)
        result: T | list[T] = self._portal.call_with(self._group, paginated.get, index)
        return result

    def __iter__(self) -> Iterator[T]:
        """Every record in order, a window of pages (fetched concurrently) at a time."""
        window = self._paginated.fetch_window
        start = 0
        while start < len(self):
            yield from self[start : start + window]
            start += window

    def to_list(self) -> list[T]:
        """Every record, the missing pages fetched concurrently."""
        return self[:]

    def map(self, func: Callable[[T], U]) -> SyncPaginatedList[U]:
        """A view of the same records with ``func`` applied to each (pages are shared)."""
        return SyncPaginatedList(self._portal, self._paginated.map(func), self._group)


def _wrap(portal: Portal, value: PaginatedList[Any], group: CallGroup | None) -> Any:
    return SyncPaginatedList(portal, value, group)


register_sync_type(PaginatedList, _wrap, SyncPaginatedList, lambda view: view.to_list())
