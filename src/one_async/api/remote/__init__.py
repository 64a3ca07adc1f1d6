"""Remote mode of :class:`~one_async.api.AsyncOne`: ONE-api 2.9.0's ``OneAlyx``, async.

The remote methods are mixins stacked on the local session, each module one concern:

* :mod:`~one_async.api.remote.modes` - the server, the settings, the query modes;
* :mod:`~one_async.api.remote.cache_sync` - refreshing the cache tables from the server;
* :mod:`~one_async.api.remote.search` - remote searches of sessions and insertions;
* :mod:`~one_async.api.remote.listing` - remote listings, details and conversions;
* :mod:`~one_async.api.remote.download` - the download step of the loads, bulk downloads;
* :mod:`~one_async.api.remote.aggregates` - aggregate datasets;
* :mod:`~one_async.api.remote.records` (REST records as cache rows),
  :mod:`~one_async.api.remote.transfers` (the session's download coordinator),
  :mod:`~one_async.api.remote.aws` (datasets on S3), :mod:`~one_async.api.remote.flight`
  (coalescing concurrent calls).
"""

from one_async.api.remote.aggregates import RemoteAggregates as RemoteMixin

__all__ = ['RemoteMixin']
