"""Issue #7: a ONE-api user script works after changing only its import.

Every script of ``user_scripts/`` is a plain ONE-api 2.9.0 script (``from one.api import ONE``)
of the kind IBL users write.  It runs twice in its own interpreter against one local Alyx
serving generated data: as written (ONE-api 2.9.0), and with only its import line rewritten to
``from one_async import ONE``.  Each run has its own temporary ``HOME`` holding ONE-api's
parameter files (written through ONE's own ``iblutil`` params, as a user's ``one.params.setup``
leaves them) and its own empty cache folder; the server's address and login come from the
``ALYX_URL``/``ALYX_USER``/``ALYX_PWD`` variables and a cache folder from
``SCRIPT_CACHE_DIR``.  The two standard outputs must be identical.

Scripts print normalised results (sorted lists, dict keys, array shapes and sums, frame columns
through ``list(df['col'])``), and normalise only the deliberate differences of one_async, each
saying so in a comment.  The runs go in parallel (subprocesses, a few at a time).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from api.remote.conftest import make_server
from one_async.testing.server import ConnectionInfo, LocalAlyx

SCRIPTS_DIR = Path(__file__).parent / 'user_scripts'
SCRIPTS = sorted(p.name for p in SCRIPTS_DIR.glob('*.py'))
ONE_API_IMPORT = re.compile(r'^from one\.api import ONE$', re.MULTILINE)
ONE_API_STATUS = re.compile(r'^(Connected to \S+ as user ".*"|Downloading: .* Bytes: \d+)$')
"""Status lines ONE-api 2.9.0 prints when not silent; one_async logs them (``AsyncAlyxClient``'s
``silent``) and shows downloads as progress bars on stderr instead: a deliberate difference."""
PARALLEL_RUNS = 3
RUN_TIMEOUT = 120


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def one_async_version(source: str) -> str:
    """The script with only its import line changed (it must have exactly one)."""
    rewritten, count = ONE_API_IMPORT.subn('from one_async import ONE', source)
    assert count == 1, 'a user script imports ONE once, as "from one.api import ONE"'
    return rewritten


def write_params(home: Path, info: ConnectionInfo, cache_dir: Path) -> None:
    """ONE-api's parameter files for the server, in ``home``, through ONE's own iblutil."""
    import one.params
    from iblutil.io import params as iopar

    key = one.params._key_from_url(info.base_url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('HOME', str(home))
        iopar.write(f'one/{key}', {**info.one_params(), 'ALYX_PWD': info.password})
        iopar.write('one/caches', {'CLIENT_MAP': {key: str(cache_dir)}, 'DEFAULT': key})


def prepare_run(script: Path, source: str, folder: Path, info: ConnectionInfo) -> Path:
    """A fresh HOME with ONE's parameters, an empty cache folder and the script to run.

    Call from one thread at a time: ONE's params files are written through ``HOME``.
    """
    home, cache_dir = folder / 'home', folder / 'cache'
    home.mkdir(parents=True)
    cache_dir.mkdir()
    write_params(home, info, cache_dir)
    path = folder / script.name
    path.write_text(source)
    return path


def run_script(path: Path, info: ConnectionInfo) -> Run:
    """Run a prepared script in a fresh interpreter with its own HOME."""
    folder = path.parent
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(('ONE_', 'ALYX_', 'PYTEST', 'XDG_')) and k != 'COV_CORE_SOURCE'
    }
    env.update(
        HOME=str(folder / 'home'),
        ALYX_URL=info.base_url,
        ALYX_USER=info.username,
        ALYX_PWD=info.password,
        SCRIPT_CACHE_DIR=str(folder / 'cache'),
        PYTHONHASHSEED='0',
        PYTHONWARNINGS='ignore',
    )
    done = subprocess.run(
        [sys.executable, str(path)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope='module')
def alyx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAlyx]:
    with make_server(tmp_path_factory.mktemp('alyx_data'), n_sessions=6, seed=7) as server:
        yield server


@pytest.fixture(scope='module')
def runs(alyx: LocalAlyx, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """Every script run with ONE-api 2.9.0 and with one_async, a few runs at a time."""
    root = tmp_path_factory.mktemp('runs')
    paths = {}
    for name in SCRIPTS:
        script = SCRIPTS_DIR / name
        source = script.read_text()
        for flavour, text in (('one', source), ('one_async', one_async_version(source))):
            paths[name, flavour] = prepare_run(script, text, root / name / flavour, alyx.info)
    with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        futures = {key: pool.submit(run_script, path, alyx.info) for key, path in paths.items()}
        return {key: future.result() for key, future in futures.items()}


def test_there_are_enough_scripts() -> None:
    assert len(SCRIPTS) >= 15


@pytest.mark.parametrize('script', SCRIPTS)
def test_script_prints_the_same_with_one_async(
    script: str, runs: dict[tuple[str, str], Run]
) -> None:
    theirs, ours = runs[script, 'one'], runs[script, 'one_async']
    assert theirs.returncode == 0, f'ONE-api 2.9.0 failed on {script}:\n{theirs.stderr}'
    assert ours.returncode == 0, f'one_async failed on {script}:\n{ours.stderr}'
    assert theirs.stdout.strip(), f'{script} printed nothing'
    expected = [line for line in theirs.stdout.splitlines() if not ONE_API_STATUS.match(line)]
    assert ours.stdout.splitlines() == expected
