"""The data server half of the local Alyx: files over HTTP Basic auth, named as Alyx links them.

Alyx file records link ``<data_url><relative path>`` with the dataset UUID before the extension
(``spikes.times.<uuid>.npy``), while an ALF tree on disk names the file ``spikes.times.npy``.
:class:`StripDatasetUuid` rewrites the request path before the file server
(:func:`one_async.testing.fileserver.create_file_server`) resolves it, so one folder serves both
the local ONE cache layout and Alyx's links.
"""

from __future__ import annotations

import os
import re
from typing import Final

from ..faults import ASGIApp, FaultInjector, Faults, Receive, Scope, Send
from ..fileserver import create_file_server

__all__ = ['StripDatasetUuid', 'create_data_server']

_UUID_BEFORE_EXT: Final = re.compile(
    r'\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=\.[^./]+$)'
)


class StripDatasetUuid:
    """ASGI middleware removing a dataset UUID from the file name of the request path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http':
            path: str = scope['path']
            stripped = _UUID_BEFORE_EXT.sub('', path)
            if stripped != path:
                scope = dict(scope)
                scope['path'] = stripped
                scope['raw_path'] = stripped.encode()
        await self.app(scope, receive, send)


def create_data_server(
    root: str | os.PathLike[str],
    *,
    auth: tuple[str, str] | None,
    faults: Faults | None = None,
) -> FaultInjector:
    """The data server app over ``root``: UUID-named links, Basic auth, Range, ETag, faults.

    Returns the outer :class:`~one_async.testing.faults.FaultInjector` (an ASGI app whose
    ``faults`` may be changed at any time).
    """
    files = create_file_server(root, auth=auth)
    return FaultInjector(StripDatasetUuid(files), faults)
