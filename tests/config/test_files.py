"""The configuration file format: TOML written by one_async, read back by the standard reader."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from one_async.config.files import (
    config_path,
    dumps_toml,
    read_config_file,
    write_config_file,
)
from one_async.exceptions import ConfigError

tomllib = pytest.importorskip('tomllib')  # Python >= 3.11 reads TOML without a dependency

keys = st.text(min_size=1, max_size=12)
scalars = st.one_of(
    st.text(max_size=30),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(keys, scalars, max_size=5),
    st.dictionaries(keys, st.dictionaries(keys, scalars, max_size=4), max_size=3),
)
def test_toml_round_trip(shared: dict[str, Any], databases: dict[str, dict[str, Any]]) -> None:
    shared.pop('databases', None)
    content: dict[str, Any] = {**shared, 'databases': databases}
    assert tomllib.loads(dumps_toml(content)) == content


def test_special_values_are_stored_as_plain_text_numbers_and_strings(tmp_path: Path) -> None:
    content = {
        'cache_expiry': timedelta(hours=2),
        'infinite': math.inf,
        'databases': {'a.b': {'cache_dir': tmp_path / 'x', 'password': SecretStr('pw')}},
        'skipped': None,
    }
    parsed = tomllib.loads(dumps_toml(content))
    assert parsed == {
        'cache_expiry': 7200.0,
        'infinite': math.inf,
        'databases': {'a.b': {'cache_dir': str(tmp_path / 'x'), 'password': 'pw'}},
    }


def test_values_that_cannot_be_stored() -> None:
    with pytest.raises(ConfigError, match='Cannot store x = list'):
        dumps_toml({'x': [1, 2]})


@pytest.mark.parametrize('name', ['config.toml', 'config.json'])
def test_atomic_write_and_read_back(tmp_path: Path, name: str) -> None:
    path = tmp_path / 'folder' / name
    content = {'download_concurrency': 3, 'databases': {'db': {'base_url': 'https://a.b'}}}
    write_config_file(path, content, secret=False)
    assert read_config_file(path) == content
    if name.endswith('.json'):
        assert json.loads(path.read_text()) == content
    assert path.stat().st_mode & 0o777 == 0o644
    write_config_file(path, {'databases': {'db': {'password': 'x'}}}, secret=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary file left


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    assert read_config_file(tmp_path / 'none.toml') is None
    bad = tmp_path / 'bad.json'
    bad.write_text('[1]')
    with pytest.raises(ConfigError, match='not a table') as info:
        read_config_file(bad)
    assert info.value.value == bad
    binary = tmp_path / 'binary.toml'
    binary.write_bytes(b'\xff\xfe')
    with pytest.raises(ConfigError, match='not valid'):
        read_config_file(binary)


def test_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    assert config_path() == home / '.config' / 'one_async' / 'config.toml'
    monkeypatch.setenv('ONE_CONFIG', '~/one.toml')
    assert config_path() == home / 'one.toml'
    assert config_path(tmp_path / 'x.json') == tmp_path / 'x.json'
