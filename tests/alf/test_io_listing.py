"""filter_by, exists, iter_datasets, iter_sessions and find_variants against ONE-api 2.9.0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import one.alf.io as one_io
import pytest

from one_async.alf import io
from one_async.exceptions import ALFInvalid, ArgumentTypeError, InvalidArgument

from .io_helpers import UUID, assert_same_outcome, make_session, outcome

FILTERS: list[dict[str, Any]] = [
    {},
    {'object': 'trials'},
    {'object': 'wh*'},
    {'object': ['wheel', 'clusters']},
    {'object': '^wheel', 'wildcards': False},
    {'object': ['^wheel$', '.*Gabor'], 'wildcards': False},
    {'namespace': None},
    {'namespace': 'ibl', 'attribute': '*_times'},
    {'namespace': ['ibl', 'iblrig'], 'attribute': 'choice'},
    {'namespace': [None, 'ibl']},  # ONE: None in a list never matches a missing namespace
    {'timescale': 'bpod'},
    {'timescale': None, 'extension': 'npy'},
    {'extension': ['pqt', 'csv']},
    {'extension': 'p?t'},
    {'attribute': 'ccf', 'extra': None},
    {'extra': 'metadata'},
    {'extra': []},
    {'attribute': 'Times', 'wildcards': False},
    {'attribute': '.*times$', 'wildcards': False},
    {'colour': 'red'},
]


def _same_listing(ours: Any, theirs: Any) -> None:
    names, parts = ours
    assert names == sorted(names)
    assert sorted(zip(names, parts, strict=True)) == sorted(zip(*theirs, strict=True))


@pytest.mark.parametrize('kwargs', FILTERS, ids=str)
def test_filter_by_matches_one(alf_path: Path, kwargs: dict[str, Any]) -> None:
    ours = outcome(lambda: io.filter_by(alf_path, **kwargs))
    theirs = outcome(lambda: one_io.filter_by(alf_path, **kwargs))
    assert_same_outcome(ours, theirs, _same_listing)


@pytest.mark.parametrize(
    'kwargs',
    [{'extra': UUID}, {'extra': 'raw', 'namespace': None}, {'object': 'spikes', 'timescale': '*'}],
    ids=str,
)
def test_filter_by_collection_matches_one(alf_path: Path, kwargs: dict[str, Any]) -> None:
    folder = alf_path / 'probe00'
    _same_listing(io.filter_by(folder, **kwargs), one_io.filter_by(folder, **kwargs))


def test_filter_by_skips_folders(tmp_path: Path) -> None:
    """A folder named like a dataset is not one (ONE 2.9.0 lists it, 3.x does not)."""
    (tmp_path / 'obj.attr.npy').mkdir()
    np.save(tmp_path / 'obj.other.npy', np.arange(2))
    assert io.filter_by(tmp_path) == (
        ['obj.other.npy'],
        [(None, 'obj', 'other', None, None, 'npy')],
    )


def test_filter_by_bad_input(alf_path: Path) -> None:
    with pytest.raises(ArgumentTypeError, match='colour'):
        io.filter_by(alf_path, colour='red')
    with pytest.raises(ArgumentTypeError, match='12'):
        io.filter_by(alf_path, object=12)
    with pytest.raises(InvalidArgument, match=r'\(unclosed'):
        io.filter_by(alf_path, object='(unclosed', wildcards=False)
    with pytest.raises(FileNotFoundError):
        io.filter_by(alf_path / 'gone')


@pytest.mark.parametrize(
    ('obj', 'attributes', 'kwargs'),
    [
        ('trials', None, {}),
        ('trials', 'choice', {}),
        ('trials', ['choice', 'intervals'], {'namespace': 'ibl'}),
        ('trials', ['choice', 'nope'], {}),
        ('trials', 'table', {'extension': 'pqt'}),
        ('trials', None, {'namespace': 'nope'}),
        ('wh*', 'position', {}),
        ('^wheel', 'position', {'wildcards': False}),
        ('nothing', None, {}),
    ],
)
def test_exists_matches_one(alf_path: Path, obj: str, attributes: Any, kwargs: Any) -> None:
    assert io.exists(alf_path, obj, attributes, **kwargs) == one_io.exists(
        alf_path, obj, attributes, **kwargs
    )


def test_exists_values(alf_path: Path) -> None:
    assert io.exists(alf_path, 'trials', ['choice', 'intervals'])
    assert not io.exists(alf_path, 'trials', ['choice', 'nope'])
    assert not io.exists(alf_path / 'gone', 'trials')
    assert io.exists(alf_path / '_ibl_wheel.position.npy', 'ignored', 'timestamps')


def test_iter_datasets_matches_one(session_path: Path) -> None:
    ours = list(io.iter_datasets(session_path))
    assert ours == list(one_io.iter_datasets(session_path))
    assert Path('alf/probe00/#2021-01-01#/spikes.times.npy') in ours
    assert Path('alf/not_alf.npy') not in ours
    assert all(not p.is_absolute() for p in ours)


def _sessions_root(root: Path) -> list[Path]:
    sessions = [
        root / 'labA' / 'Subjects' / 'mouse1' / '2020-01-01' / '001',
        root / 'labA' / 'Subjects' / 'mouse1' / '2020-01-01' / '002',
        root / 'labB' / 'Subjects' / 'mouse2' / '2021-12-31' / '1',
        root / 'mouse3' / '2022-02-02' / '010',
    ]
    for s in sessions:
        make_session(s) if s.name == '001' else s.mkdir(parents=True)
    (root / 'labA' / 'Subjects' / 'mouse1' / '2020-01-01' / 'notanumber').mkdir()
    (root / 'labA' / 'Subjects' / 'mouse1' / 'not-a-date' / '001').mkdir(parents=True)
    (root / 'labA' / 'Subjects' / 'mouse1' / '2020-01-01' / '003').write_text('a file')
    return sessions


@pytest.mark.parametrize('pattern', ['*', '*/Subjects/*/????-??-??/*', '*/????-??-??/*'])
def test_iter_sessions_matches_one(tmp_path: Path, pattern: str) -> None:
    sessions = _sessions_root(tmp_path)
    ours = list(io.iter_sessions(tmp_path, pattern=pattern))
    assert ours == list(one_io.iter_sessions(tmp_path, pattern=pattern))
    if pattern == '*':
        assert ours == sorted(sessions)


def test_iter_sessions_root_is_session(tmp_path: Path) -> None:
    session = tmp_path / 'mouse' / '2020-01-01' / '001'
    session.mkdir(parents=True)
    assert list(io.iter_sessions(session)) == [session]
    assert list(io.iter_sessions(str(session))) == [session]


@pytest.mark.parametrize(
    'flags',
    [
        {},
        {'namespace': False},
        {'extra': False},
        {'timescale': False, 'namespace': False},
        {'extension': False, 'extra': False},
    ],
    ids=str,
)
def test_find_variants_matches_one(session_path: Path, flags: dict[str, bool]) -> None:
    probe = session_path / 'alf' / 'probe00'
    (probe / 'spikes.times.csv').write_text('t\n1\n')
    files = [
        probe / 'spikes.times.npy',
        probe / '#2021-01-01#' / 'spikes.times.npy',
        probe / 'spikes.amps.raw.npy',
        session_path / 'alf' / '_ibl_trials.choice.npy',
    ]
    ours = io.find_variants(files, **flags)
    theirs = one_io.find_variants(files, **flags)
    assert list(ours) == list(theirs)
    for key, found in ours.items():
        assert found == sorted(theirs[key]), key


def test_find_variants_values(session_path: Path) -> None:
    probe = session_path / 'alf' / 'probe00'
    file = probe / 'spikes.times.npy'
    assert io.find_variants([file])[file] == [probe / '#2021-01-01#' / 'spikes.times.npy']
    found = io.find_variants([str(file)], namespace=False)[file]
    assert found == [
        probe / '#2021-01-01#' / 'spikes.times.npy',
        probe / '#2022-02-02#' / '_ibl_spikes.times.npy',
    ]
    with pytest.raises(ALFInvalid):
        io.find_variants([probe / 'not_alf'])
