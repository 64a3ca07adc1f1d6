"""build_cache: indexing an ALF tree, compared with ONE-api 2.9.0's own make_parquet_db."""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import anyio
import numpy as np
import polars as pl
import pytest

from one_async.cache import CacheTables
from one_async.cache.build import abuild_cache, build_cache, md5_file
from one_async.exceptions import CacheWarning, InvalidArgument
from one_async.testing.generate import SyntheticData, generate


@pytest.fixture(scope='module')
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticData, Path]:
    """A generated ALF tree plus a session without lab folder, one with an unpadded number,
    and files that are not datasets."""
    root = tmp_path_factory.mktemp('tree')
    data = generate(10, seed=8, revision_fraction=0.5).write_files(root)
    first = root / data.sessions['session_path'][0]
    nolab = root / 'SUBJ_X' / '2022-02-02' / '001'
    unpadded = root / 'otherlab' / 'Subjects' / 'SUBJ_Y' / '2022-03-03' / '2'
    for target in (nolab, unpadded):
        shutil.copytree(first / 'raw_behavior_data', target / 'raw_behavior_data')
    (first / 'notes.txt').write_text('not a dataset')
    (first / 'raw_behavior_data' / '.hidden.times.npy').write_bytes(b'x')
    (root / 'README.md').write_text('not in a session')
    return data, root


def _one(root: Path, tables: Path):  # type: ignore[no-untyped-def]
    from one.api import One

    return One(cache_dir=str(root), tables_dir=str(tables), mode='local')


def _paths(one, root: Path, eids: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    return [one.eid2path(e).relative_to(root).as_posix() for e in eids]


def test_build_matches_make_parquet_db(tree: tuple[SyntheticData, Path], tmp_path: Path) -> None:
    from one.alf.cache import make_parquet_db

    data, root = tree
    ours_dir, theirs_dir = tmp_path / 'ours', tmp_path / 'theirs'
    ours_dir.mkdir()
    theirs_dir.mkdir()
    build_cache(root, out_dir=ours_dir)
    make_parquet_db(root, out_dir=theirs_dir)
    ours, theirs = _one(root, ours_dir), _one(root, theirs_dir)
    queries: list[dict[str, object]] = [
        {},
        {'dataset': 'spikes.times'},
        {'dataset': ['trials.table', 'wheel.position']},
        {'subject': data.sessions['subject'][0]},
        {'date_range': ['2019-01-01', '2021-06-30']},
        {'number': 2},
        {'laboratory': 'otherlab'},
    ]
    for query in queries:
        assert _paths(ours, root, ours.search(**query)) == _paths(
            theirs, root, theirs.search(**query)
        ), query
    assert len(ours.search()) == data.sessions.height + 2
    by_path = dict(zip(_paths(theirs, root, theirs.search()), theirs.search(), strict=True))
    compared = 0
    for eid, path in zip(ours.search(), _paths(ours, root, ours.search()), strict=True):
        other = by_path[path]
        assert list(ours.list_datasets(eid)) == list(theirs.list_datasets(other))
        assert sorted(ours.list_collections(eid)) == sorted(theirs.list_collections(other))
        assert sorted(ours.list_revisions(eid)) == sorted(theirs.list_revisions(other))
        # rows come in dataset-ID order, and IDs differ between the builds
        a = ours.list_datasets(eid, details=True).sort_values('rel_path')
        b = theirs.list_datasets(other, details=True).sort_values('rel_path')
        for column in ('rel_path', 'file_size', 'exists', 'qc', 'session_path'):
            assert a[column].astype(str).tolist() == b[column].astype(str).tolist(), column
        if 'alf/_ibl_trials.table.pqt' in set(a['rel_path'].str.replace(r'#.*#/', '', regex=True)):
            x, y = ours.load_object(eid, 'trials'), theirs.load_object(other, 'trials')
            assert x.keys() == y.keys()
            assert all(np.array_equal(x[k], y[k]) for k in x)
            compared += 1
    assert compared > 0
    # the unpadded session folder is found through the session_path column
    unpadded = ours.search(subject='SUBJ_Y')[0]
    assert ours.load_dataset(unpadded, '_iblrig_taskSettings.raw.json')


def test_build_content(tree: tuple[SyntheticData, Path], tmp_path: Path) -> None:
    data, root = tree
    progress: list[tuple[int, int]] = []
    build_cache(root, out_dir=tmp_path, hash=True, progress=lambda *a: progress.append(a))
    tables = CacheTables.open(tmp_path)
    datasets = tables.frame('datasets')
    existing = data.datasets.filter(pl.col('exists'))
    copied = sum(1 for p in (root / 'SUBJ_X').rglob('*') if p.is_file())
    assert copied > 0
    assert datasets.height == existing.height + 2 * copied  # plus the two copied folders
    joined = datasets.join(existing, on=['session_path', 'rel_path'], how='inner')
    assert joined.height == existing.height
    assert (joined['file_size'] == joined['file_size_right']).all()
    assert (joined['hash'] == joined['hash_right']).all()  # md5 of the bytes written
    revised = joined.filter(pl.col('revision') != '')
    assert revised.height > 0
    # the default is the latest revision on disk: the generator's unless that file is missing
    complete = data.datasets.group_by('eid', 'collection', 'name').agg(
        pl.col('exists').all().alias('complete')
    )
    complete = complete.rename({'eid': 'eid_right'})  # the generator's eid, not ours
    checked = joined.join(complete, on=['eid_right', 'collection', 'name']).filter('complete')
    assert checked.height > 0.9 * joined.height
    assert (checked['default_revision'] == checked['default_revision_right']).all()
    assert progress[-1] == (datasets.height, datasets.height)
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    sessions = tables.frame('sessions')
    assert sessions.filter(pl.col('subject') == 'SUBJ_X')['lab'].to_list() == ['']
    assert sessions.filter(pl.col('subject') == 'SUBJ_Y')['number'].to_list() == [2]
    # IDs are stable across builds, and depend on the namespace
    again = tmp_path / 'again'
    again.mkdir()
    build_cache(root, out_dir=again)
    assert CacheTables.open(again).frame('datasets')['id'].equals(datasets['id'])
    build_cache(root, out_dir=again, id_namespace=uuid.uuid4())
    assert not set(CacheTables.open(again).frame('datasets')['id']) & set(datasets['id'])


def test_hashes_agree_with_one(tree: tuple[SyntheticData, Path], tmp_path: Path) -> None:
    from iblutil.io.hashfile import md5

    _, root = tree
    build_cache(root, out_dir=tmp_path, hash=True)
    datasets = CacheTables.open(tmp_path).frame('datasets').sample(5, seed=3)
    for row in datasets.iter_rows(named=True):
        assert md5(root / row['session_path'] / row['rel_path']) == row['hash']


def test_md5_file_reads_in_chunks(tmp_path: Path) -> None:
    payload = np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    (tmp_path / 'f.bin').write_bytes(payload)
    assert md5_file(tmp_path / 'f.bin', chunk_size=333) == hashlib.md5(payload).hexdigest()
    (tmp_path / 'empty.bin').write_bytes(b'')
    assert md5_file(tmp_path / 'empty.bin') == hashlib.md5(b'').hexdigest()


def test_build_errors_and_empty_tree(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match='missing'):
        build_cache(tmp_path / 'missing')
    with pytest.raises(InvalidArgument, match='nowhere'):
        build_cache(tmp_path, out_dir=tmp_path / 'nowhere')
    with pytest.warns(CacheWarning, match='No sessions found'):
        build_cache(tmp_path)
    tables = CacheTables.open(tmp_path)
    assert tables.frame('sessions').is_empty()
    assert tables.frame('datasets').is_empty()
    session = tmp_path / 'lab1' / 'Subjects' / 'S1' / '2020-01-01' / '001' / 'alf'
    session.mkdir(parents=True)
    (session / 'spikes.times.npy').write_bytes(b'123')
    with pytest.raises(InvalidArgument, match='lab2'):
        build_cache(tmp_path, lab='lab2')


@pytest.mark.anyio
async def test_abuild_cache_matches_build(
    tree: tuple[SyntheticData, Path], tmp_path: Path
) -> None:
    _, root = tree
    sync_dir, async_dir = tmp_path / 'sync', tmp_path / 'async'
    sync_dir.mkdir()
    async_dir.mkdir()
    build_cache(root, out_dir=sync_dir, hash=True)
    progress: list[tuple[int, int]] = []
    await abuild_cache(root, out_dir=async_dir, hash=True, progress=lambda *a: progress.append(a))
    for name in ('sessions', 'datasets'):
        a = CacheTables.open(sync_dir).frame(name)
        b = CacheTables.open(async_dir).frame(name)
        assert a.equals(b), name
    assert progress[-1][0] == progress[-1][1]


@pytest.mark.anyio
async def test_abuild_cache_cancelled_writes_nothing(
    tree: tuple[SyntheticData, Path], tmp_path: Path
) -> None:
    _, root = tree
    with anyio.CancelScope() as scope:
        await abuild_cache(
            root, out_dir=tmp_path, hash=True, threads=1, progress=lambda *_: scope.cancel()
        )
    assert scope.cancelled_caught
    assert os.listdir(tmp_path) == []
