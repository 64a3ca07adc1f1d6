"""Run the code blocks of the documentation pages, in order, as a reader would.

Conventions (also in ``docs/development.md``):

- Every ```` ```python ```` block runs.  The blocks of one page run in order in one namespace, in
  a fresh interpreter whose working directory and ``HOME`` are an empty temporary folder and whose
  environment has no ``ONE_*`` variable.  Top-level ``await`` is allowed (as in Jupyter): such a
  block runs on the page's event loop.
- A block with a ``title="some/file"`` attribute (any language) is written to that file instead
  of running, so config files and scripts shown on a page are real; a later block may use them.
- In ```` ```console ```` blocks, lines starting with ``$ `` are shell commands (a trailing ``\\``
  continues them) and run with ``bash`` in the same folder; other lines are their output and are
  not checked.  ``pip install`` commands are not run: the extras they name must exist.
- Blocks of other languages (``text``, ``toml`` without a title ...) are not run.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

__all__ = ['Block', 'blocks_of', 'runnable_pages']

FENCE = re.compile(
    r'^(?P<indent>[ \t]*)(?P<fence>```+)(?P<lang>[\w+-]*)(?P<attrs>[^\n]*)\n'
    r'(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$',
    re.MULTILINE | re.DOTALL,
)
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
RUN_LANGS = {'python', 'py', 'pycon'}
SHELL_LANGS = {'console', 'shell-session'}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    lang: str
    title: str | None
    code: str
    line: int

    @property
    def kind(self) -> str:
        """``'file'``, ``'python'``, ``'console'`` or ``'inert'``."""
        if self.title:
            return 'file'
        if self.lang in RUN_LANGS:
            return 'python'
        if self.lang in SHELL_LANGS:
            return 'console'
        return 'inert'


def blocks_of(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order (indented ones dedented)."""
    found = []
    for match in FENCE.finditer(text):
        title = TITLE.search(match['attrs'])
        indent = match['indent']
        body = textwrap.dedent(match['body'].replace('\n' + indent, '\n').removeprefix(indent))
        found.append(
            Block(
                lang=match['lang'].lower(),
                title=title['title'] if title else None,
                code=body,
                line=text.count('\n', 0, match.start()) + 1,
            )
        )
    return found


def runnable_pages(root: Path) -> list[Path]:
    """Pages under ``root`` with at least one block that runs or writes a file."""
    return sorted(
        page
        for page in root.rglob('*.md')
        if any(b.kind != 'inert' for b in blocks_of(page.read_text(encoding='utf-8')))
    )


def page_program(page: Path) -> str:
    """The blocks of ``page`` as JSON for :mod:`tests.docs.driver`."""
    blocks = blocks_of(page.read_text(encoding='utf-8'))
    return json.dumps(
        [
            {'kind': b.kind, 'lang': b.lang, 'title': b.title, 'code': b.code, 'line': b.line}
            for b in blocks
            if b.kind != 'inert'
        ]
    )


if __name__ == '__main__':  # list the blocks of a page: python tests/docs/snippets.py PAGE
    for block in blocks_of(Path(sys.argv[1]).read_text(encoding='utf-8')):
        print(block.line, block.kind, block.lang, block.title)
