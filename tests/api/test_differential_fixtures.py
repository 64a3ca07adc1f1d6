"""Differential tests on recorded tables: ONE-api 2.9.0's own fixtures and Alyx 3.6.1's.

Every call goes through ``one.api.One`` and :class:`AsyncOne` on the same folder and must give
the same eids in the same order, the same lists, equal tables and the same kinds of errors.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from one_async.api import AsyncOne

from .conftest import one_client
from .harness import Outcome, assert_same, call_one, compare, norm

pytestmark = pytest.mark.anyio

KS005 = '01390fcc-4f86-4707-8a3b-4d9309feb0a1'
NO_DATASETS = '3473f9d2-aa5d-41a6-9048-c65d0b7ab97c'
FLOWERS = '4e0b3320-47b7-416e-b842-c34dc9004cf8'

SEARCHES: list[dict[str, Any]] = [
    {},
    {'subject': 'KS005'},
    {'subject': ['KS005', 'flowers']},
    {'subject': '^ZM_1'},
    {'subject': 'ZM_1[0-9]{2}$'},
    {'subj': 'ZM'},
    {'lab': 'mainenlab'},
    {'laboratory': ['zadorlab', 'cortexlab']},
    {'date': '2019-04-10'},
    {'date_range': ['2019-04-01', '2019-04-05']},
    {'date_range': ['2019-06-10', None]},
    {'date_range': [None, '2019-04-02']},
    {'date_range': ['2019-04-10']},
    {'date_range': date(2019, 4, 10)},
    {'date_range': datetime(2019, 4, 10, 12)},
    {'date_range': [datetime(2019, 4, 9, 23), '2019-04-10']},
    {'date_range': np.array(['2019-04-01', '2019-04-10'], dtype='datetime64[D]')},
    {'number': 2},
    {'number': [2, '3']},
    {'num': '1', 'subject': 'KS005'},
    {'task_protocol': 'ephys'},
    {'task': 'training', 'lab': 'cortex'},
    {'projects': 'ibl_cortexlab'},
    {'proj': ['cortexlab', 'mainenlab']},
    {'dataset': 'wheel'},
    {'dataset': ['wheel', 'trials']},
    {'dataset': 'spikes.times'},
    {'dataset': ['probe00', 'spikes']},
    {'dataset': 'alf/.*probe'},
    {'dataset': []},
    {'dataset': '_ibl_wheel.position.npy', 'subject': 'ZM'},
    {'dataset_qc_lte': 'PASS'},
    {'dataset_qc_lte': 'NOT_SET', 'dataset': 'wheel'},
    {'dataset_qc_lte': 10},
    {'dataset_qc_lte': 'FAIL', 'subject': 'KS005'},
    {'subject': 'nobody', 'dataset': 'wheel'},
    {'lab': 'cortexlab', 'task_protocol': 'habituation'},
    {'subject': 'ZM_335', 'date_range': '2019-07-17', 'number': 1},
    # errors
    {'foo': 'bar'},
    {'d': 'x'},
    {'data': 'wheel'},
    {'date_range': 'not a date'},
    {'date_range': ['2019-01-01', '2019-02-01', '2019-03-01']},
    {'number': 'one'},
    {'dataset_qc_lte': 'GREAT'},
    {'subject': '(unclosed'},
    {'subject': 5},
]


@pytest.fixture(params=['wildcards', 'regex'])
def wildcards(request: pytest.FixtureRequest) -> bool:
    return request.param == 'wildcards'


@pytest.mark.parametrize('query', SEARCHES, ids=repr)
async def test_search(one29_dir: Path, query: dict[str, Any], wildcards: bool) -> None:
    one = one_client(one29_dir)
    one.wildcards = wildcards
    async with AsyncOne(cache_dir=one29_dir, wildcards=wildcards) as aone:
        await compare(one, aone, 'search', **query)
        await compare(one, aone, 'search', details=True, **query)


async def test_search_without_datasets_does_better(one29_dir: Path) -> None:
    """ONE 2.9.0 crashes (TypeError) when no remaining session has datasets; [] here."""
    one = one_client(one29_dir)
    with pytest.raises(TypeError):
        one.search(subject='ZM_335', dataset='wheel')
    async with AsyncOne(cache_dir=one29_dir) as aone:
        assert await aone.search(subject='ZM_335', dataset='wheel') == []
        assert await aone.search(subject='ZM_335', dataset='wheel', details=True) == ([], None)


LISTINGS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ('list_subjects', (), {}),
    ('list_datasets', (), {}),
    ('list_datasets', (), {'details': True}),
    ('list_datasets', (KS005,), {}),
    ('list_datasets', (KS005,), {'details': True}),
    ('list_datasets', (KS005,), {'collection': 'alf'}),
    ('list_datasets', (KS005,), {'collection': ''}),
    ('list_datasets', (KS005,), {'filename': '*wheel*'}),
    ('list_datasets', (KS005,), {'filename': ['*wheel*', '*trials.c*']}),
    ('list_datasets', (KS005,), {'filename': {'object': 'trials', 'attribute': 'c*'}}),
    ('list_datasets', (KS005,), {'filename': {'object': ['wheel', 'trials'], 'extension': 'npy'}}),
    ('list_datasets', (KS005,), {'filename': {'namespace': 'iblrig'}}),
    ('list_datasets', (KS005,), {'filename': '.*wheel.*'}),
    ('list_datasets', (KS005,), {'revision': ''}),
    ('list_datasets', (KS005,), {'qc': 'NOT_SET'}),
    ('list_datasets', (KS005,), {'qc': 'PASS', 'ignore_qc_not_set': True}),
    ('list_datasets', (KS005,), {'qc': 'BAD'}),
    ('list_datasets', (uuid.UUID(KS005),), {}),
    ('list_datasets', ([KS005, FLOWERS],), {}),
    ('list_datasets', ([FLOWERS, KS005],), {'details': True}),
    ('list_datasets', ('cortexlab/Subjects/KS005/2019-04-01/001',), {}),
    ('list_datasets', ('2019-04-01_1_KS005',), {}),
    ('list_datasets', (NO_DATASETS,), {'details': True}),
    ('list_datasets', ('not-an-eid',), {}),
    ('list_datasets', (), {'collection': 'alf*'}),
    ('list_datasets', (), {'filename': '*spikes*', 'details': True}),
    ('list_datasets', (), {'filename': {'object': 'spikes', 'foo': 'x'}}),
    ('list_collections', (), {}),
    ('list_collections', (KS005,), {}),
    ('list_collections', (KS005,), {'details': True}),
    ('list_collections', (), {'filename': '*wheel*'}),
    ('list_collections', (), {'collection': 'raw*'}),
    ('list_collections', (FLOWERS,), {'filename': '*'}),
    ('list_revisions', (), {}),
    ('list_revisions', (KS005,), {}),
    ('list_revisions', (KS005,), {'details': True}),
    ('list_revisions', (KS005,), {'filename': '*wheel*'}),
    ('get_details', (KS005,), {}),
    ('get_details', (KS005,), {'full': True}),
    ('get_details', ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',), {}),
    ('get_details', ('not-an-eid',), {}),
    ('get_details', ([KS005, FLOWERS],), {}),
]


@pytest.mark.parametrize(('method', 'args', 'kwargs'), LISTINGS, ids=repr)
async def test_listing(
    one29_dir: Path, method: str, args: tuple[Any, ...], kwargs: dict[str, Any], wildcards: bool
) -> None:
    one = one_client(one29_dir)
    one.wildcards = wildcards
    async with AsyncOne(cache_dir=one29_dir, wildcards=wildcards) as aone:
        await compare(one, aone, method, *args, **kwargs)


async def test_unknown_session_lists_stay_lists(one29_dir: Path) -> None:
    """ONE returns an empty DataFrame for an unknown session even without details; []."""
    one = one_client(one29_dir)
    unknown = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
    assert len(one.list_datasets(unknown)) == 0
    async with AsyncOne(cache_dir=one29_dir) as aone:
        assert await aone.list_datasets(unknown) == []
        assert await aone.list_datasets([KS005, unknown]) == []
        assert (await aone.list_datasets(unknown, details=True)).height == 0


async def test_full_details_without_datasets(one29_dir: Path) -> None:
    """A session without datasets: one row of nulls with the session columns.

    ONE's pandas join gives that row an unnamed NaN index and an ``eid`` column; here the
    columns are ``eid``, ``id`` (null) as for any session.
    """
    theirs = norm(one_client(one29_dir).get_details(NO_DATASETS, full=True))
    async with AsyncOne(cache_dir=one29_dir) as aone:
        ours = norm(await aone.get_details(NO_DATASETS, full=True))
    assert theirs[1][:2] == ['index', 'eid']
    assert ours[1] == ['eid', 'id', *theirs[1][2:]]
    assert ours[2] == [{'id': None, **{k: v for k, v in theirs[2][0].items() if k != 'index'}}]


CONVERSIONS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ('to_eid', (KS005,), {}),
    ('to_eid', (uuid.UUID(KS005),), {}),
    ('to_eid', (f'https://alyx.example.org/sessions/{KS005}',), {}),
    ('to_eid', ('cortexlab/Subjects/KS005/2019-04-01/001',), {}),
    ('to_eid', (Path('/data/cortexlab/Subjects/KS005/2019-04-01/001/alf/x.y.npy'),), {}),
    ('to_eid', ('2019-04-01_1_KS005',), {}),
    ('to_eid', ({'subject': 'KS005', 'date': date(2019, 4, 1), 'sequence': 1},), {}),
    ('to_eid', ({'lab': 'cortexlab', 'subject': 'KS005', 'date': '2019-04-01', 'number': 1},), {}),
    ('to_eid', ([KS005, '2019-04-10_2_KS005'],), {}),
    ('to_eid', (None,), {}),
    ('to_eid', ('KS005/2030-01-01/001',), {}),
    ('to_eid', ('not an eid',), {}),
    ('to_eid', (12,), {}),
    ('eid2path', (KS005,), {}),
    ('eid2path', ([KS005, FLOWERS],), {}),
    ('eid2path', ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',), {}),
    ('eid2path', ('bad',), {}),
    ('path2eid', ('cortexlab/Subjects/KS005/2019-04-01/001',), {}),
    ('path2eid', (['cortexlab/Subjects/KS005/2019-04-01/001', 'x/y'],), {}),
    ('path2eid', (Path('/root/zadorlab/Subjects/flowers/2018-07-13/001'),), {}),
    ('eid2ref', (KS005,), {}),
    ('eid2ref', (KS005,), {'as_dict': False}),
    ('eid2ref', (KS005,), {'parse': False}),
    ('eid2ref', (KS005,), {'as_dict': False, 'parse': False}),
    ('eid2ref', ([KS005, FLOWERS],), {}),
    ('ref2eid', ('2019-04-01_1_KS005',), {}),
    ('ref2eid', ({'subject': 'flowers', 'date': date(2018, 7, 13), 'sequence': 1},), {}),
    ('ref2eid', (['2019-04-01_001_KS005', '2019-04-10_3_KS005'],), {}),
    ('ref2eid', ('2019-04-01_9_KS005',), {}),
    ('ref2path', ('2019-04-01_1_KS005',), {}),
    ('path2record', ('mainenlab/Subjects/ZM_1743/2019-06-14/001',), {}),
    ('path2record', (Path('cortexlab/Subjects/KS005/2019-04-01/001'),), {}),
    ('path2record', ('zadorlab/Subjects/nobody/2019-06-14/001',), {}),
]


@pytest.mark.parametrize(('method', 'args', 'kwargs'), CONVERSIONS, ids=repr)
async def test_conversions(
    one29_dir: Path, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    one = one_client(one29_dir)
    async with AsyncOne(cache_dir=one29_dir) as aone:
        expected = one.__class__  # keep a reference to the class for static calls
        assert expected is not None
        if method == 'path2record':
            # ONE returns a Series named by the index; one_async a dict with the index first
            theirs = getattr(one, method)(*args, **kwargs)
            ours = await getattr(aone, method)(*args, **kwargs)
            if theirs is None:
                assert ours is None
            else:
                assert norm(ours) == {'id': theirs.name, **norm(theirs)}
            return
        if method in ('eid2path', 'ref2path') or (
            method == 'to_eid' and isinstance(args[0], dict)
        ):
            aone.cache_dir = Path(one.cache_dir)
        await compare(one, aone, method, *args, **kwargs)


STATIC: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ('is_exp_ref', ('2018-07-13_001_flowers',), {}),
    ('is_exp_ref', ('invalid_ref',), {}),
    ('is_exp_ref', ({'subject': 'x', 'date': '2020-01-01', 'sequence': 1},), {}),
    ('is_exp_ref', (['2018-07-13_1_flowers', 'nope', 3],), {}),
    ('ref2dict', ('2018-07-13_1_flowers',), {}),
    ('ref2dict', ('2018-07-13_001_flowers',), {'parse': False}),
    ('ref2dict', (['2018-07-13_1_flowers', '2020-01-23_002_ibl_witten_01'],), {}),
    ('ref2dict', ({'date': '2020-01-01', 'sequence': '002', 'subject': 'x'},), {}),
    ('dict2ref', ({'subject': 'flowers', 'date': date(2018, 7, 13), 'sequence': 1},), {}),
    ('dict2ref', ({'subject': 'flowers', 'date': '2018-07-13', 'sequence': '001'},), {}),
    ('dict2ref', ({'subject': 'x', 'start_time': '2020-01-01T10:00:00', 'number': 2},), {}),
    ('dict2ref', ([{'subject': 'x', 'date': date(2020, 1, 1), 'number': 3}],), {}),
    ('dict2ref', ({},), {}),
    ('path2ref', ('/data/Subjects/zadorlab/flowers/2018-07-13/001',), {}),
    ('path2ref', ('/data/zadorlab/flowers/2018-07-13/001',), {'as_dict': False}),
    ('path2ref', ('/data/flowers/2018-07-13/001',), {'parse': False}),
    ('path2ref', ('/data/flowers/2018-07-13/02',), {}),
    ('path2ref', (['/a/b/2018-07-13/1', '/nothing'],), {}),
]


@pytest.mark.parametrize(('method', 'args', 'kwargs'), STATIC, ids=repr)
def test_static_converters(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    from one.api import One

    expected = call_one(One, method, *args, **kwargs)
    try:
        got = Outcome(getattr(AsyncOne, method)(*args, **kwargs))
    except Exception as exc:
        got = Outcome(error=exc)
    assert_same(expected, got, method)


# --- Alyx 3.6.1 tables ------------------------------------------------------------------------

ALYX_EID = '934bb3ea-c9a5-410c-b0df-c15b152535a0'
ALYX_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ('search', (), {}),
    ('search', (), {'subject': 'SWC_001'}),
    ('search', (), {'dataset': 'spikes'}),
    ('search', (), {'dataset': ['wheel', 'trials'], 'details': True}),
    ('search', (), {'date_range': ['2024-01-02', '2024-01-03'], 'number': 1}),
    ('list_subjects', (), {}),
    ('list_datasets', (), {}),
    ('list_datasets', (ALYX_EID,), {'details': True}),
    ('list_datasets', (ALYX_EID,), {'collection': 'alf/probe00'}),
    ('list_collections', (ALYX_EID,), {}),
    ('list_revisions', (), {}),
    ('get_details', (ALYX_EID,), {'full': True}),
    ('eid2ref', (ALYX_EID,), {}),
    ('ref2eid', ('2024-01-02_2_SWC_001',), {}),
]


@pytest.mark.parametrize(('method', 'args', 'kwargs'), ALYX_CALLS, ids=repr)
async def test_alyx_tables(
    alyx_dir: Path,
    alyx_as_one29_dir: Path,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """ONE 2.9.0 on the Alyx tables rewritten in its layout; one_async on both versions.

    On the original Alyx 3.6.1 layout (no ``session_path`` column) results are the same, less
    that column.
    """
    one = one_client(alyx_as_one29_dir)
    async with AsyncOne(cache_dir=alyx_as_one29_dir) as aone:
        expected = await compare(one, aone, method, *args, **kwargs)
    async with AsyncOne(cache_dir=alyx_dir) as original:
        got = await getattr(original, method)(*args, **kwargs)
    assert _without_session_path(norm(got)) == _without_session_path(norm(expected.value))


def _without_session_path(value: Any) -> Any:
    """ONE's result as it would be on the Alyx layout: no session_path, columns unordered."""
    if isinstance(value, tuple) and value and value[0] == 'table':
        _, columns, records = value
        keep = sorted(c for c in columns if c != 'session_path')
        return ('table', keep, [{k: r[k] for k in keep} for r in records])
    if isinstance(value, list):
        return [_without_session_path(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_session_path(v) for k, v in value.items() if k != 'session_path'}
    return value


async def test_alyx_original_layout_paths(alyx_dir: Path, alyx_as_one29_dir: Path) -> None:
    """Without a session_path column (Alyx 3.x), records and paths still resolve (ONE 2.9.0
    crashes on a str path and on the missing column)."""
    async with AsyncOne(cache_dir=alyx_dir) as aone:
        folder = 'testlab/Subjects/SWC_003/2024-01-04/001'
        record = await aone.path2record(f'{folder}/alf/probe00/spikes.times.npy')
        assert record is not None
        assert record['eid'] == ALYX_EID
        assert record['rel_path'] == 'alf/probe00/spikes.times.npy'
        assert await aone.record2path(record) == aone.cache_dir / folder / record['rel_path']
        assert await aone.path2record(folder) == {
            'id': ALYX_EID,
            **(await aone.get_details(ALYX_EID)),
        }


@pytest.mark.parametrize(
    ('method', 'arg'),
    [('ref2dict', '2018-07-13_1_flowers'), ('path2ref', '/data/zadorlab/flowers/2018-07-13/001')],
)
def test_references_read_as_attributes_like_ones_bunch(method: str, arg: str) -> None:
    from one.api import One

    ref, ones = getattr(AsyncOne, method)(arg), getattr(One, method)(arg)
    assert (ref.subject, ref.date, ref.sequence) == (ones.subject, ones.date, ones.sequence)


async def test_single_records_read_as_attributes_like_ones_series(one29_dir: Path) -> None:
    """ONE's local ``get_details`` and ``path2record`` give Series: ``det.subject`` works."""
    one = one_client(one29_dir)
    path = 'cortexlab/Subjects/KS005/2019-04-01/001'
    async with AsyncOne(cache_dir=one29_dir) as aone:
        det, rec = await aone.get_details(KS005), await aone.path2record(path)
    assert (det.subject, det.lab) == (one.get_details(KS005).subject, one.get_details(KS005).lab)
    assert (rec.subject, rec.number) == (one.path2record(path).subject, 1)
