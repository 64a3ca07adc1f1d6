"""Every injected fault, over real sockets: the batch ends verified or precisely reported."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from one_async.exceptions import DownloadError, IntegrityError
from one_async.testing.faults import FaultPlan, Faults
from one_async.transfer import download_files

from .conftest import check_target, make_tree, sizes_small

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


async def test_mid_body_drops_resume_with_range(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [*sizes_small(60, low=2000), 3 * MIB, 2 * MIB + 3])
    faults = Faults(seed=3, default=FaultPlan(disconnect_rate=0.4))
    server = serve(tree.root, faults=faults)
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert report.ok, [str(r.error) for r in report.failed]
    assert server.faults.stats['disconnect'] > 10
    resumed = [r for r in server.log.requests if r[2] is not None]
    assert resumed, 'no Range request after a drop'
    assert all(r[2].startswith('bytes=') and r[2] != 'bytes=0-' for r in resumed)
    assert max(r.attempts for r in report.results) > 1
    check_target(tmp_path / 't', tree)


async def test_corrupted_bodies_are_retried_once_then_reported(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', sizes_small(120, low=500))
    server = serve(tree.root, faults=Faults(seed=11, default=FaultPlan(corrupt_rate=0.3)))
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert server.faults.stats['corrupt'] > 20
    retried = [r for r in report.results if r.attempts == 2]
    assert retried
    for result in report.failed:
        assert isinstance(result.error, IntegrityError)
        assert result.attempts == 2
        assert result.item.source in str(result.error)
        assert result.path is None
    assert report.failed, 'with a 30% rate some file should be corrupted twice'
    placed = check_target(tmp_path / 't', tree, expect_all=False)
    assert placed == report.downloaded


async def test_503_and_429_bursts_honour_retry_after(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', sizes_small(40))
    plan = FaultPlan(error_first_attempts=3, error_statuses=(503, 429), retry_after=0.05)
    server = serve(tree.root, faults=Faults(seed=1, default=plan))
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert report.ok
    assert {r.attempts for r in report.results} == {4}
    check_target(tmp_path / 't', tree)


async def test_retry_after_is_waited_for(tmp_path: Path, serve: Any) -> None:
    """A 503/429 storm with Retry-After: no attempt comes back before the server said."""
    tree = make_tree(tmp_path / 'remote', sizes_small(6))
    plan = FaultPlan(error_first_attempts=2, error_statuses=(503, 429), retry_after=0.4)
    server = serve(tree.root, faults=Faults(seed=4, default=plan))
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert report.ok
    arrivals: dict[str, list[float]] = {}
    for (_, path, _), when in zip(server.log.requests, server.log.times, strict=True):
        arrivals.setdefault(path, []).append(when)
    assert sorted(len(times) for times in arrivals.values()) == [3] * len(tree.files)
    for times in arrivals.values():
        # The client waits at least Retry-After after receiving each error (a lower bound the
        # engine guarantees, however slow the machine).
        assert all(later - earlier >= 0.4 for earlier, later in itertools.pairwise(times))
    check_target(tmp_path / 't', tree)


async def test_corrupt_large_file_is_reported_and_nothing_kept(tmp_path: Path, serve: Any) -> None:
    """A large (streamed, resumable-size) file corrupt on both downloads: no part file kept."""
    tree = make_tree(tmp_path / 'remote', [9 * MIB, 2 * MIB, 5000])
    rels = list(tree.files)
    faults = Faults(routes={f'/{rels[0]}': FaultPlan(corrupt_rate=1.0)})
    server = serve(tree.root, faults=faults)
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert [r.status for r in report.results] == ['failed', 'downloaded', 'downloaded']
    failed = report.results[0]
    assert isinstance(failed.error, IntegrityError)
    assert failed.attempts == 2
    assert server.faults.stats['corrupt'] == 2
    assert not (tmp_path / 't' / rels[0]).exists()
    placed = check_target(tmp_path / 't', tree, expect_all=False)  # no part file either
    assert placed == 2


async def test_endless_errors_are_bounded_and_reported(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [100, 200, 300])
    rels = list(tree.files)
    storm = FaultPlan(error_rate=1.0, error_statuses=(503,), retry_after=0.01)
    faults = Faults(routes={f'/{rels[1]}': storm})
    server = serve(tree.root, faults=faults)
    report = await download_files(tree.items(server.url), tmp_path / 't', retry_attempts=4)
    assert [r.status for r in report.results] == ['downloaded', 'failed', 'downloaded']
    failed = report.results[1]
    assert isinstance(failed.error, DownloadError)
    assert 'HTTP 503' in str(failed.error)
    assert failed.attempts == 4
    assert sum(1 for _, path, _ in server.log.requests if path == f'/{rels[1]}') == 4
    assert not (tmp_path / 't' / rels[1]).exists()


async def test_slow_trickle_completes(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [40_000, 60_000, 1_500_000])
    server = serve(tree.root, faults=Faults(default=FaultPlan(trickle_rate=4 * MIB)))
    report = await download_files(tree.items(server.url), tmp_path / 't')
    assert report.ok
    assert server.faults.stats['trickle'] >= 3
    check_target(tmp_path / 't', tree)


async def test_seeded_fault_mix_on_2000_files(tmp_path: Path, serve: Any) -> None:
    """5% drops, 2% corrupt bodies, 503/429 bursts and storms, trickles: >= 99.5% correct."""
    tree = make_tree(tmp_path / 'remote', sizes_small(2000, seed=5, low=256, high=8192))
    mix = FaultPlan(
        disconnect_rate=0.05, corrupt_rate=0.02, error_statuses=(503, 429), retry_after=0.02
    )
    faults = Faults(
        seed=2024,
        default=mix.model_copy(update={'error_rate': 0.03}),
        routes={
            '*/obj*7.*': mix.model_copy(update={'error_first_attempts': 2}),  # bursts
            '*/obj*3.*': mix.model_copy(update={'trickle_rate': 400_000}),
        },
    )
    server = serve(tree.root, faults=faults)
    report = await download_files(tree.items(server.url), tmp_path / 't')
    stats = server.faults.stats
    assert stats['disconnect'] > 50
    assert stats['corrupt'] > 20
    assert stats['error'] > 200
    assert stats['trickle'] > 100
    assert report.downloaded >= 0.995 * 2000
    for result in report.failed:
        assert isinstance(result.error, IntegrityError | DownloadError)
        assert result.item.source in str(result.error)
    placed = check_target(tmp_path / 't', tree, expect_all=False)
    assert placed == report.downloaded
