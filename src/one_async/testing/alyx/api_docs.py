"""The two API descriptions the local server publishes, restricted to what it serves.

ONE-api 3.x validates ``rest()`` calls against the OpenAPI schema at ``/api/schema``; ONE-api 2.9
reads the CoreAPI document at ``/docs/`` (asked with ``Accept: application/coreapi+json``).  Both
ship in ``one_async/testing/data``: the documents of a real Alyx 3.6.1 server reduced by
:func:`prune_openapi` and :func:`prune_coreapi` to the endpoints, actions and filters of
:data:`SERVED`, so a client validating against them accepts exactly what this server answers.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from importlib import resources
from typing import Any, Final

from .filters import ENDPOINT_FILTERS

__all__ = ['SERVED', 'coreapi_document', 'openapi_document', 'prune_coreapi', 'prune_openapi']

SERVED: Final[dict[str, tuple[str, ...]]] = {
    'auth-token': ('create',),
    'sessions': ('list', 'read', 'create', 'update', 'partial_update', 'delete'),
    'datasets': ('list', 'read', 'update', 'partial_update', 'delete'),
    'files': ('list', 'read', 'update', 'partial_update', 'delete'),
    'insertions': ('list', 'read', 'create', 'update', 'partial_update', 'delete'),
    'dataset-types': ('list', 'read', 'create', 'update', 'partial_update', 'delete'),
    'revisions': ('list', 'read', 'create', 'update', 'partial_update', 'delete'),
    'data-repository': ('list', 'read', 'update', 'partial_update'),
    'cache': ('info',),
    'cache.zip': ('list',),
}
"""Endpoints and actions the server answers (REST actions as ONE names them)."""

_PAGINATION: Final = frozenset({'limit', 'offset'})
_METHODS: Final = {
    'list': 'get',
    'read': 'get',
    'create': 'post',
    'update': 'put',
    'partial_update': 'patch',
    'delete': 'delete',
}
_DOC_PATHS: Final = frozenset({'/api/schema', '/docs/'})


def _path_action(path: str, method: str) -> tuple[str, str] | None:
    """The (endpoint, action) an OpenAPI path and method stand for."""
    match = re.match(r'^/([^/]+)(/.*)?$', path)
    if match is None:
        return None
    endpoint, rest = match.group(1), match.group(2) or ''
    if endpoint == 'cache' and rest == '/info/':
        return ('cache', 'info')
    detail = '{' in rest
    for action, verb in _METHODS.items():
        if verb == method and (action in ('read', 'update', 'partial_update', 'delete')) == detail:
            if action == 'list' and method == 'get' and rest:
                return None
            return endpoint, action
    return None


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == '$ref' and isinstance(value, str):
                found.add(value.rsplit('/', 1)[-1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def prune_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Keep the served paths, methods and list filters of an Alyx OpenAPI schema."""
    out = copy.deepcopy(schema)
    paths: dict[str, Any] = {}
    for path, operations in out['paths'].items():
        kept = {}
        for method, operation in operations.items():
            if path in _DOC_PATHS:
                kept[method] = operation
                continue
            target = _path_action(path, method)
            if target is None or target[1] not in SERVED.get(target[0], ()):
                continue
            endpoint, action = target
            if action == 'list' and endpoint in ENDPOINT_FILTERS:
                allowed = set(ENDPOINT_FILTERS[endpoint]) | _PAGINATION
                operation['parameters'] = [
                    p for p in operation.get('parameters', []) if p['name'] in allowed
                ]
            kept[method] = operation
        if kept:
            paths[path] = kept
    out['paths'] = paths
    schemas = out['components']['schemas']
    needed = _refs(paths)
    while True:
        more = _refs({name: schemas[name] for name in needed if name in schemas}) - needed
        if not more:
            break
        needed |= more
    out['components']['schemas'] = {k: v for k, v in schemas.items() if k in needed}
    return out


def prune_coreapi(document: dict[str, Any]) -> dict[str, Any]:
    """Keep the served endpoints, actions and list filters of an Alyx CoreAPI document."""
    out: dict[str, Any] = {k: v for k, v in document.items() if k.startswith('_')}
    for endpoint, actions in document.items():
        if endpoint.startswith('_') or endpoint not in SERVED:
            continue
        kept = {}
        for action, link in actions.items():
            if action not in SERVED[endpoint]:
                continue
            link = copy.deepcopy(link)
            if action == 'list' and endpoint in ENDPOINT_FILTERS:
                allowed = set(ENDPOINT_FILTERS[endpoint]) | _PAGINATION
                link['fields'] = [f for f in link.get('fields', []) if f['name'] in allowed]
            kept[action] = link
        out[endpoint] = kept
    return out


@cache
def _load(name: str) -> str:
    return resources.files('one_async.testing').joinpath('data').joinpath(name).read_text('utf-8')


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 schema served at ``/api/schema``."""
    return dict(json.loads(_load('schema.json')))


def coreapi_document(base_url: str) -> dict[str, Any]:
    """The CoreAPI document served at ``/docs/``, its ``_meta.url`` on ``base_url``."""
    document = dict(json.loads(_load('docs_coreapi.json')))
    document['_meta'] = {**document.get('_meta', {}), 'url': f'{base_url}/docs/'}
    return document
