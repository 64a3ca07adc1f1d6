"""The README's main job: ``one-async demo`` runs end to end on embedded data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from one_async.alf.io import load_object
from one_async.cli import app
from one_async.cli.demo import run_demo


@pytest.mark.anyio
async def test_demo_downloads_verified_files_and_loads_an_object(tmp_path: Path) -> None:
    summary = await run_demo(tmp_path, n_sessions=4, progress=False, echo=lambda _: None)
    assert summary.matched, 'the generator makes ephys sessions'
    assert summary.report is not None
    assert summary.report.ok
    assert summary.report.downloaded > 0
    assert {'sessions.pqt', 'datasets.pqt'} <= set(summary.cache_tables)
    for result in summary.report.results:
        assert result.path is not None
        server_copy = tmp_path / 'server' / result.path.relative_to(tmp_path / 'cache')
        assert result.path.read_bytes() == server_copy.read_bytes()
        if result.item.md5:
            assert hashlib.md5(result.path.read_bytes()).hexdigest() == result.item.md5
    assert summary.loaded_object == 'trials'
    paths = [p for p in summary.report.paths if p is not None]
    trials_file = next(p for p in paths if p.name.endswith('trials.table.pqt'))
    trials = load_object(trials_file.parent, 'trials')
    assert summary.loaded_attributes['choice'] == np.asarray(trials['choice']).shape


def test_cli_demo_prints_a_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ['demo', '--sessions', '3', '--workdir', str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert 'downloaded' in result.output
    assert '0 failed' in result.output
