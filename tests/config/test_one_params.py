"""Reading ONE-api's configuration: checked against ONE-api 2.9.0 writing and reading it."""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from one_async.config import client_key, one_params_dir, read_one_params, resolve_settings
from one_async.exceptions import ConfigError, OneWarning

URL = 'https://alyx.example.org'
SECOND = 'http://localhost:8000'


def one_setup(one_api: Any, url: str, cache_dir: Path, username: str) -> None:
    """Configure a database the way a ONE-api user does (silently)."""
    with warnings.catch_warnings():
        # ONE warns when another database is already configured; expected here.
        warnings.filterwarnings('ignore', 'Warning: the directory provided', UserWarning)
        one_api.setup(client=url, silent=True, username=username, cache_dir=cache_dir)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob('*'))
        if p.is_file()
    }


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=40),
        st.builds(
            lambda scheme, host, rest: f'{scheme}{host}{rest}',
            st.sampled_from(['http://', 'https://', 'HTTPS://', '']),
            st.from_regex(r'[A-Za-z0-9.\-]{1,20}', fullmatch=True),
            st.text(max_size=15),
        ),
    )
)
def test_client_key_matches_one_api(url: str) -> None:
    import one.params

    assert client_key(url) == one.params._key_from_url(url)


def test_a_one_api_users_setup_works_unchanged(one_api: Any, home: Path) -> None:
    main_cache, second_cache = home / 'data' / 'main', home / 'data' / 'second'
    one_setup(one_api, URL, main_cache, 'alice')
    one_setup(one_api, SECOND, second_cache, 'bob')
    before = snapshot(home / '.one')

    default = resolve_settings()  # ONE's default database: the first one set up
    one_default = one_api.get()
    assert default.base_url == one_default.ALYX_URL == URL
    assert default.username == one_default.ALYX_LOGIN == 'alice'
    assert default.cache_dir == Path(one_default.CACHE_DIR) == main_cache
    assert default.http_data_server == one_default.HTTP_DATA_SERVER.rstrip('/')

    second = resolve_settings(base_url=SECOND)
    one_second = one_api.get(SECOND)
    assert second.base_url == one_second.ALYX_URL == SECOND
    assert second.username == one_second.ALYX_LOGIN == 'bob'
    assert second.cache_dir == Path(one_second.CACHE_DIR) == second_cache
    assert second.http_data_server_login == one_second.HTTP_DATA_SERVER_LOGIN
    assert second.http_data_server_password is None

    assert snapshot(home / '.one') == before  # read only


def test_the_cached_token_of_the_user_is_used(one_api: Any) -> None:
    one_setup(one_api, URL, Path.home() / 'c', 'alice')
    params = one_api.get(URL)
    tokens = {'alice': {'token': 'alice-token-1'}, 'carol': {'token': 'carol-token-2'}}
    one_api.save(params.set('TOKEN', tokens), URL)  # as AlyxClient caches tokens

    settings = resolve_settings(base_url=URL)
    assert settings.token == SecretStr('alice-token-1')
    assert resolve_settings(base_url=URL, username='carol').token == SecretStr('carol-token-2')
    assert resolve_settings(base_url=URL, username='dave').token is None
    assert 'alice-token-1' not in repr(settings) + str(settings)


def test_passwords_stored_by_hand_are_read(home: Path, one_api: Any) -> None:
    one_setup(one_api, URL, home / 'c', 'alice')
    path = home / '.one' / '.alyx.example.org'
    content = json.loads(path.read_text())
    content.update(ALYX_PWD='alyx-pw', HTTP_DATA_SERVER_LOGIN='fs', HTTP_DATA_SERVER_PWD='fs-pw')
    path.write_text(json.dumps(content))
    settings = resolve_settings()
    assert settings.password == SecretStr('alyx-pw')
    assert settings.http_data_server_login == 'fs'
    assert settings.http_data_server_password == SecretStr('fs-pw')


def test_the_cache_folder_selects_its_database(one_api: Any, home: Path) -> None:
    # ONE-api 2.9.0 would use its default database here; a database's own cache folder
    # selects that database instead.
    one_setup(one_api, URL, home / 'main', 'alice')
    one_setup(one_api, SECOND, home / 'second', 'bob')
    settings = resolve_settings(cache_dir=home / 'second')
    assert (settings.base_url, settings.username) == (SECOND, 'bob')
    # A folder that is no database's cache keeps the default database.
    assert resolve_settings(cache_dir=home / 'local').base_url == URL


def test_database_map_entries_without_params_file(home: Path) -> None:
    root = home / '.one'
    root.mkdir()
    (root / '.caches').write_text(
        json.dumps({'CLIENT_MAP': {'alyx.example.org': str(home / 'x')}, 'DEFAULT': None})
    )
    params = read_one_params()
    assert params.exists
    assert params.default is None
    assert params.database('alyx.example.org') is None
    settings = resolve_settings(base_url=URL)
    assert settings.cache_dir == home / 'x'


def test_windows_paths_on_posix_are_ignored_with_a_warning(home: Path) -> None:
    if sys.platform == 'win32':
        pytest.skip('a Windows path is valid on Windows')
    root = home / '.one'
    root.mkdir()
    caches = {
        'CLIENT_MAP': {
            'alyx.example.org': 'C:\\Users\\me\\Downloads\\ONE\\alyx.example.org',
            'unc.example.org': '\\\\server\\share\\ONE',
            'posix.example.org': str(home / 'ok'),
        },
        'DEFAULT': 'alyx.example.org',
    }
    (root / '.caches').write_text(json.dumps(caches))
    with pytest.warns(OneWarning, match='Windows path') as record:
        params = read_one_params()
    assert len(record) == 2
    assert params.caches == {'posix.example.org': home / 'ok'}


def test_the_params_folder_on_windows(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert one_params_dir() == home / '.one'
    monkeypatch.setattr(sys, 'platform', 'win32')
    monkeypatch.setenv('APPDATA', str(home / 'AppData'))
    assert one_params_dir() == home / 'AppData' / '.one'
    folder = home / 'AppData' / '.one'
    folder.mkdir(parents=True)
    (folder / '.caches').write_text(
        json.dumps(
            {'CLIENT_MAP': {'alyx.example.org': str(home / 'c')}, 'DEFAULT': 'alyx.example.org'}
        )
    )
    (folder / '.alyx.example.org').write_text(json.dumps({'ALYX_URL': URL, 'ALYX_LOGIN': 'w'}))
    settings = resolve_settings()
    assert (settings.base_url, settings.username, settings.cache_dir) == (URL, 'w', home / 'c')


@pytest.mark.parametrize('content', ['{not json', '[1, 2]'])
def test_broken_params_files_are_named(home: Path, content: str) -> None:
    root = home / '.one'
    root.mkdir()
    (root / '.caches').write_text(content)
    with pytest.raises(ConfigError, match=r'\.caches') as info:
        resolve_settings()
    assert info.value.value == root / '.caches'


def test_an_explicit_params_folder(tmp_path: Path) -> None:
    folder = tmp_path / 'params'
    folder.mkdir()
    (folder / '.caches').write_text(
        json.dumps(
            {
                'CLIENT_MAP': {'alyx.example.org': str(tmp_path / 'c')},
                'DEFAULT': 'alyx.example.org',
            }
        )
    )
    (folder / '.alyx.example.org').write_text(json.dumps({'ALYX_URL': URL}))
    assert resolve_settings(one_params_dir=folder).base_url == URL
    assert resolve_settings().base_url != URL
