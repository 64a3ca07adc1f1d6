"""Sync twins of async classes, written once: one typed line per method, no logic repeated.

A sync class derives from :class:`SyncFacade` parametrised by the async class, and declares each
coroutine method with :func:`sync_method`::

    class One(SyncFacade[AsyncOne]):
        search = sync_method(AsyncOne.search)
        load_object = sync_method(AsyncOne.load_object)
        cache_dir = sync_property(AsyncOne.cache_dir)

    one = One(lambda: AsyncOne(cache_dir=...))   # built in the facade's loop thread
    one.search(subject='SW_001')                 # runs AsyncOne.search in the facade's loop

Each generated method has the async method's name, ``inspect.signature`` (return annotation
made sync) and docstring (prefixed "Sync version of ...", ``await`` removed from examples) and
runs the coroutine through the facade's :class:`~one_async.sync.portal.Portal`.  Returned async
iterators become sync iterators and async context managers sync ones.

Typing trade-off: a class built entirely at run time would leave mypy and pyright blind, and
hand-written ``def`` wrappers would repeat every signature.  The one-line declarations are typed
through ``ParamSpec`` (``Callable[Concatenate[A, P], Coroutine[..., R]]`` becomes
``Callable[P, R]``), so static checkers see exactly the async parameters and the sync return
type, while nothing but the name is written twice.  Public coroutine methods and properties of
the async class that are not declared are still added at class creation (``auto=True``), so the
runtime API is complete even when a declaration is missing; :func:`missing_declarations` lists
them (a test should keep it empty) and :func:`facade_source` prints the lines to paste.
Non-coroutine attributes and methods pass through to the async object directly, in the calling
thread; static methods are copied, so they also work on the facade class.
"""

from __future__ import annotations

import inspect
import re
import threading
import typing
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
)
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    nullcontext,
)
from types import TracebackType
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, TypeVar, overload

from one_async import defaults
from one_async.exceptions import InvalidArgument, SyncCallError
from one_async.sync.portal import (
    CallGroup,
    Portal,
    SyncContextManager,
    SyncIterator,
    blocks_loop,
    finalize_soon,
    from_sync,
    to_sync,
)

__all__ = [
    'SyncFacade',
    'SyncMethod',
    'SyncProperty',
    'facade_source',
    'missing_declarations',
    'sync_docstring',
    'sync_method',
    'sync_property',
    'sync_signature',
]

A = TypeVar('A')
P = ParamSpec('P')
R = TypeVar('R')
T = TypeVar('T')
Y = TypeVar('Y')
F = TypeVar('F', bound='SyncFacade[Any]')

# --- signatures and docstrings -----------------------------------------------------------------

_ITERATOR_NAMES = ('AsyncIterator', 'AsyncGenerator', 'AsyncIterable')
_CONTEXT_NAMES = ('AbstractAsyncContextManager', 'AsyncContextManager')
_GENERIC = re.compile(r'^(?:[\w.]+\.)?(\w+)\[(.*)\]$', re.DOTALL)


def _first_argument(arguments: str) -> str:
    """The first top-level argument of ``'X[a, b], c'``-like text."""
    depth = 0
    for index, char in enumerate(arguments):
        if char in '[(':
            depth += 1
        elif char in '])':
            depth -= 1
        elif char == ',' and depth == 0:
            return arguments[:index].strip()
    return arguments.strip()


def _sync_annotation(annotation: Any, context_manager: bool) -> Any:
    """The annotation a sync caller sees for an async return annotation.

    ``context_manager`` marks an ``@asynccontextmanager`` method, whose annotation is that of
    the generator it decorates.
    """
    if annotation is inspect.Signature.empty:
        return annotation
    if isinstance(annotation, str):
        match = _GENERIC.match(annotation.strip())
        if not match:
            return annotation
        name, argument = match.group(1), _first_argument(match.group(2))
        if name in _ITERATOR_NAMES:
            wrapper = 'SyncContextManager' if context_manager else 'SyncIterator'
            return f'{wrapper}[{argument}]'
        if name in _CONTEXT_NAMES:
            return f'SyncContextManager[{argument}]'
        return annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (AsyncIterator, AsyncGenerator, AsyncIterable) and args:
        if context_manager:
            return SyncContextManager[args[0]]  # type: ignore[valid-type]
        return SyncIterator[args[0]]  # type: ignore[valid-type]
    if origin is AbstractAsyncContextManager and args:
        return SyncContextManager[args[0]]  # type: ignore[valid-type]
    return annotation


def sync_signature(func: Callable[..., Any]) -> inspect.Signature:
    """The signature of the sync twin of ``func``: the same parameters, a sync return type."""
    signature = inspect.signature(func)
    context_manager = not (
        inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
    ) and inspect.isasyncgenfunction(inspect.unwrap(func))
    annotation = _sync_annotation(signature.return_annotation, context_manager)
    return signature.replace(return_annotation=annotation)


_AWAIT = re.compile(r'\bawait\s+')
_ASYNC = re.compile(r'\basync\s+(for|with)\b')


def _sync_example(line: str) -> str:
    stripped = line.lstrip()
    if not stripped.startswith(('>>> ', '... ')):
        return line
    return _ASYNC.sub(r'\1', _AWAIT.sub('', line))


def sync_docstring(func: Callable[..., Any]) -> str:
    """The docstring of the sync twin of ``func``.

    It starts with "Sync version of ..." naming the async method, followed by the async
    docstring whose ``>>>`` examples lose their ``await`` and ``async for``/``async with``.
    """
    head = f'Sync version of :meth:`{func.__module__}.{func.__qualname__}`.'
    doc = inspect.getdoc(func)
    if not doc:
        return head
    return head + '\n\n' + '\n'.join(_sync_example(line) for line in doc.splitlines())


def _is_async_method(func: Any) -> bool:
    """True for coroutine and async generator functions, also behind ``functools.wraps``
    decorators such as ``@asynccontextmanager``."""
    if not callable(func):
        return False
    unwrapped = inspect.unwrap(func)
    return any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (func, unwrapped)
    )


# --- descriptors ---------------------------------------------------------------------------


class SyncMethod(Generic[A, P, R]):
    """A method of a :class:`SyncFacade` running a coroutine method of its async object.

    Made by :func:`sync_method`; on an instance it is a bound method with the async method's
    signature and an adapted docstring.
    """

    def __init__(self, func: Callable[Concatenate[A, P], Any]) -> None:
        if not _is_async_method(func):
            raise InvalidArgument(
                f'sync_method needs a coroutine function, an async generator function or an '
                f'@asynccontextmanager method, got {func!r}',
                value=func,
            )
        self.func = func
        self.name: str = func.__name__
        self._function = self._build(self.name, type(self).__module__, self.name)
        self.__doc__ = self._function.__doc__

    def _build(self, name: str, module: str, qualname: str) -> Callable[..., Any]:
        target = self.func.__name__

        def method(facade: SyncFacade[Any], /, *args: Any, **kwargs: Any) -> Any:
            return facade._call_async(target, args, kwargs)

        method.__name__ = name
        method.__qualname__ = qualname
        method.__module__ = module
        method.__doc__ = sync_docstring(self.func)
        method.__signature__ = sync_signature(self.func)  # type: ignore[attr-defined]
        return method

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name
        self._function = self._build(name, owner.__module__, f'{owner.__qualname__}.{name}')

    @overload
    def __get__(
        self, instance: None, owner: type[Any]
    ) -> Callable[Concatenate[SyncFacade[A], P], R]: ...

    @overload
    def __get__(self, instance: SyncFacade[A], owner: type[Any]) -> Callable[P, R]: ...

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        if instance is None:  # on the class: the plain function, as for any method
            return self._function
        return self._function.__get__(instance, owner)

    def __repr__(self) -> str:
        return f'<sync method {self.name} of {self.func.__qualname__}>'


@overload
def sync_method(
    func: Callable[Concatenate[A, P], AsyncIterator[Y]],
) -> SyncMethod[A, P, SyncIterator[Y]]: ...


@overload
def sync_method(
    func: Callable[Concatenate[A, P], Coroutine[Any, Any, AsyncIterator[Y]]],
) -> SyncMethod[A, P, SyncIterator[Y]]: ...


@overload
def sync_method(
    func: Callable[Concatenate[A, P], Coroutine[Any, Any, AbstractAsyncContextManager[T]]],
) -> SyncMethod[A, P, SyncContextManager[T]]: ...


@overload
def sync_method(
    func: Callable[Concatenate[A, P], AbstractAsyncContextManager[T]],
) -> SyncMethod[A, P, SyncContextManager[T]]: ...


@overload
def sync_method(
    func: Callable[Concatenate[A, P], Coroutine[Any, Any, R]],
) -> SyncMethod[A, P, R]: ...


def sync_method(func: Callable[Concatenate[A, P], Any]) -> SyncMethod[A, P, Any]:
    """Declare the sync twin of the coroutine (or async generator) method ``func``.

    Use as a class attribute of a :class:`SyncFacade` subclass:
    ``search = sync_method(AsyncOne.search)``.  Static checkers see the async parameters and
    the sync result: ``R`` for a coroutine returning ``R``, :class:`SyncIterator` for async
    iterators, :class:`SyncContextManager` for async context managers.
    """
    return SyncMethod(func)


class SyncProperty(Generic[A, T]):
    """An attribute of a :class:`SyncFacade` read and set on its async object, in the caller's
    thread (plain attribute access does not need the event loop)."""

    def __init__(self, name: str, doc: str | None = None) -> None:
        self.name = name
        self.__doc__ = doc

    def __set_name__(self, owner: type[Any], name: str) -> None:
        if name != self.name:
            raise InvalidArgument(
                f'sync_property for {self.name!r} is declared under another name, {name!r}',
                value=name,
            )

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> SyncProperty[A, T]: ...

    @overload
    def __get__(self, instance: SyncFacade[A], owner: type[Any]) -> T: ...

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        if instance is None:
            return self
        return getattr(instance._async_object, self.name)

    def __set__(self, instance: SyncFacade[A], value: T) -> None:
        setattr(instance._async_object, self.name, value)

    def __repr__(self) -> str:
        return f'<sync property {self.name}>'


@overload
def sync_property(prop: Callable[[A], T]) -> SyncProperty[A, T]: ...


@overload
def sync_property(prop: property) -> SyncProperty[Any, Any]: ...


def sync_property(prop: Any) -> SyncProperty[Any, Any]:
    """Declare a property of the async class as a property of the facade.

    ``cache_dir = sync_property(AsyncOne.cache_dir)``: mypy types it as the getter's return
    type.  Reads and writes go straight to the async object.
    """
    if not isinstance(prop, property) or prop.fget is None:
        raise InvalidArgument(f'sync_property needs a property, got {prop!r}', value=prop)
    return SyncProperty(prop.fget.__name__, prop.__doc__)


class _PassthroughMethod:
    """A plain (sync) public method of the async class, listed on the facade for ``help()``."""

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        self.name = name
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        if instance is None:
            return self
        return getattr(instance._async_object, self.name)


# --- the facade ---------------------------------------------------------------------------


@asynccontextmanager
async def _lifetime(open_: Callable[[], Any]) -> AsyncIterator[Any]:
    """Open the async object in the loop and keep it open until the facade closes.

    ``open_()`` may return the object, an awaitable of it, or an async context manager
    (entered, and exited on close); otherwise the object's ``aclose()`` runs on close.
    """
    obj = open_()
    if inspect.isawaitable(obj):
        obj = await obj
    if hasattr(obj, '__aenter__') and hasattr(obj, '__aexit__'):
        async with obj as value:
            yield value
        return
    try:
        yield obj
    finally:
        aclose = getattr(obj, 'aclose', None)
        if aclose is not None:
            await aclose()


class _FacadeState:
    """What closing a facade needs, held apart from it for its ``weakref.finalize``."""

    def __init__(
        self,
        portal: Portal,
        owns_portal: bool,
        lifetime: AbstractContextManager[Any],
    ) -> None:
        self.portal = portal
        self.owns_portal = owns_portal
        self.lifetime = lifetime
        self.group = CallGroup()
        self.closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        """Cancel calls in flight, close the async object, stop the owned loop (once)."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        try:
            self.group.cancel_all(defaults.SYNC_CLOSE_TIMEOUT)
            self.lifetime.__exit__(None, None, None)
        finally:
            if self.owns_portal:
                self.portal.close()


def _async_class_of(cls: type[Any]) -> type[Any] | None:
    for base in cls.__dict__.get('__orig_bases__', ()):
        if typing.get_origin(base) is SyncFacade:
            (argument,) = typing.get_args(base)
            return argument if isinstance(argument, type) else None
    return None


def _public_members(cls: type[Any]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        members.update(vars(klass))
    return {name: value for name, value in members.items() if not name.startswith('_')}


_LIFECYCLE = frozenset({'aclose'})
"""Async-side life-cycle methods the facade does not expose: its own ``close()`` runs them."""


class SyncFacade(Generic[A]):
    """Base class of the sync twin of an async class.

    The facade owns an event loop thread (a :class:`Portal`, unless one is given to share) and
    the async object, which is created, used and closed in that loop.  Every sync method call
    runs its coroutine there; it is safe from several threads at once and from threads already
    running an event loop (Jupyter), and raises :class:`~one_async.exceptions.SyncCallError`
    from the loop's own thread instead of deadlocking.

    Parameters
    ----------
    factory
        Called in the loop thread; returns the async object, an awaitable of it, or an async
        context manager giving it (kept entered until :meth:`close`).  Without a context
        manager, the object's ``aclose()`` (if any) runs on close.
    portal
        A portal to share with other facades (it is then not closed with this one).
    backend, backend_options
        Event loop of the facade's own portal: 'asyncio' or 'trio', and options for it.

    Notes
    -----
    Subclass as ``class One(SyncFacade[AsyncOne])``; the class keyword ``auto=False`` turns off
    the run-time completion of undeclared methods.  Setting a public name that the async object
    has sets it there; other names (and every ``_`` name) stay on the facade.  The async object
    must not keep a reference to its facade, or garbage collection cannot close it before the
    interpreter exits.
    """

    __async_class__: ClassVar[type[Any] | None] = None
    __declared__: ClassVar[frozenset[str]] = frozenset()
    __completed__: ClassVar[frozenset[str]] = frozenset()

    _async_object: A
    _state: _FacadeState
    _finalizer: weakref.finalize[..., None]

    def __init_subclass__(
        cls, /, async_class: type[Any] | None = None, auto: bool = True, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        async_class = async_class or _async_class_of(cls) or cls.__async_class__
        cls.__async_class__ = async_class
        if async_class is None:
            return
        declared = {name for name in dir(cls) if not name.startswith('_')}
        completed: set[str] = set()
        for name, member in _public_members(async_class).items():
            if name in declared or name in _LIFECYCLE:
                continue
            descriptor: Any
            if inspect.isfunction(member) and _is_async_method(member):
                descriptor = SyncMethod(member)
                completed.add(name)
            elif isinstance(member, property):
                descriptor = SyncProperty(name, member.__doc__)
                completed.add(name)
            elif inspect.isfunction(member):
                descriptor = _PassthroughMethod(name, member)
            elif isinstance(member, staticmethod):
                descriptor = member  # plain functions: callable on the class too
            else:
                continue
            if auto:
                setattr(cls, name, descriptor)
                if isinstance(descriptor, SyncMethod):
                    descriptor.__set_name__(cls, name)
        cls.__declared__ = frozenset(declared)
        cls.__completed__ = frozenset(completed)

    def __init__(
        self,
        factory: Callable[[], A | Awaitable[A] | AbstractAsyncContextManager[A]],
        *,
        portal: Portal | None = None,
        backend: str = defaults.SYNC_BACKEND,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        owns_portal = portal is None
        if portal is None:
            portal = Portal(backend, backend_options)
        lifetime: SyncContextManager[A] = SyncContextManager(
            portal, _lifetime(factory), convert=False
        )
        try:
            obj = lifetime.__enter__()
        except BaseException:
            if owns_portal:
                portal.close()
            raise
        self._attach(obj, _FacadeState(portal, owns_portal, lifetime))

    def _attach(self, obj: A, state: _FacadeState) -> None:
        object.__setattr__(self, '_async_object', obj)
        object.__setattr__(self, '_state', state)
        object.__setattr__(self, '_finalizer', weakref.finalize(self, finalize_soon, state.close))

    @classmethod
    def borrow(cls: type[F], obj: Any, portal: Portal) -> F:
        """A facade over ``obj``, an async object living in ``portal``'s loop and owned
        elsewhere (e.g. the Alyx client of a session).

        Closing the facade only stops its own calls: ``obj`` stays open and the portal running.
        """
        facade = cls.__new__(cls)
        facade._attach(obj, _FacadeState(portal, False, nullcontext()))
        return facade

    # --- calls ---------------------------------------------------------------------------------

    def _call_async(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the async object's method ``name`` in the loop; make its result sync."""
        return self._call(getattr(self._async_object, name), args, kwargs)

    def _call(
        self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """Run ``method`` in the loop with sync views of arguments replaced by their async
        objects; make its result sync."""
        state = self._state
        if state.closed:
            name = getattr(method, '__name__', repr(method))
            raise SyncCallError(f'{type(self).__name__} is closed: cannot call {name}', value=name)
        args = tuple(_to_async(a) for a in args)
        kwargs = {k: _to_async(v) for k, v in kwargs.items()}
        result = state.portal.call_with(state.group, method, *args, **kwargs)
        return to_sync(state.portal, result, state.group)

    @property
    def portal(self) -> Portal:
        """The portal running this facade's event loop."""
        return self._state.portal

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._state.closed

    def close(self) -> None:
        """Cancel calls in flight, close the async object, then stop the loop thread (if owned).

        Later calls raise :class:`~one_async.exceptions.SyncCallError`.  Closing twice is a no-op.

        Raises
        ------
        SyncCallError
            When called from the facade's loop thread or one of its worker threads (e.g. in a
            callback), which closing would wait for.
        """
        if blocks_loop(self._state.portal.thread.ident):
            raise SyncCallError(
                f'{type(self).__name__}.close() was called from its own event loop thread or '
                'one of its worker threads; close it from outside the loop',
                value=threading.current_thread().name,
            )
        self._finalizer.detach()
        self._state.close()

    def __enter__(self: T) -> T:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- pass-through of attributes ----------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith('_') or '_async_object' not in self.__dict__:
            raise AttributeError(f'{type(self).__name__!r} object has no attribute {name!r}')
        value = getattr(self._async_object, name)
        if not _is_async_method(value):
            return value

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._call_async(name, args, kwargs)

        method.__name__ = name
        method.__doc__ = sync_docstring(value)
        method.__signature__ = sync_signature(value)  # type: ignore[attr-defined]
        return method

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            not name.startswith('_')
            and not hasattr(type(self), name)
            and '_async_object' in self.__dict__
            and hasattr(self._async_object, name)
        ):
            setattr(self._async_object, name, value)
        else:
            object.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        own = set(super().__dir__())
        return sorted(own | {n for n in dir(self._async_object) if not n.startswith('_')})

    def __repr__(self) -> str:
        state = 'closed' if self._state.closed else repr(self._async_object)
        return f'<{type(self).__name__} sync facade of {state}>'


def _to_async(value: Any) -> Any:
    """An argument as the async method expects it: the async object behind a sync view."""
    if isinstance(value, SyncFacade):
        return value._async_object
    return from_sync(value)


def missing_declarations(facade: type[SyncFacade[Any]]) -> list[str]:
    """Public coroutine methods and properties of the async class that ``facade`` does not
    declare (added at run time, but invisible to static type checkers)."""
    return sorted(facade.__completed__)


def facade_source(async_class: type[Any], name: str | None = None) -> str:
    """Source of a typed facade class declaring every public coroutine method and property of
    ``async_class``; paste it and edit (constructor, docstring)."""
    name = name or async_class.__name__.removeprefix('Async')
    lines = [
        f'class {name}(SyncFacade[{async_class.__name__}]):',
        f'    """Sync twin of :class:`{async_class.__name__}`."""',
        '',
    ]
    reserved = _LIFECYCLE | {n for n in dir(SyncFacade) if not n.startswith('_')}
    for member_name, member in sorted(_public_members(async_class).items()):
        if member_name in reserved:
            continue
        if inspect.isfunction(member) and _is_async_method(member):
            helper = 'sync_method'
        elif isinstance(member, property):
            helper = 'sync_property'
        else:
            continue
        lines.append(f'    {member_name} = {helper}({async_class.__name__}.{member_name})')
    return '\n'.join(lines) + '\n'
