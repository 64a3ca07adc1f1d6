"""A session's Alyx token expiring in the middle of a download batch, over real sockets.

The data server takes Basic auth, so file requests never see the token; but the download path
talks to Alyx while the batch runs (a file still corrupt after its retry gets its file record
tagged ``mismatch_hash``, as ONE does).  When the token expires mid-batch, that request must log
in again and succeed, and the rest of the batch must not notice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import polars as pl
import pytest

from one_async.api import AsyncOne
from one_async.exceptions import IntegrityError
from one_async.testing.alyx.app import AlyxConfig
from one_async.testing.alyx.store import AlyxStore
from one_async.testing.faults import FaultPlan, Faults
from one_async.testing.generate import generate
from one_async.testing.server import LocalAlyx
from one_async.transfer import DownloadResult

pytestmark = pytest.mark.anyio


class Gate:
    """ASGI middleware holding requests whose path contains ``needle`` until :attr:`open`."""

    def __init__(self, app: Any, needle: str | None = None) -> None:
        self.app = app
        self.needle = needle
        self.open = threading.Event()  # the server runs in its own thread and loop
        self.held = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope['type'] == 'http' and self.needle and self.needle in scope['path']:
            self.held += 1
            while not self.open.is_set():  # noqa: ASYNC110 - a thread's event, no async one
                await anyio.sleep(0.01)
        await self.app(scope, receive, send)


@pytest.fixture
def alyx(tmp_path: Path, home: Path) -> Iterator[LocalAlyx]:
    # token files go to the temporary HOME
    data = generate(2, seed=5, n_labs=1, sessions_per_subject=2).write_files(
        tmp_path / 'alyx_data', raw_bytes=256
    )
    server = LocalAlyx(AlyxStore.from_generated(data), tmp_path / 'alyx_data', config=AlyxConfig())
    server.generated = data  # type: ignore[attr-defined]
    try:
        yield server  # not started: the test wraps the data server first
    finally:
        server.stop()


def file_record_json(alyx: LocalAlyx, dataset_id: str) -> list[Any]:
    records = alyx.store.table('file_records').filter(pl.col('dataset') == dataset_id)
    return [json.loads(j) if j else None for j in records['json'].to_list()]


async def test_token_expiring_mid_batch_logs_in_again(alyx: LocalAlyx, tmp_path: Path) -> None:
    injector = alyx.data_faults
    gate = alyx.data_app = Gate(injector)  # type: ignore[assignment]
    await anyio.to_thread.run_sync(alyx.start)
    one = AsyncOne(**alyx.info.session_kwargs(), cache_dir=tmp_path / 'cache', mode='auto')
    async with one:
        counts = alyx.generated.datasets['eid'].value_counts(sort=True)  # type: ignore[attr-defined]
        eid = counts['eid'][0]  # the session with the most datasets
        listed = await one.list_datasets(eid, details=True)
        bad = listed.filter(pl.col('rel_path').str.ends_with('.npy')).row(0, named=True)
        # Every response for the bad dataset is corrupt, and held until the token has expired.
        injector.faults = Faults(routes={f'*{bad["id"]}*': FaultPlan(corrupt_rate=1.0)})
        gate.needle = bad['id']
        issued = alyx.app.tokens.issued
        expired: list[int] = []

        def on_complete(result: DownloadResult) -> None:
            if not expired:
                expired.append(alyx.expire_tokens())
                gate.open.set()

        report = await one.download(eid, on_complete=on_complete)

    assert expired == [1]
    assert gate.held == 2  # the download and its retry, both after the expiry
    assert injector.stats['corrupt'] == 2
    assert alyx.app.tokens.issued == issued + 1  # the tagging logged in again
    assert {'mismatch_hash': True} in file_record_json(alyx, bad['id'])
    (failed,) = report.failed
    assert failed.item.dataset_id == bad['id']
    assert isinstance(failed.error, IntegrityError)
    assert report.downloaded == len(report.results) - 1 > 5
    for result in report.results:
        if result.ok:
            assert result.path is not None
            served = alyx.data_dir / result.path.relative_to(tmp_path / 'cache')
            assert hashlib.md5(result.path.read_bytes()).digest() == (
                hashlib.md5(served.read_bytes()).digest()
            )
    assert failed.path is None
    assert not list((tmp_path / 'cache').rglob('*.part'))
