"""``one-async demo``: the whole job on embedded data, with no network and no configuration.

Generates a small IBL-like data set, serves it from a local Alyx-compatible server and data
server on loopback, then does what a user does with an ``AsyncOne`` session: search sessions
remotely, download every dataset of the matching sessions in one verified parallel batch, and
load an ALF object.  Prints what it did and how fast.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from one_async.alyx import AsyncAlyxClient
from one_async.api import AsyncOne
from one_async.testing.demo import demo_server
from one_async.transfer import DownloadReport

__all__ = ['DemoSummary', 'run_demo']


@dataclass
class DemoSummary:
    """What the demo did, for printing and for tests."""

    sessions: int = 0
    matched: list[str] = field(default_factory=list)
    cache_tables: list[str] = field(default_factory=list)
    report: DownloadReport | None = None
    loaded_object: str = ''
    loaded_attributes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A short human summary."""
        out = [
            f'served {self.sessions} generated sessions on a local Alyx',
            f'remote search (task_protocol="ephys"): {len(self.matched)} sessions '
            f'in {self.timings.get("search", 0.0) * 1e3:.0f} ms',
            f'cache tables: {", ".join(self.cache_tables)}',
        ]
        if self.report is not None:
            seconds = self.report.seconds or 1e-9
            out.append(
                f'downloaded {self.report.downloaded} files, {self.report.bytes / 1e6:.1f} MB '
                f'in {seconds:.2f} s ({self.report.bytes / 1e6 / seconds:.1f} MB/s, '
                f'{self.report.downloaded / seconds:.0f} files/s), '
                f'{len(self.report.failed)} failed, md5-verified'
            )
        if self.loaded_object:
            shapes = ', '.join(f'{k} {v}' for k, v in sorted(self.loaded_attributes.items()))
            out.append(f'loaded ALF object {self.loaded_object!r}: {shapes}')
        return out


async def run_demo(
    workdir: Path | None = None,
    *,
    n_sessions: int = 12,
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
) -> DemoSummary:
    """Run the demo in ``workdir`` (a temporary folder by default) and return its summary.

    Everything goes through the public API: an :class:`~one_async.api.AsyncOne` in remote mode
    on the local server searches, downloads (``download``: one verified parallel batch) and
    loads.  Tokens and REST caches stay inside ``workdir``; nothing is read from or written to
    the user's configuration.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix='one-async-demo-') as tmp:
            return await run_demo(Path(tmp), n_sessions=n_sessions, progress=progress, echo=echo)
    summary = DemoSummary(sessions=n_sessions)
    echo(f'generating {n_sessions} IBL-like sessions under {workdir} ...')
    server = await anyio.to_thread.run_sync(
        lambda: demo_server(workdir / 'server', n_sessions=n_sessions)
    )
    cache_dir = workdir / 'cache'
    cache_dir.mkdir(parents=True, exist_ok=True)
    with server:
        info = server.info
        alyx = AsyncAlyxClient(
            info.base_url, info.username, info.password, token_dir=workdir / 'tokens'
        )
        async with (
            alyx,
            AsyncOne(
                cache_dir=cache_dir,
                mode='auto',
                alyx=alyx,
                http_data_server=info.data_server_url,
                http_data_server_login=info.data_server_login,
                http_data_server_password=info.data_server_password,
                silent=True,
            ) as one,
        ):
            start = time.perf_counter()
            found = await one.search(task_protocol='ephys', query_type='remote')
            eids = found if isinstance(found, list) else await found.to_list()
            summary.matched = [str(e) for e in eids]
            summary.timings['search'] = time.perf_counter() - start
            summary.cache_tables = sorted(p.name for p in one.tables_dir.glob('*.pqt'))
            echo(f'downloading every dataset of {len(summary.matched)} sessions ...')
            summary.report = await one.download(summary.matched, progress=progress)
            if summary.matched:
                trials = await one.load_object(summary.matched[0], 'trials')
                assert isinstance(trials, dict)  # an AlfBunch (not download_only)
                summary.loaded_object = 'trials'
                summary.loaded_attributes = {
                    key: tuple(getattr(value, 'shape', ())) for key, value in trials.items()
                }
    return summary
