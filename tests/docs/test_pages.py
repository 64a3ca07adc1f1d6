"""Every code block of the documentation runs (conventions in :mod:`tests.docs.snippets`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .snippets import blocks_of, page_program, runnable_pages

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / 'docs'
PAGES = runnable_pages(DOCS)
PAGE_TIMEOUT = 600


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a reader: no ONE settings, an empty home, this interpreter first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('ONE_')}
    env['HOME'] = str(home)
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    env.pop('PYTHONPATH', None)
    return env


@pytest.mark.parametrize('page', PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_page_runs(page: Path, tmp_path: Path) -> None:
    work, home = tmp_path / 'work', tmp_path / 'home'
    work.mkdir()
    home.mkdir()
    program = tmp_path / 'blocks.json'
    program.write_text(page_program(page), encoding='utf-8')
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name('driver.py')),
            str(program),
            str(ROOT / 'pyproject.toml'),
        ],
        cwd=work,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT,
    )
    assert done.returncode == 0, f'{page.name}:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}'


def test_the_block_parser_sees_every_kind() -> None:
    text = (
        'intro\n```python\nx = 1\n```\n'
        '!!! note\n    ```toml title="one.toml"\n    a = 1\n    ```\n'
        '=== "Tab"\n\n    ```python\n    if x:\n\n        y = 2\n    ```\n'
        '```console\n$ echo a \\\n  b\nout\n```\n```text\nnothing\n```\n'
    )
    kinds = [(b.kind, b.title, b.code) for b in blocks_of(text)]
    assert kinds == [
        ('python', None, 'x = 1\n'),
        ('file', 'one.toml', 'a = 1\n'),
        ('python', None, 'if x:\n\n    y = 2\n'),
        ('console', None, '$ echo a \\\n  b\nout\n'),
        ('inert', None, 'nothing\n'),
    ]
