"""Saving objects and metadata, UUID renames and folder helpers, against ONE-api 2.9.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import one.alf.io as one_io
import pytest

from one_async.alf import io
from one_async.exceptions import ALFInvalid, InvalidArgument

from .io_helpers import UUID, assert_bunch_equal


@pytest.mark.parametrize(
    'kwargs',
    [
        {},
        {'namespace': 'ibl'},
        {'namespace': 'ibl', 'timescale': 'bpod', 'parts': 'raw'},
        {'parts': ['raw', 'v1'], 'timescale': ('ephys clock',)},
    ],
    ids=str,
)
def test_save_object_npy_matches_one(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    data = {'times': np.arange(5.0), 'intervals': np.ones((5, 2)), 'stim_on_times': np.zeros(5)}
    ours_dir, theirs_dir = tmp_path / 'ours', tmp_path / 'theirs'
    ours_dir.mkdir()
    theirs_dir.mkdir()
    ours = io.save_object_npy(ours_dir, data, 'myObject', **kwargs)
    theirs = one_io.save_object_npy(theirs_dir, data, 'myObject', **kwargs)
    assert [p.name for p in ours] == [p.name for p in theirs]
    assert sorted(p.name for p in ours_dir.iterdir()) == sorted(p.name for p in ours)
    assert_bunch_equal(
        io.load_object(ours_dir, 'myObject'), one_io.load_object(theirs_dir, 'myObject')
    )
    for path in ours:
        np.testing.assert_array_equal(np.load(path), np.load(theirs_dir / path.name))


def test_save_object_npy_inconsistent(tmp_path: Path) -> None:
    data = {'a': np.arange(3), 'b': np.arange(4)}
    with pytest.raises(ValueError, match='consistent'):
        one_io.save_object_npy(tmp_path, data, 'obj')
    with pytest.raises(InvalidArgument, match='consistent'):
        io.save_object_npy(tmp_path, data, 'obj')
    assert list(tmp_path.iterdir()) == []


class _Unsaveable:
    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise RuntimeError('cannot convert')

    @property
    def shape(self) -> tuple[int]:
        return (3,)


def test_save_object_npy_leaves_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match='cannot convert'):
        io.save_object_npy(tmp_path, {'a': np.arange(3), 'b': _Unsaveable()}, 'obj')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['obj.a.npy']


def test_save_metadata(tmp_path: Path) -> None:
    meta = {'columns': ['x', 'y'], 'unit': 'um'}
    np.save(tmp_path / 'obj.attr.npy', np.ones((3, 2)))
    written = io.save_metadata(tmp_path / 'obj.attr.npy', meta)
    assert written == tmp_path / 'obj.attr.metadata.json'
    ours = written.read_text()
    one_io.save_metadata(tmp_path / 'obj.attr.npy', meta)
    assert json.loads(ours) == json.loads(written.read_text()) == meta
    out = io.load_object(tmp_path, 'obj')
    assert sorted(out) == ['attrmetadata', 'x', 'y']
    with pytest.raises(ALFInvalid, match='bad_name'):
        io.save_metadata(tmp_path / 'bad_name.npy', meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['obj.attr.metadata.json', 'obj.attr.npy']


def test_remove_uuid_file(tmp_path: Path) -> None:
    path = tmp_path / f'obj.attr.{UUID}.npy'
    path.write_bytes(b'x')
    with pytest.warns(DeprecationWarning, match='remove_uuid_file'):
        assert io.remove_uuid_file(path, dry=True) == tmp_path / 'obj.attr.npy'
    assert path.exists()
    with pytest.warns(DeprecationWarning, match='remove_uuid_file'):
        new = io.remove_uuid_file(str(path))
    assert new == tmp_path / 'obj.attr.npy'
    assert new.read_bytes() == b'x'
    assert not path.exists()
    with pytest.warns(DeprecationWarning, match='remove_uuid_file'):
        assert io.remove_uuid_file(new) == new


def test_remove_uuid_recursive(tmp_path: Path) -> None:
    for rel in (f'a/obj.attr.{UUID}.npy', f'a/b/obj.other.raw.{UUID}.json', 'a/obj.plain.npy'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    with pytest.warns(DeprecationWarning, match='remove_uuid_recursive'):
        io.remove_uuid_recursive(tmp_path, dry=True)
    assert (tmp_path / f'a/obj.attr.{UUID}.npy').exists()
    with pytest.warns(DeprecationWarning, match='remove_uuid_recursive'):
        io.remove_uuid_recursive(tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*.*'))
    assert names == ['a/b/obj.other.raw.json', 'a/obj.attr.npy', 'a/obj.plain.npy']


def test_next_num_folder_matches_one(tmp_path: Path) -> None:
    date = tmp_path / 'mouse' / '2020-01-01'
    assert io.next_num_folder(date) == one_io.next_num_folder(date) == '001'
    for name in ('001', '002', '007', '.008', 'abc'):
        (date / name).mkdir(parents=True)
    (date / '009').write_text('a file, not a session')
    assert io.next_num_folder(str(date)) == one_io.next_num_folder(date) == '008'
    (date / '999').mkdir()
    with pytest.raises(InvalidArgument, match='999'):
        io.next_num_folder(date)


def test_remove_empty_folders_matches_one(tmp_path: Path) -> None:
    def build(root: Path) -> None:
        for rel in ('a/b/c', 'a/d', 'e', 'f/g'):
            (root / rel).mkdir(parents=True)
        (root / 'f' / 'keep.txt').write_text('x')

    ours_root, theirs_root = tmp_path / 'ours', tmp_path / 'theirs'
    build(ours_root)
    build(theirs_root)
    io.remove_empty_folders(ours_root)
    one_io.remove_empty_folders(theirs_root)

    def tree(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob('*'))

    assert tree(ours_root) == tree(theirs_root) == ['f', 'f/keep.txt']
