"""The verifying TLS context: built once per process, in a worker thread."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx
import pytest

from one_async.transfer import http

pytestmark = pytest.mark.anyio


async def test_the_context_is_built_once_and_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built_in: list[int] = []
    create = httpx.create_ssl_context

    def recording(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        if kwargs.get('verify', args[0] if args else True) is True:  # a build, not a pass-through
            built_in.append(threading.get_ident())
        return create(*args, **kwargs)

    monkeypatch.setattr(httpx, 'create_ssl_context', recording)
    http._default_ssl_context.cache_clear()
    try:
        await http.load_tls_context()
        await http.load_tls_context()
        first = http.make_client(max_connections=2)
        second = http.make_client(max_connections=2)
        await first.aclose()
        await second.aclose()
    finally:
        http._default_ssl_context.cache_clear()
    assert len(built_in) == 1
    assert built_in[0] != threading.get_ident()
