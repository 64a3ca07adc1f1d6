"""``One`` and ``ONE()``: the sync facade of :class:`~one_async.api.AsyncOne` for scripts and
notebooks, with ONE-api 2.9.0's signatures.

``from one_async import ONE`` replaces ``from one.api import ONE``: every method of the async
session is here under the same name, parameters and defaults, and returns the same results
(detail tables are polars DataFrames).  Each call runs the async method in the facade's own
event-loop thread (:mod:`one_async.sync.portal`), so it works the same in a plain script, in
Jupyter (whose loop is already running) and from several threads; no logic is written here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from one_async.alyx.client import AsyncAlyxClient
from one_async.api import AsyncOne
from one_async.api.factory import make_session
from one_async.config import setup as _setup_config
from one_async.sync.alyx import AlyxClient
from one_async.sync.facade import SyncFacade, sync_method, sync_property

__all__ = ['ONE', 'One']


class One(SyncFacade[AsyncOne]):
    """A ONE session with blocking methods: the sync twin of :class:`~one_async.api.AsyncOne`.

    Parameters are those of :class:`~one_async.api.AsyncOne` (ONE-api's ``One`` and
    ``OneAlyx``).  Close it with :meth:`close` or use it as a context manager; a forgotten
    session is closed when garbage collected.

    Examples
    --------
    >>> one = One(cache_dir='/data/one', mode='local')
    >>> eids = one.search(subject='KS005', dataset='trials')
    >>> trials = one.load_object(eids[0], 'trials')
    """

    def __init__(
        self,
        cache_dir: str | Path | None = None,
        mode: str | None = None,
        wildcards: bool = True,
        tables_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(lambda: AsyncOne(cache_dir, mode, wildcards, tables_dir, **kwargs))

    @classmethod
    def wrap(cls, factory: Callable[[], AsyncOne | Awaitable[AsyncOne]]) -> One:
        """A facade over the session ``factory`` builds (called in the facade's loop thread)."""
        facade = cls.__new__(cls)
        SyncFacade.__init__(facade, factory)
        return facade

    @classmethod
    def setup(
        cls,
        cache_dir: str | Path | None = None,
        silent: bool = False,
        *,
        base_url: str | None = None,
        **kwargs: Any,
    ) -> One:
        """Index a data folder (ONE's ``One.setup``) or record a database (``OneAlyx.setup``)
        and return a session on it: see :meth:`AsyncOne.setup <one_async.api.AsyncOne.setup>`.
        """
        return cls.wrap(partial(AsyncOne.setup, cache_dir, silent, base_url=base_url, **kwargs))

    def __repr__(self) -> str:
        """ONE-api's text: ``One (online, <server>)``, ``One (offline, <cache folder>)``."""
        if self.closed:
            return '<One sync facade of a closed session>'
        text = repr(self._async_object)
        prefix = type(self._async_object).__name__
        return 'One' + text[len(prefix) :] if text.startswith(prefix) else text

    @property
    def alyx(self) -> AlyxClient:
        """The session's Alyx client as a sync :class:`~one_async.sync.alyx.AlyxClient`
        (ONE's ``one.alyx``), sharing the session's event loop thread.

        Raises
        ------
        NoServerError
            The session has no server (also an ``AttributeError``: ``hasattr(one, 'alyx')``
            is false, as for ONE-api's local ``One``).
        """
        client = self.portal.run_sync_in_loop(_alyx_of, self._async_object)
        facade: AlyxClient | None = self.__dict__.get('_alyx_facade')
        if facade is None or facade.closed or facade._async_object is not client:
            facade = AlyxClient.borrow(client, self.portal)
            object.__setattr__(self, '_alyx_facade', facade)
        return facade

    base_url = sync_property(AsyncOne.base_url)
    cache = sync_property(AsyncOne.cache)
    cache_expiry = sync_property(AsyncOne.cache_expiry)
    dataset2type = sync_method(AsyncOne.dataset2type)
    describe_dataset = sync_method(AsyncOne.describe_dataset)
    describe_revision = sync_method(AsyncOne.describe_revision)
    download = sync_method(AsyncOne.download)
    download_stream = sync_method(AsyncOne.download_stream)
    eid2path = sync_method(AsyncOne.eid2path)
    eid2pid = sync_method(AsyncOne.eid2pid)
    eid2ref = sync_method(AsyncOne.eid2ref)
    get_details = sync_method(AsyncOne.get_details)
    has_server = sync_property(AsyncOne.has_server)
    list_aggregates = sync_method(AsyncOne.list_aggregates)
    list_collections = sync_method(AsyncOne.list_collections)
    list_datasets = sync_method(AsyncOne.list_datasets)
    list_revisions = sync_method(AsyncOne.list_revisions)
    list_subjects = sync_method(AsyncOne.list_subjects)
    load_aggregate = sync_method(AsyncOne.load_aggregate)
    load_cache = sync_method(AsyncOne.load_cache)
    load_collection = sync_method(AsyncOne.load_collection)
    load_dataset = sync_method(AsyncOne.load_dataset)
    load_dataset_from_id = sync_method(AsyncOne.load_dataset_from_id)
    load_datasets = sync_method(AsyncOne.load_datasets)
    load_object = sync_method(AsyncOne.load_object)
    mode = sync_property(AsyncOne.mode)
    offline = sync_property(AsyncOne.offline)
    path2eid = sync_method(AsyncOne.path2eid)
    path2record = sync_method(AsyncOne.path2record)
    path2url = sync_method(AsyncOne.path2url)
    pid2eid = sync_method(AsyncOne.pid2eid)
    record2path = sync_method(AsyncOne.record2path)
    record2url = sync_method(AsyncOne.record2url)
    ref2eid = sync_method(AsyncOne.ref2eid)
    ref2path = sync_method(AsyncOne.ref2path)
    refresh_cache = sync_method(AsyncOne.refresh_cache)
    save_cache = sync_method(AsyncOne.save_cache)
    save_loaded_ids = sync_method(AsyncOne.save_loaded_ids)
    search = sync_method(AsyncOne.search)
    search_insertions = sync_method(AsyncOne.search_insertions)
    search_terms = sync_method(AsyncOne.search_terms)
    settings = sync_property(AsyncOne.settings)
    silent = sync_property(AsyncOne.silent)
    tables_dir = sync_property(AsyncOne.tables_dir)
    to_eid = sync_method(AsyncOne.to_eid)
    type2datasets = sync_method(AsyncOne.type2datasets)


def _alyx_of(one: AsyncOne) -> AsyncAlyxClient:
    return one.alyx


_FACTORY_CACHE_SIZE = 1
"""Sessions kept by :func:`ONE`: like ONE-api's ``lru_cache(maxsize=1)``."""

_instances: OrderedDict[tuple[Any, ...], One] = OrderedDict()
_instances_lock = threading.Lock()


def _key(mode: str, wildcards: bool, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    try:
        items = tuple(
            sorted((k, v if not isinstance(v, Path) else str(v)) for k, v in kwargs.items())
        )
        hash(items)
    except TypeError:
        return (object(),)  # unhashable arguments: never shared, as with ONE's lru_cache
    return (mode, wildcards, items)


def ONE(*, mode: str = 'auto', wildcards: bool = True, **kwargs: Any) -> One:
    """The session factory of ONE-api, returning a sync :class:`One`.

    As ONE-api's ``ONE()``: with ``base_url``/``username``/``password``, or without a
    ``cache_dir``, or with the cache folder of a configured database, the session works with
    the Alyx server (its settings completed from ``ONE_*`` variables and configuration files);
    a ``cache_dir`` alone is a local cache in 'local' mode.  The same arguments give the same
    session while it is open (the last one is kept).

    Parameters
    ----------
    mode
        'auto', 'local', 'remote' or 'refresh' (see :class:`~one_async.api.AsyncOne`).
    wildcards
        Shell wildcards (true) or regular expressions (false) in filters.
    **kwargs
        ``cache_dir``, ``tables_dir``, ``base_url``, ``username``, ``password`` and any
        setting of :class:`~one_async.config.OneSettings`.
    """
    key = _key(mode, wildcards, kwargs)
    with _instances_lock:
        cached = _instances.get(key)
        if cached is not None and not cached.closed:
            _instances.move_to_end(key)
            return cached
    one = One.wrap(partial(make_session, mode=mode, wildcards=wildcards, **kwargs))
    with _instances_lock:
        _instances[key] = one
        while len(_instances) > _FACTORY_CACHE_SIZE:
            _instances.popitem(last=False)
    return one


def _cache_clear() -> None:
    """Forget the sessions :func:`ONE` keeps (they stay usable by whoever holds them)."""
    with _instances_lock:
        _instances.clear()


def _setup(**kwargs: Any) -> Any:
    """Record a database's settings (see :func:`one_async.config.setup`); clears the cache."""
    _cache_clear()
    return _setup_config(**kwargs)


ONE.cache_clear = _cache_clear  # type: ignore[attr-defined]
ONE.setup = _setup  # type: ignore[attr-defined]
