"""The portal: an event loop thread that sync code calls coroutines through."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest
import trio

from one_async.exceptions import InvalidArgument, SyncCallError
from one_async.sync import Portal, SyncContextManager, SyncIterator


@pytest.fixture
def portal(backend: str) -> Iterator[Portal]:
    with Portal(backend) as portal:
        yield portal


async def _add(a: int, b: int, *, scale: int = 1) -> int:
    await anyio.lowlevel.checkpoint()
    return (a + b) * scale


def test_call_runs_the_coroutine_in_the_loop_thread(portal: Portal) -> None:
    assert portal.call(_add, 1, 2, scale=3) == 9
    assert portal.call(threading.get_ident) == portal.thread.ident != threading.get_ident()
    assert portal.call(anyio.get_current_task).name  # an anyio task: the loop is running
    assert portal.call(_running_backend) == portal.backend


def _running_backend() -> str:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        trio.lowlevel.current_trio_token()
        return 'trio'
    return 'asyncio'


def test_errors_propagate_with_their_type(portal: Portal) -> None:
    async def boom() -> None:
        raise InvalidArgument('bad thing', value=3)

    with pytest.raises(InvalidArgument, match='bad thing') as info:
        portal.call(boom)
    assert info.value.value == 3


def test_a_coroutine_raising_timeout_error_is_not_mistaken_for_waiting(portal: Portal) -> None:
    async def times_out() -> None:
        raise TimeoutError('from the coroutine')

    with pytest.raises(TimeoutError, match='from the coroutine'):
        portal.call(times_out)


def test_calling_from_the_loop_thread_raises_instead_of_deadlocking(portal: Portal) -> None:
    async def reenter() -> int:
        result: int = portal.call(_add, 1, 1)  # blocks the loop it needs: must refuse
        return result

    with pytest.raises(SyncCallError, match="own session's event loop thread"):
        portal.call(reenter)
    assert portal.call(_add, 2, 2) == 4  # the portal still works


def test_run_sync_in_loop_works_from_both_sides(portal: Portal) -> None:
    assert portal.run_sync_in_loop(threading.get_ident) == portal.thread.ident

    async def inside() -> int:
        return portal.run_sync_in_loop(threading.get_ident)

    assert portal.call(inside) == portal.thread.ident


def test_calls_from_several_threads_run_concurrently(portal: Portal) -> None:
    n = 8
    arrived = 0
    all_there: list[anyio.Event] = []

    async def meet() -> int:
        # Returns only once every caller is inside at the same time: serialised calls would
        # fail (after 20 s) instead of passing.
        nonlocal arrived
        if not all_there:
            all_there.append(anyio.Event())
        arrived += 1
        if arrived == n:
            all_there[0].set()
        with anyio.fail_after(20):
            await all_there[0].wait()
        return arrived

    results: list[object] = []

    def worker() -> None:
        try:
            results.append(portal.call(meet))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [n] * n


def test_works_inside_a_running_asyncio_loop(portal: Portal) -> None:
    async def notebook_cell() -> int:
        # What a Jupyter cell does: sync code while the kernel's loop is running here.
        asyncio.get_running_loop()
        result: int = portal.call(_add, 20, 22)
        return result

    assert asyncio.run(notebook_cell()) == 42


def test_works_inside_a_running_trio_loop(portal: Portal) -> None:
    async def handler() -> int:
        result: int = portal.call(_add, 1, 2)
        return result

    assert trio.run(handler) == 3


def test_close_stops_the_thread_and_refuses_calls(backend: str) -> None:
    portal = Portal(backend)
    thread = portal.thread
    portal.close()
    assert not thread.is_alive()
    assert portal.closed
    with pytest.raises(SyncCallError, match='closed'):
        portal.call(_add, 1, 2)
    portal.close()  # idempotent


def test_close_cancels_what_still_runs(backend: str) -> None:
    portal = Portal(backend)
    started = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    def caller() -> None:
        try:
            portal.call(forever)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(20)
    portal.close()
    thread.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], SyncCallError)
    assert not portal.thread.is_alive()


def test_a_forgotten_portal_stops_its_thread_when_collected(backend: str) -> None:
    portal = Portal(backend)
    thread = portal.thread
    ref = weakref.ref(portal)
    del portal
    gc.collect()
    assert ref() is None
    thread.join(20)
    assert not thread.is_alive()


def test_closing_from_the_loop_thread_is_refused(portal: Portal) -> None:
    async def close_inside() -> None:
        portal.close()

    with pytest.raises(SyncCallError, match='own event loop thread'):
        portal.call(close_inside)


def test_invalid_backend() -> None:
    with pytest.raises(InvalidArgument, match='curio') as info:
        Portal('curio')
    assert info.value.value == 'curio'


@pytest.mark.skipif(sys.platform == 'win32', reason='signals to a thread need POSIX')
def test_ctrl_c_cancels_the_coroutine_and_waits_for_its_cleanup(portal: Portal) -> None:
    assert threading.current_thread() is threading.main_thread()
    started = threading.Event()
    events: list[str] = []

    async def long_job() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            events.append('cancelled')
            raise
        finally:
            events.append('cleaned up')

    def press_ctrl_c() -> None:
        started.wait(20)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    interrupter = threading.Thread(target=press_ctrl_c)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        portal.call(long_job)
    interrupter.join()
    assert events == ['cancelled', 'cleaned up']  # done before KeyboardInterrupt surfaced
    assert portal.call(_add, 1, 1) == 2


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='needs fork')
def test_a_forked_child_gets_a_clear_error(portal: Portal) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the loop thread does not exist here
        code = 1
        try:
            portal.call(_add, 1, 2)
        except SyncCallError as exc:
            code = 0 if 'forked' in str(exc) else 2
        except BaseException:
            code = 3
        os.write(write_end, bytes([code]))
        os._exit(0)
    os.close(write_end)
    status = os.read(read_end, 1)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert status == bytes([0])
    assert portal.call(_add, 1, 2) == 3  # the parent is unaffected


# --- async iterators and context managers ------------------------------------------------


def test_async_generators_become_sync_iterators(portal: Portal) -> None:
    closed_in: list[int] = []

    async def count(n: int) -> AsyncIterator[int]:
        try:
            for i in range(n):
                await anyio.lowlevel.checkpoint()
                yield i
        finally:
            closed_in.append(threading.get_ident())

    iterator = portal.to_sync(count(4))
    assert isinstance(iterator, SyncIterator)
    assert list(iterator) == [0, 1, 2, 3]
    assert next(iterator, 'end') == 'end'
    assert closed_in == [portal.thread.ident]

    with portal.to_sync(count(100)) as partial:
        assert next(partial) == 0
        assert next(partial) == 1
    assert closed_in == [portal.thread.ident] * 2  # leaving the block closed the generator


def test_a_dropped_iterator_closes_its_generator(portal: Portal) -> None:
    closed: list[str] = []

    async def count() -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            closed.append('closed')

    iterator = portal.to_sync(count())
    assert next(iterator) == 0
    del iterator
    gc.collect()
    assert closed == ['closed']


def test_async_iterables_become_sync_iterators(portal: Portal) -> None:
    class Numbers:
        def __aiter__(self) -> AsyncIterator[int]:
            return self._gen()

        async def _gen(self) -> AsyncIterator[int]:
            for i in range(3):
                yield i

    assert list(portal.to_sync(Numbers())) == [0, 1, 2]
    assert portal.to_sync(5) == 5


def test_async_context_managers_are_entered_and_exited_in_one_task(portal: Portal) -> None:
    events: list[object] = []

    @asynccontextmanager
    async def session() -> AsyncIterator[str]:
        # A task group across the yield only works when enter and exit share a task.
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 0)
            events.append(('enter', anyio.get_current_task().id))
            try:
                yield 'value'
            finally:
                events.append(('exit', anyio.get_current_task().id))

    manager = portal.to_sync(session())
    assert isinstance(manager, SyncContextManager)
    with manager as value:
        assert value == 'value'
    assert [e[0] for e in events] == ['enter', 'exit']  # type: ignore[index]
    assert events[0][1] == events[1][1]  # type: ignore[index]


def test_context_manager_sees_and_may_suppress_the_block_error(portal: Portal) -> None:
    seen: list[BaseException | None] = []

    class Suppressing:
        async def __aenter__(self) -> Suppressing:
            return self

        async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
            seen.append(exc)
            return isinstance(exc, KeyError)

    with SyncContextManager(portal, Suppressing()):
        raise KeyError('swallowed')
    with pytest.raises(ValueError, match='kept'), SyncContextManager(portal, Suppressing()):
        raise ValueError('kept')
    assert [type(e) for e in seen] == [KeyError, ValueError]


def test_context_manager_enter_errors_propagate(portal: Portal) -> None:
    @asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        raise InvalidArgument('cannot open', value='x')
        yield

    with pytest.raises(InvalidArgument, match='cannot open'), portal.to_sync(broken()):
        pass
