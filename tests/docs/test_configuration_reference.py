"""The configuration guide documents every setting of ``OneSettings``, and only those.

Its settings table must list each field with its ``ONE_*`` variable and the field's real default;
a field added, renamed or removed without the page following makes these tests fail.
"""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import PydanticUndefined

from one_async import OneSettings, defaults
from one_async.config import ENVIRONMENT_VARIABLES

PAGE = Path(__file__).resolve().parents[2] / 'docs' / 'guides' / 'configuration.md'
ROW = re.compile(r'^\|\s*`(?P<name>[a-z_]+)`\s*\|(?P<cells>.*)\|\s*$')
CODE = re.compile(r'`([^`]+)`')


def settings_table() -> dict[str, list[str]]:
    """The rows of the page's settings table: setting name -> its other cells."""
    text = PAGE.read_text(encoding='utf-8')
    section = text.split('\n## Settings\n', 1)[1].split('\n## ', 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            assert match['name'] not in rows, f'{match["name"]} documented twice'
            rows[match['name']] = [cell.strip() for cell in match['cells'].split('|')]
    return rows


TABLE = settings_table()
FIELDS = OneSettings.model_fields


def comparable(value: Any) -> Any:
    """A default as the page writes it: durations in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else value


def test_every_setting_is_documented_and_nothing_else() -> None:
    assert set(FIELDS) - set(TABLE) == set(), 'settings missing from the page'
    assert set(TABLE) - set(FIELDS) == set(), 'the page documents settings that do not exist'


@pytest.mark.parametrize('name', sorted(FIELDS))
def test_row_names_the_variable_and_the_real_default(name: str) -> None:
    variable, kind, default, meaning = TABLE[name]
    assert f'`ONE_{name.upper()}`' in variable
    assert kind
    assert meaning
    field_default = FIELDS[name].default
    first = CODE.match(default)
    if field_default is None:
        assert default.startswith('none'), f'{name}: default is None, the page says {default}'
    elif field_default is PydanticUndefined:
        assert first is None or '<' in first[1]  # a derived default, described in words
    else:
        assert first is not None, f'{name}: the default {field_default!r} is not shown as code'
        assert ast.literal_eval(first[1]) == comparable(field_default)
    for constant in re.findall(r'\(`([A-Z_]+)`\)', default):
        assert comparable(getattr(defaults, constant)) == comparable(field_default), constant


def test_every_environment_variable_is_on_the_page() -> None:
    text = PAGE.read_text(encoding='utf-8')
    missing = [name for name in ENVIRONMENT_VARIABLES if f'`{name}`' not in text]
    assert missing == []
