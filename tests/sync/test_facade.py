"""Sync facades of async classes: generated methods, pass-through, life cycle, safety."""

from __future__ import annotations

import asyncio
import gc
import inspect
import signal
import subprocess
import sys
import textwrap
import threading
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from one_async.exceptions import InvalidArgument, SyncCallError
from one_async.sync import (
    Portal,
    SyncContextManager,
    SyncFacade,
    SyncIterator,
    SyncMethod,
    facade_source,
    missing_declarations,
    sync_method,
    sync_property,
)

from .conftest import AsyncSample, Sample

# --- generated methods -------------------------------------------------------------------


def test_methods_keep_name_signature_and_docstring(sample: Sample) -> None:
    async_search = AsyncSample().search
    assert sample.search.__name__ == 'search'
    assert Sample.search.__qualname__ == 'Sample.search'
    assert inspect.signature(sample.search) == inspect.signature(async_search)
    assert inspect.signature(Sample.search) == inspect.signature(AsyncSample.search)
    assert isinstance(vars(Sample)['search'], SyncMethod)
    doc = sample.search.__doc__ or ''
    assert doc == Sample.search.__doc__
    assert doc.startswith(f'Sync version of :meth:`{AsyncSample.__module__}.AsyncSample.search`.')
    assert '>>> sample.search(' in doc
    assert 'await' not in doc
    assert 'Search sessions.' in doc


def test_return_annotations_name_the_sync_types(sample: Sample) -> None:
    assert inspect.signature(sample.items).return_annotation == 'SyncIterator[int]'
    assert inspect.signature(sample.stream).return_annotation == 'SyncIterator[int]'
    assert inspect.signature(sample.opened).return_annotation == 'SyncContextManager[str]'
    assert inspect.signature(sample.search).return_annotation == 'list[str]'


def test_calls_run_in_the_facade_loop(sample: Sample) -> None:
    assert sample.search('SW_001', limit=3) == ['SW_001'] * 3
    assert sample._async_object.loop_thread == sample.portal.thread.ident
    assert sample.portal.thread.ident != threading.get_ident()
    with pytest.raises(TypeError):
        sample.search('x', bad=1)  # the async signature applies


def test_errors_propagate_with_their_type(sample: Sample) -> None:
    with pytest.raises(InvalidArgument, match="bad value 'z'") as info:
        sample.fail('z')
    assert info.value.value == 'z'


def test_async_generators_and_iterators_become_sync(sample: Sample, log: list[str]) -> None:
    items = sample.items(3)
    assert isinstance(items, SyncIterator)
    assert list(items) == [0, 1, 2]
    assert list(sample.stream(2)) == [0, 1]
    with sample.items(10) as partial:
        assert next(partial) == 0
    thread = sample.portal.thread.ident
    assert log == [f'items closed in {thread}'] * 3


def test_async_context_managers_become_sync(sample: Sample, log: list[str]) -> None:
    manager = sample.opened('a')
    assert isinstance(manager, SyncContextManager)
    with manager as value:
        assert value == 'A'
    with pytest.raises(KeyError), sample.opened('b'):
        raise KeyError('inside')
    assert log == ['enter a', 'exit a', 'enter b', "saw KeyError('inside')", 'exit b']


def test_undeclared_members_are_completed_at_run_time(sample: Sample) -> None:
    assert missing_declarations(Sample) == [
        'call_back',
        'fail',
        'in_worker',
        'stream',
        'thread_id',
        'wait_forever',
    ]
    assert sample.thread_id() == sample.portal.thread.ident
    assert 'aclose' not in dir(Sample)  # closing goes through close()
    assert inspect.signature(sample.fail) == inspect.signature(AsyncSample().fail)


def test_facade_source_declares_every_member() -> None:
    source = facade_source(AsyncSample)
    assert source.startswith('class Sample(SyncFacade[AsyncSample]):')
    assert '    search = sync_method(AsyncSample.search)' in source
    assert '    root = sync_property(AsyncSample.root)' in source
    assert 'aclose' not in source
    namespace: dict[str, Any] = {
        'SyncFacade': SyncFacade,
        'AsyncSample': AsyncSample,
        'sync_method': sync_method,
        'sync_property': sync_property,
    }
    exec(source, namespace)
    assert missing_declarations(namespace['Sample']) == []


def test_auto_false_leaves_undeclared_members_out(backend: str) -> None:
    class Partial(SyncFacade[AsyncSample], auto=False):
        search = sync_method(AsyncSample.search)

    with Partial(AsyncSample, backend=backend) as facade:
        assert 'fail' in missing_declarations(Partial)
        assert 'fail' not in vars(Partial)
        # still reachable dynamically, through the same call path
        with pytest.raises(InvalidArgument):
            facade.fail(1)


def test_sync_method_refuses_plain_functions() -> None:
    with pytest.raises(InvalidArgument, match='coroutine function'):
        sync_method(AsyncSample.double)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match='needs a property'):
        sync_property(AsyncSample.double)


# --- pass-through --------------------------------------------------------------------------


def test_properties_and_attributes_pass_through(sample: Sample) -> None:
    inner = sample._async_object
    assert sample.root == Path('/data')
    sample.root = Path('/other')
    assert inner.root == Path('/other')
    assert sample.flag == 1
    sample.flag = 7  # an attribute of the async object is set there
    assert inner.flag == 7
    assert sample.double(21) == 42  # plain methods are called directly
    sample._private = 1  # private names stay on the facade
    assert not hasattr(inner, '_private')
    sample.new_name = 2  # unknown names stay on the facade too
    assert not hasattr(inner, 'new_name')
    with pytest.raises(AttributeError):
        _ = sample.no_such_attribute
    assert 'flag' in dir(sample)


# --- life cycle ------------------------------------------------------------------------------


def test_close_closes_the_object_then_stops_the_loop(backend: str, log: list[str]) -> None:
    facade = Sample(lambda: AsyncSample(log), backend=backend)
    inner, thread = facade._async_object, facade.portal.thread
    facade.close()
    assert log == ['aclose']
    assert inner.closed_in == thread.ident  # closed in the loop
    assert not thread.is_alive()
    assert facade.closed
    with pytest.raises(SyncCallError, match='closed'):
        facade.search('x')
    facade.close()  # idempotent
    assert log == ['aclose']


def test_context_manager_closes(backend: str, log: list[str]) -> None:
    with Sample(lambda: AsyncSample(log), backend=backend) as facade:
        thread = facade.portal.thread
    assert log == ['aclose']
    assert not thread.is_alive()


class AsyncService:
    """An async context manager running a background task for its whole life."""

    def __init__(self) -> None:
        self.ticks = 0
        self.log: list[str] = []
        self._ticked = anyio.Event()

    async def __aenter__(self) -> AsyncService:
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._ticker)
        self.log.append('entered')
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._tasks.cancel_scope.cancel()
        await self._tasks.__aexit__(None, None, None)
        self.log.append('exited')

    async def _ticker(self) -> None:
        while True:
            self.ticks += 1
            self._ticked.set()
            self._ticked = anyio.Event()
            await anyio.sleep(0.001)

    async def wait_ticks(self, n: int) -> int:
        with anyio.fail_after(20):
            while self.ticks < n:
                await self._ticked.wait()
        return self.ticks


class Service(SyncFacade[AsyncService]):
    wait_ticks = sync_method(AsyncService.wait_ticks)


def test_an_async_context_manager_stays_entered_for_the_facade_life(backend: str) -> None:
    # The task group spans the facade's life: this works only if enter and exit share a task.
    facade = Service(AsyncService, backend=backend)
    inner = facade._async_object
    assert facade.wait_ticks(3) >= 3
    facade.close()
    assert inner.log == ['entered', 'exited']


def test_async_factories_are_awaited(backend: str) -> None:
    async def open_sample() -> AsyncSample:
        await anyio.lowlevel.checkpoint()
        sample = AsyncSample()
        sample.flag = 99
        return sample

    with Sample(open_sample, backend=backend) as facade:
        assert facade.flag == 99


def test_a_failing_factory_leaves_no_thread(backend: str) -> None:
    before = set(threading.enumerate())

    def broken() -> AsyncSample:
        raise InvalidArgument('cannot open', value='x')

    with pytest.raises(InvalidArgument, match='cannot open'):
        Sample(broken, backend=backend)
    assert {t for t in threading.enumerate() if t.is_alive()} <= before


def test_close_cancels_calls_in_flight_first(backend: str, log: list[str]) -> None:
    facade = Sample(lambda: AsyncSample(log), backend=backend)
    started = threading.Event()
    outcome: list[BaseException] = []

    def caller() -> None:
        try:
            facade.wait_forever(started)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    assert started.wait(20)
    facade.close()
    thread.join()
    assert [type(e) for e in outcome] == [SyncCallError]
    assert log == ['wait_forever cleaned up', 'aclose']


def test_a_forgotten_facade_is_closed_by_garbage_collection(backend: str, log: list[str]) -> None:
    facade = Sample(lambda: AsyncSample(log), backend=backend)
    thread = facade.portal.thread
    ref = weakref.ref(facade)
    del facade
    gc.collect()
    assert ref() is None
    thread.join(20)
    assert not thread.is_alive()
    assert log == ['aclose']


def test_collected_inside_its_own_loop_thread(backend: str, log: list[str]) -> None:
    # The last reference dies in the loop thread, which cannot wait for itself: closing is
    # handed to another thread instead of deadlocking.
    holder = [Sample(lambda: AsyncSample(log), backend=backend)]
    portal = holder[0].portal
    thread = portal.thread
    portal.call(holder.clear)
    thread.join(20)
    assert not thread.is_alive()
    assert log == ['aclose']


def test_the_loop_thread_does_not_outlive_the_interpreter(tmp_path: Path) -> None:
    script = tmp_path / 'forgotten.py'
    script.write_text(
        textwrap.dedent(
            """
            import anyio
            from one_async.sync import SyncFacade, sync_method

            class AsyncThing:
                async def ping(self) -> str:
                    await anyio.lowlevel.checkpoint()
                    return 'pong'

                async def aclose(self) -> None:
                    print('closed at exit', flush=True)

            class Thing(SyncFacade[AsyncThing]):
                ping = sync_method(AsyncThing.ping)

            THING = Thing(AsyncThing)  # a module global, never closed
            print(THING.ping(), flush=True)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['pong', 'closed', 'at', 'exit']


def test_a_shared_portal_outlives_its_facades(backend: str) -> None:
    with Portal(backend) as portal:
        first = Sample(AsyncSample, portal=portal)
        second = Sample(AsyncSample, portal=portal)
        first.close()
        assert portal.thread.is_alive()
        assert second.search('x', limit=1) == ['x']
        with pytest.raises(SyncCallError, match='closed'):
            first.search('x')
        second.close()
        assert portal.thread.is_alive()
    assert not portal.thread.is_alive()


# --- where sync calls are made from -----------------------------------------------------------


def test_callbacks_from_the_loop_get_an_error_not_a_deadlock(sample: Sample) -> None:
    with pytest.raises(SyncCallError, match="own session's event loop thread"):
        sample.call_back(lambda: sample.search('x'))
    with pytest.raises(SyncCallError, match='own event loop thread'):
        sample.call_back(sample.close)
    assert not sample.closed
    # Pass-through members need no loop round trip and work from callbacks.
    assert sample.call_back(lambda: sample.double(2)) == 4


def test_worker_threads_of_the_loop_may_call_but_not_close(sample: Sample) -> None:
    # A worker thread (anyio.to_thread) leaves the loop free: sync calls work there ...
    assert sample.in_worker(lambda: sample.search('w', limit=1)) == ['w']
    # ... but closing would wait for the loop, which waits for this worker.
    with pytest.raises(SyncCallError, match='worker threads'):
        sample.in_worker(sample.close)
    assert not sample.closed


def test_many_threads_share_one_facade(sample: Sample) -> None:
    errors: list[BaseException] = []
    results: list[list[str]] = []

    def worker(i: int) -> None:
        try:
            for j in range(20):
                results.append(sample.search(f'{i}-{j}', limit=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r[0] for r in results) == sorted(f'{i}-{j}' for i in range(8) for j in range(20))


@pytest.mark.anyio
async def test_sync_calls_inside_a_running_event_loop(backend: str, log: list[str]) -> None:
    # The Jupyter case (and an async web handler calling sync code): the caller's loop is
    # blocked during the call but nothing deadlocks, on either backend of either side.
    with Sample(lambda: AsyncSample(log), backend=backend) as facade:
        assert facade.search('in a notebook', limit=1) == ['in a notebook']
        assert list(facade.items(2)) == [0, 1]
        with facade.opened('cell') as value:
            assert value == 'CELL'
    assert log[-1] == 'aclose'


def test_sync_calls_from_asyncio_to_thread(sample: Sample) -> None:
    async def handler() -> list[str]:
        return await asyncio.to_thread(sample.search, 'worker', limit=1)

    assert asyncio.run(handler()) == ['worker']


def test_repr_names_the_async_object(sample: Sample) -> None:
    assert 'AsyncSample' in repr(sample)


class AsyncMisc:
    async def numbers(self) -> AsyncIterator[int]:
        yield 1


def test_generic_facade_without_declarations(backend: str) -> None:
    class Misc(SyncFacade[AsyncMisc]):
        pass

    with Misc(AsyncMisc, backend=backend) as misc:
        assert list(misc.numbers()) == [1]
        assert missing_declarations(Misc) == ['numbers']


@pytest.mark.skipif(sys.platform == 'win32', reason='signals to a thread need POSIX')
def test_ctrl_c_during_a_sync_method_cancels_its_coroutine(sample: Sample, log: list[str]) -> None:
    assert threading.current_thread() is threading.main_thread()
    started = threading.Event()

    def press_ctrl_c() -> None:
        started.wait(20)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    interrupter = threading.Thread(target=press_ctrl_c)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        sample.wait_forever(started)
    interrupter.join()
    assert log == ['wait_forever cleaned up']
    assert sample.search('still usable', limit=1) == ['still usable']
