"""The public face of ``one_async.testing``: what a user's own test suite imports."""

from __future__ import annotations

from pathlib import Path

import one_async.testing as testing
from one_async import ONE


def test_all_names_are_exported() -> None:
    exported = {name for name in dir(testing) if not name.startswith('_')}
    assert set(testing.__all__) <= exported
    for name in testing.__all__:
        assert getattr(testing, name).__module__.startswith('one_async.testing')


def test_session_kwargs_connect_the_sync_facade_to_a_demo_server(tmp_path: Path) -> None:
    with testing.demo_server(tmp_path / 'server', n_sessions=2) as alyx:
        kwargs = alyx.info.session_kwargs()
        assert kwargs['base_url'] == alyx.info.base_url
        one = ONE(**kwargs, cache_dir=tmp_path / 'cache')
        try:
            eids = one.search()
            assert sorted(eids) == sorted(alyx.store.table('sessions')['id'].to_list())
            trials = one.load_object(eids[0], 'trials')
            assert len(trials['choice']) > 0
            # the files came over the data server (Basic auth from session_kwargs)
            assert any((tmp_path / 'cache').rglob('_ibl_trials.*'))
        finally:
            one.close()
            ONE.cache_clear()
