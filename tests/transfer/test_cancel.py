"""Cancellation in the middle of a batch, resume of a large file, two processes at once."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from one_async.testing.faults import FaultPlan, Faults
from one_async.transfer import DownloadResult, download_files

from .conftest import check_target, make_tree, parts_left, sizes_small

MIB = 1024 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize('after', [0, 7, 60])
async def test_cancel_mid_batch_leaves_no_partial_file(
    tmp_path: Path, serve: Any, after: int
) -> None:
    sizes = [*sizes_small(150, low=1000, high=400_000), 3 * MIB]
    tree = make_tree(tmp_path / 'remote', sizes, seed=after)
    # Trickling bodies keep many downloads mid-body when the cancellation lands.
    server = serve(tree.root, faults=Faults(default=FaultPlan(trickle_rate=3 * MIB)))
    done: list[DownloadResult] = []
    with anyio.CancelScope() as scope:

        def completed(result: DownloadResult) -> None:
            done.append(result)
            if len(done) > after:
                scope.cancel()

        await download_files(tree.items(server.url), tmp_path / 't', on_complete=completed)
    assert scope.cancelled_caught
    assert len(done) < len(sizes)
    placed = check_target(tmp_path / 't', tree, expect_all=False)
    assert placed >= len(done)
    # Everything still comes right on the next run, with what was placed skipped.
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert report.ok
    assert report.skipped == placed
    check_target(tmp_path / 't', tree)


@pytest.mark.anyio
@pytest.mark.parametrize('seed', range(4))
async def test_cancel_at_random_points_under_faults(tmp_path: Path, serve: Any, seed: int) -> None:
    """Cancelled at a seeded random point (a random number of files done, then a random
    delay), wherever each download is (claiming, mid-body, retrying, placing): nothing partial
    under a final name, and the next run completes."""
    rng = random.Random(seed)
    sizes = [*sizes_small(120, seed=seed, low=500, high=300_000), 2 * MIB + 1, 9 * MIB]
    tree = make_tree(tmp_path / 'remote', sizes, seed=seed)
    mix = FaultPlan(
        disconnect_rate=0.1,
        corrupt_rate=0.05,
        error_rate=0.05,
        error_statuses=(503, 429),
        retry_after=0.01,
        trickle_rate=8 * MIB,
    )
    # The large file trickles for seconds: the batch is still running when the delay ends.
    slow = {f'/{list(tree.files)[-1]}': mix.model_copy(update={'trickle_rate': MIB})}
    server = serve(tree.root, faults=Faults(seed=seed, default=mix, routes=slow))
    target = tmp_path / 't'
    stop_after = rng.randrange(len(sizes) - 1)
    done: list[DownloadResult] = []
    with anyio.CancelScope() as scope:

        def completed(result: DownloadResult) -> None:
            done.append(result)
            if len(done) == stop_after:
                scope.deadline = anyio.current_time() + rng.uniform(0.0, 0.05)

        await download_files(tree.items(server.url), target, on_complete=completed)
    assert scope.cancelled_caught
    # Only the large file may keep a part file (with its resume state) for the next run.
    big = target / list(tree.files)[-1]
    kept = {big.with_name(big.name + '.part'), big.with_name(big.name + '.part.json')}
    assert set(parts_left(target)) in ({*()}, kept)
    for part in kept & set(parts_left(target)):
        part.rename(tmp_path / part.name)
    placed = check_target(target, tree, expect_all=False)
    for part in kept:
        if (tmp_path / part.name).exists():
            (tmp_path / part.name).rename(part)
    server.faults.faults = Faults()
    report = await download_files(tree.items(server.url), target)
    assert report.ok, [str(r.error) for r in report.failed]
    assert report.skipped == placed
    check_target(target, tree)


@pytest.mark.anyio
async def test_cancelled_large_file_resumes_with_range(tmp_path: Path, serve: Any) -> None:
    size = 12 * MIB  # above defaults.DOWNLOAD_RESUME_MIN: its part file is kept
    tree = make_tree(tmp_path / 'remote', [size])
    (rel,) = tree.files
    slow = Faults(default=FaultPlan(trickle_rate=8 * MIB))
    server = serve(tree.root, faults=slow)
    target = tmp_path / 't'
    part = target / f'{rel}.part'
    async with anyio.create_task_group() as tg:
        tg.start_soon(download_files, tree.items(server.url), target)
        # The file system has no event to wait on: poll until part of the body is on disk.
        while not part.exists() or part.stat().st_size < 2 * MIB:  # noqa: ASYNC110
            await anyio.sleep(0.02)
        tg.cancel_scope.cancel()
    assert not (target / rel).exists()
    kept = part.stat().st_size
    assert 0 < kept < size
    assert json.loads(part.with_name(part.name + '.json').read_text())['size'] == size

    server.faults.faults = Faults()
    report = await download_files(tree.items(server.url), target)
    assert report.ok
    assert report.results[0].bytes == size - kept
    assert server.log.requests[-1][2] == f'bytes={kept}-'
    check_target(target, tree)


_CHILD = """
import functools, json, sys
import anyio
from one_async.transfer import DownloadItem, download_files
items = [DownloadItem.model_validate(i) for i in json.loads(sys.argv[1])]
job = functools.partial(download_files, items, sys.argv[2], max_concurrency=4, progress=False)
report = anyio.run(job, backend=sys.argv[3])
print(json.dumps({'downloaded': report.downloaded, 'skipped': report.skipped,
                  'failed': [str(r.error) for r in report.failed]}))
"""


@pytest.mark.parametrize(
    'backends', [('asyncio', 'asyncio'), ('trio', 'trio'), ('asyncio', 'trio')]
)
def test_two_processes_download_each_file_once(
    tmp_path: Path, serve: Any, backends: tuple[str, str]
) -> None:
    """Two processes on one batch (each on an event loop backend) fetch each file once."""
    tree = make_tree(tmp_path / 'remote', [100_000] * 240, seed=9)
    server = serve(tree.root, faults=Faults(default=FaultPlan(latency=0.05)))
    items = json.dumps([i.model_dump(mode='json') for i in tree.items(server.url)])
    target = str(tmp_path / 't')
    children = [
        subprocess.Popen(
            [sys.executable, '-c', _CHILD, items, target, backend],
            stdout=subprocess.PIPE,
            text=True,
        )
        for backend in backends
    ]
    outputs = [json.loads(child.communicate(timeout=120)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    assert all(not out['failed'] for out in outputs)
    assert sum(out['downloaded'] for out in outputs) == len(tree.files)
    assert all(out['downloaded'] + out['skipped'] == len(tree.files) for out in outputs)
    assert all(out['downloaded'] > 0 for out in outputs), 'one process did all the work'
    gets = [path for method, path, _ in server.log.requests if method == 'GET']
    assert sorted(gets) == sorted(f'/{rel}' for rel in tree.files)
    check_target(tmp_path / 't', tree)
