"""The synthetic data generator: determinism, realism invariants, files that match the tables."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from one_async.alf.path import full_path_parts, session_path_parts
from one_async.alf.spec import is_uuid_string, is_valid
from one_async.cache import QC_LEVELS, CacheTables
from one_async.exceptions import InvalidArgument
from one_async.testing.generate import KINDS, SyntheticData, generate

TABLES = ('labs', 'subjects', 'sessions', 'datasets', 'insertions', 'dataset_types', 'templates')


@pytest.fixture(scope='module')
def data() -> SyntheticData:
    return generate(600, seed=3)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = generate(50, seed=1), generate(50, seed=1), generate(50, seed=2)
    for name in TABLES:
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.sessions['id'].equals(c.sessions['id'])
    assert not a.datasets['hash'].equals(c.datasets['hash'])


def test_identifiers_are_unique_uuids(data: SyntheticData) -> None:
    for frame, column in ((data.sessions, 'id'), (data.datasets, 'id'), (data.insertions, 'id'),
                          (data.subjects, 'id')):  # fmt: skip
        values = frame[column]
        assert values.is_unique().all()
        assert all(map(is_uuid_string, values.sample(200, seed=0, with_replacement=True)))
    assert data.sessions.select('subject', 'date', 'number').is_unique().all()
    assert data.datasets.select('eid', 'rel_path').is_unique().all()
    assert data.subjects['nickname'].is_unique().all()
    assert set(data.datasets['eid']) <= set(data.sessions['id'])


def test_sessions_look_like_ibl(data: SyntheticData) -> None:
    sessions = data.sessions
    assert sessions['lab'].n_unique() == 10
    assert sessions['number'].min() == 1
    assert sessions['number'].max() > 1  # some subjects ran two sessions on a day
    protocols = sessions['task_protocol'].str.extract(r'^_iblrig_tasks_(\w+?)ChoiceWorld\d')
    assert set(protocols) == set(KINDS)
    projects = sessions['projects'].str.split(',').explode()
    assert 'ibl_neuropixel_brainwide_01' in set(projects)
    assert (sessions['projects'].str.count_matches(',') > 0).any()
    for row in sessions.sample(50, seed=1).iter_rows(named=True):
        lab, subject, day, number = session_path_parts(row['session_path'])
        assert (lab, subject, day, int(number or 0)) == (
            row['lab'], row['subject'], str(row['date']), row['number'],
        )  # fmt: skip
    # a subject's protocols go habituation -> training -> biased -> ephys over time
    ranks = sessions.with_columns(
        pl.col('task_protocol')
        .str.extract(r'tasks_(\w+?)ChoiceWorld')
        .replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int64)
        .alias('rank')
    ).sort('subject', 'date', 'number')
    assert (
        ranks.group_by('subject')
        .agg(pl.col('rank').diff().min() >= 0)['rank']
        .fill_null(True)
        .all()
    )


def test_datasets_look_like_ibl(data: SyntheticData) -> None:
    datasets = data.datasets
    per_session = datasets.height / data.sessions.height
    assert 100 < per_session < 140
    for rel_path in ('alf/_ibl_trials.table.pqt', 'alf/probe00/pykilosort/spikes.times.npy',
                     'alf/probe01/pykilosort/clusters.channels.npy',
                     'raw_video_data/_iblrig_leftCamera.raw.mp4',
                     'raw_behavior_data/_iblrig_taskData.raw.jsonable'):  # fmt: skip
        assert rel_path in set(datasets['rel_path']), rel_path
    for row in datasets.sample(300, seed=2).iter_rows(named=True):
        parts = full_path_parts(f'{row["session_path"]}/{row["rel_path"]}', as_dict=True)
        assert parts['collection'] == (row['collection'] or None)
        assert parts['revision'] == (row['revision'] or None)
        assert is_valid(row['name'])
        assert row['data_format'] == row['name'].rsplit('.', 1)[1]
    assert set(datasets['qc'].cast(pl.String)) == set(QC_LEVELS)
    assert 0.9 < datasets['exists'].mean() < 1.0  # type: ignore[operator]
    assert datasets['file_size'].min() > 0  # type: ignore[operator]
    assert datasets['file_size'].max() > 10**10  # type: ignore[operator]  # raw ephys
    assert datasets['hash'].str.contains(r'^[0-9a-f]{32}$').all()
    assert set(datasets['dataset_type']) <= set(data.dataset_types['name'])


def test_one_default_revision_per_dataset(data: SyntheticData) -> None:
    datasets = data.datasets
    revised = datasets.filter(pl.col('revision') != '')
    assert revised.height > 0
    assert revised['rel_path'].str.contains(r'#\d{4}-\d{2}-\d{2}#/').all()
    groups = datasets.group_by('eid', 'collection', 'name').agg(
        pl.col('default_revision').sum().alias('defaults'),
        pl.col('revision').sort().last().alias('latest'),
        pl.col('revision').filter(pl.col('default_revision')).first().alias('default'),
    )
    assert (groups['defaults'] == 1).all()
    assert groups['latest'].equals(groups['default'])
    assert groups.filter(pl.col('latest') != '').height > 0


def test_insertions_match_probe_datasets(data: SyntheticData) -> None:
    probes = data.insertions.group_by('eid').agg(pl.col('name').sort())
    ephys = data.sessions.filter(pl.col('n_probes') > 0)
    assert set(probes['eid']) == set(ephys['id'])
    spikes = data.datasets.filter(
        pl.col('name') == 'spikes.times.npy', pl.col('collection').str.ends_with('pykilosort')
    ).with_columns(pl.col('collection').str.extract(r'alf/(probe\d\d)/').alias('probe'))
    from_files = spikes.group_by('eid').agg(pl.col('probe').unique().sort())
    joined = probes.join(from_files, on='eid')
    assert joined.height == probes.height
    assert (joined['name'] == joined['probe']).all()


def test_scale_ten_thousand_sessions() -> None:
    big = generate(10_000, seed=0)
    assert 1_100_000 < big.datasets.height < 1_400_000
    assert big.datasets['id'].is_unique().all()


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidArgument):
        generate(-1)
    with pytest.raises(InvalidArgument, match='missing_fraction'):
        generate(3, missing_fraction=2)
    with pytest.raises(InvalidArgument):
        generate(3, kind_weights={'ephys': 1.0})


@pytest.fixture(scope='module')
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticData, Path]:
    root = tmp_path_factory.mktemp('alf')
    small = generate(12, seed=21, revision_fraction=0.5)
    return small.write_files(root), root


def test_files_match_the_tables(written: tuple[SyntheticData, Path]) -> None:
    data, root = written
    on_disk = {p.relative_to(root).as_posix(): p for p in root.rglob('*') if p.is_file()}
    expected = data.datasets.filter(pl.col('exists'))
    paths = (expected['session_path'] + '/' + expected['rel_path']).to_list()
    assert sorted(on_disk) == sorted(paths)
    for row in expected.iter_rows(named=True):
        payload = on_disk[f'{row["session_path"]}/{row["rel_path"]}'].read_bytes()
        assert len(payload) == row['file_size']
        assert hashlib.md5(payload).hexdigest() == row['hash']
    missing = data.datasets.filter(~pl.col('exists'))
    assert missing.height > 0


def test_files_are_deterministic(written: tuple[SyntheticData, Path], tmp_path: Path) -> None:
    data, _ = written
    again = generate(12, seed=21, revision_fraction=0.5).write_files(tmp_path)
    assert again.datasets.select('id', 'file_size', 'hash').equals(
        data.datasets.select('id', 'file_size', 'hash')
    )


def test_objects_have_consistent_lengths(written: tuple[SyntheticData, Path]) -> None:
    data, root = written
    rows = data.datasets.filter(pl.col('exists'), pl.col('data_format') == 'npy')
    rows = rows.with_columns(
        pl.col('name').str.extract(r'^_?(?:[a-z]+_)?([A-Za-z]+)\.').alias('obj')
    )
    lengths = rows.with_columns(
        pl.struct('session_path', 'rel_path')
        .map_elements(
            lambda r: len(np.load(root / r['session_path'] / r['rel_path'], mmap_mode='r')),
            return_dtype=pl.Int64,
        )
        .alias('rows')
    )
    skip = ('ROIMotionEnergy', 'ephysChannels', 'ephysTimeRmsAP')  # objects of other lengths
    per_object = (
        lengths.filter(~pl.col('name').str.contains('|'.join(skip)))
        .group_by('eid', 'collection', 'revision', 'obj')
        .agg(pl.col('rows').n_unique())
    )
    assert (per_object['rows'] == 1).all()


def test_written_tree_loads_with_one(written: tuple[SyntheticData, Path], tmp_path: Path) -> None:
    from one.api import One

    data, root = written
    data.write_tables(root, layout='one2')
    one = One(cache_dir=str(root), mode='local')
    assert sorted(one.search()) == sorted(data.sessions['id'])
    eid = data.sessions.filter(pl.col('n_probes') > 0)['id'][0]
    spikes = one.load_object(eid, 'spikes', collection='alf/probe00/pykilosort')
    assert len({len(v) for v in spikes.values()}) == 1
    clusters = one.load_object(eid, 'clusters', collection='alf/probe00/pykilosort')
    assert spikes['clusters'].max() < len(clusters['depths'])
    trials = one.load_object(eid, 'trials')
    assert len({len(v) for v in trials.values()}) == 1
    tables = CacheTables.open(root)
    assert tables.frame('datasets').height == data.datasets.height
