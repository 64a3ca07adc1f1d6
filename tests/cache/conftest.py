"""Fixtures of the cache tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from cache_support import unzip_alyx_cache


@pytest.fixture
def alyx_dir(tmp_path: Path) -> Path:
    """The tables of the real Alyx 3.6.1 ``cache.zip``, unzipped."""
    return unzip_alyx_cache(tmp_path / 'alyx')
