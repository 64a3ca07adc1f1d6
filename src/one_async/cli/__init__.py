"""The ``one-async`` command line: search, list, cache management, a local server, the demo.

Every command opens one :class:`~one_async.api.AsyncOne` and calls its public methods, so the
command line does nothing the API does not.  Output is for people by default and JSON with
``--json`` (every command has it; a test checks; times in ISO 8601).  Connection options fall
back to the ``ONE_*`` environment variables and configuration files (see
:mod:`one_async.config`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio
import typer

from one_async.api import AsyncOne
from one_async.api.factory import make_session
from one_async.cache import CacheTables, abuild_cache
from one_async.cli.demo import run_demo
from one_async.exceptions import OneError

if TYPE_CHECKING:
    from one_async.testing.server import ConnectionInfo

__all__ = ['app', 'main']

app = typer.Typer(
    name='one-async',
    help='Search, list and bulk-download ONE/Alyx neurophysiology data.',
    no_args_is_help=True,
    add_completion=False,
)
cache_app = typer.Typer(help='Build, inspect and refresh cache tables.', no_args_is_help=True)
app.add_typer(cache_app, name='cache')

T = TypeVar('T')

CacheDir = Annotated[
    Path | None, typer.Option('--cache-dir', help='Cache folder (default: from configuration).')
]
BaseUrl = Annotated[
    str | None, typer.Option('--base-url', help='Alyx server; omit for the local cache only.')
]
Username = Annotated[str | None, typer.Option('--username', help='Alyx user name.')]
Mode = Annotated[
    str | None, typer.Option('--mode', help='Query mode: auto, local, remote or refresh.')
]
AsJson = Annotated[bool, typer.Option('--json', help='Print JSON for machines.')]


@app.callback()
def _root() -> None:
    """Search, list and bulk-download ONE/Alyx neurophysiology data."""


def _run(job: Callable[[], Awaitable[T]]) -> T:
    """Run ``job`` on a fresh event loop, turning library errors into a clean exit."""
    try:
        return anyio.run(job)
    except OneError as exc:
        typer.echo(f'error: {exc}', err=True)
        raise typer.Exit(code=2) from exc


def _session(
    cache_dir: Path | None, base_url: str | None, username: str | None, mode: str | None
) -> AsyncOne:
    options: dict[str, Any] = {'cache_dir': cache_dir, 'base_url': base_url, 'username': username}
    return make_session(mode=mode or 'auto', **{k: v for k, v in options.items() if v})


def _json_default(value: Any) -> Any:
    """JSON for what ``json`` does not know: ISO 8601 for dates and times, else text."""
    isoformat = getattr(value, 'isoformat', None)
    return isoformat() if callable(isoformat) else str(value)


def _print(value: Any, as_json: bool) -> None:
    """``value`` as one JSON line, or for people: a list an item per line, a mapping a
    ``key: value`` per line."""
    if as_json:
        typer.echo(json.dumps(value, default=_json_default))
    elif isinstance(value, list):
        for item in value:
            typer.echo(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            typer.echo(f'{key}: {item}')
    else:
        typer.echo(value)


def _failures(report: Any) -> list[dict[str, str]]:
    """The failed items of a download report, for JSON output."""
    return [{'item': r.item.label, 'error': str(r.error)} for r in report.failed]


@app.command()
def search(
    subject: Annotated[list[str] | None, typer.Option(help='Subject (regex); repeatable.')] = None,
    lab: Annotated[list[str] | None, typer.Option(help='Lab; repeatable.')] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help='Dataset the session must have; repeatable.')
    ] = None,
    date_range: Annotated[
        list[str] | None, typer.Option(help='A date, or twice for a range (inclusive).')
    ] = None,
    task_protocol: Annotated[str | None, typer.Option(help='Task protocol (partial).')] = None,
    projects: Annotated[list[str] | None, typer.Option(help='Project; repeatable.')] = None,
    number: Annotated[int | None, typer.Option(help='Session number of the day.')] = None,
    cache_dir: CacheDir = None,
    base_url: BaseUrl = None,
    username: Username = None,
    mode: Mode = None,
    as_json: AsJson = False,
) -> None:
    """Print the eids of the sessions matching every given term (ONE's ``search``)."""
    terms = {
        'subject': subject,
        'laboratory': lab,
        'dataset': dataset,
        'date_range': date_range[0] if date_range and len(date_range) == 1 else date_range,
        'task_protocol': task_protocol,
        'projects': projects,
        'number': number,
    }
    query: dict[str, Any] = {k: v for k, v in terms.items() if v not in (None, [])}

    async def job() -> list[str]:
        async with _session(cache_dir, base_url, username, mode) as one:
            eids: list[str] = await one.search(**query)
            return eids

    _print(_run(job), as_json)


@app.command('list')
def list_(
    what: Annotated[str, typer.Argument(help='datasets, collections, revisions or subjects.')],
    eid: Annotated[str | None, typer.Argument(help='Session (eid, path or reference).')] = None,
    collection: Annotated[str | None, typer.Option(help='Collection (wildcards).')] = None,
    revision: Annotated[str | None, typer.Option(help='Revision (wildcards).')] = None,
    filename: Annotated[str | None, typer.Option(help='File name (wildcards).')] = None,
    cache_dir: CacheDir = None,
    base_url: BaseUrl = None,
    username: Username = None,
    mode: Mode = None,
    as_json: AsJson = False,
) -> None:
    """List the datasets, collections or revisions of a session (or of the whole cache)."""
    if what not in ('datasets', 'collections', 'revisions', 'subjects'):
        raise typer.BadParameter(
            f'{what!r}: expected datasets, collections, revisions or subjects'
        )
    filters = {'collection': collection, 'revision': revision, 'filename': filename}

    async def job() -> list[str]:
        async with _session(cache_dir, base_url, username, mode) as one:
            if what == 'subjects':
                subjects: list[str] = await one.list_subjects()
                return subjects
            method = getattr(one, f'list_{what}')
            listed: list[str] = await method(eid, **filters)
            return listed

    _print(_run(job), as_json)


@app.command()
def download(
    eids: Annotated[
        list[str] | None, typer.Argument(help='Sessions (eids, paths or references).')
    ] = None,
    subject: Annotated[list[str] | None, typer.Option(help='Search term: subject.')] = None,
    lab: Annotated[list[str] | None, typer.Option(help='Search term: lab.')] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help='File name pattern of the datasets to fetch.')
    ] = None,
    collection: Annotated[str | None, typer.Option(help='Collection pattern.')] = None,
    revision: Annotated[str | None, typer.Option(help='Revision (last one up to it).')] = None,
    cache_dir: CacheDir = None,
    base_url: BaseUrl = None,
    username: Username = None,
    mode: Mode = None,
    progress: Annotated[
        bool | None, typer.Option(help='Progress bar (default: on a tty).')
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Download every dataset of the given (or matching) sessions in one verified batch.

    Exits with status 1 when any file failed, after printing which and why.
    """
    query: dict[str, Any] = {k: v for k, v in {'subject': subject, 'laboratory': lab}.items() if v}
    if not eids and not query:
        raise typer.BadParameter('give session ids or search terms (--subject, --lab)')

    async def job() -> Any:
        async with _session(cache_dir, base_url, username, mode) as one:
            return await one.download(
                eids or query,
                datasets=dataset or None,
                collection=collection,
                revision=revision,
                progress=progress,
            )

    report = _run(job)
    failed = report.failed
    if as_json:
        _print(
            {
                'downloaded': report.downloaded,
                'skipped': report.skipped,
                'bytes': report.bytes,
                'seconds': report.seconds,
                'failed': _failures(report),
            },
            True,
        )
    else:
        typer.echo(
            f'{report.downloaded} downloaded, {report.skipped} already present, '
            f'{len(failed)} failed, {report.bytes / 1e6:.1f} MB in {report.seconds:.2f} s'
        )
        for result in failed:
            typer.echo(f'failed: {result.describe()}', err=True)
    if failed:
        raise typer.Exit(code=1)


@cache_app.command('build')
def cache_build(
    root: Annotated[Path, typer.Argument(help='Folder of ALF sessions to index.')],
    out_dir: Annotated[Path | None, typer.Option(help='Where to write the tables.')] = None,
    hash_files: Annotated[bool, typer.Option('--hash', help='Compute md5 of every file.')] = False,
    lab: Annotated[str | None, typer.Option(help='Lab of sessions outside lab folders.')] = None,
    as_json: AsJson = False,
) -> None:
    """Index an ALF folder tree into cache tables that ONE-api and one_async open."""
    if not root.is_dir():
        raise typer.BadParameter(f'not a folder: {root}')

    async def job() -> dict[str, Path]:
        return await abuild_cache(root, out_dir=out_dir, hash=hash_files, lab=lab)

    _print({name: str(path) for name, path in _run(job).items()}, as_json)


@cache_app.command('info')
def cache_info(
    tables_dir: Annotated[Path, typer.Argument(help='Folder of the cache tables.')],
    as_json: AsJson = False,
) -> None:
    """Describe the cache tables of a folder: rows, creation time, origin, expiry."""

    async def job() -> dict[str, Any]:
        tables = await CacheTables.aopen(tables_dir)
        meta = tables.meta
        return {
            'tables_dir': str(tables_dir),
            'tables': {name: tables.num_rows(name) for name in tables.names},
            'created_time': meta.created_time,
            'expired': tables.expired(),
            'origin': sorted({str(raw.get('origin')) for raw in meta.raw.values()}),
        }

    _print(_run(job), as_json)


@cache_app.command('refresh')
def cache_refresh(
    cache_dir: CacheDir = None,
    base_url: BaseUrl = None,
    username: Username = None,
    as_json: AsJson = False,
) -> None:
    """Reload the cache tables, from the server when it has newer ones."""

    async def job() -> dict[str, Any]:
        async with _session(cache_dir, base_url, username, None) as one:
            loaded = await one.refresh_cache('refresh')
            return {'tables_dir': str(one.tables_dir), 'loaded': loaded}

    _print(_run(job), as_json)


@app.command()
def serve(
    data: Annotated[Path | None, typer.Option(help='Serve this ALF folder.')] = None,
    sessions: Annotated[int, typer.Option(help='Generated sessions when no --data.')] = 12,
    port: Annotated[int, typer.Option(help='REST port (0: free).')] = 0,
    seed: Annotated[int, typer.Option(help='Seed of the generated data.')] = 0,
    min_api_version: Annotated[str, typer.Option(help='Advertised min_api_version.')] = '2.10',
    as_json: AsJson = False,
) -> None:
    """Serve a local Alyx-compatible server (and data server) until interrupted.

    Prints how to connect (with ``--json``: one JSON line), then serves.
    """
    from one_async.testing.__main__ import main as serve_main

    argv = ['--port', str(port), '--seed', str(seed), '--min-api-version', min_api_version]
    argv += ['--data', str(data)] if data is not None else ['--sessions', str(sessions)]
    code = serve_main(argv) if as_json else serve_main(argv, announce=_announce_text)
    raise typer.Exit(code=code)


def _announce_text(info: ConnectionInfo) -> None:
    typer.echo(f'serving a local Alyx at {info.base_url} (Ctrl-C to stop)')
    for key, value in info.model_dump().items():
        if key != 'base_url':
            typer.echo(f'  {key}: {value}')


@app.command()
def demo(
    sessions: Annotated[int, typer.Option(help='Sessions to generate.', min=1)] = 12,
    workdir: Annotated[
        Path | None, typer.Option(help='Folder to work in (default: a temporary one).')
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run the whole job on generated data served by a local Alyx: no network needed.

    With ``--json`` the progress messages go to standard error and the summary to standard
    output as JSON.
    """

    def echo(message: str) -> None:
        typer.echo(message, err=as_json)

    summary = _run(lambda: run_demo(workdir, n_sessions=sessions, echo=echo))
    if as_json:
        report = summary.report
        _print(
            {
                'sessions': summary.sessions,
                'matched': summary.matched,
                'cache_tables': summary.cache_tables,
                'downloaded': report.downloaded if report else 0,
                'bytes': report.bytes if report else 0,
                'failed': _failures(report) if report else [],
                'loaded_object': summary.loaded_object,
                'loaded_attributes': {k: list(v) for k, v in summary.loaded_attributes.items()},
                'timings': summary.timings,
            },
            True,
        )
    else:
        for line in summary.lines():
            typer.echo(line)
    if summary.report is None or summary.report.failed:
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the ``one-async`` script."""
    app()
