"""Every ``one-async`` command prints for people by default and JSON with ``--json`` (issue #7).

The commands run against a local Alyx (over real sockets) or a generated cache; each JSON answer
is checked against the API or the server, and the human answer against the same values.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from one_async.cli import app
from one_async.testing.server import LocalAlyx

runner = CliRunner()


def _leaf_commands(command: Any, prefix: str = '') -> Iterator[tuple[str, Any]]:
    """Every command of the (click) command tree, by its space-joined name."""
    subcommands = getattr(command, 'commands', None)
    if subcommands is not None:
        for name, sub in subcommands.items():
            yield from _leaf_commands(sub, f'{prefix} {name}'.strip())
    else:
        yield prefix, command


def test_every_command_has_a_json_option() -> None:
    commands = dict(_leaf_commands(get_command(app)))
    assert {'search', 'list', 'download', 'cache build', 'cache info', 'cache refresh'} <= set(
        commands
    )
    missing = [
        name
        for name, command in commands.items()
        if '--json' not in {opt for param in command.params for opt in param.opts}
    ]
    assert missing == []


def test_cache_refresh_human_and_json(server: LocalAlyx, tmp_path: Path) -> None:
    cache_dir = tmp_path / 'cache'
    args = ['cache', 'refresh', '--cache-dir', str(cache_dir)]
    result = runner.invoke(app, [*args, '--json'])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert Path(answer['tables_dir']) == cache_dir
    assert datetime.fromisoformat(answer['loaded']) <= datetime.now()
    assert (cache_dir / 'sessions.pqt').is_file()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(': ', 1) for line in result.output.splitlines())
    assert Path(lines['tables_dir']) == cache_dir
    assert datetime.fromisoformat(lines['loaded']) >= datetime.fromisoformat(answer['loaded'])


def test_demo_json_is_the_summary_and_progress_goes_to_stderr(tmp_path: Path) -> None:
    args = ['demo', '--sessions', '2', '--workdir', str(tmp_path), '--json']
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary['sessions'] == 2
    assert summary['failed'] == []
    assert summary['downloaded'] > 0
    files = [p for p in (tmp_path / 'cache').rglob('*') if p.is_file() and 'Subjects' in p.parts]
    assert len(files) == summary['downloaded']
    assert 'generating' in result.stderr


def _serve(*options: str) -> tuple[list[str], int]:
    """Start ``python -m one_async serve``, read its connection details, stop it (SIGTERM)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('ONE_')}
    with subprocess.Popen(
        [sys.executable, '-m', 'one_async', 'serve', '--sessions', '1', *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        try:
            lines = [process.stdout.readline()]
            if '--json' not in options:
                while lines[-1].startswith(('serving', '  ')) and 'cache_dir' not in lines[-1]:
                    lines.append(process.stdout.readline())
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    return [line.rstrip('\n') for line in lines], code


def test_serve_human_and_json() -> None:
    (line,), code = _serve('--json')
    assert code == 0
    info: dict[str, Any] = json.loads(line)
    assert info['base_url'].startswith('http://127.0.0.1:')
    lines, code = _serve()
    assert code == 0
    assert lines[0].startswith('serving a local Alyx at http://127.0.0.1:')
    fields = dict(line.strip().split(': ', 1) for line in lines[1:])
    assert set(fields) == set(info) - {'base_url'}
    assert fields['username'] == info['username']


def test_search_and_list_human_output_is_the_json_values(
    server: LocalAlyx, tmp_path: Path
) -> None:
    cache = ['--cache-dir', str(tmp_path / 'cache')]
    as_json = json.loads(runner.invoke(app, ['search', *cache, '--json']).output)
    human = runner.invoke(app, ['search', *cache]).output.split()
    assert human == as_json
    assert sorted(as_json) == sorted(server.store.table('sessions')['id'].to_list())
    listed = json.loads(runner.invoke(app, ['list', 'subjects', *cache, '--json']).output)
    assert runner.invoke(app, ['list', 'subjects', *cache]).output.split() == listed
