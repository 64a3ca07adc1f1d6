"""``One`` and ``ONE()``: a ONE-api 2.9.0 script works after changing only its import."""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import one_async
from one_async import ONE, One
from one_async.cache import build_cache
from one_async.sync import missing_declarations
from one_async.testing.generate import generate


@pytest.fixture(scope='module')
def alf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('alf')
    generate(8, seed=5, revision_fraction=0.3).write_files(root)
    build_cache(root, hash=True)
    return root


def user_script(ONE: Any, cache_dir: Path) -> dict[str, Any]:
    """A script written for ONE-api 2.9.0; only the module ``ONE`` comes from differs."""
    one = ONE(cache_dir=cache_dir)
    out: dict[str, Any] = {}
    out['eids'] = [str(e) for e in one.search()]
    out['subjects'] = one.list_subjects()
    eid = out['eids'][0]
    out['trials_eids'] = [str(e) for e in one.search(dataset='trials')]
    out['datasets'] = one.list_datasets(eid)
    out['collections'] = sorted(one.list_collections(eid))
    out['revisions'] = sorted(one.list_revisions(eid))
    out['alf'] = one.list_datasets(eid, collection='alf')
    trials = one.load_object(eid, 'trials')
    out['trials'] = {k: np.asarray(v) for k, v in trials.items()}
    out['ref'] = one.eid2ref(eid)
    out['path'] = one.eid2path(eid)
    out['path2eid'] = str(one.path2eid(out['path']))
    return out


def test_a_one_script_runs_unchanged(alf_root: Path) -> None:
    from one.api import ONE as OneApiONE

    theirs = user_script(OneApiONE, alf_root)
    ours = user_script(ONE, alf_root)
    for key in ('eids', 'subjects', 'trials_eids', 'datasets', 'collections', 'revisions', 'alf'):
        assert ours[key] == theirs[key], key
    assert dict(ours['ref']) == dict(theirs['ref'])
    assert Path(ours['path']) == Path(theirs['path'])
    assert ours['path2eid'] == theirs['path2eid']
    assert ours['trials'].keys() == theirs['trials'].keys()
    for key, value in theirs['trials'].items():
        np.testing.assert_array_equal(ours['trials'][key], value)


def test_every_async_method_is_declared() -> None:
    assert missing_declarations(One) == []
    assert one_async.One is One


def test_factory_returns_the_same_session_for_the_same_arguments(alf_root: Path) -> None:
    first = ONE(cache_dir=alf_root)
    assert ONE(cache_dir=alf_root) is first
    assert first.mode == 'local'
    ONE.cache_clear()  # type: ignore[attr-defined]
    second = ONE(cache_dir=alf_root)
    assert second is not first
    assert second.search() == first.search()
    first.close()
    second.close()
    third = ONE(cache_dir=alf_root)
    assert third is not second, 'a closed session is never handed out again'
    third.close()


def test_sync_calls_work_inside_a_running_event_loop(alf_root: Path) -> None:
    """As in Jupyter, where the notebook's own loop is running in the calling thread."""
    with One(cache_dir=alf_root, mode='local') as one:
        expected = one.search()

        async def notebook_cell() -> list[str]:
            result: list[str] = one.search()
            return result

        assert asyncio.run(notebook_cell()) == expected


def test_sync_calls_from_several_threads(alf_root: Path) -> None:
    with One(cache_dir=alf_root, mode='local') as one:
        eids = one.search()
        results: dict[int, list[str]] = {}

        def work(i: int) -> None:
            results[i] = one.list_datasets(eids[i % len(eids)])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, listed in results.items():
            assert listed == one.list_datasets(eids[i % len(eids)])
        assert len(results) == 8


def test_closed_session_refuses_calls(alf_root: Path) -> None:
    one = One(cache_dir=alf_root, mode='local')
    one.close()
    with pytest.raises(one_async.SyncCallError, match='closed'):
        one.search()


def test_repr_is_one_apis(alf_root: Path) -> None:
    from one.api import One as OneApiOne

    with One(cache_dir=alf_root, mode='local') as ours:
        theirs = OneApiOne(cache_dir=alf_root, mode='local')
        assert repr(ours) == repr(theirs) == f'One (offline, {alf_root})'
        assert str(ours) == str(theirs)
    assert 'closed' in repr(ours)


def test_load_datasets_refuses_a_table_with_a_typed_error(alf_root: Path) -> None:
    """A details table is not a list of datasets (ONE 2.9 fails too, with a misleading
    ALFObjectNotFound naming the columns); polars' own error used to leak out."""
    from one_async.exceptions import ArgumentTypeError

    with One(cache_dir=alf_root, mode='local') as one:
        eid = one.search(dataset='trials')[0]
        table = one.list_datasets(eid, details=True)
        with pytest.raises(ArgumentTypeError, match='rel_path') as caught:
            one.load_datasets(eid, table)
        assert isinstance(caught.value, TypeError)
        defaults = zip(table['rel_path'], table['default_revision'], strict=True)
        names = [path for path, default in defaults if default][:2]
        data, records = one.load_datasets(eid, names)
        assert data is not None
        assert [r['rel_path'] for r in records if r is not None] == names


def test_static_converters_work_on_the_class_and_instances() -> None:
    from one.api import One as OneApiOne

    ref = '2021-10-26_1_DY_001'
    assert One.ref2dict(ref) == OneApiOne.ref2dict(ref)
    assert One.is_exp_ref(ref) is OneApiOne.is_exp_ref(ref) is True
    for parts in (
        {'subject': 'DY_001', 'date': date(2021, 10, 26), 'sequence': 1},
        {'subject': 'DY_001', 'date': '2021-10-26', 'sequence': '1'},
    ):
        assert One.dict2ref(parts) == OneApiOne.dict2ref(parts) == ref
    path = '/data/lab/Subjects/DY_001/2021-10-26/001'
    assert dict(One.path2ref(path)) == dict(OneApiOne.path2ref(path))


def test_a_local_session_has_no_alyx_attribute_as_in_one_api(alf_root: Path) -> None:
    from one.api import One as OneApiOne

    from one_async.exceptions import LocalModeError, NoServerError

    theirs = OneApiOne(cache_dir=alf_root, mode='local')
    with One(cache_dir=alf_root, mode='local') as ours:
        assert hasattr(ours, 'alyx') is hasattr(theirs, 'alyx') is False
        assert getattr(ours, 'alyx', None) is None
        with pytest.raises(LocalModeError, match='no Alyx server') as caught:
            ours.alyx  # noqa: B018
        assert isinstance(caught.value, NoServerError)
