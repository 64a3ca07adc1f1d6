"""``one-async demo``: the whole job on embedded data, with no network and no configuration.

Generates a small IBL-like data set, serves it from a local Alyx-compatible server and data
server on loopback, then does what a user does: search sessions remotely, fetch the cache tables,
download every file of the matching sessions in one verified parallel batch, and load an ALF
object from disk.  Prints what it did and how fast.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from one_async.alf.io import aload_object
from one_async.alyx import AsyncAlyxClient
from one_async.testing.demo import demo_server
from one_async.transfer import DownloadReport, download_files

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
    """Run the demo in ``workdir`` (a temporary folder by default) and return its summary."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix='one-async-demo-') as tmp:
            return await run_demo(Path(tmp), n_sessions=n_sessions, progress=progress, echo=echo)
    summary = DemoSummary(sessions=n_sessions)
    echo(f'generating {n_sessions} IBL-like sessions under {workdir} ...')
    server = await anyio.to_thread.run_sync(
        lambda: demo_server(workdir / 'server', n_sessions=n_sessions)
    )
    cache_dir = workdir / 'cache'
    with server:
        info = server.info
        async with AsyncAlyxClient(
            info.base_url, info.username, info.password, cache_dir=cache_dir / '.rest'
        ) as alyx:
            start = time.perf_counter()
            sessions = await alyx.rest('sessions', 'list', task_protocol='ephys')
            records = list(sessions) if isinstance(sessions, list) else await sessions.to_list()
            summary.timings['search'] = time.perf_counter() - start
            summary.matched = [r['id'] for r in records]
            tables = await alyx.download_cache_tables(cache_dir)
            summary.cache_tables = sorted(p.name for p in tables.files)

            items = []
            for eid in summary.matched:
                datasets = await alyx.rest('datasets', 'list', session=eid, exists=True)
                rows = datasets if isinstance(datasets, list) else await datasets.to_list()
                for dataset in rows:
                    for record in dataset['file_records']:
                        if record.get('data_url') and record.get('exists'):
                            items.append(
                                {
                                    'url': record['data_url'],
                                    'size': dataset.get('file_size'),
                                    'md5': dataset.get('hash'),
                                    'id': dataset['url'].rsplit('/', 1)[-1],
                                }
                            )
                            break
        echo(f'downloading {len(items)} files of {len(summary.matched)} sessions ...')
        summary.report = await download_files(
            items,
            cache_dir,
            auth=(info.data_server_login, info.data_server_password),
            progress=progress,
        )
    loaded = [p for p in summary.report.paths if p is not None and 'trials' in p.name]
    if loaded:
        alf_dir = loaded[0].parent
        trials = await aload_object(alf_dir, 'trials')
        summary.loaded_object = 'trials'
        summary.loaded_attributes = {
            key: tuple(getattr(value, 'shape', ())) for key, value in trials.items()
        }
    return summary
