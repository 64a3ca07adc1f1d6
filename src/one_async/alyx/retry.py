"""Retries of HTTP requests: exponential backoff with jitter, ``Retry-After``, bounded in time.

A request is retried on connection errors and on the statuses that mean "try again later"
(429, 502, 503, 504).  Requests that may change the server's state (POST, PATCH) are retried only
when nothing reached the server: a failure to connect, or 429, which Alyx's throttle answers
before the view runs.  Attempts and total time are bounded; when retries run out the last
response is returned (the caller turns it into an error) or :class:`AlyxConnectionError` raised.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import anyio
import httpx

from one_async import defaults
from one_async.alyx.urls import redact_url
from one_async.exceptions import AlyxConnectionError, InvalidArgument

__all__ = ['RETRY_STATUSES', 'RetryPolicy', 'parse_retry_after', 'send_with_retry']

_logger = logging.getLogger('one_async.alyx')

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses after which an idempotent request is tried again."""

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before any byte of the request reached the server."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request.

    Parameters
    ----------
    attempts
        Tries in all, the first included (1: no retry).
    initial_wait
        Seconds before the first retry; doubles with each retry, half of it random (jitter).
    max_wait
        Upper bound of one wait, ``Retry-After`` included.
    timeout
        Upper bound of the time spent on one request, waits included: no retry starts after it.
    statuses
        Statuses that are retried.
    """

    attempts: int = defaults.RETRY_ATTEMPTS
    initial_wait: float = defaults.RETRY_INITIAL_WAIT
    max_wait: float = defaults.RETRY_MAX_WAIT
    timeout: float = defaults.RETRY_TIMEOUT
    statuses: frozenset[int] = field(default=RETRY_STATUSES)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidArgument(f'attempts must be >= 1, got {self.attempts!r}', value=self)
        for name in ('initial_wait', 'max_wait', 'timeout'):
            if getattr(self, name) < 0:
                raise InvalidArgument(f'{name} must be >= 0, got {getattr(self, name)!r}')

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0-based): exponential, half jittered."""
        ceiling = min(self.max_wait, self.initial_wait * 2.0**retry)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delay in seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


async def send_with_retry(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    method: str,
    url: str,
    policy: RetryPolicy,
    idempotent: bool,
) -> httpx.Response:
    """Call ``send`` until it gives a final response, retrying as ``policy`` allows.

    Parameters
    ----------
    send
        Sends the request afresh and returns the response with its body read.
    method, url
        For messages and logs only.
    policy
        Attempts, waits and time bound.
    idempotent
        Whether the request may be repeated after it reached the server.

    Returns
    -------
    httpx.Response
        The first response that is not retried, or the last one when retries run out.

    Raises
    ------
    AlyxConnectionError
        When the last attempt failed without a response.
    """
    safe_url = redact_url(url)
    deadline = time.monotonic() + policy.timeout
    for attempt in range(policy.attempts):
        last = attempt + 1 >= policy.attempts
        pending: httpx.Response | None = None
        try:
            response = await send()
        except httpx.TransportError as exc:
            reached = not isinstance(exc, _NOT_SENT)
            if last or (reached and not idempotent):
                raise AlyxConnectionError(
                    f'{method} {safe_url} failed after {attempt + 1} attempt(s): '
                    f'{type(exc).__name__}'
                    + ('' if idempotent or not reached else ' (not retried: not idempotent)'),
                    value=safe_url,
                ) from exc
            wait = policy.backoff(attempt)
            reason = type(exc).__name__
        else:
            status = response.status_code
            if last or status not in policy.statuses or not (idempotent or status == 429):
                return response
            asked = parse_retry_after(response.headers.get('retry-after'))
            wait = policy.backoff(attempt)
            if asked is not None:
                wait = max(wait, asked)
            reason = f'status {status}'
            pending = response
        wait = min(wait, policy.max_wait)
        if time.monotonic() + wait > deadline:
            if pending is not None:
                return pending
            raise AlyxConnectionError(
                f'{method} {safe_url} failed: {reason}; retry time of {policy.timeout:g}s spent',
                value=safe_url,
            )
        _logger.info(
            '%s %s: %s, retry %d/%d in %.2fs',
            method,
            safe_url,
            reason,
            attempt + 1,
            policy.attempts - 1,
            wait,
        )
        await anyio.sleep(wait)
    raise AssertionError('unreachable: the last attempt returns or raises')  # pragma: no cover
