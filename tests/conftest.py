"""Shared test configuration: every async test runs on asyncio and on trio."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture(params=['asyncio', 'trio'])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope='module')
def moto_url() -> Iterator[str]:
    """A real S3-protocol server (moto's server mode) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    try:
        yield f'http://127.0.0.1:{port}'
    finally:
        server.stop()
