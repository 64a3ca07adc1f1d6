"""Shared test configuration: every async test runs on asyncio and on trio; ``home`` isolates a
test from the user's files and ``ONE_*`` variables."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=['asyncio', 'trio'])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary home and configuration folder (tokens, ONE-api parameters, our config file)
    and no ``ONE_*`` variables, so the real user's files are never read nor written."""
    folder = tmp_path / 'home'
    folder.mkdir()
    monkeypatch.setenv('HOME', str(folder))
    monkeypatch.setenv('USERPROFILE', str(folder))
    monkeypatch.setenv('XDG_CONFIG_HOME', str(folder / '.config'))
    monkeypatch.delenv('APPDATA', raising=False)
    for name in list(os.environ):
        if name.upper().startswith('ONE_'):
            monkeypatch.delenv(name)
    assert Path.home() == folder
    return folder


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
