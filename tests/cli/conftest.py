"""A demo server the command line reaches through ``ONE_*`` variables, in a temporary home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from one_async.testing import LocalAlyx, demo_server


@pytest.fixture
def server(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAlyx]:
    with demo_server(tmp_path / 'server', n_sessions=3) as alyx:
        for name, value in alyx.info.environment().items():
            monkeypatch.setenv(name, value)
        yield alyx
