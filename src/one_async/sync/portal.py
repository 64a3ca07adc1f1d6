"""An event loop in a background thread that sync code calls into: the engine of sync sessions.

:class:`Portal` runs an anyio event loop (asyncio or trio) in a daemon thread and runs
coroutines there on behalf of ordinary threads.  Because the
loop lives in its own thread, a sync call works even where the calling thread already runs an
event loop (Jupyter, IPython, an async web handler): that loop is only blocked, never re-entered.

Guarantees:

- A call from the portal's own loop thread (a callback of the async code calling back into the
  sync API) raises :class:`~one_async.exceptions.SyncCallError` instead of deadlocking.
- Calls from several threads at once run concurrently in the loop.
- Ctrl-C (``KeyboardInterrupt``) in a waiting thread cancels the coroutine, waits briefly for its
  clean-up, then propagates.
- The thread never outlives the portal: :meth:`Portal.close`, the context manager, or a
  ``weakref.finalize`` (garbage collection, interpreter exit) stops the loop and joins the thread.
  Collection in a thread other than the main one hands the closing to a short-lived thread, so
  that the collecting thread (possibly the loop's own, or a worker it waits for) never blocks.
- Async iterators and async context managers become :class:`SyncIterator` and
  :class:`SyncContextManager`, whose steps run in the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import CancelledError as FutureCancelledError
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import AbstractAsyncContextManager, suppress
from functools import partial
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio
import anyio.from_thread

from one_async import defaults
from one_async.exceptions import InvalidArgument, SyncCallError

__all__ = [
    'CallGroup',
    'Portal',
    'SyncContextManager',
    'SyncIterator',
    'blocks_loop',
    'finalize_soon',
    'from_sync',
    'register_sync_type',
    'to_sync',
]

_logger = logging.getLogger('one_async.sync')

T = TypeVar('T')
_BACKENDS = ('asyncio', 'trio')


class CallGroup:
    """The calls in flight on behalf of one owner, so that closing the owner can cancel them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Future[Any], threading.Event] = {}

    def add(self, future: Future[Any], done: threading.Event) -> None:
        with self._lock:
            self._calls[future] = done

    def discard(self, future: Future[Any]) -> None:
        with self._lock:
            self._calls.pop(future, None)

    def cancel_all(self, timeout: float) -> None:
        """Cancel every call in flight and wait up to ``timeout`` seconds for their clean-up."""
        with self._lock:
            calls = list(self._calls.items())
        for future, _ in calls:
            future.cancel()
        for _, done in calls:
            done.wait(timeout)


def _scheduler(backend: str) -> Callable[[Callable[[], object]], object]:
    """The running loop's thread-safe "call soon" (never blocks, works from any thread)."""
    if backend == 'trio':
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    return asyncio.get_running_loop().call_soon_threadsafe


class _Loop:
    """The thread, its event loop and task group; kept apart from :class:`Portal` so that its
    finalizer does not hold the portal.

    Calls are handed to the loop with its native thread-safe "call soon" (not anyio's
    ``BlockingPortal``, whose trio backend refuses callers that run a trio loop themselves).
    """

    _schedule: Callable[[Callable[[], object]], object]

    def __init__(self, backend: str, backend_options: Mapping[str, Any] | None, name: str) -> None:
        self.backend = backend
        self.pid = os.getpid()
        self._options = dict(backend_options or {})
        self._ready: Future[None] = Future()
        self._lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        try:
            self._ready.result()
        except BaseException:
            self.thread.join()
            raise
        self.thread_id = self.thread.ident

    def _run(self) -> None:
        async def main() -> None:
            # Callbacks scheduled from other threads run in the loop's context, where anyio
            # knows which backend is running.
            context = contextvars.copy_context()
            schedule = _scheduler(self.backend)
            self._schedule = lambda callback: schedule(partial(context.run, callback))
            self._stop = anyio.Event()
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                self._ready.set_result(None)
                await self._stop.wait()
                tasks.cancel_scope.cancel()

        try:
            anyio.run(main, backend=self.backend, backend_options=self._options)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            else:
                _logger.exception('The event loop of a sync session ended with an error')

    def alive(self) -> bool:
        return self.thread.is_alive()

    def submit(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        group: CallGroup | None = None,
    ) -> tuple[Future[Any], threading.Event]:
        """Start ``func(*args, **kwargs)`` as a task of the loop: its future and done event.

        The call joins ``group`` before it can start, so that cancelling the group never misses
        it (the caller discards it once done).  Raises RuntimeError when the loop is gone.
        """
        future: Future[Any] = Future()
        done = threading.Event()
        if group is not None:
            group.add(future, done)

        def spawn() -> None:
            if future.cancelled():  # interrupted while being submitted
                done.set()
                return
            try:
                self._tasks.start_soon(self._task, func, args, kwargs, future, done)
            except RuntimeError:  # the task group already closed
                future.cancel()
                done.set()

        try:
            self._schedule(spawn)
        except RuntimeError:
            if group is not None:
                group.discard(future)
            raise
        except BaseException:  # Ctrl-C while handing the call over: it may already run
            future.cancel()
            done.wait(defaults.SYNC_CANCEL_TIMEOUT)
            if group is not None:
                group.discard(future)
            raise
        return future, done

    def _cancel_soon(self, scope: anyio.CancelScope, future: Future[Any]) -> None:
        if not future.cancelled():
            return
        if threading.get_ident() == self.thread_id:
            scope.cancel()
        else:
            with suppress(RuntimeError):  # the loop is gone: nothing left to cancel
                self._schedule(scope.cancel)

    async def _task(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        future: Future[Any],
        done: threading.Event,
    ) -> None:
        try:
            with anyio.CancelScope() as scope:
                future.add_done_callback(partial(self._cancel_soon, scope))
                result = func(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except anyio.get_cancelled_exc_class():
            future.cancel()  # the loop is stopping
            raise
        except BaseException as exc:  # handed to the caller, never to the task group
            with suppress(InvalidStateError):  # the caller cancelled meanwhile
                future.set_exception(exc)
        else:
            if scope.cancelled_caught:
                future.cancel()
            else:
                with suppress(InvalidStateError):
                    future.set_result(result)
        finally:
            done.set()

    def stop(self) -> None:
        """Stop the loop, cancelling what still runs in it, and join the thread (once)."""
        with self._lock:
            if self.stopping:
                return
            self.stopping = True
        if self.pid != os.getpid():  # a forked child: the thread only exists in the parent
            return
        if threading.get_ident() == self.thread_id:
            # Collected or closed from inside the loop: ask it to stop, it cannot wait for itself.
            self._stop.set()
            return
        with suppress(RuntimeError):  # the loop already ended
            self._schedule(self._stop.set)
        self.thread.join()


def _wait(
    future: Future[T], done: threading.Event, loop: _Loop, task: Future[Any] | None = None
) -> T:
    """The result of ``future``; on Ctrl-C, cancel the task and wait for its clean-up first.

    ``task`` is the future of the task to cancel when it is not ``future`` itself.  Waiting is
    done in slices so that Ctrl-C is noticed on every platform and a dead loop is noticed.
    """
    try:
        while True:
            try:
                return future.result(timeout=defaults.SYNC_POLL_INTERVAL)
            except FutureTimeoutError:
                if future.done():  # the coroutine itself raised TimeoutError
                    raise
                if not loop.alive():
                    raise SyncCallError(
                        'The event loop of the session ended before the call completed',
                        value=loop.thread.name,
                    ) from None
    except FutureCancelledError:
        raise SyncCallError(
            'The call was cancelled: its session was closed while it ran', value=None
        ) from None
    except BaseException:
        target = future if task is None else task
        if not target.done():  # interrupted while waiting (KeyboardInterrupt, SystemExit)
            target.cancel()
            done.wait(defaults.SYNC_CANCEL_TIMEOUT)
        raise


def finalize_soon(close: Callable[[], object]) -> None:
    """Run a garbage-collection finalizer without blocking the collecting thread.

    Closing waits for an event loop; the collector may be any thread, including that loop's
    own thread or one of its worker threads, which the loop may be waiting for.  So only the
    main thread (where interpreter-exit finalizers run) closes in place; other threads hand the
    work to a new non-daemon thread, which the interpreter waits for before exiting.
    """
    if threading.current_thread() is threading.main_thread():
        close()
    else:
        threading.Thread(target=close, name='one_async-finalizer').start()


def blocks_loop(thread_id: int | None) -> bool:
    """True when the calling thread is the loop thread ``thread_id`` or one of its anyio worker
    threads: waiting there for the loop to finish could deadlock."""
    if threading.get_ident() == thread_id:
        return True
    try:
        return bool(anyio.from_thread.run_sync(threading.get_ident) == thread_id)
    except RuntimeError:  # not an anyio worker thread (or its loop has ended)
        return False


class Portal:
    """An anyio event loop in a daemon thread, and the door sync code calls coroutines through.

    Parameters
    ----------
    backend
        'asyncio' or 'trio'.
    backend_options
        Options of :func:`anyio.run` for the backend (e.g. ``{'use_uvloop': True}``).
    name
        Name of the thread (default: ``one_async-<backend>-portal``).
    """

    def __init__(
        self,
        backend: str = defaults.SYNC_BACKEND,
        backend_options: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        if backend not in _BACKENDS:
            raise InvalidArgument(
                f'backend must be one of {_BACKENDS}, got {backend!r}', value=backend
            )
        self._loop = _Loop(backend, backend_options, name or f'one_async-{backend}-portal')
        self._finalizer = weakref.finalize(self, finalize_soon, self._loop.stop)

    def __repr__(self) -> str:
        state = 'closed' if self.closed else 'running'
        return f'<{type(self).__name__} {self._loop.backend} {state}>'

    @property
    def backend(self) -> str:
        """The event loop backend, 'asyncio' or 'trio'."""
        return self._loop.backend

    @property
    def thread(self) -> threading.Thread:
        """The thread running the loop."""
        return self._loop.thread

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or the object was finalized)."""
        return self._loop.stopping

    def in_loop_thread(self) -> bool:
        """True when the calling thread is the one running the portal's loop."""
        return threading.get_ident() == self._loop.thread_id

    def _check(self) -> _Loop:
        loop = self._loop
        if threading.get_ident() == loop.thread_id:
            raise SyncCallError(
                "A sync method was called from inside its own session's event loop thread "
                '(e.g. from a callback), where waiting for the result would deadlock; use the '
                'async API there instead',
                value=threading.current_thread().name,
            )
        if loop.stopping:
            raise SyncCallError('The session is closed', value=repr(self))
        if loop.pid != os.getpid():
            raise SyncCallError(
                f'The session was created in process {loop.pid} and cannot be used in the '
                f'forked process {os.getpid()}; create a new one after forking',
                value=os.getpid(),
            )
        return loop

    def call(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``func(*args, **kwargs)`` in the loop and return its result, awaited if awaitable.

        Raises
        ------
        SyncCallError
            When called from the loop thread, after :meth:`close`, or when the portal was
            closed while the call ran.
        """
        return self.call_with(None, func, *args, **kwargs)

    def call_with(
        self, group: CallGroup | None, func: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        """:meth:`call`, registering the call in ``group`` while it runs (for cancellation)."""
        loop = self._check()
        try:
            future, done = loop.submit(func, args, kwargs, group)
        except RuntimeError:  # the loop ended between the check and the call
            raise SyncCallError('The session is closed', value=repr(self)) from None
        if group is None:
            return _wait(future, done, loop)
        try:
            return _wait(future, done, loop)
        finally:
            group.discard(future)

    def run_sync_in_loop(self, func: Callable[..., T], /, *args: Any) -> T:
        """Run a plain function in the loop thread, or directly when already there.

        For reading or setting attributes of objects that live in the loop: safe from any
        thread, and usable from the loop's own callbacks.
        """
        if self.in_loop_thread():
            return func(*args)
        result: T = self.call(func, *args)
        return result

    def to_sync(self, value: Any, group: CallGroup | None = None) -> Any:
        """``value`` with async iterators and async context managers made sync."""
        return to_sync(self, value, group)

    def close(self) -> None:
        """Stop the loop (cancelling whatever still runs in it) and join its thread.

        Raises
        ------
        SyncCallError
            When called from the loop's thread or one of its worker threads, which the loop
            would wait for.
        """
        if blocks_loop(self._loop.thread_id):
            raise SyncCallError(
                'A portal cannot be closed from its own event loop thread or its worker threads',
                value=threading.current_thread().name,
            )
        self._finalizer.detach()
        self._loop.stop()

    def __enter__(self) -> Portal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


SyncWrapper = Callable[[Portal, Any, 'CallGroup | None'], Any]
"""Makes the sync view of an async object: ``wrap(portal, value, group)``."""

_SYNC_TYPES: dict[type[Any], SyncWrapper] = {}
_ASYNC_OF: dict[type[Any], Callable[[Any], Any]] = {}


def register_sync_type(
    async_type: type[Any],
    wrap: SyncWrapper,
    sync_type: type[Any] | None = None,
    unwrap: Callable[[Any], Any] | None = None,
) -> None:
    """Teach :func:`to_sync` the sync view of ``async_type`` (and :func:`from_sync` the way
    back).

    ``wrap(portal, value, group)`` makes the view of a result (e.g. a lazily paginated list
    whose page fetches run in the portal); ``unwrap(view)``, called in the caller's thread,
    gives what an async method receives when a view of ``sync_type`` is passed to it again.
    """
    _SYNC_TYPES[async_type] = wrap
    if sync_type is not None and unwrap is not None:
        _ASYNC_OF[sync_type] = unwrap


def from_sync(value: Any) -> Any:
    """What an async method receives for a registered sync view (any other value unchanged)."""
    for sync_type, unwrap in _ASYNC_OF.items():
        if isinstance(value, sync_type):
            return unwrap(value)
    return value


def to_sync(portal: Portal, value: Any, group: CallGroup | None = None) -> Any:
    """Wrap an async iterator (or iterable) or an async context manager for sync use.

    Types registered with :func:`register_sync_type` get their sync view, and a tuple its
    items made sync (as ``(eids, details)`` results).  Any other value is returned unchanged.
    An object that is both an async iterator and an async context manager becomes a
    :class:`SyncIterator`.
    """
    for async_type, wrap in _SYNC_TYPES.items():
        if isinstance(value, async_type):
            return wrap(portal, value, group)
    if type(value) is tuple:
        items = tuple(to_sync(portal, item, group) for item in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if hasattr(value, '__anext__'):
        return SyncIterator(portal, value, group)
    if hasattr(value, '__aenter__') and hasattr(value, '__aexit__'):
        return SyncContextManager(portal, value, group)
    if hasattr(value, '__aiter__') and not hasattr(value, '__iter__'):
        return SyncIterator(portal, value.__aiter__(), group)
    return value


_END = object()


async def _next(iterator: AsyncIterator[Any]) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


def _close_iterator(portal: Portal, iterator: Any) -> None:
    aclose = getattr(iterator, 'aclose', None)
    if aclose is None or portal.closed or portal.in_loop_thread():
        return  # the loop closes leftover async generators when it stops
    with suppress(SyncCallError):
        portal.call(aclose)


class SyncIterator(Iterator[T]):
    """A sync iterator over an async one: each item is fetched in the portal's loop.

    ``close()`` (or leaving a ``with`` block, or garbage collection) closes the underlying async
    generator in the loop, so its ``finally`` clauses run.  Note that each step runs as its own
    task: an async generator must not hold a cancel scope or task group open across ``yield``.
    """

    def __init__(
        self, portal: Portal, iterator: AsyncIterator[T], group: CallGroup | None = None
    ) -> None:
        self._portal = portal
        self._iterator = iterator
        self._group = group
        self._finished = False
        self._finalizer = weakref.finalize(self, _close_iterator, portal, iterator)

    def __iter__(self) -> SyncIterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._portal.call_with(self._group, _next, self._iterator)
        if item is _END:
            self._finished = True
            self._finalizer.detach()
            raise StopIteration
        return to_sync(self._portal, item, self._group)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the async iterator (runs its clean-up in the loop)."""
        self._finished = True
        aclose = getattr(self._iterator, 'aclose', None)
        if self._finalizer.detach() is not None and aclose is not None:
            self._portal.call_with(self._group, aclose)

    def __enter__(self) -> SyncIterator[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def _host_context(
    manager: AbstractAsyncContextManager[Any],
    entered: Future[tuple[Any, anyio.Event]],
    exit_info: list[Any],
) -> bool | None:
    """Enter ``manager``, hand over its value, wait for the exit signal, then exit it.

    Enter and exit happen in this one task, as task groups and cancel scopes require.
    """
    release = anyio.Event()
    try:
        value = await manager.__aenter__()
    except anyio.get_cancelled_exc_class():
        entered.cancel()
        raise
    except BaseException as exc:
        entered.set_exception(exc)
        raise
    entered.set_result((value, release))
    try:
        await release.wait()
    finally:
        result = await manager.__aexit__(*exit_info)
    return result


class SyncContextManager(Generic[T]):
    """A sync context manager over an async one, entered and exited in one task of the loop.

    With ``convert`` (the default) the value given by ``__aenter__`` is itself made sync (an
    async iterator becomes a :class:`SyncIterator`).
    """

    def __init__(
        self,
        portal: Portal,
        manager: AbstractAsyncContextManager[T],
        group: CallGroup | None = None,
        *,
        convert: bool = True,
    ) -> None:
        self._portal = portal
        self._manager = manager
        self._group = group
        self._convert = convert
        self._task: Future[bool | None] | None = None
        self._release: anyio.Event | None = None
        self._exit_info: list[Any] = [None, None, None]
        self._done = threading.Event()
        self._loop: _Loop | None = None

    def __enter__(self) -> T:
        if self._task is not None:
            raise SyncCallError('This context manager was already entered', value=self._manager)
        loop = self._portal._check()
        entered: Future[tuple[Any, anyio.Event]] = Future()
        try:
            task, done = loop.submit(
                _host_context, (self._manager, entered, self._exit_info), {}, self._group
            )
        except RuntimeError:
            raise SyncCallError('The session is closed', value=repr(self._portal)) from None
        self._task, self._done, self._loop = task, done, loop
        try:
            value, self._release = _wait(entered, done, loop, task)
        except BaseException:
            if self._group is not None:
                self._group.discard(task)
            raise
        if self._convert:
            value = to_sync(self._portal, value, self._group)
        return value  # type: ignore[no-any-return]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task, release = self._task, self._release
        if task is None or release is None:
            raise SyncCallError('This context manager was not entered', value=self._manager)
        self._exit_info[:] = [exc_type, exc, tb]
        try:
            if not task.done():
                try:
                    self._portal.call(release.set)
                except SyncCallError:
                    if not task.done():
                        raise
            assert self._loop is not None
            return _wait(task, self._done, self._loop)
        finally:
            if self._group is not None:
                self._group.discard(task)
