"""load_file_content: every format, malformed files, and agreement with ONE-api 2.9.0."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import one.alf.io as one_io
import pandas as pd
import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from one_async.alf import formats
from one_async.alf.formats import load_file_content, read_flat_binary
from one_async.exceptions import ALFFileError, ALFFileNotFound, ALFWarning


def _assert_table_equal(ours: pl.DataFrame | pl.Series, theirs: Any) -> None:
    """Compare a polars result with ONE's pandas one by column names and values."""
    if isinstance(theirs, pd.Series):
        assert isinstance(ours, pl.Series)
        assert ours.name == theirs.name
        np.testing.assert_array_equal(ours.to_numpy(), theirs.to_numpy())
        return
    assert isinstance(ours, pl.DataFrame)
    assert ours.columns == [str(c) for c in theirs.columns]
    for col in ours.columns:
        np.testing.assert_array_equal(ours[col].to_numpy(), theirs[col].to_numpy())


# --- numpy ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    'arr',
    [
        np.arange(10.0),
        np.arange(12, dtype=np.int32).reshape(4, 3),
        np.arange(5, dtype=np.uint8).reshape(5, 1),  # MATLAB column -> vector
        np.array([True, False]),
        np.zeros((0,)),
    ],
)
@pytest.mark.parametrize('mmap', [False, True])
def test_npy_matches_one(tmp_path: Path, arr: np.ndarray, mmap: bool) -> None:
    path = tmp_path / 'obj.attr.npy'
    np.save(path, arr)
    ours = load_file_content(path, mmap=mmap)
    theirs = one_io.load_file_content(path)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    assert isinstance(ours, np.memmap) == mmap


def test_npy_mmap_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npy'
    np.save(path, np.arange(4))
    arr = load_file_content(str(path), mmap=True)
    with pytest.raises(ValueError, match='read-only'):
        arr[0] = 7
    np.testing.assert_array_equal(np.load(path), np.arange(4))


def test_npy_object_array_needs_allow_pickle(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npy'
    np.save(path, np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ALFFileError, match=r'obj\.attr\.npy') as info:
        load_file_content(path)
    assert info.value.value == path
    out = load_file_content(path, allow_pickle=True)
    assert out[0] == {'a': 1}
    assert out[1] is None


@pytest.mark.parametrize('cut', [3, 40, -8])
@pytest.mark.parametrize('mmap', [False, True])
def test_truncated_npy_raises_naming_file(tmp_path: Path, cut: int, mmap: bool) -> None:
    good = tmp_path / 'good.npy'
    np.save(good, np.arange(100.0))
    path = tmp_path / 'spikes.times.npy'
    path.write_bytes(good.read_bytes()[:cut])
    with pytest.raises(ALFFileError, match=r'spikes\.times\.npy') as info:
        load_file_content(path, mmap=mmap)
    assert info.value.value == path


def test_npy_that_is_not_npy(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npy'
    path.write_text('hello, not numpy')
    with pytest.raises(ALFFileError, match=r'obj\.attr\.npy'):
        load_file_content(path)


def test_npz_single_default_array_matches_one(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npz'
    np.savez(path, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(load_file_content(path), one_io.load_file_content(path))


def test_npz_named_arrays_as_dict(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npz'
    np.savez_compressed(path, a=np.arange(3), b=np.ones((2, 2)))
    out = load_file_content(path)
    assert set(out) == {'a', 'b'}
    theirs = one_io.load_file_content(path)
    try:
        for k in out:
            np.testing.assert_array_equal(out[k], theirs[k])
    finally:
        theirs.close()


def test_bad_npz(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npz'
    path.write_bytes(b'PK\x03\x04 truncated zip')
    with pytest.raises(ALFFileError, match=r'obj\.attr\.npz'):
        load_file_content(path)


# --- parquet ----------------------------------------------------------------------------------


@pytest.mark.parametrize('ext', ['pqt', 'parquet'])
def test_parquet_matches_one(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'trials.table.{ext}'
    df = pd.DataFrame(
        {'intervals_0': [0.0, 1.5], 'intervals_1': [1.0, 2.0], 'choice': [-1, 1], 'x': ['a', 'b']}
    )
    df.to_parquet(path)
    ours = load_file_content(path)
    assert isinstance(ours, pl.DataFrame)
    if ext == 'pqt':
        _assert_table_equal(ours, one_io.load_file_content(path))
    else:  # ONE 2.9.0 returns the path of a .parquet file; we read it like .pqt
        assert one_io.load_file_content(path) == path
        _assert_table_equal(ours, pd.read_parquet(path))


def test_parquet_pandas_index(tmp_path: Path) -> None:
    """A named pandas index comes first as a column; pandas' unnamed row labels are dropped."""
    df = pd.DataFrame({'id': ['u', 'v', 'w'], 'val': [1.0, 2.0, 3.0]})
    df.set_index('id').to_parquet(tmp_path / 'a.named.pqt')
    df.iloc[[0, 2]].to_parquet(tmp_path / 'a.unnamed.pqt')
    named = load_file_content(tmp_path / 'a.named.pqt')
    assert named.columns == ['id', 'val']
    assert named['id'].to_list() == ['u', 'v', 'w']
    unnamed = load_file_content(tmp_path / 'a.unnamed.pqt')
    assert unnamed.columns == ['id', 'val']
    assert unnamed['id'].to_list() == ['u', 'w']


@pytest.mark.parametrize('content', [b'PAR1garbagePAR1', b'not parquet at all', b'PAR1'])
def test_corrupt_parquet(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / 'trials.table.pqt'
    path.write_bytes(content)
    with pytest.raises(ALFFileError, match=r'trials\.table\.pqt') as info:
        load_file_content(path)
    assert info.value.value == path


def test_truncated_parquet(tmp_path: Path) -> None:
    good = tmp_path / 'good.pqt'
    pd.DataFrame({'a': np.arange(1000)}).to_parquet(good)
    path = tmp_path / 'trials.table.pqt'
    path.write_bytes(good.read_bytes()[:-30])
    with pytest.raises(ALFFileError, match=r'trials\.table\.pqt'):
        load_file_content(path)


# --- text tables ------------------------------------------------------------------------------

_TABLES = {
    'csv': 'a,b,c\n1,2.5,x\n3,4.5,y\n',
    'ssv': 'a b c\n1 2.5 x\n3 4.5 y\n',
    'tsv': 'a\tb\tc\n1\t2.5\tx\n3\t4.5\ty\n',
    'htsv': 'a\tb\tc\n1\t2.5\tx\n3\t4.5\ty\n',
}


@pytest.mark.parametrize('ext', sorted(_TABLES))
def test_text_tables_match_one(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'obj.attr.{ext}'
    path.write_text(_TABLES[ext])
    ours = load_file_content(path)
    assert isinstance(ours, pl.DataFrame)
    assert ours['a'].dtype == pl.Int64
    _assert_table_equal(ours, one_io.load_file_content(path))


@pytest.mark.parametrize('ext', sorted(_TABLES))
def test_single_column_squeezed_like_one(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'obj.attr.{ext}'
    path.write_text('times\n0.5\n1.5\n2.5\n')
    ours = load_file_content(path)
    theirs = one_io.load_file_content(path)
    assert isinstance(theirs, pd.Series)
    _assert_table_equal(ours, theirs)


def test_csv_late_type_change_uses_whole_file(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.csv'
    path.write_text('a\n' + '1\n' * 500 + '1.5\n')
    out = load_file_content(path)
    assert out.dtype == pl.Float64
    assert out[-1] == 1.5


@pytest.mark.parametrize(
    'content', ['a,b\n1,2\n3,4,5\n', 'a,b\n1,"x\n'], ids=['extra-field', 'open-quote']
)
def test_bad_csv(tmp_path: Path, content: str) -> None:
    path = tmp_path / 'obj.attr.csv'
    path.write_text(content)
    with pytest.raises(pd.errors.ParserError):
        one_io.load_file_content(path)  # ONE refuses these too
    with pytest.raises(ALFFileError, match=r'obj\.attr\.csv'):
        load_file_content(path)


_COLUMN_NAME = st.text(alphabet='abcxyz_', min_size=1, max_size=6)
_NUMBERS = st.one_of(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=5),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=5),
)


@settings(max_examples=40, deadline=None)
@given(
    columns=st.dictionaries(_COLUMN_NAME, _NUMBERS, min_size=1, max_size=4),
    ext=st.sampled_from(['csv', 'ssv', 'tsv', 'htsv']),
)
def test_generated_text_tables_match_one(columns: dict[str, list[Any]], ext: str) -> None:
    n = min(len(v) for v in columns.values())
    df = pd.DataFrame({k: v[:n] for k, v in columns.items()})
    separator = {'csv': ',', 'ssv': ' '}.get(ext, '\t')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f'obj.attr.{ext}'
        df.to_csv(path, sep=separator, index=False)
        ours = load_file_content(path)
        theirs = one_io.load_file_content(path)
    ours_df = ours.to_frame() if isinstance(ours, pl.Series) else ours
    theirs_df = theirs.to_frame() if isinstance(theirs, pd.Series) else theirs
    assert ours_df.columns == list(df.columns) == list(theirs_df.columns)
    for col in df.columns:
        # exact against the data written; pandas' fast float parser may be an ulp off
        np.testing.assert_array_equal(ours_df[col].to_numpy(), df[col].to_numpy())
        np.testing.assert_allclose(ours_df[col].to_numpy(), theirs_df[col], rtol=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner)
            ),
            max_leaves=6,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_generated_jsonable_matches_one(records: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'obj.attr.jsonable'
        path.write_text(''.join(json.dumps(r) + '\n' for r in records))
        assert load_file_content(path) == one_io.load_file_content(path) == records


# --- json, jsonable, yaml, text ---------------------------------------------------------------


@pytest.mark.parametrize(
    'value', [{'a': [1, 2], 'b': {'c': None}}, [1, 'two', 3.0], 'text', 12, True]
)
def test_json_matches_one(tmp_path: Path, value: Any) -> None:
    path = tmp_path / 'obj.attr.json'
    path.write_text(json.dumps(value))
    assert load_file_content(path) == one_io.load_file_content(path) == value


def test_bad_json_raises_where_one_returns_none(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.json'
    path.write_text('{"a": 1,')
    assert one_io.load_file_content(path) is None  # ONE logs and hides the error
    with pytest.raises(ALFFileError, match=r'obj\.attr\.json'):
        load_file_content(path)


def test_jsonable_matches_one(tmp_path: Path) -> None:
    path = tmp_path / '_iblrig_taskData.raw.jsonable'
    records = [{'trial': i, 'events': list(range(i))} for i in range(4)]
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    assert load_file_content(path) == one_io.load_file_content(path) == records


def test_jsonable_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.jsonable'
    path.write_text('{"a": 1}\n\n{"a": 2}\n   \n')
    assert load_file_content(path) == [{'a': 1}, {'a': 2}]


def test_jsonable_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.jsonable'
    path.write_text('{"a": 1}\n{"a": 2\n{"a": 3}\n')
    with pytest.raises(ALFFileError, match=r'obj\.attr\.jsonable.*line 2'):
        load_file_content(path)


@pytest.mark.parametrize('ext', ['yaml', 'yml'])
def test_yaml_matches_one(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'_ibl_experiment.description.{ext}'
    doc = {'devices': {'cameras': {'left': {'fps': 60}}}, 'tasks': [{'a': 1}], 'version': '1.0'}
    path.write_text(yaml.safe_dump(doc))
    assert load_file_content(path) == one_io.load_file_content(path) == doc


@pytest.mark.parametrize(
    'content',
    ['a: [1, 2\nb: 3\n', 'key: value\n  bad indent: x\n', '!!python/object:os.system'],
)
def test_bad_yaml(tmp_path: Path, content: str) -> None:
    path = tmp_path / 'obj.attr.yaml'
    path.write_text(content)
    with pytest.raises(ALFFileError, match=r'obj\.attr\.yaml') as info:
        load_file_content(path)
    assert isinstance(info.value.__cause__, yaml.YAMLError)


@pytest.mark.parametrize('ext', ['txt', 'md'])
def test_text_as_str(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'obj.notes.{ext}'
    path.write_text('# Notes\nµ-probe ok\n', encoding='utf-8')
    assert load_file_content(path) == '# Notes\nµ-probe ok\n'
    assert one_io.load_file_content(path) == path  # ONE returns the path (deliberate difference)


def test_text_bad_encoding(tmp_path: Path) -> None:
    path = tmp_path / 'obj.notes.txt'
    path.write_bytes(b'\xff\xfe\x00bad')
    with pytest.raises(ALFFileError, match=r'obj\.notes\.txt'):
        load_file_content(path)


# --- other cases ------------------------------------------------------------------------------


@pytest.mark.parametrize('name', ['obj.attr.bin', 'obj.attr.mp4', 'obj.attr.NPY', 'noext'])
def test_unknown_extension_returns_path(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b'\x00\x01')
    assert load_file_content(str(path)) == path == one_io.load_file_content(path)


def test_sparse_npz_without_package_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / 'obj.attr.sparse_npz'
    path.write_bytes(b'data')

    def _missing(name: str) -> Any:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr(formats.importlib, 'import_module', _missing)
    with pytest.warns(ALFWarning, match=r'obj\.attr\.sparse_npz'):
        assert load_file_content(path) == path


@pytest.mark.parametrize('ext', ['npy', 'json', 'pqt', 'csv', 'txt', 'bin'])
def test_empty_file_is_none_like_one(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f'obj.attr.{ext}'
    path.touch()
    assert load_file_content(path) is None
    assert one_io.load_file_content(path) is None


@pytest.mark.parametrize('value', [None, ''])
def test_no_path_is_none_like_one(value: str | None) -> None:
    assert load_file_content(value) is None
    assert one_io.load_file_content(value) is None


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / 'obj.attr.npy'
    with pytest.raises(FileNotFoundError):
        one_io.load_file_content(path)
    with pytest.raises(ALFFileNotFound, match=r'obj\.attr\.npy') as info:
        load_file_content(path)
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, ALFFileError)
    assert info.value.value == path


# --- flat binary with metadata ----------------------------------------------------------------


@pytest.mark.parametrize('mmap', [False, True])
def test_read_flat_binary(tmp_path: Path, mmap: bool) -> None:
    data = np.arange(12, dtype=np.int16).reshape(4, 3)
    path = tmp_path / 'obj.attr.bin'
    data.tofile(path)
    np.testing.assert_array_equal(read_flat_binary(path, 'int16', 3, mmap=mmap), data)
    np.testing.assert_array_equal(read_flat_binary(path, '<i2', mmap=mmap), data.ravel())


@pytest.mark.parametrize(('dtype', 'columns'), [('int16', 5), ('not-a-dtype', None)])
def test_read_flat_binary_bad(tmp_path: Path, dtype: str, columns: int | None) -> None:
    path = tmp_path / 'obj.attr.bin'
    np.arange(12, dtype=np.int16).tofile(path)
    with pytest.raises(ALFFileError, match=r'obj\.attr\.bin'):
        read_flat_binary(path, dtype, columns)
