"""load_object against ONE-api 2.9.0 on ONE-layout folders, plus our own additions."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import one.alf.exceptions as one_exc
import one.alf.io as one_io
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from one_async.alf import io
from one_async.exceptions import (
    ALFFileError,
    ALFFileNotFound,
    ALFInvalid,
    ALFMultipleObjectsFound,
    ALFObjectNotFound,
    InvalidArgument,
)

from .io_helpers import (
    N_SPIKES,
    N_TRIALS,
    N_WHEEL,
    UUID,
    assert_bunch_equal,
    assert_same_outcome,
    outcome,
)

CASES: list[tuple[Any, dict[str, Any]]] = [
    ('trials', {'namespace': 'ibl'}),
    ('trials', {}),  # two namespaces give 'choice' twice
    ('trials', {'namespace': 'ibl', 'timescale': 'bpod'}),
    ('trials', {'namespace': 'ibl', 'timescale': None}),
    ('trials', {'namespace': ['ibl'], 'attribute': ['choice', 'stimOn*']}),
    ('trials', {'namespace': 'ib.', 'wildcards': False}),
    ('wheel', {}),
    ('wheel*', {}),
    ('wh*', {'attribute': 'intervals'}),
    (['wheel', 'wheelMoves'], {'attribute': ['position', 'peak*']}),
    ('^wheel$', {'wildcards': False}),
    ('clusters', {}),
    ('clusters', {'attribute': 'ccf'}),
    ('clusters', {'extension': 'pqt'}),
    ('passiveGabor', {}),
    ('probes', {}),
    ('inconsistent', {}),
    ('camera', {}),
    ('camera', {'extension': 'mp4'}),
    ('nothing', {}),
    ('trials', {'namespace': 'nope'}),
    ('trials', {'colour': 'red'}),
]


@pytest.mark.parametrize(('obj', 'kwargs'), CASES, ids=[f'{o}-{k}' for o, k in CASES])
def test_load_object_matches_one(alf_path: Path, obj: Any, kwargs: dict[str, Any]) -> None:
    ours = outcome(lambda: io.load_object(alf_path, obj, **kwargs))
    theirs = outcome(lambda: one_io.load_object(alf_path, obj, **kwargs))
    assert_same_outcome(ours, theirs, assert_bunch_equal)


PROBE_CASES: list[tuple[str, dict[str, Any]]] = [
    ('spikes', {}),
    ('spikes', {'short_keys': True}),  # 'times' from two files: one has an extra part
    ('spikes', {'namespace': None}),
    ('spikes', {'namespace': None, 'short_keys': True, 'timescale': None}),
    ('spikes', {'extra': 'raw'}),
    ('spikes', {'extra': None, 'namespace': None}),
    ('spikes', {'extra': UUID}),
    ('spikes', {'attribute': 'ti.*', 'wildcards': False, 'namespace': None}),
    ('spikes', {'attribute': ['times', 'clusters'], 'timescale': None}),
]


@pytest.mark.parametrize(('obj', 'kwargs'), PROBE_CASES, ids=[str(k) for _, k in PROBE_CASES])
def test_load_object_collection_matches_one(
    alf_path: Path, obj: str, kwargs: dict[str, Any]
) -> None:
    folder = alf_path / 'probe00'
    ours = outcome(lambda: io.load_object(folder, obj, **kwargs))
    theirs = outcome(lambda: one_io.load_object(folder, obj, **kwargs))
    assert_same_outcome(ours, theirs, assert_bunch_equal)


def test_load_object_values(alf_path: Path) -> None:
    """The expected content, independently of ONE: columns, tables, timestamps, metadata."""
    trials = io.load_object(alf_path, 'trials', namespace='ibl')
    assert trials.intervals.shape == (N_TRIALS, 2)
    assert trials['phase'].shape == (N_TRIALS, 2)  # phase_0/phase_1 joined
    table = pd.read_parquet(alf_path / '_ibl_trials.table.pqt')
    np.testing.assert_array_equal(trials.phase[:, 1], table['phase_1'])
    np.testing.assert_array_equal(trials.goCue_times, table['goCue_times'])
    assert trials.goCue_times.dtype == np.float64
    assert trials.check_dimensions == 0

    wheel = io.load_object(alf_path, 'wheel')
    assert wheel.timestamps.shape == (N_WHEEL,)  # (2, 2) sync points interpolated
    np.testing.assert_allclose(wheel.timestamps[[0, -1]], [10.0, 14.9])

    clusters = io.load_object(alf_path, 'clusters')
    ccf = np.load(alf_path / 'clusters.ccf.npy')
    np.testing.assert_array_equal(clusters.z, ccf[:, 2])
    assert clusters.ccfmetadata == {'unit': 'um'}
    assert 'ccf' not in clusters
    assert isinstance(clusters.metrics, pl.DataFrame)

    spikes = io.load_object(alf_path / 'probe00', 'spikes', namespace=None, timescale=None)
    assert spikes.timesmetadata == {'unit': 's'}
    assert sorted(spikes) == sorted(
        ['times', 'timesmetadata', 'clusters', 'amps.raw', f'depths.{UUID}']
    )
    assert spikes['amps.raw'].shape == (N_SPIKES,)


def test_table_with_timescale_and_extra(tmp_path: Path) -> None:
    df = pd.DataFrame({'a_0': [1.0, 2.0], 'a_1': [3.0, 4.0], 'b': [5, 6]})
    df.to_parquet(tmp_path / 'obj.table_clock.raw.pqt')
    ours = io.load_object(tmp_path, 'obj')
    theirs = one_io.load_object(tmp_path, 'obj')
    assert sorted(ours) == ['a_clock.raw', 'b_clock.raw']
    assert_bunch_equal(ours, theirs)
    assert ours['b_clock.raw'].dtype == np.int64  # ONE upcasts every column to float


def test_table_drops_pandas_index(tmp_path: Path) -> None:
    df = pd.DataFrame({'id': ['x', 'y', 'z'], 'v': [1.0, 2.0, 3.0]}).set_index('id')
    df.to_parquet(tmp_path / 'obj.table.pqt')
    ours = io.load_object(tmp_path, 'obj')
    assert_bunch_equal(ours, one_io.load_object(tmp_path, 'obj'))
    assert sorted(ours) == ['v']


def test_load_object_from_file_path(alf_path: Path) -> None:
    path = alf_path / '_ibl_wheel.position.npy'
    assert_bunch_equal(io.load_object(path), one_io.load_object(path))
    assert_bunch_equal(io.load_object(str(path)), one_io.load_object(str(path)))


def test_load_object_from_file_list(alf_path: Path) -> None:
    """A list of files from several revisions loads as one object, filters ignored (ONE)."""
    probe = alf_path / 'probe00'
    files = [probe / '#2021-01-01#' / 'spikes.times.npy', probe / 'spikes.clusters.npy']
    ours = io.load_object(files, 'ignored', namespace='ignored')
    assert_bunch_equal(ours, one_io.load_object(files, 'ignored', namespace='ignored'))
    np.testing.assert_array_equal(ours.times, np.load(files[0]))


def test_load_object_file_list_errors(alf_path: Path) -> None:
    probe = alf_path / 'probe00'
    mixed = [probe / 'spikes.times.npy', alf_path / 'clusters.depths.npy']
    with pytest.raises(AssertionError):
        one_io.load_object(mixed)
    with pytest.raises(ALFMultipleObjectsFound, match=r'clusters.*spikes'):
        io.load_object(mixed)
    with pytest.raises(ALFInvalid, match='not_alf'):
        io.load_object([alf_path / 'not_alf.npy'])
    with pytest.raises(ALFObjectNotFound):
        io.load_object([])
    with pytest.raises(ALFFileNotFound, match=r'spikes\.gone\.npy'):
        io.load_object([probe / 'spikes.gone.npy'])


def test_duplicate_keys_error_names_them(alf_path: Path) -> None:
    with pytest.raises(ALFMultipleObjectsFound, match='choice') as info:
        io.load_object(alf_path, 'trials')
    assert info.value.value == ['choice']
    assert str(alf_path) in str(info.value)


def test_missing_object_error_names_object_and_folder(alf_path: Path) -> None:
    with pytest.raises(ALFObjectNotFound, match='nothing') as info:
        io.load_object(alf_path, 'nothing')
    assert str(alf_path) in str(info.value)
    assert info.value.value == 'nothing'


def test_folder_without_object(alf_path: Path) -> None:
    with pytest.raises(ValueError, match='object'):
        one_io.load_object(alf_path)
    with pytest.raises(InvalidArgument, match=str(alf_path)):
        io.load_object(alf_path)


def test_missing_folder_like_one(tmp_path: Path) -> None:
    gone = tmp_path / 'gone'
    with pytest.raises(one_exc.ALFObjectNotFound):
        one_io.load_object(gone, 'obj')
    with pytest.raises(ALFObjectNotFound, match='gone'):
        io.load_object(gone, 'obj')


def test_inconsistent_dimensions_logged(alf_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger='one_async.alf.io'):
        out = io.load_object(alf_path, 'inconsistent')
    assert out.check_dimensions == 1
    assert 'Inconsistent dimensions for object: inconsistent' in caplog.text


def test_corrupt_attribute_names_file(alf_path: Path) -> None:
    (alf_path / 'clusters.depths.npy').write_bytes(b'\x93NUMPY garbage')
    with pytest.raises(ALFFileError, match=r'clusters\.depths\.npy'):
        io.load_object(alf_path, 'clusters')


def test_bad_metadata(tmp_path: Path) -> None:
    np.save(tmp_path / 'obj.attr.npy', np.arange(4))
    (tmp_path / 'obj.attr.metadata.json').write_text(json.dumps({'columns': ['a', 'b']}))
    with pytest.raises(ALFFileError, match=r'obj\.attr\.npy'):
        io.load_object(tmp_path, 'obj')  # columns of a vector
    (tmp_path / 'obj.attr.metadata.json').write_text('[1, 2]')
    with pytest.raises(ALFFileError, match=r'obj\.attr\.metadata\.json'):
        io.load_object(tmp_path, 'obj')
    (tmp_path / 'obj.attr.metadata.json').write_text('{"columns": "ab"}')
    with pytest.raises(ALFFileError, match=r'obj\.attr\.metadata\.json.*columns'):
        io.load_object(tmp_path, 'obj')


def test_bad_or_missing_table(tmp_path: Path) -> None:
    (tmp_path / 'obj.table.pqt').write_bytes(b'PAR1 not really PAR1')
    with pytest.raises(ALFFileError, match=r'obj\.table\.pqt'):
        io.load_object(tmp_path, 'obj')
    with pytest.raises(ALFFileNotFound, match=r'other\.table\.pqt'):
        io.load_object([tmp_path / 'other.table.pqt'])


@pytest.mark.parametrize('columns', [['x', 'y'], None])
@pytest.mark.parametrize('mmap', [False, True])
def test_bin_with_metadata(tmp_path: Path, columns: list[str] | None, mmap: bool) -> None:
    """A flat binary file described by its metadata loads as an array (ONE gives the path)."""
    data = np.arange(20, dtype=np.float32).reshape(10, 2)
    data.tofile(tmp_path / 'raw.samples.bin')
    meta: dict[str, Any] = {'dtype': 'float32', 'sr': 30000}
    if columns:
        meta['columns'] = columns
    (tmp_path / 'raw.samples.metadata.json').write_text(json.dumps(meta))
    out = io.load_object(tmp_path, 'raw', mmap=mmap)
    assert out.samplesmetadata == {'dtype': 'float32', 'sr': 30000}
    if columns:
        np.testing.assert_array_equal(out.x, data[:, 0])
        np.testing.assert_array_equal(out.y, data[:, 1])
    else:
        np.testing.assert_array_equal(out.samples, data.ravel())
        assert isinstance(out.samples, np.memmap) == mmap


def test_mmap_and_pickle_options(tmp_path: Path) -> None:
    np.save(tmp_path / 'obj.a.npy', np.arange(3))
    np.save(tmp_path / 'obj.b.npy', np.array([{'k': 1}, 2, 'x'], dtype=object), allow_pickle=True)
    with pytest.raises(ALFFileError, match=r'obj\.b\.npy'):
        io.load_object(tmp_path, 'obj')
    out = io.load_object(tmp_path, 'obj', allow_pickle=True)
    assert out.b[0] == {'k': 1}
    assert isinstance(io.load_object(tmp_path, 'obj', attribute='a', mmap=True).a, np.memmap)


def test_one_directory_scan_per_load(alf_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading an object lists its folder once and never globs (metadata found in the listing)."""
    scanned: list[Path] = []
    real_scandir = os.scandir

    def counting_scandir(path: Any) -> Any:
        scanned.append(Path(path))
        return real_scandir(path)

    def no_glob(self: Path, pattern: str) -> Any:
        raise AssertionError(f'unexpected glob {pattern!r} in {self}')

    monkeypatch.setattr(os, 'scandir', counting_scandir)
    monkeypatch.setattr(Path, 'glob', no_glob)
    clusters = io.load_object(alf_path, 'clusters')
    assert sorted(clusters) == ['ccfmetadata', 'depths', 'metrics', 'x', 'y', 'z']
    assert scanned == [alf_path]
    probe = alf_path / 'probe00'
    files = [probe / 'spikes.times.npy', probe / 'spikes.clusters.npy']
    scanned.clear()
    assert sorted(io.load_object(files)) == ['clusters', 'times', 'timesmetadata']
    assert scanned == [probe]


# --- generated folders ------------------------------------------------------------------------

_NAME = st.tuples(
    st.sampled_from([None, 'ibl', 'ns']),
    st.sampled_from(['obj', 'obj', 'objB']),
    st.sampled_from(['a', 'times', 'stim_times', 'timestamps']),
    st.sampled_from([None, 'bpod']),
    st.sampled_from([None, 'raw', 'raw.v1', UUID]),
)
_PATTERN = st.sampled_from([None, 'ibl', 'ns', 'obj*', 'a', '*times', 'bpod', '*'])
_FILTERS = st.fixed_dictionaries(
    {},
    optional={
        'namespace': st.one_of(_PATTERN, st.lists(_PATTERN.filter(bool), max_size=2)),
        'attribute': st.one_of(_PATTERN, st.lists(_PATTERN.filter(bool), max_size=2)),
        'timescale': st.sampled_from([None, 'bpod', 'bp*']),
        'extra': st.sampled_from([None, 'raw', 'v1', 'raw.v1', ['raw']]),
        'extension': st.sampled_from(['npy', 'np?', 'csv']),
    },
)

_SHAPES = [(3,), (3,), (3,), (4,), (3, 2), (2, 2)]


def _write_generated(
    folder: Path, names: set[tuple[Any, ...]], shapes: list[tuple[int, ...]]
) -> None:
    for (ns, obj, attr, ts, extra), shape in zip(sorted(names, key=str), shapes, strict=False):
        name = f'{"_" + ns + "_" if ns else ""}{obj}.{attr}{"_" + ts if ts else ""}'
        name += f'.{extra}' if extra else ''
        np.save(folder / f'{name}.npy', np.arange(np.prod(shape)).reshape(shape) * 1.5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.sets(_NAME, min_size=1, max_size=10),
    shapes=st.lists(st.sampled_from(_SHAPES), min_size=10, max_size=10),
    obj=st.sampled_from(['obj', 'obj', 'objB', 'obj*', 'missing']),
    filters=_FILTERS,
    short_keys=st.booleans(),
)
def test_generated_folders_match_one(
    names: set[tuple[Any, ...]],
    shapes: list[tuple[int, ...]],
    obj: str,
    filters: dict[str, Any],
    short_keys: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_generated(folder, names, shapes)
        ours = outcome(lambda: io.filter_by(folder, object=obj, **filters))
        theirs = outcome(lambda: one_io.filter_by(folder, object=obj, **filters))
        assert_same_outcome(ours, theirs, _same_listing)
        ours = outcome(lambda: io.load_object(folder, obj, short_keys, **filters))
        event(f'load {ours[0]} {type(ours[1]).__name__}')
        theirs = outcome(lambda: one_io.load_object(folder, obj, short_keys, **filters))
        assert_same_outcome(ours, theirs, assert_bunch_equal)
        attrs = [a for *_, a in names][:2]
        assert io.exists(folder, obj, attrs, **filters) == one_io.exists(
            folder, obj, attrs, **filters
        )


def _same_listing(ours: Any, theirs: Any) -> None:
    assert sorted(zip(*ours, strict=True)) == sorted(zip(*theirs, strict=True))
