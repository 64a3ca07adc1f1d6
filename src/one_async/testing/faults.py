"""Reproducible fault injection for the local test servers.

:class:`FaultInjector` is ASGI middleware: it wraps any app and, per request, may add latency,
answer with an error status (500/502/503/429, with ``Retry-After``), cut the connection in the
middle of the body, corrupt a byte of the body or trickle it slowly.  What happens to a request is
decided from ``(seed, method, path, attempt number at that path)`` only, so a run is reproducible
whatever the order in which concurrent requests arrive, and a retry of the same path draws anew.
"""

from __future__ import annotations

import fnmatch
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

__all__ = ['FaultInjector', 'FaultPlan', 'Faults']

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultPlan(BaseModel):
    """What may go wrong with a request.  Rates are probabilities per attempt in ``[0, 1]``."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    latency: float = Field(0.0, ge=0, description='Seconds added before every response.')
    error_rate: float = Field(0.0, ge=0, le=1, description='Chance of an error status.')
    error_statuses: tuple[int, ...] = Field(
        (503,), description='Statuses drawn from (uniformly) when an error is injected.'
    )
    error_first_attempts: int = Field(
        0, ge=0, description='The first N attempts at each path fail: a burst.'
    )
    retry_after: float | None = Field(
        0.1, ge=0, description='Retry-After seconds sent with 429 and 503 (None: no header).'
    )
    disconnect_rate: float = Field(0.0, ge=0, le=1, description='Chance of a cut mid-body.')
    corrupt_rate: float = Field(0.0, ge=0, le=1, description='Chance of one corrupted byte.')
    trickle_rate: float | None = Field(
        None, gt=0, description='Body bytes per second (slow trickle); None: full speed.'
    )

    @property
    def is_noop(self) -> bool:
        """True when the plan changes nothing."""
        return self == _NOOP


_NOOP = FaultPlan()


class Faults(BaseModel):
    """Fault plans for a server: a default plan and per-route overrides.

    ``routes`` maps shell-style patterns on the URL path (``'/data/*'``) to plans; the first
    matching pattern wins, else ``default`` applies.
    """

    model_config = ConfigDict(extra='forbid')

    seed: int = 0
    default: FaultPlan = FaultPlan()
    routes: dict[str, FaultPlan] = Field(default_factory=dict)

    def plan_for(self, path: str) -> FaultPlan:
        """The plan that applies to ``path``."""
        for pattern, plan in self.routes.items():
            if fnmatch.fnmatchcase(path, pattern):
                return plan
        return self.default


class _Disconnect(Exception):
    """Raised inside the app's ``send`` to make the server drop the connection mid-body."""


class FaultInjector:
    """ASGI middleware injecting the faults of a :class:`Faults` configuration.

    ``stats`` counts the faults injected by kind (``latency``, ``error``, ``disconnect``,
    ``corrupt``, ``trickle``; ``abandoned``: slow bodies stopped because the client left), so tests
    can check that faults really happened.  ``faults`` may be
    replaced at any time to change the plan of a running server.
    """

    def __init__(self, app: ASGIApp, faults: Faults | None = None) -> None:
        self.app = app
        self.faults = faults or Faults()
        self.stats: Counter[str] = Counter()
        self._attempts: Counter[tuple[str, str]] = Counter()

    def reset(self) -> None:
        """Forget attempt counts and statistics."""
        self.stats.clear()
        self._attempts.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path: str = scope['path']
        plan = self.faults.plan_for(path)
        if plan.is_noop:
            await self.app(scope, receive, send)
            return
        key = (scope['method'], path)
        attempt = self._attempts[key]
        self._attempts[key] += 1
        rng = random.Random(f'{self.faults.seed}|{key[0]}|{path}|{attempt}')
        draws = [rng.random() for _ in range(3)]

        if plan.latency:
            self.stats['latency'] += 1
            await anyio.sleep(plan.latency)
        if attempt < plan.error_first_attempts or draws[0] < plan.error_rate:
            self.stats['error'] += 1
            await _send_error(send, rng.choice(plan.error_statuses), plan.retry_after)
            return
        disconnect = draws[1] < plan.disconnect_rate
        corrupt = draws[2] < plan.corrupt_rate
        if not (disconnect or corrupt or plan.trickle_rate):
            await self.app(scope, receive, send)
            return
        wrapped = _FaultySend(
            send, receive, rng, disconnect, corrupt, plan.trickle_rate, self.stats
        )
        try:
            await self.app(scope, receive, wrapped)
        except _Disconnect:
            # Returning without completing the body makes the server close the connection.
            return


class _FaultySend:
    """Wraps ``send`` to cut, corrupt or slow down the response body."""

    def __init__(
        self,
        send: Send,
        receive: Receive,
        rng: random.Random,
        disconnect: bool,
        corrupt: bool,
        trickle_rate: float | None,
        stats: Counter[str],
    ) -> None:
        self._send = send
        self._receive = receive
        self._rng = rng
        self._disconnect = disconnect
        self._corrupt = corrupt
        self._trickle_rate = trickle_rate
        self._stats = stats
        self._length: int | None = None
        self._sent = 0

    async def __call__(self, message: Message) -> None:
        if message['type'] == 'http.response.start':
            for name, value in message.get('headers', []):
                if name.lower() == b'content-length':
                    self._length = int(value)
            await self._send(message)
            return
        if message['type'] != 'http.response.body':
            await self._send(message)
            return
        body: bytes = message.get('body', b'')
        more = bool(message.get('more_body', False))
        if self._corrupt and body:
            self._corrupt = False
            self._stats['corrupt'] += 1
            index = self._rng.randrange(len(body))
            body = body[:index] + bytes([body[index] ^ 0xFF]) + body[index + 1 :]
        if self._disconnect:
            # Cut somewhere in the first half of the body (at least one byte short of it).
            total = self._length if self._length is not None else self._sent + len(body)
            cut = max(0, min(total - 1, self._rng.randrange(max(1, total // 2 + 1))))
            if self._sent + len(body) > cut:
                self._disconnect = False
                self._stats['disconnect'] += 1
                head = body[: max(0, cut - self._sent)]
                if head:
                    chunk = {'type': 'http.response.body', 'body': head, 'more_body': True}
                    await self._send(chunk)
                raise _Disconnect
        if self._trickle_rate and body:
            self._stats['trickle'] += 1
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._cancel_on_disconnect, tg.cancel_scope)
                await self._trickle(body, more, self._trickle_rate)
                tg.cancel_scope.cancel()
            self._sent += len(body)
            return
        self._sent += len(body)
        await self._send({'type': 'http.response.body', 'body': body, 'more_body': more})

    async def _trickle(self, body: bytes, more: bool, rate: float) -> None:
        step = max(1, int(rate / 10))
        for start in range(0, len(body), step):
            piece = body[start : start + step]
            last = start + step >= len(body)
            await self._send(
                {'type': 'http.response.body', 'body': piece, 'more_body': more or not last}
            )
            await anyio.sleep(len(piece) / rate)

    async def _cancel_on_disconnect(self, scope: anyio.CancelScope) -> None:
        # A slow body outlives an impatient client: stop trickling once it has gone, or the
        # server keeps sending into a closed socket until shutdown times out.
        while (await self._receive())['type'] != 'http.disconnect':
            pass
        self._stats['abandoned'] += 1
        scope.cancel()


async def _send_error(send: Send, status: int, retry_after: float | None) -> None:
    """Answer with ``status`` and an Alyx-shaped JSON body."""
    body = json.dumps({'detail': 'Injected fault.', 'status_code': status}).encode()
    headers = [
        (b'content-type', b'application/json'),
        (b'content-length', str(len(body)).encode()),
    ]
    if retry_after is not None and status in (429, 503):
        headers.append((b'retry-after', f'{retry_after:g}'.encode()))
    await send({'type': 'http.response.start', 'status': status, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body, 'more_body': False})
