"""Remote ``load_datasets`` benchmark: AsyncOne against ONE-api 2.9.0 on one local Alyx.

One local Alyx (``one_async.testing``) serves generated IBL-like sessions; its data server adds
``--latency`` seconds (50 ms by default, a stand-in for a network round trip) before every
response.  Both clients, in 'auto' mode with their cache tables already downloaded, load the
same ``--datasets`` datasets (200 by default) of one session, none of them on disk:
``load_datasets(eid, rel_paths)``, which finds the datasets in the tables, downloads the missing
files (verifying size and md5) and reads them.  Only that call is timed; each run starts from an
empty cache folder (tables copied in), the two clients alternate, and the median of ``--runs``
is reported with the ratio of the medians.

ONE-api downloads with ``http_download_file_list`` (4 threads); AsyncOne hands the batch to the
transfer engine.  ONE's parameters (data server and credentials) are written through its own
files in a temporary ``HOME``, which AsyncOne reads too.

Run: ``python -m benchmarks.remote_load`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import polars as pl


def _session(data: Any, wanted: int) -> tuple[str, list[str]]:
    """The session with the most datasets on the server and ``wanted`` of their relative paths
    (revision folders included: a relative path names one dataset)."""
    rows = data.datasets.filter(pl.col('exists'))
    counts = rows.group_by('eid').len().sort('len', descending=True)
    eid, available = counts.row(0)
    if available < wanted:
        raise SystemExit(f'the largest session has {available} datasets, fewer than {wanted}')
    paths = rows.filter(pl.col('eid') == eid).sort('rel_path')['rel_path'].head(wanted)
    return str(eid), paths.to_list()


def _fresh(template: Path, root: Path, name: str) -> Path:
    """An empty cache folder holding a copy of the downloaded tables."""
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for table in template.glob('*.pqt'):
        shutil.copy2(table, target / table.name)
    return target


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--datasets', type=int, default=200, help='datasets loaded (200)')
    parser.add_argument('--latency', type=float, default=0.05, help='data server latency, s')
    parser.add_argument('--runs', type=int, default=3, help='runs of each client (3)')
    parser.add_argument('--sessions', type=int, default=4, help='generated sessions (4)')
    parser.add_argument('--backend', default='asyncio', choices=('asyncio', 'trio', 'uvloop'))
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix='one_async_remote_load_'))
    os.environ['HOME'] = str(root / 'home')
    (root / 'home').mkdir()
    for name in ('ONE_CONFIG', 'ONE_BASE_URL', 'ONE_CACHE_DIR', 'ONE_MODE'):
        os.environ.pop(name, None)
    warnings.simplefilter('ignore')  # ONE 2.9.0's pandas deprecation noise
    logging.disable(logging.WARNING)

    import one.params
    from iblutil.io import params as iopar
    from one.api import ONE

    from one_async.api import AsyncOne
    from one_async.testing.alyx.app import AlyxConfig
    from one_async.testing.alyx.store import AlyxStore
    from one_async.testing.faults import FaultPlan, Faults
    from one_async.testing.generate import generate
    from one_async.testing.server import LocalAlyx

    print(f'generating {args.sessions} sessions ...', file=sys.stderr)
    kinds = {'habituation': 0.0, 'training': 0.0, 'biased': 0.0, 'ephys': 1.0}
    data = generate(
        args.sessions, seed=1, sessions_per_subject=1, kind_weights=kinds, revision_fraction=1.0
    )
    data = data.write_files(root / 'server', raw_bytes=4096)
    eid, rel_paths = _session(data, args.datasets)
    store = AlyxStore.from_generated(data)
    config = AlyxConfig(min_api_version='2.9')  # ONE 2.9.0 refuses newer tables
    backend, options = args.backend, {}
    if backend == 'uvloop':
        backend, options = 'asyncio', {'use_uvloop': True}

    with LocalAlyx(store, root / 'server', config=config) as server:
        info = server.info
        key = one.params._key_from_url(info.base_url)
        iopar.write(f'one/{key}', {**info.one_params(), 'ALYX_PWD': info.password})
        iopar.write('one/caches', {'CLIENT_MAP': {key: str(root / 'one29')}, 'DEFAULT': key})
        login = {'base_url': info.base_url, 'username': info.username, 'password': info.password}

        # Tables downloaded once by each client, outside the timings.
        one29 = ONE(**login, silent=True, cache_dir=root / 'one29', mode='auto')
        tables29 = root / 'one29'

        async def prepare() -> None:
            async with AsyncOne(**login, cache_dir=root / 'async', silent=True) as session:
                await session.search()

        anyio.run(prepare, backend=backend, backend_options=options)
        tables = root / 'async'
        size = sum((root / 'server' / p).stat().st_size for p in _files(data, eid, rel_paths))
        server.data_faults.faults = Faults(default=FaultPlan(latency=args.latency))

        async def load_async(cache: Path) -> Any:
            async with AsyncOne(**login, cache_dir=cache, silent=True) as session:
                await session.search()  # tables open before the clock starts
                started = time.perf_counter()
                loaded, _ = await session.load_datasets(eid, rel_paths)
                return time.perf_counter() - started, loaded

        times: dict[str, list[float]] = {'ONE-api 2.9.0': [], 'AsyncOne': []}
        for run in range(args.runs):
            cache29 = _fresh(tables29, root, f'one29_run{run}')
            one29 = ONE(**login, silent=True, cache_dir=cache29, mode='auto')
            elapsed, theirs = _timed(partial(one29.load_datasets, eid, rel_paths))
            times['ONE-api 2.9.0'].append(elapsed)
            cache = _fresh(tables, root, f'async_run{run}')
            elapsed, mine = anyio.run(load_async, cache, backend=backend, backend_options=options)
            times['AsyncOne'].append(elapsed)
            _check(mine, theirs[0], rel_paths)
            print(
                f'run {run + 1}: ONE {times["ONE-api 2.9.0"][-1]:.2f} s, '
                f'AsyncOne {times["AsyncOne"][-1]:.2f} s',
                file=sys.stderr,
            )
            ONE.cache_clear()

    one_median = statistics.median(times['ONE-api 2.9.0'])
    async_median = statistics.median(times['AsyncOne'])
    print(
        f'\nload_datasets of {len(rel_paths)} datasets ({size / 1e6:.1f} MB) not on disk, '
        f'data server latency {args.latency * 1000:.0f} ms, {args.runs} runs, '
        f'backend {args.backend}'
    )
    print('| client | median (s) | runs (s) |')
    print('|---|---|---|')
    for name, values in times.items():
        runs = ', '.join(f'{v:.2f}' for v in values)
        print(f'| {name} | {statistics.median(values):.2f} | {runs} |')
    print(f'\nratio (ONE / AsyncOne, medians): {one_median / async_median:.1f}x')
    shutil.rmtree(root, ignore_errors=True)


def _files(data: Any, eid: str, rel_paths: list[str]) -> list[str]:
    rows = data.datasets.filter((pl.col('eid') == eid) & pl.col('rel_path').is_in(rel_paths))
    return [f'{s}/{r}' for s, r in zip(rows['session_path'], rows['rel_path'], strict=True)]


def _check(mine: list[Any], theirs: list[Any], names: list[str]) -> None:
    """Both clients loaded the same values."""
    assert len(mine) == len(theirs)
    for a, b, name in zip(mine, theirs, names, strict=True):
        if isinstance(a, pl.DataFrame):
            for column in a.columns:
                x, y = a[column].to_numpy(), b[column].to_numpy()
                if x.dtype.kind == 'f':  # pandas' default CSV float parser is not exact
                    np.testing.assert_allclose(x, y, rtol=1e-12, err_msg=f'{name}: {column}')
                else:
                    np.testing.assert_array_equal(x, y, err_msg=f'{name}: {column}')
        elif isinstance(a, (np.ndarray, pl.Series)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
        else:
            assert type(a) is type(b) or a is None or b is None, name


if __name__ == '__main__':
    main()
