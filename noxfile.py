"""Development sessions: ``nox -s lint typecheck tests``, ``nox -s bench``, ``nox -s docs``."""

from __future__ import annotations

import nox

nox.options.sessions = ['lint', 'typecheck', 'tests']
nox.options.reuse_existing_virtualenvs = True

PYTHON = '3.11'


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (the command README.md gives)."""
    session.install('-e', '.[test]')
    session.run('python', '-m', 'pytest', *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install('ruff')
    session.run('ruff', 'check', 'src', 'tests', 'benchmarks', 'docs', 'noxfile.py')
    session.run('ruff', 'format', '--check', 'src', 'tests', 'benchmarks', 'docs', 'noxfile.py')


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over src/."""
    session.install('-e', '.[dev]')
    session.run('mypy')


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against ONE-api 2.9.0; results go to benchmarks/RESULTS.md."""
    session.install('-e', '.[test]')
    session.run('python', '-m', 'benchmarks', *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site, strict."""
    session.install('-e', '.[docs]')
    session.run('mkdocs', 'build', '--strict')
