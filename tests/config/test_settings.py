"""Settings resolution: arguments, then ONE_* variables, then the config file, then ONE-api."""

from __future__ import annotations

import json
import logging
import os
import pickle
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from one_async import defaults
from one_async.alyx.retry import RetryPolicy
from one_async.config import (
    ENVIRONMENT_VARIABLES,
    OneSettings,
    database_for_cache_dir,
    resolve_settings,
    resolve_settings_async,
    user_config_dir,
)
from one_async.config import settings as settings_module
from one_async.exceptions import ConfigError, InvalidArgument, OneWarning

URL = 'https://alyx.example.org'
OTHER = 'https://other.example.org:8443'


def write_toml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_one_params(home: Path, key: str, params: dict[str, Any], cache: Path) -> None:
    """ONE-api parameter files as ONE 2.9.0 lays them out (``~/.one/.caches`` and ``.key``)."""
    root = home / '.one'
    root.mkdir(exist_ok=True)
    caches_path = root / '.caches'
    caches = json.loads(caches_path.read_text()) if caches_path.exists() else {'CLIENT_MAP': {}}
    caches['CLIENT_MAP'][key] = str(cache)
    caches.setdefault('DEFAULT', key)
    caches_path.write_text(json.dumps(caches))
    (root / f'.{key}').write_text(json.dumps(params))


# --- defaults and priorities -------------------------------------------------------------


def test_defaults_on_a_fresh_machine(home: Path) -> None:
    settings = resolve_settings()
    assert settings.base_url == defaults.DEFAULT_BASE_URL
    assert settings.username == defaults.DEFAULT_USERNAME
    assert settings.http_data_server == defaults.DEFAULT_HTTP_DATA_SERVER
    assert settings.cache_dir == home / 'Downloads' / 'ONE' / 'openalyx.internationalbrainlab.org'
    assert settings.password is None
    assert settings.token is None
    assert settings.mode == 'auto'
    assert settings.wildcards
    assert not settings.silent
    assert settings.download_concurrency == defaults.DOWNLOAD_CONCURRENCY
    assert settings.cache_expiry == defaults.CACHE_EXPIRY
    assert settings.tables_path == settings.cache_dir
    assert not (home / '.one').exists()  # nothing written anywhere
    assert not (home / '.config').exists()


def test_another_database_gets_its_own_cache_and_no_public_login(home: Path) -> None:
    settings = resolve_settings(base_url=OTHER + '/')
    assert settings.base_url == OTHER
    assert settings.database == 'other.example.org_8443'
    assert settings.cache_dir == home / 'Downloads' / 'ONE' / 'other.example.org_8443'
    assert settings.username is None
    assert settings.http_data_server is None


@pytest.mark.parametrize(
    ('name', 'file_value', 'env_value', 'arg_value', 'expected'),
    [
        ('download_concurrency', '3', '5', 7, (3, 5, 7)),
        ('username', '"file-user"', 'env-user', 'arg-user', ('file-user', 'env-user', 'arg-user')),
        ('mode', '"local"', 'remote', 'refresh', ('local', 'remote', 'refresh')),
        ('read_timeout', '1.5', '2.5', 3.5, (1.5, 2.5, 3.5)),
        ('wildcards', 'false', 'true', False, (False, True, False)),
    ],
)
def test_arguments_beat_variables_beat_the_file(
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    file_value: str,
    env_value: str,
    arg_value: Any,
    expected: tuple[Any, Any, Any],
) -> None:
    if name == 'username':
        text = f'default_database = "db"\n[databases.db]\nbase_url = "{URL}"\n'
        text += f'{name} = {file_value}\n'
    else:
        text = f'{name} = {file_value}\n'
    write_toml(config_file, text)
    assert getattr(resolve_settings(), name) == expected[0]
    monkeypatch.setenv(f'ONE_{name.upper()}', env_value)
    assert getattr(resolve_settings(), name) == expected[1]
    assert getattr(resolve_settings(**{name: arg_value}), name) == expected[2]
    assert getattr(resolve_settings(**{name: None}), name) == expected[1]  # None: not given


def test_the_file_beats_one_api_parameters(home: Path, config_file: Path) -> None:
    cache = home / 'one-cache'
    write_one_params(
        home,
        'alyx.example.org',
        {'ALYX_URL': URL, 'ALYX_LOGIN': 'one-user', 'HTTP_DATA_SERVER': 'https://files.one'},
        cache,
    )
    settings = resolve_settings()
    assert (settings.base_url, settings.username, settings.cache_dir) == (URL, 'one-user', cache)
    assert settings.http_data_server == 'https://files.one'
    write_toml(
        config_file,
        f'[databases."alyx.example.org"]\nbase_url = "{URL}"\nusername = "our-user"\n',
    )
    settings = resolve_settings(base_url=URL)
    assert settings.username == 'our-user'  # from our file
    assert settings.cache_dir == cache  # still from ONE-api: our file does not set it
    assert settings.http_data_server == 'https://files.one'


def test_every_setting_has_a_documented_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    samples: dict[str, tuple[str, Any]] = {
        'base_url': ('https://env.example.org/', 'https://env.example.org'),
        'username': ('envuser', 'envuser'),
        'password': ('envpass', SecretStr('envpass')),
        'token': ('envtoken', SecretStr('envtoken')),
        'cache_dir': ('/tmp/env-cache', Path('/tmp/env-cache')),
        'tables_dir': ('/tmp/env-tables', Path('/tmp/env-tables')),
        'http_data_server': ('https://files.example.org/', 'https://files.example.org'),
        'http_data_server_login': ('fileuser', 'fileuser'),
        'http_data_server_password': ('filepass', SecretStr('filepass')),
        'mode': ('local', 'local'),
        'wildcards': ('false', False),
        'silent': ('1', True),
        'cache_rest': ('no', False),
        'verify_tls': ('false', False),
        'download_concurrency': ('9', 9),
        'download_per_host': ('3', 3),
        'rest_page_concurrency': ('2', 2),
        'connect_timeout': ('1.5', 1.5),
        'read_timeout': ('2', 2.0),
        'retry_attempts': ('2', 2),
        'retry_initial_wait': ('0.5', 0.5),
        'retry_max_wait': ('4', 4.0),
        'retry_timeout': ('30', 30.0),
        'cache_expiry': ('3600', timedelta(hours=1)),
        'rest_cache_expiry': ('PT2H', timedelta(hours=2)),
    }
    assert set(samples) == set(OneSettings.model_fields)
    doc = settings_module.__doc__ or ''
    for name, (text, value) in samples.items():
        variable = f'ONE_{name.upper()}'
        assert variable in ENVIRONMENT_VARIABLES
        assert f'``{variable}``' in doc
        monkeypatch.setenv(variable, text)
        assert getattr(resolve_settings(), name) == value, variable
    assert '``ONE_CONFIG``' in doc


def test_empty_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('ONE_USERNAME', '')
    assert resolve_settings().username == defaults.DEFAULT_USERNAME


def test_one_api_download_threads_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('ONE_HTTP_DL_THREADS', '4')
    assert resolve_settings().download_concurrency == 4
    monkeypatch.setenv('ONE_DOWNLOAD_CONCURRENCY', '6')
    assert resolve_settings().download_concurrency == 6


def test_paths_are_absolute_and_expanded(home: Path, tmp_path: Path) -> None:
    settings = resolve_settings(cache_dir='~/data', tables_dir='rel')
    assert settings.cache_dir == home / 'data'
    assert settings.tables_dir == Path.cwd() / 'rel'
    assert settings.tables_path == Path.cwd() / 'rel'


# --- errors ----------------------------------------------------------------------------------


def test_unknown_settings_are_named() -> None:
    with pytest.raises(InvalidArgument, match="'cache_dri'") as info:
        resolve_settings(cache_dri='/x')
    assert info.value.value == 'cache_dri'


@pytest.mark.parametrize(
    ('name', 'value'),
    [
        ('download_concurrency', 0),
        ('mode', 'offline'),
        ('base_url', 'ftp://alyx.example.org'),
        ('read_timeout', -1),
        ('wildcards', 'perhaps'),
    ],
)
def test_invalid_arguments_are_named_with_their_value(name: str, value: Any) -> None:
    with pytest.raises(InvalidArgument, match=name) as info:
        resolve_settings(**{name: value})
    assert info.value.value == value
    assert repr(value) in str(info.value)


def test_invalid_variables_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('ONE_DOWNLOAD_CONCURRENCY', 'many')
    with pytest.raises(ConfigError, match='ONE_DOWNLOAD_CONCURRENCY') as info:
        resolve_settings()
    assert info.value.value == 'many'
    monkeypatch.delenv('ONE_DOWNLOAD_CONCURRENCY')
    monkeypatch.setenv('ONE_HTTP_DL_THREADS', 'lots')
    with pytest.raises(ConfigError, match='ONE_HTTP_DL_THREADS'):
        resolve_settings()


def test_invalid_file_values_name_the_file(config_file: Path) -> None:
    write_toml(config_file, 'retry_attempts = 0\n')
    with pytest.raises(ConfigError, match='retry_attempts') as info:
        resolve_settings()
    assert str(config_file) in str(info.value)
    assert info.value.value == 0


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('username = "me"\n', 'belongs to a database'),
        ('no_such_setting = 1\n', "Unknown setting 'no_such_setting'"),
        ('[databases.db]\nusername = "me"\n', 'has no base_url'),
        ('[databases.db]\nbase_url = "https://a.b"\nmode = "local"\n', 'Unknown setting'),
        ('default_database = "nope"\n', "default_database 'nope'"),
        ('databases = 3\n', 'table of tables'),
        ('this is not toml', 'not valid'),
    ],
)
def test_malformed_config_files_are_reported(config_file: Path, text: str, message: str) -> None:
    write_toml(config_file, text)
    with pytest.raises(ConfigError, match=message) as info:
        resolve_settings()
    assert str(config_file) in str(info.value)


def test_a_named_config_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / 'missing.toml'
    with pytest.raises(ConfigError, match='does not exist') as info:
        resolve_settings(config_file=missing)
    assert info.value.value == missing
    monkeypatch.setenv('ONE_CONFIG', str(missing))
    with pytest.raises(ConfigError, match='does not exist'):
        resolve_settings()


def test_one_config_variable_and_json_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / 'elsewhere' / 'one.json'
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                'download_per_host': 2,
                'default_database': 'db',
                'databases': {'db': {'base_url': URL, 'username': 'json-user'}},
            }
        )
    )
    monkeypatch.setenv('ONE_CONFIG', str(path))
    settings = resolve_settings()
    assert (settings.base_url, settings.username, settings.download_per_host) == (
        URL,
        'json-user',
        2,
    )


# --- databases ---------------------------------------------------------------------------


def test_the_database_is_selected_by_url_then_cache_then_default(
    config_file: Path, home: Path
) -> None:
    write_toml(
        config_file,
        f"""
        default_database = "other"
        download_concurrency = 12

        [databases.main]
        base_url = "{URL}"
        username = "main-user"
        cache_dir = "{home / 'main'}"

        [databases.other]
        base_url = "{OTHER}"
        username = "other-user"
        """.replace('\n        ', '\n'),
    )
    assert resolve_settings().username == 'other-user'  # the default database
    by_url = resolve_settings(base_url=URL + '/')
    assert (by_url.username, by_url.cache_dir) == ('main-user', home / 'main')
    by_cache = resolve_settings(cache_dir=home / 'main')
    assert (by_cache.base_url, by_cache.username) == (URL, 'main-user')
    unknown = resolve_settings(base_url='https://third.example.org')
    assert unknown.username is None
    # a folder that is no database's cache keeps the default database, as in ONE-api
    assert resolve_settings(cache_dir=home / 'local').base_url == OTHER
    assert {s.download_concurrency for s in (by_url, by_cache, unknown)} == {12}
    assert database_for_cache_dir(home / 'main') == 'main'
    assert database_for_cache_dir(home / 'elsewhere') is None


# --- secrets -----------------------------------------------------------------------------


SECRETS = {
    'password': 'hunter2-pw',
    'token': 'tok-3f9a1c',
    'http_data_server_password': 'fs-pw-77',
}


def test_secrets_never_show(caplog: pytest.LogCaptureFixture) -> None:
    settings = resolve_settings(base_url=URL, **SECRETS)
    assert settings.password is not None
    assert settings.password.get_secret_value() == SECRETS['password']
    logging.getLogger('one_async.test').warning('settings: %s %r', settings, settings)
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        json.dumps(settings.redacted()),
        str(settings.model_dump()),
        caplog.text,
    ]
    for text in shown:
        for secret in SECRETS.values():
            assert secret not in text
    assert settings.redacted()['password'] == '**********'


def test_secrets_never_show_in_errors(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve_settings(password=12345678)
    assert '12345678' not in str(info.value)
    assert info.value.value == '**********'
    context = info.value.__context__
    assert isinstance(context, ValidationError)
    assert '12345678' not in str(context)
    write_toml(
        config_file,
        '[databases.db]\nbase_url = "https://a.example.org"\npassword = 98765432\n',
    )
    config_file.chmod(0o600)
    with pytest.raises(ConfigError) as info2:
        resolve_settings(base_url='https://a.example.org')
    assert '98765432' not in str(info2.value)
    assert '98765432' not in str(info2.value.__context__)


@pytest.mark.skipif(os.name != 'posix', reason='file modes are POSIX')
def test_a_readable_file_with_a_password_is_warned_about(config_file: Path) -> None:
    write_toml(config_file, f'[databases.db]\nbase_url = "{URL}"\npassword = "pw-in-file"\n')
    config_file.chmod(0o644)
    with pytest.warns(OneWarning, match='chmod 600') as record:
        settings = resolve_settings(base_url=URL)
    assert 'pw-in-file' not in str(record[0].message)
    assert settings.password == SecretStr('pw-in-file')
    config_file.chmod(0o600)
    resolve_settings(base_url=URL)  # no warning (warnings are errors here)


# --- the settings object ------------------------------------------------------------------


def test_equal_inputs_give_equal_hashable_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    first = resolve_settings(base_url=URL, password='pw', download_concurrency=4)
    again = resolve_settings(download_concurrency=4, password='pw', base_url=URL + '/')
    assert first == again
    assert hash(first) == hash(again)
    cache = {first: 'session'}
    assert cache[again] == 'session'
    assert resolve_settings(base_url=URL, password='other', download_concurrency=4) != first
    assert resolve_settings(base_url=URL, password='pw', download_concurrency=5) != first
    monkeypatch.setenv('ONE_READ_TIMEOUT', '5')
    assert resolve_settings(base_url=URL, password='pw', download_concurrency=4) != first
    assert pickle.loads(pickle.dumps(first)) == first


def test_settings_are_frozen() -> None:
    settings = resolve_settings()
    with pytest.raises(ValidationError):
        settings.username = 'someone'  # type: ignore[misc]


def test_derived_objects() -> None:
    settings = resolve_settings(
        retry_attempts=3,
        retry_initial_wait=0.2,
        retry_max_wait=2,
        retry_timeout=9,
        read_timeout=7,
        connect_timeout=1,
    )
    assert settings.retry_policy() == RetryPolicy(
        attempts=3, initial_wait=0.2, max_wait=2.0, timeout=9.0
    )
    timeout = settings.http_timeout()
    assert (timeout.connect, timeout.read) == (1.0, 7.0)


@pytest.mark.anyio
async def test_async_resolution_gives_the_same_settings() -> None:
    assert await resolve_settings_async(base_url=URL) == resolve_settings(base_url=URL)


# --- where the files are -----------------------------------------------------------------


def test_user_config_dir_per_platform(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert user_config_dir() == home / '.config' / 'one_async'
    monkeypatch.delenv('XDG_CONFIG_HOME')
    assert user_config_dir() == home / '.config' / 'one_async'
    monkeypatch.setattr(sys, 'platform', 'darwin')
    assert user_config_dir() == home / 'Library' / 'Application Support' / 'one_async'
    monkeypatch.setattr(sys, 'platform', 'win32')
    monkeypatch.setenv('APPDATA', str(home / 'AppData' / 'Roaming'))
    assert user_config_dir() == home / 'AppData' / 'Roaming' / 'one_async'
