"""The examples in docs/examples run as documented."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from one_async.testing.demo import demo_server
from one_async.testing.runner import serve_in_thread

EXAMPLES = Path(__file__).parent.parent / 'docs' / 'examples'


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f'{name}.py')
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    for name in ('ONE_CONFIG', 'ONE_BASE_URL', 'ONE_MODE'):
        monkeypatch.delenv(name, raising=False)


def test_fastapi_app_shares_one_session(tmp_path: Path, env: None) -> None:
    example = _load('fastapi_app')
    with demo_server(tmp_path / 'server', n_sessions=3) as alyx:
        info = alyx.info
        service = example.create_app(
            base_url=info.base_url,
            username=info.username,
            password=info.password,
            cache_dir=tmp_path / 'cache',
            http_data_server=info.data_server_url,
            http_data_server_login=info.data_server_login,
            http_data_server_password=info.data_server_password,
            silent=True,
        )

        async def requests(base: str) -> tuple[list[dict[str, object]], dict[str, object]]:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                searches = await asyncio.gather(*(client.get('/sessions') for _ in range(8)))
                eid = searches[0].json()['eids'][0]
                fetched = await client.post(f'/sessions/{eid}/download?collection=alf')
                return [r.json() for r in searches], fetched.json()

        with serve_in_thread(service, lifespan='on') as base:
            searches, fetched = asyncio.run(requests(base))
    assert {r['session_id'] for r in searches} == {fetched['session_id']}
    assert all(r['eids'] == searches[0]['eids'] for r in searches)
    assert searches[0]['eids']
    assert fetched['downloaded'] > 0
    assert fetched['failed'] == []
