"""``AlyxClient``: the sync facade of :class:`~one_async.alyx.AsyncAlyxClient`.

What a ONE-api script calls ``one.alyx``: ``one.alyx.rest('insertions', 'list', session=eid)``
returns a list, or a lazily paginated :class:`~one_async.sync.pagination.SyncPaginatedList`
(``len()``, indexing, slicing, iteration), as ONE-api's ``AlyxClient.rest`` does; reads return
dicts.  ``One.alyx`` is a facade over the session's own client sharing the session's event loop
thread (:meth:`~one_async.sync.facade.SyncFacade.borrow`); ``AlyxClient(base_url, ...)`` makes
a client of its own.  Every coroutine method is declared here on one line; no logic is
repeated, except ONE's CoreAPI-shaped :attr:`AlyxClient.rest_schemes` and its
``print_endpoint_info``, built from the server description the async client reads.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from one_async.alyx.client import AsyncAlyxClient
from one_async.alyx.schema import Action, Parameter, RestSchema
from one_async.sync import pagination as _pagination  # noqa: F401 - registers lazy lists' view
from one_async.sync.facade import SyncFacade, sync_method, sync_property
from one_async.sync.portal import Portal

__all__ = ['AlyxClient']


def _coreapi_field(parameter: Parameter) -> dict[str, Any]:
    return {
        'name': parameter.name,
        'required': parameter.required,
        'location': parameter.location if parameter.location != 'body' else 'form',
        'schema': {'_type': parameter.type or 'string', 'description': parameter.description},
    }


def _coreapi_action(action: Action) -> dict[str, Any]:
    return {
        '_type': 'link',
        'url': action.url,
        'action': action.method.lower(),
        'description': action.description,
        'fields': [_coreapi_field(p) for p in (*action.parameters, *action.fields)],
    }


def rest_schemes(schema: RestSchema) -> dict[str, dict[str, dict[str, Any]]]:
    """The server's API description shaped as ONE-api's ``AlyxClient.rest_schemes``:
    ``{endpoint: {action: {'url', 'action' (HTTP verb), 'description', 'fields'}}}``."""
    return {
        endpoint: {name: _coreapi_action(action) for name, action in actions.items()}
        for endpoint, actions in schema.table.items()
    }


class AlyxClient(SyncFacade[AsyncAlyxClient]):
    """An Alyx REST client with blocking methods: the sync twin of
    :class:`~one_async.alyx.AsyncAlyxClient` (ONE-api's ``AlyxClient``).

    Parameters are those of :class:`~one_async.alyx.AsyncAlyxClient`; ``portal`` shares the
    event loop thread of another facade.  Close it with :meth:`close` or use it as a context
    manager.

    Examples
    --------
    >>> alyx = AlyxClient('https://alyx.example.org', 'user', 'password')
    >>> insertions = alyx.rest('insertions', 'list', session=eid)
    >>> len(insertions), insertions[0]['name']
    """

    base_url: str
    user: str | None
    cache_dir: Path | None
    silent: bool

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        portal: Portal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            lambda: AsyncAlyxClient(base_url, username, password, **kwargs), portal=portal
        )

    def __repr__(self) -> str:
        return f'AlyxClient({self._async_object!r})'

    # --- calls without the REST cache ----------------------------------------------------------

    def _call_async(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not getattr(self._uncached, 'depth', 0):
            return super()._call_async(name, args, kwargs)
        return self._call(partial(_uncached_call, self._async_object, name), args, kwargs)

    @property
    def _uncached(self) -> threading.local:
        local: threading.local | None = self.__dict__.get('_uncached_local')
        if local is None:
            local = threading.local()
            object.__setattr__(self, '_uncached_local', local)
        return local

    @contextmanager
    def no_cache(self) -> Iterator[None]:
        """Context in which this thread's calls neither read nor write the REST cache.

        The async client's :meth:`~one_async.alyx.AsyncAlyxClient.no_cache` applies to a task;
        here it applies to the calls made from the calling thread inside the ``with`` block.
        """
        local = self._uncached
        local.depth = getattr(local, 'depth', 0) + 1
        try:
            yield
        finally:
            local.depth -= 1

    # --- ONE-api's views of the API description ------------------------------------------------

    @property
    def rest_schemes(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The REST endpoints and their actions, as ONE-api's ``rest_schemes`` (CoreAPI shape)."""
        return rest_schemes(self.schema())

    def print_endpoint_info(
        self, endpoint: str, action: str | None = None
    ) -> dict[str, Any] | None:
        """Print the actions, filters and fields of ``endpoint`` (or of one action) and return
        their description, as ONE-api's ``print_endpoint_info``.

        Raises
        ------
        AlyxEndpointError
            An unknown endpoint or action (ONE prints a message and returns None).
        """
        print(self.describe(endpoint, action))
        scheme = self.rest_schemes[endpoint]
        return dict(scheme if action is None else scheme[action.replace('-', '_')])

    # --- the async client's methods ------------------------------------------------------------

    authenticate = sync_method(AsyncAlyxClient.authenticate)
    cache_info = sync_method(AsyncAlyxClient.cache_info)
    clear_rest_cache = sync_method(AsyncAlyxClient.clear_rest_cache)
    delete = sync_method(AsyncAlyxClient.delete)
    describe = sync_method(AsyncAlyxClient.describe)
    download_cache_tables = sync_method(AsyncAlyxClient.download_cache_tables)
    download_file = sync_method(AsyncAlyxClient.download_file)
    get = sync_method(AsyncAlyxClient.get)
    is_logged_in = sync_property(AsyncAlyxClient.is_logged_in)
    iter_rest = sync_method(AsyncAlyxClient.iter_rest)
    json_field_delete = sync_method(AsyncAlyxClient.json_field_delete)
    json_field_remove_key = sync_method(AsyncAlyxClient.json_field_remove_key)
    json_field_update = sync_method(AsyncAlyxClient.json_field_update)
    json_field_write = sync_method(AsyncAlyxClient.json_field_write)
    list_endpoints = sync_method(AsyncAlyxClient.list_endpoints)
    logout = sync_method(AsyncAlyxClient.logout)
    patch = sync_method(AsyncAlyxClient.patch)
    post = sync_method(AsyncAlyxClient.post)
    put = sync_method(AsyncAlyxClient.put)
    rest = sync_method(AsyncAlyxClient.rest)
    schema = sync_method(AsyncAlyxClient.schema)


async def _uncached_call(client: AsyncAlyxClient, name: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``client.<name>(...)`` with the REST cache off (the contextvar is set in the task)."""
    with client.no_cache():
        result = getattr(client, name)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result
