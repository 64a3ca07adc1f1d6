"""Execute one page's blocks (JSON from :func:`snippets.page_program`) in this interpreter.

Run as ``python driver.py blocks.json pyproject.toml`` in the page's working folder; exits
non-zero at the first failing block, naming its line.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import re
import shlex
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PIP_INSTALL = re.compile(r'^(python -m )?pip install\b')


def shell_commands(code: str) -> list[str]:
    """The ``$ `` commands of a console block, continuation lines joined."""
    commands: list[str] = []
    pending: str | None = None
    for line in code.splitlines():
        if pending is not None:
            pending += '\n' + line
        elif line.startswith('$ '):
            pending = line[2:]
        else:
            continue
        if pending.endswith('\\'):
            continue
        commands.append(pending)
        pending = None
    if pending is not None:
        commands.append(pending)
    return commands


def check_pip_install(command: str, pyproject: dict[str, Any]) -> None:
    """A ``pip install`` of this project must name extras that exist."""
    extras = set(pyproject['project'].get('optional-dependencies', {}))
    for word in shlex.split(command)[2:]:
        found = re.search(r'\[([^\]]+)\]', word)
        if found:
            unknown = {e.strip() for e in found[1].split(',')} - extras
            if unknown:
                raise SystemExit(f'pip install names unknown extras {sorted(unknown)}: {command}')


def main() -> int:
    blocks = json.loads(Path(sys.argv[1]).read_text(encoding='utf-8'))
    pyproject = tomllib.loads(Path(sys.argv[2]).read_text(encoding='utf-8'))
    namespace: dict[str, Any] = {'__name__': '__main__'}
    loop = asyncio.new_event_loop()
    try:
        for block in blocks:
            where = f'block at line {block["line"]}'
            try:
                if block['kind'] == 'file':
                    target = Path(block['title'])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(block['code'], encoding='utf-8')
                elif block['kind'] == 'python':
                    code = compile(
                        block['code'],
                        f'<{where}>',
                        'exec',
                        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                    )
                    result = eval(code, namespace)  # the page's own code
                    if inspect.iscoroutine(result):
                        loop.run_until_complete(result)
                elif block['kind'] == 'console':
                    for command in shell_commands(block['code']):
                        if PIP_INSTALL.match(command):
                            check_pip_install(command, pyproject)
                            continue
                        subprocess.run(['bash', '-ec', command], check=True)
            except BaseException:
                print(f'FAILED: {where} ({block["kind"]})', file=sys.stderr)
                traceback.print_exc()
                return 1
    finally:
        loop.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
