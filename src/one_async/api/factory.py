"""Which session a set of arguments asks for: ONE-api's ``ONE()`` rule, in one place.

The sync ``ONE()`` factory and the command line both build their :class:`AsyncOne` here.  As
in ONE-api: server arguments (``base_url``, ``username``, ``password``), or no ``cache_dir``, or
the cache folder of a configured database, give a session on the Alyx server (its settings
completed from ``ONE_*`` variables and configuration files); a ``cache_dir`` alone is a local
cache in 'local' mode.  ``ONE_BASE_URL`` set in the environment counts as a server argument.
ONE 2.9.0's deprecated ``offline=True`` still means ``mode='local'`` (with a DeprecationWarning).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from one_async.config import database_for_cache_dir, resolve_settings

from .session import AsyncOne

__all__ = ['make_session']

_SERVER_ARGS = ('base_url', 'username', 'password')


def make_session(*, mode: str | None = 'auto', wildcards: bool = True, **kwargs: Any) -> AsyncOne:
    """A new :class:`AsyncOne` for ``ONE()``-style arguments (see the module docstring)."""
    if kwargs.pop('offline', False):
        warnings.warn(
            'ONE(offline=True) is deprecated (as in ONE-api): use mode="local"',
            DeprecationWarning,
            stacklevel=2,
        )
        mode = 'local'
    cache_dir = kwargs.get('cache_dir')
    named = any(kwargs.get(k) is not None for k in _SERVER_ARGS) or bool(
        os.environ.get('ONE_BASE_URL')
    )
    if not named and cache_dir and database_for_cache_dir(cache_dir) is None:
        return AsyncOne(mode='local', wildcards=wildcards, **kwargs)
    if any(kwargs.get(k) is not None for k in _SERVER_ARGS):
        return AsyncOne(mode=mode, wildcards=wildcards, **kwargs)
    settings = resolve_settings(
        mode=mode, wildcards=wildcards, **{k: v for k, v in kwargs.items() if v is not None}
    )
    return AsyncOne(settings=settings)
