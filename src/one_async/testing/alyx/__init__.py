"""The local Alyx-compatible server: its database, REST app and data server.

- :class:`AlyxStore` (:mod:`.store`): the records, one polars table per Alyx model, built from an
  ALF folder, from generated data or from plain records.
- :class:`AlyxApp` and :class:`AlyxConfig` (:mod:`.app`): the ASGI REST server.
- :func:`create_data_server` (:mod:`.dataserver`): the files, as Alyx's ``data_url`` name them.

:class:`one_async.testing.server.LocalAlyx` runs both on loopback ports.
"""

from .app import DEFAULT_PASSWORD, DEFAULT_USER, AlyxApp, AlyxConfig
from .dataserver import create_data_server
from .store import AlyxStore

__all__ = [
    'DEFAULT_PASSWORD',
    'DEFAULT_USER',
    'AlyxApp',
    'AlyxConfig',
    'AlyxStore',
    'create_data_server',
]
