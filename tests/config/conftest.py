"""Every configuration test runs with a temporary home and configuration folder and no ONE_*
variables, so the real user's files are never read nor written."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(home: Path) -> Path:
    """The root conftest's ``home``, for every test here."""
    return home


@pytest.fixture
def config_file(home: Path) -> Path:
    """The default location of one_async's configuration file in the temporary home."""
    return home / '.config' / 'one_async' / 'config.toml'


@pytest.fixture
def one_api(home: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """ONE-api 2.9.0's params module, writing under the temporary home only."""
    import one.params

    # ONE computes its default download folder at import, from the real home.
    monkeypatch.setattr(one.params, 'CACHE_DIR_DEFAULT', str(home / 'Downloads' / 'ONE'))
    return one.params
