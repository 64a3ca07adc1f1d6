"""Run an ASGI app with uvicorn on a free loopback port, in a background thread.

Tests and the demo need a real server on a real socket while the caller keeps its own event loop
(asyncio or trio) or none at all.  :func:`serve_in_thread` starts uvicorn on its own asyncio loop
in a daemon thread, waits until it accepts connections, yields its base URL and stops it on exit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

__all__ = ['ServerStartError', 'serve_in_thread']

_START_TIMEOUT = 30.0


class ServerStartError(RuntimeError):
    """uvicorn did not start accepting connections in time."""


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = '127.0.0.1',
    port: int = 0,
    log_level: str = 'warning',
    lifespan: Literal['auto', 'on', 'off'] = 'off',
) -> Iterator[str]:
    """Serve ``app`` in a background thread for the duration of the ``with`` block.

    Parameters
    ----------
    app
        Any ASGI application.
    host
        Interface to bind; loopback by default.
    port
        Port to bind; 0 picks a free one.
    log_level
        uvicorn's log level (access logs are off).
    lifespan
        'on' to run the app's lifespan (startup before serving, shutdown on exit).

    Yields
    ------
    str
        The server's base URL, e.g. ``http://127.0.0.1:54321``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread; in a worker thread it cannot.
    thread = threading.Thread(
        target=server.run, kwargs={'sockets': [sock]}, name=f'uvicorn:{bound_port}', daemon=True
    )
    thread.start()
    try:
        deadline = threading.Event()
        waited = 0.0
        while not server.started:
            if not thread.is_alive():
                raise ServerStartError(f'uvicorn exited before serving on port {bound_port}')
            if waited >= _START_TIMEOUT:
                raise ServerStartError(f'uvicorn did not start on port {bound_port}')
            deadline.wait(0.01)
            waited += 0.01
        yield f'http://{host}:{bound_port}'
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
