"""AsyncOne in local mode: session life cycle, modes, typed errors, the filesystem check,
deliberate differences from ONE-api 2.9.0 (pinned here), and cancellation.

Where a behaviour can be compared with ONE it is (``one_client``); where one_async does better
than ONE on purpose, the test shows ONE's failure and pins the better result.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import polars as pl
import pytest

from one_async.api import AsyncOne
from one_async.api.datasets_index import DatasetsIndex
from one_async.exceptions import (
    ALFObjectNotFound,
    ALFWarning,
    ArgumentTypeError,
    CacheWarning,
    InvalidArgument,
    InvalidPattern,
    LocalModeError,
)
from one_async.testing.generate import generate

from .conftest import SYNTHETIC, WITH_FILES, one_client
from .harness import norm

pytestmark = pytest.mark.anyio

FILE_EIDS = SYNTHETIC.sessions['id'].head(WITH_FILES).to_list()


def _quiet_one(folder: Path) -> Any:
    logging.disable(logging.CRITICAL)
    try:
        return one_client(folder)
    finally:
        logging.disable(logging.NOTSET)


async def _trials_session(one: AsyncOne) -> str:
    """A session with files whose trials object loads."""
    for eid in FILE_EIDS:
        if await one.list_datasets(eid, filename='*trials.table*'):
            return eid
    raise AssertionError('no session with trials')


# --- life cycle, modes ----------------------------------------------------------------------


async def test_tables_open_on_entry_and_reopen_after_close(generated_dir: Path) -> None:
    one = AsyncOne(cache_dir=generated_dir)
    assert one.cache is None
    async with one:
        assert one.cache is not None
        assert one.cache.tables_dir == generated_dir
        first = await one.search()
    assert one.cache is None
    assert await one.search() == first  # reopened on first use
    await one.aclose()
    await one.aclose()  # idempotent


async def test_repr_offline_and_defaults(generated_dir: Path) -> None:
    one = AsyncOne(cache_dir=generated_dir)
    assert repr(one) == f'AsyncOne (offline, {generated_dir})'
    assert one.offline
    assert one.mode == 'local'
    assert one.wildcards is True
    assert one.cache_expiry == timedelta(hours=24)
    assert await one.search_terms() == (
        'dataset',
        'date_range',
        'laboratory',
        'number',
        'projects',
        'subject',
        'task_protocol',
        'dataset_qc_lte',
    )
    assert await one.search_terms() == one_client(generated_dir).search_terms()


async def test_no_tables_gives_empty_tables_and_a_warning(tmp_path: Path) -> None:
    one = AsyncOne(cache_dir=tmp_path)
    with pytest.warns(CacheWarning, match='No cache tables'):
        await one.load_cache()
    assert await one.search() == []
    assert await one.search(dataset='trials', details=True) == ([], None)
    assert await one.list_datasets() == []
    assert (await one.list_datasets(details=True)).height == 0
    assert await one.list_subjects() == []
    assert await one.list_collections() == []
    with pytest.raises(ALFObjectNotFound):
        await one.get_details('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa')
    assert await one.eid2path('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa') is None
    await one.aclose()


async def test_tables_dir_apart_from_cache_dir(generated_dir: Path, tmp_path: Path) -> None:
    tables = tmp_path / 'tables'
    tables.mkdir()
    for name in ('sessions.pqt', 'datasets.pqt'):
        shutil.copy(generated_dir / name, tables / name)
    async with AsyncOne(cache_dir=generated_dir, tables_dir=tables) as one:
        assert one.tables_dir == tables
        eid = await _trials_session(one)
        files = await one.load_object(eid, 'trials', download_only=True)
        assert files
        assert all(generated_dir in Path(f).parents for f in files)


async def test_refresh_modes(fresh_generated: Path) -> None:
    async with AsyncOne(cache_dir=fresh_generated) as one:
        loaded = await one.refresh_cache('local')
        assert loaded is not None
        assert await one.refresh_cache('remote') == loaded
        assert await one.refresh_cache('auto') == loaded  # not expired
        one.cache_expiry = timedelta(0)
        assert await one.refresh_cache('auto') >= loaded
        tables = one.cache
        await one.refresh_cache('refresh')
        assert one.cache is not tables
        with pytest.raises(InvalidArgument, match='nonsense'):
            await one.refresh_cache('nonsense')
    with pytest.raises(InvalidArgument, match='bogus'):
        AsyncOne(cache_dir=fresh_generated, mode='bogus')


async def test_refresh_mode_reloads_changed_tables(fresh_generated: Path) -> None:
    """In 'refresh' mode every query reloads the tables (ONE's meaning)."""
    async with AsyncOne(cache_dir=fresh_generated, mode='refresh') as one:
        before = await one.search()
        smaller = SYNTHETIC.head(3)
        for name in ('sessions.pqt', 'datasets.pqt'):
            (fresh_generated / name).unlink()
        smaller.write_tables(fresh_generated, layout='one2', cache_info=False)
        after = await one.search()
    assert len(after) == 3 < len(before)


async def test_remote_query_needs_a_server(generated_dir: Path) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        with pytest.raises(LocalModeError):
            await one.search(subject='KS', query_type='remote')
        with pytest.raises(LocalModeError):
            await one.list_datasets(query_type='remote')
        with pytest.raises(InvalidArgument, match='wrong'):
            await one.list_datasets(query_type='wrong')


# --- typed errors naming the value ------------------------------------------------------------


@pytest.mark.parametrize(
    ('kwargs', 'error', 'value'),
    [
        ({'colour': 'red'}, InvalidArgument, 'colour'),
        ({'da': 'x'}, InvalidArgument, 'da'),
        ({'date_range': '2020-13-45'}, InvalidArgument, '2020-13-45'),
        ({'date_range': 'yesterday'}, InvalidArgument, 'yesterday'),
        ({'number': 'two'}, InvalidArgument, 'two'),
        ({'dataset_qc_lte': 'EXCELLENT', 'dataset': 'x'}, InvalidArgument, 'EXCELLENT'),
        ({'subject': '[unclosed'}, InvalidPattern, '[unclosed'),
        ({'subject': ['KS', 3]}, ArgumentTypeError, ['KS', 3]),
    ],
)
async def test_search_errors_name_the_value(
    generated_dir: Path, kwargs: dict[str, Any], error: type[Exception], value: Any
) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        with pytest.raises(error) as info:
            await one.search(**kwargs)
    assert info.value.value == value  # type: ignore[attr-defined]
    assert str(value)[:6] in str(info.value)


async def test_bad_pattern_is_also_re_error(generated_dir: Path) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        with pytest.raises(re.error):
            await one.search(dataset='(')
        assert await one.list_datasets(FILE_EIDS[0], filename='(') == []  # a shell pattern
        one.wildcards = False
        with pytest.raises(re.error):
            await one.list_datasets(FILE_EIDS[0], filename='(')
        with pytest.raises(InvalidPattern):
            await one.list_datasets(FILE_EIDS[0], collection='[')
        assert await one.search(dataset='(') == []  # plain text without wildcards


@pytest.mark.parametrize('eid', ['not-a-uuid', '01390fcc-4f86-4707-8a3b', 12])
async def test_malformed_eids(generated_dir: Path, eid: Any) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        for call in (one.list_datasets, one.get_details, one.eid2path):
            with pytest.raises(InvalidArgument) as info:
                await call(eid)
            assert info.value.value == eid


async def test_bad_qc_names_the_value(generated_dir: Path) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        with pytest.raises(InvalidArgument, match='SUPERB') as info:
            await one.list_datasets(FILE_EIDS[0], qc='SUPERB')
    assert info.value.value == 'SUPERB'


# --- deliberate differences from ONE 2.9.0 -----------------------------------------------------


async def test_path2record_accepts_str_paths(generated_dir: Path) -> None:
    """ONE 2.9.0 crashes on a str file path (it calls ``.as_posix()``); it works here, and
    gives the record ONE gives for the same path as a Path."""
    one = _quiet_one(generated_dir)
    async with AsyncOne(cache_dir=generated_dir) as aone:
        eid = FILE_EIDS[0]
        rel = (await aone.list_datasets(eid))[0]
        path = (await aone.eid2path(eid)) / rel
        with pytest.raises(AttributeError):
            one.path2record(str(path))
        theirs = one.path2record(path)
        ours = await aone.path2record(str(path))
        assert ours == await aone.path2record(path)
        assert norm(ours) == {'eid': theirs.name[0], 'id': theirs.name[1], **norm(theirs)}
        assert await aone.record2path(ours) == path
        with pytest.raises(LocalModeError):
            await aone.path2url(path)


async def test_load_collection_applies_the_revision(generated_dir: Path) -> None:
    """ONE 2.9.0 (and 3.6.1) pass ``revision`` on as a collection pattern, so a revision never
    matches; here it selects that revision (or the last one before it)."""
    one = _quiet_one(generated_dir)
    async with AsyncOne(cache_dir=generated_dir) as aone:
        for eid in FILE_EIDS:
            revisions = [r for r in await aone.list_revisions(eid, collection='alf') if r]
            if revisions:
                break
        else:
            raise AssertionError('no revised session with files')
        revision = revisions[0]
        with pytest.raises(Exception, match=r'not found|trials'):
            one.load_collection(eid, 'alf', revision=revision, download_only=True)
        files = await aone.load_collection(eid, 'alf', revision=revision, download_only=True)
        revised = [f for f in files if f'#{revision}#' in str(f)]
        assert revised
        expected = await aone.load_object(
            eid, 'trials', collection='alf', revision=revision, download_only=True
        )
        assert set(expected) <= set(files)
        latest = await aone.load_collection(eid, 'alf', download_only=True)
        assert set(map(str, latest)) == set(
            map(str, one.load_collection(eid, 'alf', download_only=True))
        )


async def test_load_datasets_takes_dicts(generated_dir: Path) -> None:
    """ONE 2.9.0 fails on dicts of ALF parts with wildcards on (it appends '' to them);
    they select the same datasets as the file names here."""
    one = _quiet_one(generated_dir)
    async with AsyncOne(cache_dir=generated_dir) as aone:
        eid = await _trials_session(aone)
        parts = [{'object': 'trials', 'attribute': 'table'}, {'object': 'wheel'}]
        with pytest.raises(TypeError):
            one.load_datasets(eid, parts, download_only=True)
        files, records = await aone.load_datasets(
            eid, [parts[0]], download_only=True, collections='alf'
        )
        by_name, _ = await aone.load_datasets(eid, ['_ibl_trials.table.pqt'], download_only=True)
        assert files == by_name
        assert records[0] is not None
        assert records[0]['rel_path'].endswith('_ibl_trials.table.pqt')


async def test_alyx3_layout_loads_without_session_path(
    generated_dir: Path, tmp_path: Path
) -> None:
    """Tables of the Alyx 3.x layout have no session_path column: files are found from the
    sessions table, as in the ONE 2.x layout."""
    from one_async.cache import CacheTables, write_tables

    tables = CacheTables.open(generated_dir)
    alyx = tmp_path / 'alyx3'
    alyx.mkdir()
    write_tables(alyx, tables.frame('sessions'), tables.frame('datasets'), layout='alyx3')
    async with (
        AsyncOne(cache_dir=generated_dir) as one2,
        AsyncOne(cache_dir=generated_dir, tables_dir=alyx) as one3,
    ):
        eid = await _trials_session(one2)
        assert 'session_path' not in (await one3.list_datasets(eid, details=True)).columns
        files2 = await one2.load_object(eid, 'trials', download_only=True)
        assert await one3.load_object(eid, 'trials', download_only=True) == files2
        _, records = await one3.load_datasets(eid, ['_ibl_trials.table.pqt'])
        _, records2 = await one2.load_datasets(eid, ['_ibl_trials.table.pqt'])
        assert records[0] is not None
        folder = (await one3.eid2path(eid)).relative_to(generated_dir).as_posix()
        assert records[0]['session_path'] == folder
        assert records == records2


# --- the filesystem check ---------------------------------------------------------------------


async def test_filesystem_check_updates_exists_as_one(
    fresh_generated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A deleted file is dropped and flagged ``exists=False``, a file that appeared is
    flagged ``exists=True``; a wrong md5 is logged but the file is still used (local mode)."""
    async with AsyncOne(cache_dir=fresh_generated) as probe:
        eid = await _trials_session(probe)
        rows = await probe.list_datasets(eid, details=True)
        files = await probe.load_object(eid, 'trials', download_only=True)
    by_name = {Path(f).name: Path(f) for f in files}
    deleted = by_name[sorted(by_name)[0]]
    deleted.unlink()
    corrupted = by_name[sorted(by_name)[1]]
    corrupted.write_bytes(corrupted.read_bytes()[::-1])
    ghost = rows.filter(~pl.col('exists') & pl.col('rel_path').str.starts_with('alf/'))
    created = None
    if ghost.height:
        created = Path(fresh_generated, ghost['session_path'][0], ghost['rel_path'][0])
        created.parent.mkdir(parents=True, exist_ok=True)
        np.save(created, np.zeros(3))

    one = _quiet_one(fresh_generated)
    logging.disable(logging.CRITICAL)
    try:
        theirs = one.load_object(eid, 'trials', download_only=True)
        if created is not None:
            one.load_dataset(eid, created.name, collection='alf', download_only=True)
    finally:
        logging.disable(logging.NOTSET)
    caplog.set_level(logging.WARNING, logger='one_async')
    async with AsyncOne(cache_dir=fresh_generated) as aone:
        ours = await aone.load_object(eid, 'trials', download_only=True)
        if created is not None:
            await aone.load_dataset(eid, created.name, collection='alf', download_only=True)
        assert sorted(map(str, ours)) == sorted(map(str, theirs))
        assert str(deleted) not in map(str, ours)
        assert str(corrupted) in map(str, ours)
        assert any('md5 mismatch' in r.getMessage() for r in caplog.records)
        flags = (await aone.list_datasets(eid, details=True)).select('id', 'exists')
        expected = one.list_datasets(eid, details=True)['exists']
        assert dict(flags.iter_rows()) == expected.to_dict()
        assert aone.cache is not None
        assert aone.cache.meta.modified_time is not None
        # the change is kept when saved
        written = await aone.save_cache()
        assert written
    async with AsyncOne(cache_dir=fresh_generated) as again:
        saved = (await again.list_datasets(eid, details=True)).select('id', 'exists')
        assert dict(saved.iter_rows()) == dict(flags.iter_rows())


async def test_missing_batch_for_downloads(fresh_generated: Path) -> None:
    """The check returns absent and mismatching files as one batch (what a download step
    fetches), and with ``update_exists=False`` leaves the tables alone."""
    async with AsyncOne(cache_dir=fresh_generated) as one:
        eid = await _trials_session(one)
        files = await one.load_object(eid, 'trials', download_only=True)
        await anyio.Path(files[0]).unlink()
        await anyio.Path(files[1]).write_bytes(b'x')
        rows = await one.list_datasets(eid, filename='*trials*', details=True)
        tables = one.cache
        assert tables is not None
        canonical = tables.session_datasets(eid).join(rows.select('id'), on='id', how='semi')
        check = await one._check_filesystem(canonical, update_exists=False)
        missing = set(check.missing['rel_path'].to_list())
        names = {Path(files[0]).name, Path(files[1]).name}
        assert {p.rsplit('/', 1)[-1] for p in missing} >= names
        assert tables.dirty('datasets') is None
        assert sum(f is None for f in check.files) >= 1


async def test_record_loaded_and_save_loaded_ids(fresh_generated: Path) -> None:
    one = _quiet_one(fresh_generated)
    one.record_loaded = True
    async with AsyncOne(cache_dir=fresh_generated) as aone:
        with pytest.warns(CacheWarning):
            assert await aone.save_loaded_ids() == ([], None)
        aone.record_loaded = True
        eid = await _trials_session(aone)
        await aone.load_object(eid, 'trials', download_only=True)
        logging.disable(logging.CRITICAL)
        try:
            one.load_object(eid, 'trials', download_only=True)
            theirs_ids, _ = one.save_loaded_ids(clear_list=False)
            theirs_sessions, _ = one.save_loaded_ids(sessions_only=True)
        finally:
            logging.disable(logging.NOTSET)
        ids, path = await aone.save_loaded_ids(clear_list=False)
        assert sorted(ids) == sorted(map(str, theirs_ids))
        assert path is not None
        assert path.read_text().splitlines()[0] == 'dataset_uuid'
        sessions, path = await aone.save_loaded_ids(sessions_only=True)
        assert sessions == [eid] == list(theirs_sessions)
        assert path is not None
        with pytest.warns(CacheWarning):
            assert await aone.save_loaded_ids() == ([], None)


async def test_warnings_as_one(generated_dir: Path) -> None:
    """The non-default revision warning of load_datasets and the wildcard warning of
    load_dataset, as ONE (an ALFWarning, which is a UserWarning)."""
    one = _quiet_one(generated_dir)
    async with AsyncOne(cache_dir=generated_dir) as aone:
        for eid in FILE_EIDS:
            rows = await aone.list_datasets(eid, details=True)
            old = rows.filter(~pl.col('default_revision') & pl.col('exists'))
            if old.height:
                break
        else:
            raise AssertionError('no non-default revision on disk')
        rel = old['rel_path'][0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            one.load_datasets(eid, [rel], download_only=True)
        assert any('revised' in str(w.message) for w in caught)
        with pytest.warns(ALFWarning, match='revised'):
            await aone.load_datasets(eid, [rel], download_only=True)
        with pytest.warns(ALFWarning, match='Wildcards'), pytest.raises(ALFObjectNotFound):
            await aone.load_dataset(eid, 'alf/*.nothing.npy')


# --- ONE 3.x's ``datasets`` term --------------------------------------------------------------


def _datasets_oracle(names: list[str], qc_rank: int = 3) -> list[str]:
    """ONE 3.x's rule, written independently: sessions with, for each name, an existing
    dataset of QC <= FAIL whose file name fully matches it; newest first."""
    datasets = SYNTHETIC.datasets.with_columns(
        pl.col('rel_path').str.split('/').list.last().alias('name')
    ).filter(pl.col('exists') & (pl.col('qc').to_physical() <= qc_rank))
    eids: set[str] | None = None
    for name in names:
        found = {
            e
            for e, n in datasets.select('eid', 'name').iter_rows()
            if re.fullmatch(name, n) is not None
        }
        eids = found if eids is None else eids & found
    sessions = SYNTHETIC.sessions.filter(pl.col('id').is_in(sorted(eids or set())))
    keys = ['date', 'subject', 'number', 'id']
    order = sessions.sort(keys, descending=[True, True, True, False])
    return order['id'].to_list()


@pytest.mark.parametrize(
    'names',
    [
        ['_ibl_trials.table.pqt'],
        ['_ibl_trials.table.pqt', 'spikes.times.npy'],
        ['spikes.times.npy', 'clusters.metrics.pqt', '_ibl_wheel.position.npy'],
        ['trials.table.pqt'],
        [r'_ibl_.*Camera\.times\.npy'],
    ],
)
async def test_datasets_term_of_one3(generated_dir: Path, names: list[str]) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        assert await one.search(datasets=names) == _datasets_oracle(names)
        assert await one.search(datasets=names, dataset_qc_lte='PASS') == _datasets_oracle(
            names, 1
        )


# --- async behaviour --------------------------------------------------------------------------


async def test_concurrent_queries_agree_with_sequential(generated_dir: Path) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        eids = (await one.search())[:12]
        expected = [await one.list_collections(e) for e in eids]
        expected_search = await one.search(dataset=['trials', 'wheel'])
    async with AsyncOne(cache_dir=generated_dir) as one:
        results: dict[int, Any] = {}

        async def run(i: int, eid: str) -> None:
            results[i] = await one.list_collections(eid)

        async def run_search() -> None:
            results[-1] = await one.search(dataset=['trials', 'wheel'])

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_search)
            for i, eid in enumerate(eids):
                tg.start_soon(run, i, eid)
        assert [results[i] for i in range(len(eids))] == expected
        assert results[-1] == expected_search


async def test_cancelled_query_leaves_the_session_usable(generated_dir: Path) -> None:
    async with AsyncOne(cache_dir=generated_dir) as one:
        with anyio.move_on_after(0) as scope:
            await one.search(dataset=['trials', 'spikes'])
        assert scope.cancelled_caught
        with anyio.move_on_after(0):
            await one.load_object(FILE_EIDS[0], 'trials')
        assert await one.search(dataset='trials')
        eid = await _trials_session(one)
        assert await one.load_object(eid, 'trials')


async def test_heavy_work_runs_in_worker_threads(
    generated_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Materialising tables and whole-table indexes happen off the event loop thread."""
    loop_thread = threading.get_ident()
    seen: list[int] = []
    build = DatasetsIndex.build.__func__  # type: ignore[attr-defined]

    def spy(cls: type[DatasetsIndex], frame: pl.DataFrame) -> DatasetsIndex:
        seen.append(threading.get_ident())
        return build(cls, frame)  # type: ignore[no-any-return]

    monkeypatch.setattr(DatasetsIndex, 'build', classmethod(spy))
    async with AsyncOne(cache_dir=generated_dir) as one:
        await one.search(dataset='trials')
        await one.list_datasets()
    assert seen
    assert loop_thread not in seen


async def test_large_generated_tables_agree_with_small_path(tmp_path: Path) -> None:
    """Whole-table answers are the same with and without path codes (first and later
    queries use different ways of spreading answers over rows)."""
    data = generate(120, seed=5, revision_fraction=0.3)
    data.write_tables(tmp_path, layout='one2', cache_info=False)
    async with AsyncOne(cache_dir=tmp_path) as one:
        first = [
            await one.search(dataset=['spikes.times', 'trials']),
            await one.list_datasets(),
            await one.list_collections(),
            await one.list_revisions(filename='*trials*'),
        ]
        assert one._index_cache is not None
        assert one._index_cache.has_codes
        again = [
            await one.search(dataset=['spikes.times', 'trials']),
            await one.list_datasets(),
            await one.list_collections(),
            await one.list_revisions(filename='*trials*'),
        ]
    assert again == first
    theirs = one_client(tmp_path)
    assert first[0] == theirs.search(dataset=['spikes.times', 'trials'])
    assert first[1] == theirs.list_datasets()
