"""Hypothesis strategies drawing ONE query parameters from a synthetic database.

Values come from the tables (subjects, labs, dates, protocols, collections, revisions, file
names) and are turned into the patterns users write: exact values, substrings, anchors,
alternatives, wildcards (``*``, ``?``) or regular expressions (``.*``, ``.``) according to the
``wildcards`` flag, lists of them, and values matching nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import strategies as st

from one_async.testing.generate import SyntheticData

QC_VALUES = ['NOT_SET', 'PASS', 'WARNING', 'FAIL', 'CRITICAL', 'pass', 0, 10, 30, 40, 50, '30']


@dataclass(frozen=True)
class Pools:
    """Values of one synthetic database to draw from."""

    eids: list[str]
    subjects: list[str]
    labs: list[str]
    protocols: list[str]
    projects: list[str]
    dates: list[date]
    rel_paths: list[str]
    collections: list[str]
    revisions: list[str]
    objects: list[str]
    attributes: list[str]
    namespaces: list[str]
    extensions: list[str]

    @classmethod
    def of(cls, data: SyntheticData) -> Pools:
        from one_async.alf.path import rel_path_parts

        s, d = data.sessions, data.datasets
        parts = [rel_path_parts(p, assert_valid=False) for p in d['rel_path'].unique().to_list()]
        projects = sorted({p for v in s['projects'].to_list() for p in v.split(',')})
        return cls(
            eids=s['id'].to_list(),
            subjects=sorted(s['subject'].unique().to_list()),
            labs=sorted(s['lab'].unique().to_list()),
            protocols=sorted(s['task_protocol'].unique().to_list()),
            projects=projects,
            dates=sorted(s['date'].unique().to_list()),
            rel_paths=sorted(d['rel_path'].unique().to_list()),
            collections=sorted(d['collection'].unique().to_list()),
            revisions=sorted(r for r in d['revision'].unique().to_list() if r),
            objects=sorted({p[3] for p in parts if p[3]}),
            attributes=sorted({p[4] for p in parts if p[4]}),
            namespaces=sorted({p[2] for p in parts if p[2]}),
            extensions=sorted({p[7] for p in parts if p[7]}),
        )


def _substring(text: str) -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, max(len(text) - 1, 0)), st.integers(1, max(len(text), 1))).map(
        lambda ij: text[ij[0] : ij[0] + ij[1]] or text
    )


def text_pattern(values: list[str], regex: bool) -> st.SearchStrategy[str]:
    """A search pattern of a string column: a value, part of one, anchored, or no match."""
    value = st.sampled_from(values)
    plain = st.one_of(value, value.flatmap(_substring), st.just('no_such_value'))
    if not regex:
        return plain
    return st.one_of(
        plain,
        value.map(lambda v: '^' + re.escape(v) + '$'),
        value.map(lambda v: '^' + re.escape(v[:3])),
        value.map(lambda v: re.escape(v[-3:]) + '$'),
        st.lists(value, min_size=2, max_size=3).map(lambda vs: '|'.join(map(re.escape, vs))),
        value.map(lambda v: re.escape(v[:2]) + '.' + re.escape(v[3:5])),
        value.map(lambda v: re.escape(v[:2]) + '.*'),
    )


def one_or_list(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


def _date_value(day: date) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            day,
            day.isoformat(),
            datetime(day.year, day.month, day.day),
            datetime(day.year, day.month, day.day, 13, 30),
            np.datetime64(day.isoformat()),
        ]
    )


def date_ranges(dates: list[date]) -> st.SearchStrategy[Any]:
    near = st.sampled_from(dates).flatmap(
        lambda d: st.integers(-3, 3).map(lambda k: d + timedelta(days=k))
    )
    bound = near.flatmap(_date_value)
    return st.one_of(
        bound,
        st.tuples(st.one_of(bound, st.none()), st.one_of(bound, st.none())).map(list),
        bound.map(lambda b: [b]),
    )


def dataset_fragment(pools: Pools, regex: bool) -> st.SearchStrategy[str]:
    """A pattern of the dataset term: part of a relative path."""
    path = st.sampled_from(pools.rel_paths)
    fragments = [
        st.sampled_from(pools.objects),
        st.sampled_from(pools.attributes),
        st.tuples(st.sampled_from(pools.objects), st.sampled_from(pools.attributes)).map(
            lambda oa: f'{oa[0]}.{oa[1]}'
        ),
        st.sampled_from(pools.collections),
        path.map(lambda p: p.rsplit('/', 1)[-1]),
        path,
        st.just('no_such_dataset'),
    ]
    if regex:
        fragments += [
            st.sampled_from(pools.objects).map(lambda o: re.escape(o) + r'\.'),
            st.sampled_from(pools.collections).map(lambda c: '^' + re.escape(c) + '/'),
            st.just(r'probe0[01]/.*spikes'),
            st.just(r'#\d{4}-'),
        ]
    return st.one_of(*fragments)


@st.composite
def search_queries(draw: st.DrawFn, pools: Pools, regex: bool) -> dict[str, Any]:
    """Keyword arguments of ``search`` (with ONE's abbreviations)."""
    query: dict[str, Any] = {}
    names = {
        'subject': ['subject', 'subj'],
        'laboratory': ['laboratory', 'lab'],
        'task_protocol': ['task_protocol', 'task'],
        'projects': ['projects', 'proj'],
        'date_range': ['date_range', 'date'],
        'number': ['number', 'num'],
        'dataset': ['dataset'],
        'dataset_qc_lte': ['dataset_qc_lte', 'dataset_qc'],
    }
    pools_by_term = {
        'subject': pools.subjects,
        'laboratory': pools.labs,
        'task_protocol': pools.protocols,
        'projects': pools.projects,
    }
    terms = draw(st.lists(st.sampled_from(sorted(names)), max_size=4, unique=True))
    for term in terms:
        key = draw(st.sampled_from(names[term]))
        if term in pools_by_term:
            query[key] = draw(one_or_list(text_pattern(pools_by_term[term], regex)))
        elif term == 'date_range':
            query[key] = draw(date_ranges(pools.dates))
        elif term == 'number':
            query[key] = draw(one_or_list(st.sampled_from([1, 2, 3, '1', '2'])))
        elif term == 'dataset':
            query[key] = draw(
                st.one_of(
                    dataset_fragment(pools, regex),
                    st.lists(dataset_fragment(pools, regex), min_size=0, max_size=3),
                )
            )
        else:
            query[key] = draw(st.sampled_from(QC_VALUES))
    return query


def _wild(regex: bool, text: str) -> str:
    """A shell pattern, or the equivalent regular expression."""
    if not regex:
        return text
    return re.escape(text).replace(r'\*', '.*').replace(r'\?', '.')


@st.composite
def name_patterns(draw: st.DrawFn, pools: Pools, regex: bool) -> Any:
    """A ``filename`` argument: a pattern, a list of them or a dict of ALF parts."""
    obj = st.sampled_from(pools.objects)
    attr = st.sampled_from(pools.attributes)
    path = st.sampled_from(pools.rel_paths)
    shells = st.one_of(
        obj.map(lambda o: f'*{o}*'),
        st.tuples(obj, attr).map(lambda oa: f'*{oa[0]}.{oa[1]}*'),
        path.map(lambda p: p.rsplit('/', 1)[-1]),
        path.map(lambda p: p.rsplit('/', 1)[-1][:-3] + '*'),
        obj.map(lambda o: f'_ibl_{o}.*'),
        st.sampled_from(['*.npy', '*.pqt', '*times*', '*', 'spikes.?imes.npy']),
    )
    pattern = shells.map(lambda s: _wild(regex, s))
    parts = st.fixed_dictionaries(
        {},
        optional={
            'object': one_or_list(obj.map(lambda o: _wild(regex, o))),
            'attribute': one_or_list(
                st.one_of(attr, attr.map(lambda a: a[:3] + '*')).map(lambda a: _wild(regex, a))
            ),
            'namespace': st.sampled_from(pools.namespaces).map(lambda n: _wild(regex, n)),
            'extension': st.sampled_from(pools.extensions).map(lambda e: _wild(regex, e)),
            'timescale': st.just(_wild(regex, 'bpod')),
        },
    )
    return draw(st.one_of(st.none(), pattern, st.lists(pattern, min_size=1, max_size=2), parts))


def collection_patterns(pools: Pools, regex: bool) -> st.SearchStrategy[Any]:
    col = st.sampled_from(pools.collections)
    shells = st.one_of(
        col,
        col.map(lambda c: c.split('/')[0] + '*'),
        st.sampled_from(['alf/probe0?', '*probe00*', 'raw_*', 'alf/*/pykilosort', '']),
    )
    return st.one_of(
        st.none(), shells.map(lambda s: _wild(regex, s)), st.lists(col, min_size=1, max_size=2)
    )


def revision_patterns(pools: Pools, regex: bool) -> st.SearchStrategy[Any]:
    rev = st.sampled_from(pools.revisions) if pools.revisions else st.just('2020-01-01')
    return st.one_of(
        st.none(),
        st.just(''),
        rev,
        rev.map(lambda r: _wild(regex, r[:4] + '*')),
    )


def revision_values(pools: Pools) -> st.SearchStrategy[str | None]:
    """A revision for the last-before rule (not a pattern)."""
    rev = st.sampled_from(pools.revisions) if pools.revisions else st.just('2020-01-01')
    return st.one_of(
        st.none(),
        rev,
        rev.map(lambda r: r[:8] + '01'),
        st.sampled_from(['2000-01-01', '2099-01-01', '']),
    )
