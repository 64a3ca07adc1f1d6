"""Resilience: retries of 502/503/504/429 and connection errors, bounds, typed errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import anyio
import httpx
import pytest

from one_async.alyx import RetryPolicy
from one_async.alyx import retry as retry_module
from one_async.alyx.retry import parse_retry_after, send_with_retry
from one_async.exceptions import AlyxConnectionError, AlyxHTTPError, InvalidArgument
from one_async.testing.faults import FaultPlan, Faults

from .conftest import FakeAlyx

pytestmark = pytest.mark.anyio

EID = '934bb3ea-c9a5-410c-b0df-c15b152535a0'


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the waits between retries (and skip them)."""
    recorded: list[float] = []
    real_sleep = anyio.sleep

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(retry_module.anyio, 'sleep', sleep)
    return recorded


def _count(alyx: FakeAlyx, method: str, path: str) -> int:
    return len(alyx.state.requests(method, path))


@pytest.mark.parametrize('status', [502, 503, 504, 429])
async def test_burst_of_errors_is_retried(
    alyx: FakeAlyx, make_client: Any, waits: list[float], status: int
) -> None:
    async with make_client() as client:
        await client.schema()
        plan = FaultPlan(error_first_attempts=2, error_statuses=(status,), retry_after=0.03)
        alyx.faults.faults = Faults(routes={'/sessions': plan})
        records = await client.rest('sessions', 'list')
    assert records == alyx.state.sessions
    assert alyx.faults.stats['error'] == 2
    assert len(waits) == 2
    if status in (429, 503):  # Retry-After honoured
        assert all(w >= 0.03 for w in waits)


async def test_persistent_error_gives_typed_error(
    alyx: FakeAlyx, make_client: Any, waits: list[float]
) -> None:
    async with make_client() as client:
        await client.schema()
        alyx.faults.faults = Faults(routes={'/sessions': FaultPlan(error_rate=1.0)})
        with pytest.raises(AlyxHTTPError) as info:
            await client.rest('sessions', 'list')
    assert info.value.status_code == 503
    assert info.value.detail == 'Injected fault.'
    assert info.value.url.startswith(f'{alyx.url}/sessions')
    assert alyx.faults.stats['error'] == 4  # FAST_RETRY.attempts
    assert len(waits) == 3


async def test_retry_after_is_capped(alyx: FakeAlyx, make_client: Any, waits: list[float]) -> None:
    policy = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.5, timeout=30)
    async with make_client(retry=policy) as client:
        await client.schema()
        plan = FaultPlan(error_first_attempts=2, error_statuses=(429,), retry_after=3600)
        alyx.faults.faults = Faults(routes={'/sessions': plan})
        await client.rest('sessions', 'list')
    assert waits == [0.5, 0.5]


async def test_total_retry_time_is_bounded(alyx: FakeAlyx, make_client: Any) -> None:
    policy = RetryPolicy(attempts=1000, initial_wait=0.05, max_wait=0.05, timeout=0.3)
    async with make_client(retry=policy) as client:
        await client.schema()
        alyx.faults.faults = Faults(routes={'/sessions': FaultPlan(error_rate=1.0)})
        with pytest.raises(AlyxHTTPError):
            await client.rest('sessions', 'list')
    assert 1 < alyx.faults.stats['error'] < 50


async def test_post_and_patch_not_retried_after_reaching_server(
    alyx: FakeAlyx, make_client: Any, waits: list[float]
) -> None:
    async with make_client() as client:
        await client.schema()
        await client.authenticate()
        plan = FaultPlan(error_first_attempts=1, error_statuses=(503,))
        alyx.faults.faults = Faults(routes={'/sessions': plan, '/sessions/*': plan})
        with pytest.raises(AlyxHTTPError, match='503'):
            await client.rest('sessions', 'create', data={'subject': 'SWC_001'})
        with pytest.raises(AlyxHTTPError, match='503'):
            await client.rest('sessions', 'partial_update', id=EID, data={'n_trials': 1})
        # a cut in the middle of the answer: the server may have acted, no retry either
        alyx.faults.faults = Faults(routes={'/sessions': FaultPlan(disconnect_rate=1.0)})
        with pytest.raises(AlyxConnectionError, match='not idempotent'):
            await client.rest('sessions', 'create', data={'subject': 'SWC_001'})
    # each call was answered once (injected errors never reach the app behind the injector)
    assert alyx.faults.stats['error'] == 2
    assert alyx.faults.stats['disconnect'] == 1
    assert _count(alyx, 'POST', '/sessions') == 1
    assert _count(alyx, 'PATCH', f'/sessions/{EID}') == 0
    assert waits == []


async def test_post_retried_on_429(alyx: FakeAlyx, make_client: Any, waits: list[float]) -> None:
    async with make_client() as client:
        await client.schema()
        plan = FaultPlan(error_first_attempts=1, error_statuses=(429,))
        alyx.faults.faults = Faults(routes={'/sessions': plan})
        created = await client.rest('sessions', 'create', data={'subject': 'SWC_001'})
    assert created['subject'] == 'SWC_001'
    assert alyx.faults.stats['error'] == 1
    assert _count(alyx, 'POST', '/sessions') == 1


class _FailFirstConnects(httpx.AsyncBaseTransport):
    """Fails the first ``n`` connections (nothing sent), then uses a real transport."""

    def __init__(self, n: int) -> None:
        self.failures = n
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            self.failures -= 1
            raise httpx.ConnectError('connection refused', request=request)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_post_retried_when_not_sent(alyx: FakeAlyx, make_client: Any) -> None:
    transport = _FailFirstConnects(0)
    async with make_client(transport=transport) as client:
        await client.schema()
        await client.authenticate()
        transport.failures = 2
        created = await client.rest('sessions', 'create', data={'subject': 'SWC_002'})
    assert created['subject'] == 'SWC_002'
    assert _count(alyx, 'POST', '/sessions') == 1


async def test_unreachable_server_raises_connection_error(make_client: Any) -> None:
    with anyio.fail_after(20):
        async with make_client(base_url='http://127.0.0.1:9') as client:
            with pytest.raises(AlyxConnectionError, match='failed after 4 attempt') as info:
                await client.get('sessions')
    assert 'TapetesBloc18' not in str(info.value)


async def test_disconnect_mid_body_is_retried(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        await client.schema()
        # seed 3: the first answer is cut, a later one arrives whole
        plan = FaultPlan(disconnect_rate=0.5)
        alyx.faults.faults = Faults(seed=3, routes={f'/sessions/{EID}': plan})
        record = await client.rest('sessions', 'read', id=EID)
    assert record['id'] == EID
    assert alyx.faults.stats['disconnect'] >= 1


async def test_always_cut_gives_connection_error(alyx: FakeAlyx, make_client: Any) -> None:
    async with make_client() as client:
        await client.schema()
        alyx.faults.faults = Faults(routes={'/sessions': FaultPlan(disconnect_rate=1.0)})
        with anyio.fail_after(20), pytest.raises(AlyxConnectionError):
            await client.rest('sessions', 'list')
    assert alyx.faults.stats['disconnect'] == 4


async def test_slow_server_times_out(alyx: FakeAlyx, make_client: Any) -> None:
    policy = RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01, timeout=10)
    async with make_client(timeout=0.2, retry=policy) as client:
        await client.schema()
        alyx.faults.faults = Faults(routes={'/sessions': FaultPlan(latency=3)})
        with anyio.fail_after(20), pytest.raises(AlyxConnectionError, match='ReadTimeout'):
            await client.rest('sessions', 'list')


async def test_cancellation_stops_retrying(alyx: FakeAlyx, make_client: Any) -> None:
    policy = RetryPolicy(attempts=50, initial_wait=0.05, max_wait=0.05, timeout=60)
    async with make_client(retry=policy) as client:
        await client.schema()
        alyx.faults.faults = Faults(routes={'/sessions': FaultPlan(error_rate=1.0)})
        with anyio.move_on_after(0.3) as scope:
            await client.rest('sessions', 'list')
        assert scope.cancelled_caught
        alyx.faults.faults = Faults()
        assert await client.rest('sessions', 'list') == alyx.state.sessions  # still usable


# --- units --------------------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after('3') == 3.0
    assert parse_retry_after(' 1.5 ') == 1.5
    assert parse_retry_after('-4') == 0.0
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(later, now=now) == 42.0
    earlier = format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after('soon') is None
    assert parse_retry_after(None) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(initial_wait=0.1, max_wait=1.0)
    for retry in range(8):
        ceiling = min(1.0, 0.1 * 2**retry)
        waits = {policy.backoff(retry) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered


def test_bad_policy() -> None:
    with pytest.raises(InvalidArgument, match='attempts'):
        RetryPolicy(attempts=0)


async def test_http_date_retry_after_is_honoured(waits: list[float]) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    answers = [
        httpx.Response(503, headers={'Retry-After': when}),
        httpx.Response(200, json={'ok': True}),
    ]

    async def send() -> httpx.Response:
        return answers.pop(0)

    policy = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=60, timeout=120)
    response = await send_with_retry(
        send, method='GET', url='http://x/y', policy=policy, idempotent=True
    )
    assert response.status_code == 200
    assert len(waits) == 1
    assert 25 < waits[0] <= 30
