"""Fixtures of the AsyncOne tests: ONE's fixture tables, Alyx 3.6.1 tables, generated data."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from one_async.testing.generate import SyntheticData, generate

FIXTURES = Path(__file__).parent.parent / 'fixtures'


def one_client(cache_dir: Path) -> Any:
    """ONE-api 2.9.0's local client on a folder."""
    from one.api import One

    return One(cache_dir=cache_dir, mode='local')


@pytest.fixture(scope='session')
def one29_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ONE-api 2.9.0's own test tables (legacy layout), copied to a scratch folder."""
    target = tmp_path_factory.mktemp('one29')
    for name in ('sessions.pqt', 'datasets.pqt'):
        shutil.copy(FIXTURES / 'one_2_9' / name, target / name)
    return target


@pytest.fixture(scope='session')
def alyx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tables of a real Alyx 3.6.1 server (``cache.zip``), as written."""
    target = tmp_path_factory.mktemp('alyx361')
    with zipfile.ZipFile(FIXTURES / 'alyx_3_6_1' / 'cache.zip') as zf:
        zf.extractall(target)
    return target


@pytest.fixture(scope='session')
def alyx_as_one29_dir(alyx_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Alyx 3.6.1 tables rewritten in the layout ONE-api 2.9.0 reads (``session_path``)."""
    from one_async.cache import CacheTables, write_tables

    tables = CacheTables.open(alyx_dir)
    target = tmp_path_factory.mktemp('alyx361_one2')
    write_tables(
        target,
        tables.frame('sessions'),
        tables.frame('datasets'),
        layout='one2',
        origin='alyx',
        cache_info=False,
    )
    return target


SYNTHETIC = generate(40, seed=11, revision_fraction=0.5, missing_fraction=0.05)
"""A small IBL-like database with many revisions; its first 16 sessions get files."""
WITH_FILES = 16


@pytest.fixture(scope='session')
def synthetic() -> SyntheticData:
    """A small IBL-like database with many revisions (no files)."""
    return SYNTHETIC


@pytest.fixture(scope='session')
def generated_dir(synthetic: SyntheticData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic database as ONE 2.x tables with real files for its existing datasets."""
    root = tmp_path_factory.mktemp('generated')
    written = synthetic.head(WITH_FILES).write_files(root, raw_bytes=2048)
    rest = synthetic.subset(synthetic.sessions['id'][WITH_FILES:].to_list())
    import polars as pl

    data = written
    data = type(written)(
        seed=written.seed,
        labs=synthetic.labs,
        subjects=synthetic.subjects,
        sessions=pl.concat([written.sessions, rest.sessions]),
        datasets=pl.concat([written.datasets, rest.datasets]),
        insertions=synthetic.insertions,
        dataset_types=synthetic.dataset_types,
        templates=synthetic.templates,
    )
    data.write_tables(root, layout='one2', cache_info=False)
    return root


@pytest.fixture
def fresh_generated(generated_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the generated folder (for tests that change files or tables)."""
    target = tmp_path / 'cache'
    shutil.copytree(generated_dir, target)
    return target
