"""The ``one-async`` commands over a generated ALF tree: each prints what the API returns."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from one_async import AsyncOne
from one_async.cli import app
from one_async.testing.generate import generate

runner = CliRunner()


@pytest.fixture(scope='module')
def alf_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('alf')
    generate(6, seed=3).write_files(root)
    result = runner.invoke(app, ['cache', 'build', str(root), '--json'])
    assert result.exit_code == 0, result.output
    written = json.loads(result.output)
    assert set(written) == {'sessions', 'datasets'}
    assert all(Path(p).is_file() for p in written.values())
    return root


def _api(root: Path, method: str, *args: object, **kwargs: object) -> object:
    async def job() -> object:
        async with AsyncOne(cache_dir=root, mode='local') as one:
            return await getattr(one, method)(*args, **kwargs)

    return anyio.run(job)


def test_search_prints_the_api_result(alf_tree: Path) -> None:
    result = runner.invoke(app, ['search', '--cache-dir', str(alf_tree), '--json'])
    assert result.exit_code == 0, result.output
    eids = json.loads(result.output)
    assert eids == _api(alf_tree, 'search')
    assert len(eids) == 6

    subject = _api(alf_tree, 'list_subjects')[0]  # type: ignore[index]
    args = ['search', '--cache-dir', str(alf_tree), '--subject', subject, '--dataset', 'trials']
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    expected = _api(alf_tree, 'search', subject=subject, dataset='trials')
    assert result.output.split() == expected


def test_list_datasets_and_collections(alf_tree: Path) -> None:
    eid = _api(alf_tree, 'search')[0]  # type: ignore[index]
    for what in ('datasets', 'collections', 'revisions'):
        result = runner.invoke(app, ['list', what, eid, '--cache-dir', str(alf_tree), '--json'])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == _api(alf_tree, f'list_{what}', eid)
    args = ['list', 'datasets', eid, '--cache-dir', str(alf_tree), '--collection', 'alf', '--json']
    listed = json.loads(runner.invoke(app, args).output)
    assert listed
    assert all(p.startswith('alf/') and p.count('/') == 1 for p in listed)


def test_cache_info_reports_rows(alf_tree: Path) -> None:
    result = runner.invoke(app, ['cache', 'info', str(alf_tree), '--json'])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    datasets = _api(alf_tree, 'list_datasets', details=True)
    assert info['tables']['datasets'] == datasets.height  # type: ignore[attr-defined]
    assert info['tables']['sessions'] == 6


def test_bad_input_gives_a_clear_error(alf_tree: Path) -> None:
    result = runner.invoke(app, ['list', 'bogus'])
    assert result.exit_code != 0
    assert 'bogus' in result.output
    result = runner.invoke(
        app, ['search', '--cache-dir', str(alf_tree), '--date-range', 'not-a-date']
    )
    assert result.exit_code == 2
    assert 'not-a-date' in result.output
