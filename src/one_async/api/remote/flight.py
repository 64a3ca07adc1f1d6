"""Single flight: concurrent callers asking for the same thing share one call.

Many ``load_object`` calls gathered at once on one session ask for the same session record and
the same files.  :class:`SingleFlight` runs the first caller's coroutine and makes the others
wait for its outcome.  When the first caller is cancelled, the waiters do the work themselves
rather than inherit a cancellation that is not theirs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

__all__ = ['Flight', 'SingleFlight']

K = TypeVar('K', bound=Hashable)
V = TypeVar('V')


@dataclass(eq=False)
class Flight(Generic[V]):
    """One call in progress: its outcome once :attr:`done` is set (neither if abandoned)."""

    done: anyio.Event = field(default_factory=anyio.Event)
    value: V | None = None
    error: Exception | None = None
    finished: bool = False


class SingleFlight(Generic[K, V]):
    """Coalesces concurrent calls by key (within one event loop)."""

    def __init__(self) -> None:
        self._flights: dict[K, Flight[V]] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._flights

    async def run(self, key: K, func: Callable[[], Awaitable[V]]) -> V:
        """``await func()``, or the outcome of the call already running for ``key``.

        An exception of the running call is raised in every waiter.
        """
        while True:
            flight = self._flights.get(key)
            if flight is None:
                break
            await flight.done.wait()
            if flight.finished:
                if flight.error is not None:
                    raise flight.error
                return flight.value  # type: ignore[return-value]
        flight = self._flights[key] = Flight()
        try:
            flight.value = value = await func()
            flight.finished = True
            return value
        except Exception as exc:
            flight.error, flight.finished = exc, True
            raise
        finally:
            del self._flights[key]
            flight.done.set()
