"""``one-async download`` against a local Alyx over real sockets, configured by environment."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from one_async.cli import app
from one_async.testing.faults import FaultPlan, Faults
from one_async.testing.server import LocalAlyx

runner = CliRunner()


def test_download_fetches_verified_files(server: LocalAlyx, tmp_path: Path) -> None:
    cache = tmp_path / 'cache'
    sessions = runner.invoke(app, ['search', '--cache-dir', str(cache), '--json'])
    assert sessions.exit_code == 0, sessions.output
    eids = json.loads(sessions.output)
    assert eids
    args = ['download', eids[0], '--cache-dir', str(cache), '--collection', 'alf', '--json']
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report['downloaded'] > 0
    assert report['failed'] == []
    files = [p for p in cache.rglob('*') if p.is_file() and 'Subjects' in p.parts]
    assert len(files) == report['downloaded']
    for path in files:
        assert path.parent.name == 'alf' or path.parent.parent.name == 'alf'
        served = tmp_path / 'server' / path.relative_to(cache)
        assert hashlib.md5(path.read_bytes()).digest() == hashlib.md5(served.read_bytes()).digest()
    again = json.loads(runner.invoke(app, args).output)
    assert again['downloaded'] == 0
    assert again['skipped'] == report['downloaded']


def test_download_failures_give_exit_status_1(server: LocalAlyx, tmp_path: Path) -> None:
    server.data_faults.faults = Faults(default=FaultPlan(error_rate=1.0, error_statuses=(500,)))
    cache = tmp_path / 'cache'
    eids = json.loads(runner.invoke(app, ['search', '--cache-dir', str(cache), '--json']).output)
    args = ['download', eids[0], '--cache-dir', str(cache), '--collection', 'alf', '--json']
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report['downloaded'] == 0
    assert report['failed']
    assert all('500' in failure['error'] for failure in report['failed'])
    assert not [p for p in cache.rglob('*') if p.is_file() and 'Subjects' in p.parts]
