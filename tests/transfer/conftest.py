"""Shared helpers of the transfer tests: a tree of random files served over real sockets."""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from one_async.testing.faults import FaultInjector, Faults
from one_async.testing.fileserver import create_file_server
from one_async.testing.runner import serve_in_thread
from one_async.transfer import DownloadItem

SESSION = 'lab/Subjects/subj/2024-01-01/001'


@pytest.fixture(
    params=['asyncio', pytest.param(('asyncio', {'use_uvloop': True}), id='uvloop'), 'trio']
)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """Transfers also run on uvloop: on asyncio the engine's HTTP client is a protocol of the
    loop's own transports, and uvloop's differ from asyncio's."""
    return request.param


AUTH = ('ibl', 'not-a-real-password')


@dataclass
class Tree:
    """Files written under ``root``: relative path -> bytes."""

    root: Path
    files: dict[str, bytes]

    def items(self, base_url: str, **extra: object) -> list[DownloadItem]:
        return [
            DownloadItem(
                url=f'{base_url}/{rel}',
                size=len(body),
                md5=hashlib.md5(body).hexdigest(),
                **extra,  # type: ignore[arg-type]
            )
            for rel, body in self.files.items()
        ]


def make_tree(root: Path, sizes: list[int], seed: int = 0, prefix: str = SESSION) -> Tree:
    """Write files of ``sizes`` (random bytes, reproducible by ``seed``) under ``root``."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i, size in enumerate(sizes):
        rel = f'{prefix}/alf/probe{i % 3:02d}/obj{i}.attr{i}.bin'
        body = rng.randbytes(size)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        files[rel] = body
    return Tree(root, files)


def parts_left(root: Path) -> list[Path]:
    """Part files (and their resume state) under ``root``."""
    return [p for p in root.rglob('*') if p.name.endswith(('.part', '.part.json'))]


def check_target(target: Path, tree: Tree, expect_all: bool = True) -> int:
    """Assert no part file and no wrong file under a final name; return the files in place."""
    leftovers = parts_left(target)
    assert not leftovers, leftovers
    placed = 0
    for rel, body in tree.files.items():
        path = target / rel
        if path.exists():
            assert hashlib.md5(path.read_bytes()).hexdigest() == hashlib.md5(body).hexdigest()
            placed += 1
        else:
            assert not expect_all, f'missing {rel}'
    return placed


class RequestLog:
    """ASGI middleware recording (method, path, range header) of every request, and when it
    arrived (``times``, ``time.monotonic()``, same order)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: list[tuple[str, str, str | None]] = []
        self.times: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http':
            headers = dict(scope['headers'])
            byte_range = headers.get(b'range')
            self.requests.append(
                (scope['method'], scope['path'], byte_range.decode() if byte_range else None)
            )
            self.times.append(time.monotonic())
        await self.app(scope, receive, send)


@dataclass
class Served:
    url: str
    log: RequestLog
    faults: FaultInjector


@pytest.fixture
def serve() -> Iterator[object]:
    """Call ``serve(root, faults=..., auth=...)`` to start a file server for the test."""
    stack: list[object] = []

    def start(root: Path, faults: Faults | None = None, auth: tuple[str, str] | None = None):
        injector = FaultInjector(create_file_server(root, auth=auth), faults or Faults())
        log = RequestLog(injector)  # type: ignore[arg-type]
        context = serve_in_thread(log, log_level='critical')
        url = context.__enter__()
        stack.append(context)
        return Served(url, log, injector)

    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)  # type: ignore[attr-defined]


def sizes_small(n: int, seed: int = 1, low: int = 64, high: int = 16 * 1024) -> list[int]:
    rng = random.Random(seed)
    return [int(low * (high / low) ** rng.random()) for _ in range(n)]


def count_files(target: Path) -> int:
    return sum(1 for _, _, names in os.walk(target) for _ in names)
