"""Overhead of a sync facade call over its async twin (target: under 0.3 ms per call).

Both sides call the same trivial coroutine method (it returns its argument without awaiting):

- ``async``: ``await obj.ping(i)`` in a loop, inside the event loop (the floor);
- ``sync``: ``facade.ping(i)`` from the main thread through the facade's portal;
- ``sync, 4 threads``: four threads calling at once (time per call, all threads together);
- ``sync in a running loop``: the Jupyter case, calls made from inside ``asyncio.run``;
- ``anyio portal``: anyio's own ``BlockingPortal.call`` on the same coroutine, as a reference.

Each figure is the median over ``--repeats`` runs of ``--calls`` calls, after a warm-up.  The
overhead is ``sync - async``.

Run: ``python -m benchmarks.sync_overhead`` (``--help`` for options, ``--json`` for machines).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
from anyio.from_thread import start_blocking_portal

from one_async.sync import SyncFacade, sync_method

TARGET_MS = 0.3


class AsyncEcho:
    """The async class: one trivial coroutine method."""

    async def ping(self, value: int) -> int:
        return value


class Echo(SyncFacade[AsyncEcho]):
    ping = sync_method(AsyncEcho.ping)


def _median_per_call(run: Callable[[int], float], calls: int, repeats: int) -> float:
    """Median seconds per call of ``run(calls)``, which returns the elapsed seconds."""
    run(max(calls // 10, 100))  # warm-up
    return statistics.median(run(calls) / calls for _ in range(repeats))


def _async_twin(backend: str, options: dict[str, Any]) -> Callable[[int], float]:
    def run(calls: int) -> float:
        async def main() -> float:
            echo = AsyncEcho()
            start = time.perf_counter()
            for i in range(calls):
                await echo.ping(i)
            return time.perf_counter() - start

        return anyio.run(main, backend=backend, backend_options=options)

    return run


def _sync(echo: Echo) -> Callable[[int], float]:
    def run(calls: int) -> float:
        start = time.perf_counter()
        for i in range(calls):
            echo.ping(i)
        return time.perf_counter() - start

    return run


def _sync_threads(echo: Echo, threads: int) -> Callable[[int], float]:
    def run(calls: int) -> float:
        share = calls // threads

        def work() -> None:
            for i in range(share):
                echo.ping(i)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return (time.perf_counter() - start) * calls / (share * threads)

    return run


def _sync_in_running_loop(echo: Echo) -> Callable[[int], float]:
    def run(calls: int) -> float:
        async def cell() -> float:  # a notebook cell: sync calls while a loop runs here
            start = time.perf_counter()
            for i in range(calls):
                echo.ping(i)
            return time.perf_counter() - start

        return asyncio.run(cell())

    return run


def _anyio_portal(backend: str, options: dict[str, Any]) -> Callable[[int], float]:
    def run(calls: int) -> float:
        echo = AsyncEcho()
        with start_blocking_portal(backend, options) as portal:
            start = time.perf_counter()
            for i in range(calls):
                portal.call(echo.ping, i)
            return time.perf_counter() - start

    return run


def measure(backend: str, options: dict[str, Any], calls: int, repeats: int) -> dict[str, float]:
    """Microseconds per call of every variant, and the overhead of sync over async."""
    results: dict[str, float] = {}
    results['async'] = _median_per_call(_async_twin(backend, options), calls, repeats)
    with Echo(AsyncEcho, backend=backend, backend_options=options) as echo:
        results['sync'] = _median_per_call(_sync(echo), calls, repeats)
        results['sync, 4 threads'] = _median_per_call(_sync_threads(echo, 4), calls, repeats)
        results['sync in a running loop'] = _median_per_call(
            _sync_in_running_loop(echo), calls, repeats
        )
    results['anyio portal'] = _median_per_call(_anyio_portal(backend, options), calls, repeats)
    micro = {name: seconds * 1e6 for name, seconds in results.items()}
    micro['overhead'] = micro['sync'] - micro['async']
    return micro


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument('--calls', type=int, default=5000, help='calls per run')
    parser.add_argument('--repeats', type=int, default=5, help='runs per figure (median)')
    parser.add_argument('--backend', action='append', choices=['asyncio', 'trio', 'uvloop'])
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    args = parser.parse_args(argv)
    backends = args.backend or ['asyncio', 'trio']
    report: dict[str, Any] = {
        'python': sys.version.split()[0],
        'platform': platform.platform(),
        'calls': args.calls,
        'repeats': args.repeats,
        'target_us': TARGET_MS * 1000,
        'backends': {},
    }
    for name in backends:
        backend, options = ('asyncio', {'use_uvloop': True}) if name == 'uvloop' else (name, {})
        report['backends'][name] = measure(backend, options, args.calls, args.repeats)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f'Python {report["python"]} on {report["platform"]}; {args.calls} calls x '
          f'{args.repeats} runs, median microseconds per call')  # fmt: skip
    rows = list(next(iter(report['backends'].values())))
    print(f'{"":26}' + ''.join(f'{name:>12}' for name in backends))
    for row in rows:
        print(f'{row:26}' + ''.join(f'{report["backends"][b][row]:12.1f}' for b in backends))
    worst = max(r['overhead'] for r in report['backends'].values())
    verdict = 'under' if worst < TARGET_MS * 1000 else 'OVER'
    print(f'worst overhead {worst:.1f} us: {verdict} the {TARGET_MS * 1000:.0f} us target')
    return 0 if worst < TARGET_MS * 1000 else 1


if __name__ == '__main__':
    sys.exit(main())
