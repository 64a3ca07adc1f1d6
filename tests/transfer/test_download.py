"""download_files over real sockets against the test data file server."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from one_async.exceptions import DownloadError, IntegrityError, InvalidArgument, UnsafePathError
from one_async.testing.faults import FaultPlan, Faults
from one_async.transfer import DownloadItem, DownloadResult, download_files, stream_downloads
from one_async.transfer.records import DownloadReport

from .conftest import AUTH, SESSION, check_target, make_tree, sizes_small

pytestmark = pytest.mark.anyio


async def test_many_small_and_a_few_large(tmp_path: Path, serve: Any) -> None:
    sizes = [*sizes_small(1000), 3 * 1024 * 1024 + 5, 2 * 1024 * 1024, 0]
    tree = make_tree(tmp_path / 'remote', sizes)
    server = serve(tree.root, auth=AUTH)
    target = tmp_path / 'cache'
    report = await download_files(tree.items(server.url), target, auth=AUTH)
    assert report.ok, report.failed[:3]
    assert report.downloaded == len(sizes)
    assert report.bytes == sum(sizes)
    assert [r.path for r in report.results] == [target / rel for rel in tree.files]
    assert all(r.attempts == 1 and r.bytes == r.item.size for r in report.results)
    check_target(target, tree)


async def test_present_files_are_skipped_and_wrong_ones_fetched(
    tmp_path: Path, serve: Any
) -> None:
    tree = make_tree(tmp_path / 'remote', [1000, 2000, 3000, 4000])
    server = serve(tree.root)
    target = tmp_path / 'cache'
    items = tree.items(server.url)
    await download_files(items, target)
    rels = list(tree.files)
    (target / rels[0]).write_bytes(b'short')  # wrong size
    body = bytearray(tree.files[rels[1]])
    body[10] ^= 1
    (target / rels[1]).write_bytes(body)  # right size, wrong md5
    before = len(server.log.requests)
    report = await download_files(items, target)
    assert [r.status for r in report.results] == ['downloaded', 'downloaded', 'skipped', 'skipped']
    assert len(server.log.requests) - before == 2
    check_target(target, tree)
    # Without check_hash a same-size file is trusted, as ONE does.
    (target / rels[1]).write_bytes(body)
    report = await download_files(items, target, check_hash=False)
    assert report.results[1].status == 'skipped'
    report = await download_files(items, target, overwrite=True)
    assert report.downloaded == 4
    check_target(target, tree)


async def test_uuid_in_file_names_like_one(tmp_path: Path, serve: Any) -> None:
    """data_url carries the dataset UUID before the extension; ONE removes it unless asked."""
    body = os.urandom(5000)
    dataset_id = str(uuid.uuid4())
    name = f'{SESSION}/alf/spikes.times.{dataset_id}.npy'
    remote = tmp_path / 'remote'
    (remote / name).parent.mkdir(parents=True)
    (remote / name).write_bytes(body)
    server = serve(remote)
    item = {
        'data_url': f'{server.url}/{name}',
        'file_size': len(body),
        'hash': hashlib.md5(body).hexdigest(),
        'id': dataset_id,
    }
    plain = await download_files([item], tmp_path / 'plain')
    kept = await download_files([item], tmp_path / 'kept', keep_uuid=True)
    assert plain.results[0].path == tmp_path / 'plain' / SESSION / 'alf' / 'spikes.times.npy'
    assert kept.results[0].path == tmp_path / 'kept' / name
    # A record with a rel_path and no UUID in it gets the dataset UUID with keep_uuid.
    record = DownloadItem(
        url=f'{server.url}/{name}', rel_path=f'{SESSION}/alf/spikes.times.npy', id=dataset_id
    )
    again = await download_files([record], tmp_path / 'again', keep_uuid=True)
    assert again.results[0].path == tmp_path / 'again' / name
    assert again.results[0].path.read_bytes() == body


async def test_failures_are_reported_precisely_and_the_batch_goes_on(
    tmp_path: Path, serve: Any
) -> None:
    tree = make_tree(tmp_path / 'remote', [100, 200, 300])
    server = serve(tree.root)
    items = tree.items(server.url)
    good = items[0]
    missing = DownloadItem(
        url=f'{server.url}/{SESSION}/alf/nothing.here.npy', id=str(uuid.uuid4())
    )
    wrong_md5 = items[1].model_copy(update={'md5': '0' * 32})
    wrong_size = items[2].model_copy(update={'size': 301})
    escape = items[0].model_copy(update={'rel_path': '../outside.bin'})
    report = await download_files([good, missing, wrong_md5, wrong_size, escape], tmp_path / 't')
    statuses = [r.status for r in report.results]
    assert statuses == ['downloaded', 'failed', 'failed', 'failed', 'failed']
    errors = [r.error for r in report.results]
    assert isinstance(errors[1], DownloadError)
    assert '404' in str(errors[1])
    assert missing.dataset_id in str(errors[1])
    assert isinstance(errors[2], IntegrityError)
    assert 'md5' in str(errors[2])
    assert report.results[2].attempts == 2  # retried once
    assert isinstance(errors[3], IntegrityError)
    assert 'size 301' in str(errors[3])
    assert isinstance(errors[4], UnsafePathError)
    assert not (tmp_path / 'outside.bin').exists()
    assert [r.item for r in report.failed] == [missing, wrong_md5, wrong_size, escape]
    with pytest.raises(DownloadError, match='4 of 5 files failed') as caught:
        report.raise_for_failures()
    assert len(caught.value.value) == 4
    for result in report.failed:  # each failure on its own line, its item named once
        assert str(caught.value).count(result.item.label) == 1, result.item.label
        assert result.describe() in str(caught.value)
    assert not list((tmp_path / 't').rglob('*.part'))
    only = DownloadReport(results=(report.results[2],))
    with pytest.raises(IntegrityError):
        only.raise_for_failures()


async def test_on_mismatch_hook_called_once_per_corrupt_item(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [100, 200])
    server = serve(tree.root)
    items = tree.items(server.url)
    bad = items[1].model_copy(update={'md5': 'f' * 32, 'dataset_id': str(uuid.uuid4())})
    tagged: list[DownloadItem] = []

    async def tag(item: DownloadItem) -> None:
        tagged.append(item)

    report = await download_files([items[0], bad], tmp_path / 't', on_mismatch=tag)
    assert tagged == [bad]
    assert report.results[1].error is not None
    assert bad.dataset_id in str(report.results[1].error)


async def test_basic_auth_required_and_never_shown(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [100])
    server = serve(tree.root, auth=AUTH)
    url = server.url.replace('http://', f'http://{AUTH[0]}:wrong-password@')
    report = await download_files([f'{url}/{next(iter(tree.files))}'], tmp_path / 't')
    (result,) = report.results
    assert isinstance(result.error, DownloadError)
    assert '401' in str(result.error)
    assert 'wrong-password' not in str(result.error) + repr(result.item.source)
    report = await download_files(tree.items(server.url), tmp_path / 't', auth=AUTH)
    assert report.ok


async def test_symlinked_directory_out_of_target_is_refused(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [100, 200])
    server = serve(tree.root)
    target = tmp_path / 'cache'
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    (target / 'lab').mkdir(parents=True)
    (target / 'lab' / 'Subjects').symlink_to(outside, target_is_directory=True)
    report = await download_files(tree.items(server.url), target)
    assert all(isinstance(r.error, UnsafePathError) for r in report.results)
    assert not list(outside.rglob('*'))
    absolute = DownloadItem(url=f'{server.url}/x.y.bin', rel_path='/etc/x.y.bin')
    (result,) = (await download_files([absolute], tmp_path / 'c2')).results
    assert isinstance(result.error, UnsafePathError)


async def test_same_file_twice_in_a_batch_is_fetched_once(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [1000, 2000])
    server = serve(tree.root)
    items = tree.items(server.url)
    report = await download_files([items[0], items[1], items[0]], tmp_path / 't')
    assert report.ok
    assert report.results[2].path == report.results[0].path
    assert sorted(p for _, p, _ in server.log.requests) == sorted(f'/{rel}' for rel in tree.files)


async def test_two_tasks_same_batch_download_each_file_once(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [200_000] * 40)
    server = serve(tree.root)
    items = tree.items(server.url)
    reports: list[DownloadReport] = []

    async def run() -> None:
        reports.append(await download_files(items, tmp_path / 't', max_concurrency=4))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        tg.start_soon(run)
    assert all(r.ok for r in reports)
    assert sum(r.downloaded for r in reports) == len(items)
    assert len(server.log.requests) == len(items)
    check_target(tmp_path / 't', tree)


async def test_streaming_results_arrive_as_files_finish(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', sizes_small(50))
    server = serve(tree.root)
    seen: list[DownloadResult] = []
    async with stream_downloads(tree.items(server.url), tmp_path / 't') as results:
        async for result in results:
            assert result.path is not None
            assert result.path.exists()  # placed before it is announced
            seen.append(result)
    assert len(seen) == 50
    assert {r.item.url for r in seen} == {i.url for i in tree.items(server.url)}

    calls: list[DownloadResult] = []
    report = await download_files(
        tree.items(server.url), tmp_path / 't2', on_complete=calls.append
    )
    assert sorted(map(id, calls)) == sorted(map(id, report.results))


async def test_progress_bar_when_asked(
    tmp_path: Path, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / 'remote', [1000, 2000, 3000])
    server = serve(tree.root)
    await download_files(tree.items(server.url), tmp_path / 'quiet')
    assert capsys.readouterr().err == ''
    await download_files(tree.items(server.url), tmp_path / 'shown', progress=True)
    err = capsys.readouterr().err
    assert '3/3 files' in err


async def test_plain_urls_land_at_their_alf_path(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', [10, 20], prefix=f'public/{SESSION}')
    server = serve(tree.root)
    report = await download_files([f'{server.url}/{rel}' for rel in tree.files], tmp_path / 't')
    assert report.ok
    for result, rel in zip(report.results, tree.files, strict=True):
        assert result.path == tmp_path / 't' / rel.removeprefix('public/')


async def test_caller_supplied_httpx_client(tmp_path: Path, serve: Any) -> None:
    """A caller's own httpx client (here with its auth) is used instead of the job's pool."""
    tree = make_tree(tmp_path / 'remote', [*sizes_small(30), 1_500_000])
    server = serve(tree.root, auth=AUTH)
    async with httpx.AsyncClient(auth=AUTH) as client:
        report = await download_files(
            tree.items(server.url), tmp_path / 't', client=client, fsync=False
        )
        assert not client.is_closed  # the caller's client stays the caller's
    assert report.ok
    check_target(tmp_path / 't', tree)
    digest_auth = httpx.DigestAuth(*AUTH)  # any httpx.Auth goes through httpx
    report = await download_files(tree.items(server.url), tmp_path / 't2', auth=digest_auth)
    assert len(report.failed) == len(tree.files)
    assert {type(r.error) for r in report.failed} == {DownloadError}


async def test_stale_and_planted_part_files(tmp_path: Path, serve: Any) -> None:
    """A stale part file without resume state starts over; a symlinked one is refused."""
    tree = make_tree(tmp_path / 'remote', [5000, 6000])
    server = serve(tree.root)
    target = tmp_path / 'cache'
    first, second = (target / rel for rel in tree.files)
    first.parent.mkdir(parents=True)
    second.parent.mkdir(parents=True)
    first.with_name(first.name + '.part').write_bytes(b'garbage from a killed run')
    outside = tmp_path / 'outside.bin'
    outside.write_bytes(b'keep me')
    second.with_name(second.name + '.part').symlink_to(outside)
    report = await download_files(tree.items(server.url), target)
    assert report.results[0].status == 'downloaded'
    assert first.read_bytes() == tree.files[next(iter(tree.files))]
    assert not first.with_name(first.name + '.part').exists()
    assert isinstance(report.results[1].error, UnsafePathError)
    assert outside.read_bytes() == b'keep me'
    assert not second.exists()


async def test_leaving_the_stream_early_cancels_the_rest(tmp_path: Path, serve: Any) -> None:
    tree = make_tree(tmp_path / 'remote', sizes_small(200, low=20_000, high=200_000))
    server = serve(tree.root, faults=Faults(default=FaultPlan(trickle_rate=2 * 1024 * 1024)))
    seen = 0
    async with stream_downloads(tree.items(server.url), tmp_path / 't') as results:
        async for _ in results:
            seen += 1
            if seen == 3:
                break
    placed = check_target(tmp_path / 't', tree, expect_all=False)
    assert 3 <= placed < len(tree.files)
    empty = await download_files([], tmp_path / 'empty')
    assert empty.ok
    assert empty.results == ()


async def test_timeouts_are_options(tmp_path: Path, serve: Any) -> None:
    """``read_timeout`` bounds the wait for an answer, on every backend's client; a timeout
    that is not a positive number is refused before anything is fetched."""
    tree = make_tree(tmp_path / 'remote', [1000, 2000])
    server = serve(tree.root, faults=Faults(default=FaultPlan(latency=1.0)))
    report = await download_files(
        tree.items(server.url), tmp_path / 'short', read_timeout=0.2, retry_attempts=1
    )
    assert len(report.failed) == len(tree.files)
    assert all('no data for 0.2 s' in str(result.error) for result in report.failed)
    check_target(tmp_path / 'short', tree, expect_all=False)
    report = await download_files(tree.items(server.url), tmp_path / 'long', read_timeout=5)
    assert report.ok
    check_target(tmp_path / 'long', tree)
    for bad in (0, -1.0, 'soon', True):
        with pytest.raises(InvalidArgument, match='read_timeout') as caught:
            await download_files(tree.items(server.url), tmp_path / 'bad', read_timeout=bad)
        assert caught.value.value == bad
