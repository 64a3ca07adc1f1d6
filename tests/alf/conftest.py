"""Fixtures of the ALF io tests: a ONE-layout session on a real file system."""

from __future__ import annotations

from pathlib import Path

import pytest

from .io_helpers import make_session


@pytest.fixture
def session_path(tmp_path: Path) -> Path:
    return make_session(tmp_path / 'mainenlab' / 'Subjects' / 'ZM_1' / '2020-01-01' / '001')


@pytest.fixture
def alf_path(session_path: Path) -> Path:
    return session_path / 'alf'
