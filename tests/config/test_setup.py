"""setup(): recording a database in the configuration file, asking only when interactive."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from one_async.config import is_interactive, resolve_settings, setup
from one_async.config.files import read_config_file
from one_async.exceptions import InvalidArgument

URL = 'https://alyx.example.org'
OTHER = 'https://other.example.org'


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """Pretend standard input is a terminal; ``input()`` pops the queued answers."""
    queued: list[str] = []
    prompts: list[str] = []

    def fake_input(prompt: str = '') -> str:
        prompts.append(prompt)
        if not queued:
            raise AssertionError(f'unexpected prompt {prompt!r}')
        return queued.pop(0)

    monkeypatch.setattr(sys, 'stdin', Terminal())
    monkeypatch.setattr('builtins.input', fake_input)
    return queued, prompts


@pytest.fixture
def no_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(prompt: str = '') -> str:
        raise AssertionError(f'prompted {prompt!r}')

    monkeypatch.setattr('builtins.input', refuse)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.usefixtures('no_prompt')
def test_silent_setup_records_the_database(config_file: Path, home: Path) -> None:
    settings = setup(URL, username='alice', silent=True)
    assert (settings.base_url, settings.username) == (URL, 'alice')
    assert settings.cache_dir == home / 'Downloads' / 'ONE' / 'alyx.example.org'
    assert settings.cache_dir.is_dir()
    assert read_config_file(config_file) == {
        'default_database': 'alyx.example.org',
        'databases': {
            'alyx.example.org': {
                'base_url': URL,
                'username': 'alice',
                'cache_dir': str(settings.cache_dir),
            }
        },
    }
    if os.name == 'posix':
        assert mode(config_file) == 0o644  # no secret in it
    assert resolve_settings() == settings  # now the default


@pytest.mark.usefixtures('no_prompt')
def test_no_prompt_without_a_terminal(monkeypatch: pytest.MonkeyPatch, config_file: Path) -> None:
    monkeypatch.setattr(sys, 'stdin', io.StringIO())
    assert not is_interactive()
    monkeypatch.setattr(sys, 'stdin', None)
    assert not is_interactive()
    setup(URL, username='bob')  # not silent, but nobody to ask
    assert resolve_settings().username == 'bob'


@pytest.mark.usefixtures('no_prompt')
def test_silent_never_prompts_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, 'stdin', Terminal())
    assert is_interactive()
    setup(URL, silent=True)
    assert resolve_settings().base_url == URL


@pytest.mark.usefixtures('no_prompt')
def test_the_silent_variable_never_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, 'stdin', Terminal())
    monkeypatch.setenv('ONE_SILENT', 'true')
    setup(URL, username='gina')
    assert resolve_settings().username == 'gina'


@pytest.mark.usefixtures('no_prompt')
def test_passwords_make_the_file_private_and_never_print(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = setup(URL, username='alice', password='s3cret-pw', silent=True)
    assert settings.password == SecretStr('s3cret-pw')
    if os.name == 'posix':
        assert mode(config_file) == 0o600
        assert mode(config_file.parent) == 0o700
    output = capsys.readouterr()
    assert 's3cret-pw' not in output.out + output.err
    assert 's3cret-pw' not in repr(settings)
    # Adding another database keeps the file private: it still holds the password.
    setup(OTHER, silent=True)
    if os.name == 'posix':
        assert mode(config_file) == 0o600


@pytest.mark.usefixtures('no_prompt')
def test_several_databases_and_the_default(config_file: Path, home: Path) -> None:
    setup(URL, username='alice', silent=True)
    setup(OTHER, username='bob', cache_dir=home / 'other', silent=True)
    assert resolve_settings().base_url == URL  # the first stays the default
    assert resolve_settings(base_url=OTHER).cache_dir == home / 'other'
    setup(OTHER, make_default=True, silent=True)
    assert resolve_settings().base_url == OTHER
    assert resolve_settings().username == 'bob'  # kept from the earlier setup
    assert resolve_settings(base_url=URL).username == 'alice'


@pytest.mark.usefixtures('no_prompt')
def test_shared_and_database_settings(config_file: Path, home: Path) -> None:
    setup(
        URL,
        silent=True,
        download_concurrency=8,
        http_data_server='https://files.example.org',
        tables_dir=home / 'tables',
    )
    raw = read_config_file(config_file)
    assert raw is not None
    assert raw['download_concurrency'] == 8
    assert raw['databases']['alyx.example.org']['http_data_server'] == 'https://files.example.org'
    settings = resolve_settings()
    assert settings.download_concurrency == 8
    assert settings.tables_path == home / 'tables'


@pytest.mark.usefixtures('no_prompt')
@pytest.mark.parametrize(
    ('kwargs', 'name'),
    [
        ({'base_url': 'ftp://nope'}, 'ftp://nope'),
        ({'download_concurrency': 0}, 'download_concurrency'),
        ({'no_such_setting': 1}, 'no_such_setting'),
    ],
)
def test_invalid_values_write_nothing(
    config_file: Path, kwargs: dict[str, Any], name: str
) -> None:
    with pytest.raises(InvalidArgument, match=name):
        setup(silent=True, **kwargs)
    assert not config_file.exists()


def test_interactive_setup_asks_and_confirms(
    answers: tuple[list[str], list[str]], config_file: Path, home: Path
) -> None:
    queued, prompts = answers
    queued += ['alyx.example.org', 'carol', str(home / 'c'), '', 'y']
    settings = setup()
    assert (settings.base_url, settings.username, settings.cache_dir) == (URL, 'carol', home / 'c')
    assert len(prompts) == 5
    assert prompts[0].startswith('Alyx database URL [https://openalyx')
    assert 'Alyx login' in prompts[1]
    assert 'Cache folder' in prompts[2]
    assert 'default database' in prompts[3]
    assert 'correct' in prompts[4]
    assert resolve_settings() == settings


def test_interactive_setup_can_be_abandoned(
    answers: tuple[list[str], list[str]], config_file: Path
) -> None:
    queued, _ = answers
    queued += [URL, 'dave', '', 'n', 'n']
    setup()
    assert not config_file.exists()


def test_interactive_setup_warns_about_a_shared_cache_folder(
    answers: tuple[list[str], list[str]], home: Path
) -> None:
    queued, prompts = answers
    setup(URL, cache_dir=home / 'shared', silent=True)
    # Another database in the same folder: asked to choose another one, which we do.
    queued += [OTHER, 'erin', str(home / 'shared'), 'y', str(home / 'own'), 'n', 'y']
    settings = setup()
    assert settings.cache_dir == home / 'own'
    assert any('Choose another folder' in p for p in prompts)
    assert resolve_settings().base_url == URL  # answered no to making it the default


@pytest.mark.usefixtures('no_prompt')
def test_one_api_files_are_never_modified(home: Path, one_api: Any) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', 'Warning: the directory provided', UserWarning)
        one_api.setup(client=URL, silent=True, username='alice', cache_dir=home / 'one-cache')
    before = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (home / '.one').iterdir()}
    settings = setup(URL, silent=True)
    assert settings.cache_dir == home / 'one-cache'  # ONE-api's folder is kept
    assert settings.username == 'alice'
    after = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (home / '.one').iterdir()}
    assert after == before


@pytest.mark.usefixtures('no_prompt')
def test_json_config_file(tmp_path: Path) -> None:
    path = tmp_path / 'one.json'
    setup(URL, username='frank', silent=True, config_file=path)
    content = json.loads(path.read_text())
    assert content['databases']['alyx.example.org']['username'] == 'frank'
    assert resolve_settings(config_file=path).username == 'frank'
