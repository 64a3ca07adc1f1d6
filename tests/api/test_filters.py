"""The building blocks of dataset filtering, against ONE-api 2.9.0's ``one.util`` functions,
and the polars fast path of whole-table pattern tests against Python's ``re``."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from one import util as one_util

from one_async.api.datasets_index import polars_pattern
from one_async.api.filters import (
    build_filter,
    collection_spec,
    file_spec,
    filter_revision_last_before,
    index_last_before,
)
from one_async.api.terms import autocomplete, validate_date_range
from one_async.exceptions import InvalidArgument

PARTS = [None, '', 'alf', 'alf/probe00']


@pytest.mark.parametrize('collection', PARTS)
@pytest.mark.parametrize('revision', [None, '', '2020-01-01'])
def test_collection_spec(collection: str | None, revision: str | None) -> None:
    assert collection_spec(collection, revision) == one_util._collection_spec(collection, revision)


@pytest.mark.parametrize(
    'parts',
    [{}, {'namespace': 'ibl'}, {'timescale': 'bpod'}, {'extra': 'x'}, {'object': 'trials'}],
)
def test_file_spec(parts: dict[str, str]) -> None:
    assert file_spec(**parts) == one_util._file_spec(**parts)


@given(
    revisions=st.lists(st.sampled_from(['', '2020-01-01', '2021-06-30', 'v1', 'v2']), max_size=6),
    revision=st.one_of(st.none(), st.sampled_from(['', '2020-06-01', '2022-01-01', 'v1', 'a'])),
)
def test_index_last_before(revisions: list[str], revision: str | None) -> None:
    assert index_last_before(revisions, revision) == one_util.index_last_before(
        revisions, revision
    )


def test_filter_revision_last_before_matches_one() -> None:
    paths = [
        'alf/#2020-01-01#/spikes.times.npy',
        'alf/spikes.times.npy',
        'alf/#2021-01-01#/spikes.times.npy',
        'alf/trials.table.pqt',
    ]
    frame = pl.DataFrame({'rel_path': paths, 'default_revision': [False, False, True, True]})
    pdf = frame.to_pandas()
    for revision in (None, '2020-06-01', '2019-01-01', '2022-01-01'):
        for unique in (False, True):
            expected = _outcome(one_util.filter_revision_last_before, pdf.copy(), revision, unique)
            got = _outcome(filter_revision_last_before, frame, revision, unique)
            if isinstance(expected, BaseException):
                assert type(got).__name__ == type(expected).__name__
                continue
            assert got['rel_path'].to_list() == expected['rel_path'].to_list()
            assert got['revision'].to_list() == expected['revision'].to_list()


def _outcome(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except Exception as exc:
        return exc


FILTER_ARGS: list[dict[str, Any]] = [
    {},
    {'filename': 'spikes.times.npy'},
    {'filename': '*.times*', 'wildcards': True},
    {'filename': ['a.b.npy', '*trials*'], 'wildcards': True},
    {'filename': {'object': 'spikes', 'attribute': ['times', 'amps']}},
    {'filename': {'object': 'sp*', 'namespace': 'ibl'}, 'wildcards': True},
    {'collection': 'alf/probe0[01]'},
    {'collection': ['alf', 'raw_*'], 'wildcards': True},
    {'collection': '', 'revision': '', 'revision_last_before': False},
    {'revision': '2020-*', 'revision_last_before': False, 'wildcards': True},
]
PATHS = [
    'alf/spikes.times.npy',
    'alf/probe00/spikes.times.npy',
    'alf/probe01/#2020-01-01#/spikes.amps.npy',
    'alf/_ibl_trials.table.pqt',
    '_ibl_wheel.position.npy',
    'raw_video_data/_iblrig_leftCamera.raw.mp4',
    'a.b.npy',
    'not_alf.txt',
    'alf/#v1#/_ibl_spikes.times_ephysClock.npy',
]


@pytest.mark.parametrize('kwargs', FILTER_ARGS, ids=repr)
def test_build_filter_selects_as_one(kwargs: dict[str, Any]) -> None:
    """The compiled pattern selects the same paths as ONE's filter_datasets."""
    frame = pd.DataFrame(
        {'rel_path': PATHS, 'qc': pd.Categorical(['NOT_SET'] * len(PATHS), dtype=one_util.QC_TYPE)}
    )
    options = {'assert_unique': False, 'revision_last_before': False, **kwargs}
    expected = one_util.filter_datasets(frame, **options)['rel_path'].to_list()
    filt = build_filter(**options)
    assert [p for p in PATHS if filt.path(p)] == expected


def test_build_filter_unknown_part() -> None:
    with pytest.raises(InvalidArgument, match='colour'):
        build_filter({'colour': 'red'})


@pytest.mark.parametrize(
    'value',
    [
        '2020-01-01',
        ['2020-01-01', '2020-02-01'],
        ['2020-01-01'],
        [None, '2020-01-01'],
        ['2020-01-01', None],
        date(2020, 1, 1),
        datetime(2020, 1, 1, 10, 30),
        np.datetime64('2020-01-01'),
        np.array(['2020-01-01', '2020-02-01'], dtype='datetime64[D]'),
        '2020-01-01T12:00:00',
        '2020-01',
    ],
    ids=repr,
)
def test_validate_date_range(value: Any) -> None:
    expected = [
        None if t in (pd.Timestamp.min, pd.Timestamp.max) else t.to_pydatetime()
        for t in one_util.validate_date_range(value)
    ]
    assert list(validate_date_range(value)) == expected


@pytest.mark.parametrize('term', ['lab', 'date', 'subj', 'task', 'proj', 'num', 'dataset', 'LAB'])
def test_autocomplete(term: str) -> None:
    terms = (
        'dataset',
        'date_range',
        'laboratory',
        'number',
        'projects',
        'subject',
        'task_protocol',
        'dataset_qc_lte',
    )
    assert autocomplete(term, terms) == one_util.autocomplete(term, terms)


@pytest.mark.parametrize('term', ['d', 'data', 'foo', 'datas'])
def test_autocomplete_errors(term: str) -> None:
    terms = ('dataset', 'date_range', 'laboratory', 'dataset_qc_lte')
    with pytest.raises(ValueError, match=term):
        one_util.autocomplete(term, terms)
    with pytest.raises(InvalidArgument, match=term):
        autocomplete(term, terms)


# --- the polars fast path ---------------------------------------------------------------------

_ATOMS = st.sampled_from(
    [
        'a', 'b', 'ab', '/', '#', '.', r'\.', '_', '-', '0', '9', 'ü', '[ab]', '[^a]', '[a-c]',
        r'[\]a]', r'\d', r'\w', r'\b', '(?=a)', '(?i)', '[[:alpha:]]', '[a&&b]', r'\-',
    ]
)  # fmt: skip
_QUANTIFIERS = st.sampled_from(['', '', '*', '+', '?', '*?', '{2}', '{1,2}', '{,2}', '{1,}'])


@st.composite
def patterns(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.tuples(_ATOMS, _QUANTIFIERS), min_size=1, max_size=5))
    body = ''.join(a + q for a, q in pieces)
    wrap = draw(st.sampled_from(['{}', '^{}', '{}$', '({})', '(?:{})b', '{}|a', 'x({})?']))
    return wrap.format(body)


@settings(max_examples=300, deadline=None)
@given(
    pattern=patterns(),
    texts=st.lists(st.text(alphabet='ab/#._-09üc\n', max_size=8), min_size=1, max_size=20),
)
def test_polars_pattern_means_what_python_means(pattern: str, texts: list[str]) -> None:
    """Whenever a pattern is handed to polars, polars matches exactly the strings Python's
    ``re`` matches (``search``) and matches at the start (``match``)."""
    texts = [t for t in texts if '\n' not in t] or ['']
    for kind, test in (('search', re.search), ('match', re.match)):
        translated = polars_pattern(pattern, kind)
        if translated is None:
            continue
        expected = [test(pattern, t) is not None for t in texts]
        got = pl.Series(texts, dtype=pl.String).str.contains(translated).to_list()
        assert got == expected, (pattern, kind)


def test_polars_pattern_refuses_what_differs() -> None:
    for pattern in [r'\w+', r'\d', '(?=a)', '(?i)a', '[[:alpha:]]', '[a&&b]', 'a{,2}', r'\bx']:
        assert polars_pattern(pattern, 'search') is None, pattern
    assert polars_pattern('x(y', 'search') is None
    assert polars_pattern('any (text)', 'literal') == 'any (text)'
    assert polars_pattern('a.b', 'name') is None
