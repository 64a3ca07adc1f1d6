"""``AsyncOne.download``: every dataset of some sessions in one job, with the transfer engine's
typed report, progress display and completed-file stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from one_async.api import AsyncOne
from one_async.exceptions import ArgumentTypeError
from one_async.testing.server import LocalAlyx
from one_async.transfer import DownloadReport, DownloadResult

from .conftest import OneFactory, data_gets, generated, md5, sessions

pytestmark = pytest.mark.anyio


async def expected_ids(one: AsyncOne, eids: list[str], **filters: Any) -> list[str]:
    """The datasets Alyx lists for these sessions with these filters (ONE's remote listing:
    files on the server, default revisions)."""
    found: list[str] = []
    for eid in eids:
        listed = await one.list_datasets(eid, details=True, query_type='remote', **filters)
        found += listed['id'].to_list()
    return sorted(found)


def ids(report: DownloadReport) -> list[str]:
    return sorted(r.item.dataset_id or '' for r in report.results)


def ephys(alyx: LocalAlyx) -> str:
    data = generated(alyx).datasets
    return str(data.filter(pl.col('rel_path').str.starts_with('alf/probe00/'))['eid'][0])


async def test_download_sessions_in_one_job(alyx: LocalAlyx, one: AsyncOne) -> None:
    eid = ephys(alyx)
    report = await one.download(eid)
    assert isinstance(report, DownloadReport)
    assert report.ok
    assert ids(report) == await expected_ids(one, [eid])
    assert report.downloaded == len(report.results) > 100
    rows = generated(alyx).datasets.filter(pl.col('id').is_in(ids(report)))
    placed = {p.relative_to(one.cache_dir).as_posix() for p in report.paths if p}
    assert placed == {f'{s}/{r}' for s, r in zip(rows['session_path'],
                                                 rows['rel_path'], strict=True)}  # fmt: skip
    for path in report.paths:
        assert path is not None
        assert md5(path) == md5(alyx.data_dir / path.relative_to(one.cache_dir))
    again = await one.download([eid])
    assert again.skipped == report.downloaded
    assert again.downloaded == 0
    assert again.bytes == 0


async def test_download_a_query_with_filters(alyx: LocalAlyx, one: AsyncOne) -> None:
    subject = sessions(alyx)['subject'][0]
    eids = sessions(alyx).filter(pl.col('subject') == subject)['id'].to_list()
    gets = sum(data_gets(alyx).values())
    filters = {'filename': '*.npy', 'collection': 'alf/probe0?'}
    report = await one.download({'subject': subject}, filters['filename'], filters['collection'])
    expected = await expected_ids(one, eids, **filters)
    assert report.ok
    assert ids(report) == expected
    assert expected
    assert sum(data_gets(alyx).values()) == gets + report.downloaded
    listed = await one.list_datasets(details=True)
    assert listed.filter(pl.col('id').is_in(expected))['exists'].all()


async def test_download_a_remote_search_result(alyx: LocalAlyx, one: AsyncOne) -> None:
    lab = sessions(alyx)['lab'][-1]
    found = await one.search(laboratory=lab, query_type='remote')
    report = await one.download(found, datasets='_ibl_wheel.*', query_type='remote')
    eids = sessions(alyx).filter(pl.col('lab') == lab)['id'].to_list()
    expected = await expected_ids(one, eids, filename='_ibl_wheel.*')
    assert ids(report) == expected
    assert len(expected) >= 2


async def test_on_complete_and_progress(
    alyx: LocalAlyx, one: AsyncOne, capfd: pytest.CaptureFixture[str]
) -> None:
    eid = ephys(alyx)
    seen: list[DownloadResult] = []

    async def collect(result: DownloadResult) -> None:
        seen.append(result)

    report = await one.download(eid, collection='alf', on_complete=collect, progress=True)
    assert sorted(r.item.dataset_id or '' for r in seen) == ids(report)
    assert len(seen) > 10
    assert f'{len(seen)}/{len(seen)} files' in capfd.readouterr().err
    called: list[Path | None] = []
    await one.download(eid, collection='alf', on_complete=lambda r: called.append(r.path))
    assert sorted(p for p in called if p) == sorted(p for p in report.paths if p)


async def test_download_stream(alyx: LocalAlyx, one: AsyncOne) -> None:
    eid = ephys(alyx)
    paths: list[Any] = []
    async with one.download_stream(eid, datasets='*.npy') as results:
        async for result in results:
            assert result.ok
            assert result.path is not None
            assert result.path.exists()
            paths.append(result.path)
    assert len(paths) == len(await expected_ids(one, [eid], filename='*.npy'))
    with pytest.raises(ArgumentTypeError):
        async with one.download_stream(eid, on_complete=print):
            pass


async def test_leaving_the_stream_early_cancels_the_rest(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    from one_async.testing.faults import FaultPlan, Faults

    eid = fresh_alyx.store.table('sessions')['id'][0]
    fresh_alyx.data_faults.faults = Faults(default=FaultPlan(latency=0.05))
    async with make_one(fresh_alyx) as one:
        async with one.download_stream(eid) as results:
            first = await results.receive()
            assert first.ok
        assert one._transfers is not None
        assert one._transfers.in_flight() == 0
        leftovers = [p for p in one.cache_dir.rglob('*') if p.name.endswith('.part')]
        assert leftovers == []
        report = await one.download(eid)  # what was not fetched is fetched now
        assert report.ok
        assert report.skipped >= 1


@pytest.mark.parametrize(('given', 'expected'), [({}, None), ({'download_per_host': 16}, 16)])
async def test_a_per_host_limit_given_is_kept_even_at_its_default_value(
    alyx: LocalAlyx, make_one: OneFactory, given: dict[str, Any], expected: int | None
) -> None:
    """Without a value the engine adapts the per-host limit to the files; a value given, even
    the default's, is a limit the user asked for."""
    async with make_one(alyx, **given) as one:
        assert one._session_downloads().per_host == expected


async def test_the_session_read_timeout_applies_to_downloads(
    fresh_alyx: LocalAlyx, make_one: OneFactory
) -> None:
    """``read_timeout`` (``ONE_READ_TIMEOUT``) bounds the wait for a data server's answer."""
    from one_async.testing.faults import FaultPlan, Faults

    eid = fresh_alyx.store.table('sessions')['id'][0]
    fresh_alyx.data_faults.faults = Faults(default=FaultPlan(latency=1.0))
    async with make_one(fresh_alyx, read_timeout=0.2, retry_attempts=1) as one:
        report = await one.download(eid)
    assert report.failed
    assert not report.downloaded
    assert all('0.2 s' in str(result.error) for result in report.failed)
    async with make_one(fresh_alyx, read_timeout=5.0, retry_attempts=1) as one:
        report = await one.download(eid)
    assert report.ok
    assert report.downloaded
