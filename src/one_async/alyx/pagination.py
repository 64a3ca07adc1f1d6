"""Paginated Alyx lists: a concurrent async iterator and a lazy indexable result.

Alyx answers list queries with ``{count, next, previous, results}``, ``limit`` results per page
(250 by default, at most 1000).  Pages are addressed with ``limit``/``offset`` on the original
query URL rather than by following ``next``, whose absolute URL may name another host (a proxy)
and must not receive the token.

- :func:`iter_records` yields every record in order, fetching the pages after the first
  concurrently once the first has told the count.
- :class:`PaginatedList` is the async counterpart of ONE-api's ``_PaginatedResponse`` and
  ``LazyId``: it holds the first page and fetches only the pages an index or slice needs
  (``await result.get(i)``, ``await result[2:10]``, ``len(result)``, ``async for``).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, overload

import anyio

from one_async import defaults
from one_async.alyx.urls import set_query
from one_async.exceptions import ArgumentTypeError, InvalidArgument, OneWarning

__all__ = ['PageFetcher', 'PaginatedList', 'is_paginated', 'iter_records', 'page_url']

T = TypeVar('T')
U = TypeVar('U')

PageFetcher = Callable[[str], Awaitable[Any]]
"""Fetches one page URL and returns its decoded JSON body."""

_PAGE_KEYS = frozenset({'count', 'next', 'previous', 'results'})
_MISSING: Any = object()


def is_paginated(body: object) -> bool:
    """True when ``body`` is one page of an Alyx list (``{count, next, previous, results}``)."""
    return isinstance(body, Mapping) and set(body) == _PAGE_KEYS


def page_url(query_url: str, limit: int, offset: int) -> str:
    """The URL of the page of ``query_url`` starting at ``offset``."""
    return set_query(query_url, {'limit': limit, 'offset': offset})


def _check_page(body: object, url: str) -> Mapping[str, Any]:
    if not is_paginated(body):
        raise InvalidArgument(f'Expected a page of results from {url}', value=url)
    assert isinstance(body, Mapping)
    return body


def _warn_changed(url: str, before: int, after: int) -> None:
    warnings.warn(
        f'Remote results of {url.split("?")[0]} changed from {before} to {after} records '
        'while paging; results may be inconsistent',
        OneWarning,
        stacklevel=4,
    )


async def iter_records(
    fetch: PageFetcher,
    query_url: str,
    *,
    page_size: int = defaults.REST_PAGE_SIZE,
    concurrency: int = defaults.REST_PAGE_CONCURRENCY,
) -> AsyncIterator[Any]:
    """Every record of a list query, in order, pages fetched ``concurrency`` at a time.

    Parameters
    ----------
    fetch
        Fetches and decodes one page URL.
    query_url
        The list URL with its filters (``limit``/``offset`` are set here).
    page_size
        Records per page (the server may cap it; the first page tells).
    concurrency
        Pages fetched at once after the first.
    """
    if page_size < 1 or concurrency < 1:
        raise InvalidArgument(
            f'page_size and concurrency must be >= 1, got {page_size!r}, {concurrency!r}',
            value=(page_size, concurrency),
        )
    first = await fetch(page_url(query_url, page_size, 0))
    if not is_paginated(first):  # an unpaginated endpoint answers a plain list
        for record in first if isinstance(first, list) else [first]:
            yield record
        return
    count = int(first['count'])
    results = list(first['results'])
    limit = len(results) if 0 < len(results) < min(page_size, count) else page_size
    for record in results:
        yield record
    offsets = range(len(results), count, limit) if results else range(0)
    iterator = iter(offsets)
    while window := list(itertools.islice(iterator, concurrency)):
        pages: dict[int, Mapping[str, Any]] = {}

        async def get(offset: int, pages: dict[int, Mapping[str, Any]] = pages) -> None:
            url = page_url(query_url, limit, offset)
            pages[offset] = _check_page(await fetch(url), url)

        async with anyio.create_task_group() as tg:
            for offset in window:
                tg.start_soon(get, offset)
        for offset in window:
            page = pages[offset]
            if int(page['count']) != count:
                _warn_changed(query_url, count, int(page['count']))
                count = int(page['count'])
            for record in page['results']:
                yield record


class _PageStore:
    """Records of one list query, filled page by page; shared by mapped views."""

    def __init__(
        self,
        first: Mapping[str, Any],
        *,
        query_url: str,
        fetch: PageFetcher,
        limit: int,
        offset: int,
        concurrency: int,
    ) -> None:
        results = list(first['results'])
        self.count = max(0, int(first['count']) - offset)
        if 0 < len(results) < min(limit, self.count):
            limit = len(results)  # the server capped the page size
        self.limit = max(1, limit)
        self.offset = offset
        self.query_url = query_url
        self.fetch = fetch
        self.concurrency = concurrency
        self.requests = 1
        self.items: list[Any] = [_MISSING] * self.count
        self.items[: len(results)] = results[: self.count]
        self._inflight: dict[int, anyio.Event] = {}

    def loaded(self, index: int) -> bool:
        return self.items[index] is not _MISSING

    async def ensure(self, indices: Iterable[int]) -> None:
        pages = sorted({i // self.limit for i in indices if self.items[i] is _MISSING})
        if not pages:
            return
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def load(page: int) -> None:
            async with limiter:
                await self._load(page)

        async with anyio.create_task_group() as tg:
            for page in pages:
                tg.start_soon(load, page)

    async def _load(self, page: int) -> None:
        while (event := self._inflight.get(page)) is not None:
            await event.wait()  # another task is fetching this page
            if self._page_loaded(page):
                return
        event = self._inflight[page] = anyio.Event()
        try:
            url = page_url(self.query_url, self.limit, self.offset + page * self.limit)
            self.requests += 1
            body = _check_page(await self.fetch(url), url)
            remote = max(0, int(body['count']) - self.offset)
            if remote != self.count:
                _warn_changed(self.query_url, self.count, remote)
                self._resize(remote)
            start = page * self.limit
            for i, record in enumerate(body['results'][: max(0, self.count - start)]):
                self.items[start + i] = record
        finally:
            del self._inflight[page]
            event.set()

    def _page_loaded(self, page: int) -> bool:
        start = page * self.limit
        return all(x is not _MISSING for x in self.items[start : start + self.limit])

    def _resize(self, count: int) -> None:
        if count < self.count:
            del self.items[count:]
        else:
            self.items.extend([_MISSING] * (count - self.count))
        self.count = count


class PaginatedList(Generic[T]):
    """A list query's results, fetched page by page only as they are needed.

    The async counterpart of ONE-api's paginated response: ``len()`` is the server's count
    from the first page; ``await result.get(i)`` / ``await result[i]`` and slices fetch the
    missing pages (concurrently), ``async for`` walks it all, ``await result.to_list()``
    gathers it and :meth:`map` gives a view applying a function to each record, as ONE's
    ``LazyId`` does to sessions.  Synchronous iteration is refused: it would need I/O.
    """

    def __init__(self, store: _PageStore, transform: Callable[[Any], T] | None = None) -> None:
        self._store = store
        self._transform = transform

    @classmethod
    def from_first_page(
        cls,
        first: Mapping[str, Any],
        *,
        query_url: str,
        fetch: PageFetcher,
        limit: int | None = None,
        offset: int = 0,
        concurrency: int = defaults.REST_PAGE_CONCURRENCY,
    ) -> PaginatedList[Any]:
        """Wrap the first page of ``query_url`` (its ``limit``/``offset`` are replaced)."""
        first = _check_page(first, query_url)
        size = limit or len(first['results']) or defaults.REST_PAGE_SIZE
        store = _PageStore(
            first,
            query_url=query_url,
            fetch=fetch,
            limit=size,
            offset=offset,
            concurrency=max(1, concurrency),
        )
        return PaginatedList(store)

    def __len__(self) -> int:
        return self._store.count

    def __repr__(self) -> str:
        loaded = sum(x is not _MISSING for x in self._store.items)
        return f'<PaginatedList of {len(self)} records, {loaded} loaded>'

    @property
    def page_size(self) -> int:
        """Records per page."""
        return self._store.limit

    @property
    def requests(self) -> int:
        """Pages requested so far, the first included."""
        return self._store.requests

    @property
    def fetch_window(self) -> int:
        """Records fetched at once when walking the list (``concurrency`` pages)."""
        return self._store.limit * self._store.concurrency

    def is_loaded(self, index: int) -> bool:
        """True when record ``index`` is already held (no request needed)."""
        return self._store.loaded(self._normalise(index))

    def get_nowait(self, index: int) -> T:
        """Record ``index`` when it is already held (see :meth:`is_loaded`), without I/O.

        Raises
        ------
        LookupError
            The record's page has not been fetched yet.
        """
        i = self._normalise(index)
        if not self._store.loaded(i):
            raise LookupError(f'record {index} is not loaded yet: await get({index})')
        return self._apply(self._store.items[i])

    def _normalise(self, index: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool):
            raise ArgumentTypeError(f'index must be an int or slice, got {index!r}', value=index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'index {index} out of range for {n} records')
        return index + n if index < 0 else index

    def _apply(self, record: Any) -> T:
        return record if self._transform is None else self._transform(record)

    @overload
    async def get(self, index: int) -> T: ...
    @overload
    async def get(self, index: slice) -> list[T]: ...

    async def get(self, index: int | slice) -> T | list[T]:
        """Record ``index`` (or the records of a slice), fetching missing pages first."""
        if isinstance(index, slice):
            indices = range(*index.indices(len(self)))
            await self._store.ensure(indices)
            return [self._apply(self._store.items[i]) for i in indices if i < len(self)]
        i = self._normalise(index)
        await self._store.ensure([i])
        if i >= len(self):  # the remote list shrank meanwhile
            raise IndexError(f'index {index} out of range for {len(self)} records')
        return self._apply(self._store.items[i])

    @overload
    def __getitem__(self, index: int) -> Awaitable[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Awaitable[list[T]]: ...

    def __getitem__(self, index: int | slice) -> Awaitable[T] | Awaitable[list[T]]:
        """``await result[i]`` / ``await result[a:b]``: same as :meth:`get`."""
        return self.get(index)

    def __iter__(self) -> Any:
        raise TypeError('PaginatedList fetches pages on demand: use "async for" or to_list()')

    async def to_list(self) -> list[T]:
        """Every record, fetching the missing pages concurrently."""
        return await self.get(slice(None))

    async def __aiter__(self) -> AsyncIterator[T]:
        store = self._store
        i = 0
        while i < len(self):
            if not store.loaded(i):
                # Fetch this page and the next few at once, then walk them.
                end = min(len(self), i + self.fetch_window)
                await store.ensure(range(i, end))
            if i < len(self):
                yield self._apply(store.items[i])
            i += 1

    def map(self, func: Callable[[T], U]) -> PaginatedList[U]:
        """A view of the same records with ``func`` applied to each (pages are shared)."""
        transform = self._transform

        def both(record: Any) -> U:
            return func(record if transform is None else transform(record))

        return PaginatedList(self._store, both)
