"""Sync access to async objects: a background event loop and typed sync twins of async classes.

:mod:`~one_async.sync.portal` runs the event loop thread; :mod:`~one_async.sync.facade` builds
sync classes (``One``, ``AlyxClient``) from async ones (``AsyncOne``, ``AsyncAlyxClient``)
without repeating any logic; :mod:`~one_async.sync.pagination` is the sync view of lazily
paginated REST lists.
"""

from one_async.sync.alyx import AlyxClient
from one_async.sync.facade import (
    SyncFacade,
    SyncMethod,
    SyncProperty,
    facade_source,
    missing_declarations,
    sync_docstring,
    sync_method,
    sync_property,
    sync_signature,
)
from one_async.sync.pagination import SyncPaginatedList
from one_async.sync.portal import CallGroup, Portal, SyncContextManager, SyncIterator, to_sync

__all__ = [
    'AlyxClient',
    'CallGroup',
    'Portal',
    'SyncContextManager',
    'SyncFacade',
    'SyncIterator',
    'SyncMethod',
    'SyncPaginatedList',
    'SyncProperty',
    'facade_source',
    'missing_declarations',
    'sync_docstring',
    'sync_method',
    'sync_property',
    'sync_signature',
    'to_sync',
]
