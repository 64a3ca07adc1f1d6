"""AlfBunch, check_dimensions, dataframe, ts2vec and read_ts against ONE-api 2.9.0."""

from __future__ import annotations

import copy
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import one.alf.io as one_io
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from one_async.alf import io
from one_async.alf.io import AlfBunch
from one_async.exceptions import ALFFileError, ALFFileNotFound, ALFInvalid, InvalidArgument

from .io_helpers import assert_value_equal

# --- dict with attributes ---------------------------------------------------------------------


def test_attribute_access() -> None:
    b = AlfBunch({'times': np.arange(3)})
    b.amps = np.ones(3)
    assert b['amps'] is b.amps
    assert b.times is b['times']
    del b.amps
    assert 'amps' not in b
    with pytest.raises(AttributeError, match='nope'):
        _ = b.nope
    with pytest.raises(AttributeError):
        del b.nope
    b['keys'] = 1
    assert callable(b.keys)  # dict methods win over keys of the same name
    assert 'times' in dir(b)


def test_copy_and_pickle() -> None:
    b = AlfBunch(a=np.arange(3), meta={'unit': 's'})
    shallow = b.copy()
    assert isinstance(shallow, AlfBunch)
    assert shallow.a is b.a
    deep = b.copy(deep=True)
    deep.a[0] = 99
    assert b.a[0] == 0
    for other in (copy.deepcopy(b), pickle.loads(pickle.dumps(b))):
        assert isinstance(other, AlfBunch)
        assert sorted(other) == ['a', 'meta']
        np.testing.assert_array_equal(other.a, b.a)


def test_save_load(tmp_path: Path) -> None:
    b = AlfBunch(a=np.arange(3), b=np.ones((3, 2)))
    for compress in (False, True):
        path = tmp_path / f'bunch{compress}.npz'
        b.save(path, compress=compress)
        loaded = AlfBunch.load(path)
        assert sorted(loaded) == ['a', 'b']
        np.testing.assert_array_equal(loaded.b, b.b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bunchFalse.npz', 'bunchTrue.npz']
    with pytest.raises(ALFFileNotFound):
        AlfBunch.load(tmp_path / 'gone.npz')
    (tmp_path / 'bad.npz').write_bytes(b'nonsense')
    with pytest.raises(ALFFileError, match=r'bad\.npz'):
        AlfBunch.load(tmp_path / 'bad.npz')


# --- append -----------------------------------------------------------------------------------


def test_append_matches_one() -> None:
    a = {'times': np.arange(3.0), 'iv': np.ones((3, 2)), 'labels': ['a', 'b', 'c']}
    b = {'times': np.arange(2.0), 'iv': np.zeros((2, 2)), 'labels': ['d', 'e']}
    ours = AlfBunch(copy.deepcopy(a)).append(b)
    theirs = one_io.AlfBunch(copy.deepcopy(a)).append(b)
    assert sorted(ours) == sorted(theirs)
    for k in theirs:
        assert_value_equal(ours[k], theirs[k], k)


def test_append_inplace_and_copy() -> None:
    a = AlfBunch(times=np.arange(3))
    out = a.append({'times': np.arange(2)})
    assert len(a.times) == 3
    assert len(out.times) == 5
    same = a.append({'times': np.arange(2)}, inplace=True)
    assert same is a
    assert len(a.times) == 5
    empty = AlfBunch()
    assert empty.append(a).keys() == a.keys()
    unchanged = a.append({})
    assert unchanged is not a
    np.testing.assert_array_equal(unchanged.times, a.times)


def test_append_polars() -> None:
    a = AlfBunch(df=pl.DataFrame({'x': [1, 2]}), s=pl.Series('s', [1.0, 2.0]))
    out = a.append({'df': pl.DataFrame({'x': [3]}), 's': pl.Series('s', [3.0])})
    assert out.df['x'].to_list() == [1, 2, 3]
    assert out.s.to_list() == [1.0, 2.0, 3.0]


def test_append_different_keys() -> None:
    with pytest.raises(NotImplementedError):
        one_io.AlfBunch(a=np.arange(2)).append({'b': np.arange(2)})
    with pytest.raises(InvalidArgument, match="'a', 'b'"):
        AlfBunch(a=np.arange(2)).append({'b': np.arange(2)})


def test_append_inconsistent_logged(caplog: pytest.LogCaptureFixture) -> None:
    a = AlfBunch(x=np.arange(3), y=np.arange(3))
    with caplog.at_level(logging.WARNING):
        out = a.append({'x': np.arange(2), 'y': np.arange(1)})
    assert out.check_dimensions == 1
    assert 'Inconsistent dimensions' in caplog.text


# --- tables -----------------------------------------------------------------------------------


def test_to_df_matches_one() -> None:
    data = {
        'times': np.arange(4.0),
        'intervals': np.arange(8.0).reshape(4, 2),
        'single': np.arange(4).reshape(4, 1),
        'wide': np.arange(48).reshape(4, 12),
    }
    ours = AlfBunch(data).to_df()
    theirs = one_io.AlfBunch(data).to_df()
    assert isinstance(ours, pl.DataFrame)
    assert_value_equal(ours, theirs)
    assert 'wide_9' in ours.columns
    assert 'wide_10' not in ours.columns


def test_to_df_vectors_only_and_series() -> None:
    ours = io.dataframe({'a': np.arange(3), 'b': pl.Series([1.0, 2.0, 3.0])})
    assert ours.columns == ['a', 'b']
    assert ours['b'].to_list() == [1.0, 2.0, 3.0]


def test_to_df_errors(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match='consistent'):
        one_io.dataframe({'a': np.arange(3), 'b': np.arange(2)})
    with pytest.raises(InvalidArgument, match='consistent'):
        io.dataframe({'a': np.arange(3), 'b': np.arange(2)})
    with pytest.raises(InvalidArgument, match='meta'):
        io.dataframe({'a': np.arange(3), 'meta': {'unit': 's'}})
    with caplog.at_level(logging.WARNING):
        df = io.dataframe({'a': np.arange(2), 'cube': np.zeros((2, 2, 2))})
    assert df.columns == ['a']
    assert 'cube' in caplog.text


@pytest.mark.parametrize('kind', ['polars', 'pandas'])
def test_from_df_matches_one(kind: str) -> None:
    columns = {
        'intervals_0': [0.0, 1.0],
        'intervals_1': [0.5, 1.5],
        'choice': [1, -1],
        'label': ['a', 'b'],
        'lonely_0': [7, 8],
    }
    df: Any = pl.DataFrame(columns) if kind == 'polars' else pd.DataFrame(columns)
    ours = AlfBunch.from_df(df)
    theirs = one_io.AlfBunch.from_df(pd.DataFrame(columns))
    assert sorted(ours) == sorted(theirs) == ['choice', 'intervals', 'label', 'lonely_0']
    for k in theirs:
        np.testing.assert_array_equal(ours[k], theirs[k], k)
    assert ours.choice.dtype == np.int64  # ONE gives object: every column through .values
    assert ours.intervals.shape == (2, 2)


def test_from_df_pairs_only_matching_halves() -> None:
    """ONE pairs sorted x_0/x_1 names blindly (a_0 with b_0); we pair a_0 with a_1 only."""
    out = AlfBunch.from_df(pl.DataFrame({'a_0': [1], 'b_0': [2], 'b_1': [3]}))
    assert sorted(out) == ['a_0', 'b']
    np.testing.assert_array_equal(out.b, [[2, 3]])


def test_round_trip() -> None:
    b = AlfBunch(times=np.arange(3.0), intervals=np.arange(6.0).reshape(3, 2))
    back = AlfBunch.from_df(b.to_df())
    assert sorted(back) == ['intervals', 'times']
    np.testing.assert_array_equal(back.intervals, b.intervals)


# --- dimensions -------------------------------------------------------------------------------

_SHAPE = st.one_of(
    st.tuples(st.sampled_from([0, 1, 2, 3])),
    st.tuples(st.sampled_from([1, 2, 3]), st.sampled_from([1, 2])),
)
_KEY = st.sampled_from(['a', 'b', 'times', 'timestamps', 'timestamps_bpod', 'intervals'])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_KEY, _SHAPE, max_size=4))
def test_check_dimensions_matches_one(shapes: dict[str, tuple[int, ...]]) -> None:
    data = {k: np.zeros(s) for k, s in shapes.items()}
    assert io.check_dimensions(data) == one_io.check_dimensions(data)
    assert AlfBunch(data).check_dimensions == one_io.AlfBunch(data).check_dimensions


def test_check_dimensions_tables_and_others() -> None:
    assert io.check_dimensions({'a': np.arange(3), 't': pl.DataFrame({'x': [1, 2, 3]})}) == 0
    assert io.check_dimensions({'a': np.arange(3), 't': pl.DataFrame({'x': [1, 2]})}) == 1
    assert io.check_dimensions({'a': np.arange(3), 'meta': {'x': 1}, 'l': [1]}) == 0
    assert io.check_dimensions({'a': np.arange(3), 'scalar': np.float64(2.0)}) == 0
    assert io.check_dimensions({'timestamps': np.zeros((3, 2))}) == 1
    assert io.check_dimensions({'a': np.arange(5), 'timestamps': np.zeros((2, 2))}) == 0


@pytest.mark.parametrize(
    ('ts', 'n'),
    [
        (np.arange(5.0), 5),
        (np.arange(5.0).reshape(5, 1), 5),
        (np.array([[0, 0.0], [9, 0.9]]), 10),
        (np.array([[0, 1.0], [4, 2.0], [9, 4.0]]), 10),
    ],
)
def test_ts2vec_matches_one(ts: np.ndarray, n: int) -> None:
    ours = io.ts2vec(ts, n)
    np.testing.assert_array_equal(ours, one_io.ts2vec(ts, n))
    assert ours.shape == (n,)


def test_ts2vec_bad_shape() -> None:
    with pytest.raises(ValueError, match='shape'):
        one_io.ts2vec(np.zeros((2, 3)), 5)
    with pytest.raises(InvalidArgument, match='shape'):
        io.ts2vec(np.zeros((2, 3)), 5)
    with pytest.raises(InvalidArgument):
        io.ts2vec(np.zeros((2, 2, 2)), 5)


def test_read_ts_matches_one(alf_path: Path) -> None:
    path = alf_path / '_ibl_wheel.position.npy'
    for ours, theirs in zip(io.read_ts(path), one_io.read_ts(path), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(io.read_ts(str(path))[1], np.load(path))


def test_read_ts_errors(alf_path: Path) -> None:
    path = alf_path / 'clusters.depths.npy'  # clusters have no times
    with pytest.raises(FileNotFoundError):
        one_io.read_ts(path)
    with pytest.raises(ALFFileNotFound, match=r'clusters\.depths\.npy'):
        io.read_ts(path)
    with pytest.raises(ALFInvalid, match='not_alf'):
        io.read_ts(alf_path / 'not_alf.npy')
