"""Fixtures of the remote AsyncOne tests: a local Alyx serving generated data over real sockets,
AsyncOne sessions on it, and ONE-api 2.9.0 on the same server for differential tests.

ONE's parameters (data server URL and credentials) are written, as in
``tests/testing/test_one_faithfulness.py``, through its own ``iblutil`` params files in a
temporary ``HOME``; AsyncOne reads the same files (its settings fall back to ONE-api's
parameters), so both clients see one configuration.  The server advertises
``min_api_version`` 2.9 so that ONE 2.9.0 accepts its cache tables.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from one_async.api import AsyncOne
from one_async.testing.alyx.app import AlyxConfig
from one_async.testing.alyx.store import AlyxStore
from one_async.testing.faults import FaultInjector
from one_async.testing.generate import SyntheticData, generate
from one_async.testing.server import ConnectionInfo, LocalAlyx

N_SESSIONS = 6


class RequestCounter:
    """ASGI middleware counting the GET requests of the data server by path."""

    def __init__(self, app: FaultInjector) -> None:
        self.app = app
        self.gets: Counter[str] = Counter()

    @property
    def faults(self) -> Any:
        return self.app.faults

    @faults.setter
    def faults(self, value: Any) -> None:
        self.app.faults = value

    @property
    def stats(self) -> Any:
        return self.app.stats

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope['type'] == 'http' and scope['method'] == 'GET':
            self.gets[scope['path']] += 1
        await self.app(scope, receive, send)


def make_server(folder: Path, *, n_sessions: int = N_SESSIONS, seed: int = 7) -> LocalAlyx:
    """A local Alyx (not started) over generated sessions written under ``folder``."""
    data = generate(
        n_sessions, seed=seed, revision_fraction=0.6, n_labs=3, sessions_per_subject=2
    ).write_files(folder, raw_bytes=512)
    server = LocalAlyx(
        AlyxStore.from_generated(data), folder, config=AlyxConfig(min_api_version='2.9')
    )
    server.data_app = RequestCounter(server.data_app)  # type: ignore[assignment]
    server.generated = data  # type: ignore[attr-defined]
    return server


@pytest.fixture(scope='module')
def alyx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlyx]:
    """A read-only local Alyx shared by the tests of a module (do not change its data)."""
    with make_server(tmp_path_factory.mktemp('alyx_data')) as server:
        yield server


@pytest.fixture
def fresh_alyx(tmp_path: Path) -> Iterator[LocalAlyx]:
    """A small local Alyx of its own, for tests that change records, faults or files."""
    with make_server(tmp_path / 'alyx_data', n_sessions=2, seed=3) as server:
        yield server


def write_one_params(info: ConnectionInfo, cache_dir: Path) -> None:
    """Write ONE-api's parameter files for this server in the current (temporary) HOME."""
    import one.params
    from iblutil.io import params as iopar

    key = one.params._key_from_url(info.base_url)
    params = {**info.one_params(), 'ALYX_PWD': info.password}
    iopar.write(f'one/{key}', params)
    iopar.write('one/caches', {'CLIENT_MAP': {key: str(cache_dir)}, 'DEFAULT': key})


OneFactory = Callable[..., AsyncOne]


@pytest.fixture
def make_one(home: Path, tmp_path: Path) -> Iterator[OneFactory]:
    """``make_one(server, mode=..., cache_dir=..., **kwargs)``: an AsyncOne on ``server`` (a
    running LocalAlyx or its connection info).

    The data server's parameters come from ONE-api's files in the temporary HOME.
    """
    made: list[AsyncOne] = []

    def make(
        server: LocalAlyx | ConnectionInfo, mode: str | None = 'auto', **kwargs: Any
    ) -> AsyncOne:
        info = server.info if isinstance(server, LocalAlyx) else server
        cache_dir = Path(kwargs.pop('cache_dir', tmp_path / f'one_async_cache_{len(made)}'))
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_one_params(info, cache_dir)
        one = AsyncOne(
            base_url=info.base_url,
            username=info.username,
            password=info.password,
            cache_dir=cache_dir,
            mode=mode,
            silent=True,
            **kwargs,
        )
        made.append(one)
        return one

    return make


@pytest.fixture
def make_one29(home: Path, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_one29(server, mode='remote')``: ONE-api 2.9.0's ``ONE`` on ``server``."""
    from one.api import ONE

    def make(server: LocalAlyx, mode: str = 'remote') -> Any:
        info = server.info
        cache_dir = tmp_path / f'one29_cache_{mode}'
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_one_params(info, cache_dir)
        return ONE(
            base_url=info.base_url,
            username=info.username,
            password=info.password,
            silent=True,
            cache_dir=cache_dir,
            mode=mode,
        )

    yield make
    ONE.cache_clear()


@pytest.fixture
async def one(alyx: LocalAlyx, make_one: OneFactory) -> AsyncIterator[AsyncOne]:
    """An AsyncOne in 'auto' mode on the shared server, opened (tables downloaded)."""
    async with make_one(alyx) as session:
        yield session


def generated(server: LocalAlyx) -> SyntheticData:
    """The generated data a server serves (sizes and hashes of the written files)."""
    data: SyntheticData = server.generated  # type: ignore[attr-defined]
    return data


def sessions(server: LocalAlyx) -> pl.DataFrame:
    """The server's sessions, newest first (Alyx's order)."""
    return server.store.table('sessions').sort('start_time', descending=True)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def file_record_json(server: LocalAlyx, dataset_id: str) -> list[Any]:
    """The JSON fields of a dataset's file records."""
    records = server.store.table('file_records').filter(pl.col('dataset') == dataset_id)
    return [json.loads(j) if j else None for j in records['json'].to_list()]


def data_gets(server: LocalAlyx) -> Counter[str]:
    """GET requests received by the data server, by path."""
    counter: RequestCounter = server.data_app  # type: ignore[assignment]
    return counter.gets
