"""``AsyncOne.setup`` / ``One.setup``: ONE's ``One.setup`` (index a folder) and
``OneAlyx.setup`` (record a database), returning a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from one_async import AsyncOne, InvalidArgument, One
from one_async.testing import demo_server, generate


@pytest.fixture
def alf_root(tmp_path: Path) -> Path:
    root = tmp_path / 'alf'
    generate(3, seed=11).write_files(root)
    return root


@pytest.mark.anyio
async def test_setup_indexes_a_folder_like_ones(alf_root: Path, tmp_path: Path) -> None:
    from one.api import One as One29

    async with await AsyncOne.setup(alf_root, silent=True) as one:
        assert one.mode == 'local'
        ours = {str(await one.eid2path(e)): await one.list_datasets(e) for e in await one.search()}
    theirs_root = tmp_path / 'copy'
    generate(3, seed=11).write_files(theirs_root)
    one29 = One29.setup(theirs_root, silent=True)
    theirs = {
        str(one29.eid2path(e)).replace(str(theirs_root), str(alf_root)): list(
            one29.list_datasets(e)
        )
        for e in one29.search()
    }
    assert ours == theirs


@pytest.mark.anyio
async def test_setup_keeps_existing_tables_when_silent(alf_root: Path) -> None:
    async with await AsyncOne.setup(alf_root, silent=True) as one:
        before = sorted(await one.search())
    extra = alf_root / 'lab' / 'Subjects' / 'new' / '2024-01-01' / '001' / 'alf'
    extra.mkdir(parents=True)
    (extra / 'spikes.times.npy').write_bytes(b'')
    async with await AsyncOne.setup(alf_root, silent=True) as one:
        assert sorted(await one.search()) == before  # not rebuilt


@pytest.mark.anyio
async def test_setup_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match='nowhere') as info:
        await AsyncOne.setup(tmp_path / 'nowhere', silent=True)
    assert info.value.value == str(tmp_path / 'nowhere')


def test_sync_setup_records_a_database_and_connects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    with demo_server(tmp_path / 'server', n_sessions=2) as alyx:
        info = alyx.info
        config = tmp_path / 'one_async.toml'
        one = One.setup(
            base_url=info.base_url,
            silent=True,
            cache_dir=tmp_path / 'cache',
            username=info.username,
            password=info.password,
            http_data_server=info.data_server_url,
            http_data_server_login=info.data_server_login,
            http_data_server_password=info.data_server_password,
            config_file=config,
        )
        with one:
            assert one.base_url == info.base_url
            assert len(one.search()) == 2
        assert info.base_url in config.read_text()
        local = One.setup(tmp_path / 'cache', silent=True)
        with local:
            assert local.mode == 'local'
