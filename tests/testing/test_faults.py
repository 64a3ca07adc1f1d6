"""The fault injector, over a real uvicorn server on loopback."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from one_async.testing.faults import FaultInjector, FaultPlan, Faults
from one_async.testing.runner import serve_in_thread

BODY = bytes(range(256)) * 256  # 64 KiB


async def _data(request: Request) -> Response:
    return Response(BODY, media_type='application/octet-stream')


def _app(faults: Faults) -> FaultInjector:
    return FaultInjector(Starlette(routes=[Route('/data/{name}', _data)]), faults)


def _fetch_all(base: str, n: int) -> list[httpx.Response | Exception]:
    out: list[httpx.Response | Exception] = []
    with httpx.Client(base_url=base) as client:
        for i in range(n):
            try:
                out.append(client.get(f'/data/f{i}'))
            except httpx.HTTPError as exc:
                out.append(exc)
    return out


def test_no_faults_pass_through() -> None:
    app = _app(Faults())
    with serve_in_thread(app) as base:
        results = _fetch_all(base, 5)
    assert all(isinstance(r, httpx.Response) and r.content == BODY for r in results)
    assert not app.stats


def test_error_statuses_carry_retry_after_and_alyx_body() -> None:
    plan = FaultPlan(error_rate=1.0, error_statuses=(429,), retry_after=2)
    with serve_in_thread(_app(Faults(default=plan))) as base:
        response = httpx.get(f'{base}/data/x')
    assert response.status_code == 429
    assert response.headers['retry-after'] == '2'
    assert response.json() == {'detail': 'Injected fault.', 'status_code': 429}


def test_burst_fails_first_attempts_then_succeeds() -> None:
    app = _app(Faults(default=FaultPlan(error_first_attempts=2)))
    with serve_in_thread(app) as base, httpx.Client(base_url=base) as client:
        statuses = [client.get('/data/a').status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_disconnect_and_corruption_happen_and_are_reproducible() -> None:
    faults = Faults(seed=7, default=FaultPlan(disconnect_rate=0.3, corrupt_rate=0.3))
    outcomes = []
    for _ in range(2):
        app = _app(faults)
        with serve_in_thread(app) as base:
            results = _fetch_all(base, 40)
        outcome = [
            'cut' if isinstance(r, Exception) else hashlib.md5(r.content).hexdigest()
            for r in results
        ]
        outcomes.append(outcome)
        assert app.stats['disconnect'] > 0
        assert app.stats['corrupt'] > 0
    assert outcomes[0] == outcomes[1]
    good = hashlib.md5(BODY).hexdigest()
    assert 'cut' in outcomes[0]
    assert any(o not in ('cut', good) for o in outcomes[0])
    assert good in outcomes[0]


def test_routes_override_default() -> None:
    faults = Faults(routes={'/data/bad*': FaultPlan(error_rate=1.0, error_statuses=(500,))})
    with serve_in_thread(_app(faults)) as base, httpx.Client(base_url=base) as client:
        assert client.get('/data/bad1').status_code == 500
        assert client.get('/data/good').status_code == 200


def test_trickle_delivers_whole_body() -> None:
    app = _app(Faults(default=FaultPlan(trickle_rate=2_000_000)))
    with serve_in_thread(app) as base:
        (response,) = _fetch_all(base, 1)
    assert isinstance(response, httpx.Response)
    assert response.content == BODY
    assert app.stats['trickle'] == 1


def test_plan_rejects_bad_rates() -> None:
    with pytest.raises(ValueError, match='error_rate'):
        FaultPlan(error_rate=1.5)


def test_a_slow_body_stops_when_its_client_leaves() -> None:
    app = _app(Faults(default=FaultPlan(trickle_rate=4096)))  # 64 KiB: 16 s at full trickle
    with serve_in_thread(app) as base:
        with httpx.Client(base_url=base) as client, client.stream('GET', '/data/slow') as response:
            first = next(response.iter_raw())
            assert first == BODY[: len(first)]
        # the server notices the closed connection and stops sending into it
        for _ in range(400):
            if app.stats['abandoned']:
                break
            time.sleep(0.01)
    assert app.stats['abandoned'] == 1
