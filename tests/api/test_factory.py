"""``make_session``: ONE-api's ``ONE()`` rule for which session a set of arguments asks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from one_async.api.factory import make_session
from one_async.testing import generate


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    generate(2, seed=3).write_tables(tmp_path)
    return tmp_path


@pytest.mark.anyio
async def test_a_cache_dir_alone_is_a_local_session(cache_dir: Path) -> None:
    async with make_session(cache_dir=cache_dir) as one:
        assert one.mode == 'local'
        assert not one.has_server


@pytest.mark.anyio
async def test_offline_true_still_means_local_mode_with_a_deprecation_warning(
    cache_dir: Path,
) -> None:
    with pytest.warns(DeprecationWarning, match='offline'):
        one = make_session(cache_dir=cache_dir, mode='auto', offline=True)
    async with one:
        assert one.mode == 'local'
        assert len(await one.search()) == 2
    async with make_session(cache_dir=cache_dir, offline=False) as one:  # no warning
        assert one.mode == 'local'
