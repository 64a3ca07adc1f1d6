"""The server's own description of its REST API, used to validate ``rest()`` calls.

Alyx 3.x serves an OpenAPI 3 document at ``/api/schema`` (what ONE-api 3.x reads) and a CoreAPI
document at ``/docs`` (what ONE-api 2.9 reads).  Both are parsed into one normalised form:
endpoints (the first path segment, e.g. ``sessions``), their actions (``list``, ``read``,
``create``, ``update``, ``partial_update``, ``delete``) with HTTP method, URL template, query
parameters (the filters) and body fields.  Unknown names raise :class:`AlyxEndpointError` listing
the valid ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from one_async.exceptions import AlyxEndpointError, AlyxError

__all__ = ['ACTIONS', 'Action', 'Parameter', 'RestSchema']

ACTIONS = ('list', 'read', 'create', 'update', 'partial_update', 'delete')
"""The REST actions of Django REST framework, in their usual order."""

EXCLUDED = frozenset({'', '_type', '_meta', 'auth-token', 'api', 'docs'})
"""Names that are not data endpoints (the token exchange, the API descriptions)."""

_METHOD_ACTION = {'post': 'create', 'put': 'update', 'patch': 'partial_update', 'delete': 'delete'}


@dataclass(frozen=True)
class Parameter:
    """A query or path parameter, or a body field, of one action."""

    name: str
    location: str
    required: bool = False
    type: str = ''
    description: str = ''


@dataclass(frozen=True)
class Action:
    """One action of an endpoint: method, URL template, parameters and body fields."""

    name: str
    method: str
    url: str
    description: str = ''
    parameters: tuple[Parameter, ...] = ()
    fields: tuple[Parameter, ...] = ()

    @property
    def filters(self) -> list[str]:
        """Names of the query parameters, sorted."""
        return sorted({p.name for p in self.parameters if p.location == 'query'})

    @property
    def field_names(self) -> list[str]:
        """Names of the body fields, sorted."""
        return sorted({f.name for f in self.fields})


@dataclass(frozen=True)
class RestSchema:
    """Endpoints and actions of one Alyx server.

    Build it with :meth:`from_document` (either kind), :meth:`from_openapi` or
    :meth:`from_coreapi`.
    """

    backend: Literal['openapi', 'coreapi']
    table: Mapping[str, Mapping[str, Action]] = field(repr=False)

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: Any) -> RestSchema:
        """Parse an OpenAPI or a CoreAPI document, whichever ``document`` is."""
        if isinstance(document, Mapping) and isinstance(document.get('paths'), Mapping):
            return cls.from_openapi(document)
        if isinstance(document, Mapping) and document.get('_type') == 'document':
            return cls.from_coreapi(document)
        raise AlyxError(
            'The server answered an API description that is neither OpenAPI nor CoreAPI',
            value=type(document).__name__,
        )

    @classmethod
    def from_openapi(cls, document: Mapping[str, Any]) -> RestSchema:
        """Parse an OpenAPI 3 document (Alyx's ``/api/schema``)."""
        components = document.get('components', {}).get('schemas', {})
        table: dict[str, dict[str, Action]] = {}
        for path, item in document.get('paths', {}).items():
            match = re.match(r'^/([^/]+)', path)
            if not match or match.group(1) in EXCLUDED or not isinstance(item, Mapping):
                continue
            endpoint = match.group(1)
            shared = list(item.get('parameters', []))
            for method, operation in item.items():
                if method == 'get':
                    name = 'read' if '{' in path else 'list'
                elif method in _METHOD_ACTION:
                    name = _METHOD_ACTION[method]
                else:
                    continue
                actions = table.setdefault(endpoint, {})
                if name in actions:  # e.g. a second POST under /{name}: keep the first
                    continue
                params = tuple(
                    _openapi_parameter(p, document)
                    for p in [*shared, *operation.get('parameters', [])]
                )
                actions[name] = Action(
                    name=name,
                    method=method.upper(),
                    url=path,
                    description=str(operation.get('description', '') or '').strip(),
                    parameters=params,
                    fields=_openapi_body(operation, components),
                )
        return cls('openapi', _ordered(table))

    @classmethod
    def from_coreapi(cls, document: Mapping[str, Any]) -> RestSchema:
        """Parse a CoreAPI document (Alyx's ``/docs``, ``Accept: application/coreapi+json``)."""
        table: dict[str, dict[str, Action]] = {}
        for endpoint, content in document.items():
            if endpoint in EXCLUDED or not isinstance(content, Mapping):
                continue
            actions: dict[str, Action] = {}
            for name, link in _coreapi_links(content):
                if name in actions:
                    continue
                parameters, fields = [], []
                for f in link.get('fields', []):
                    schema = f.get('schema', {}) or {}
                    parameter = Parameter(
                        name=str(f['name']),
                        location=str(f.get('location', 'query')),
                        required=bool(f.get('required', False)),
                        type=str(schema.get('_type', '')),
                        description=str(schema.get('description', '') or ''),
                    )
                    if parameter.location in ('query', 'path'):
                        parameters.append(parameter)
                    else:
                        fields.append(parameter)
                actions[name] = Action(
                    name=name,
                    method=str(link.get('action', 'get')).upper(),
                    url=str(link.get('url', f'/{endpoint}')),
                    description=str(link.get('description', '') or '').strip(),
                    parameters=tuple(parameters),
                    fields=tuple(fields),
                )
            if actions:
                table[endpoint] = actions
        return cls('coreapi', _ordered(table))

    # --- queries ---------------------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        """The endpoint names, sorted."""
        return sorted(self.table)

    def actions(self, endpoint: str) -> list[str]:
        """The actions of ``endpoint``, in the usual order.

        Raises
        ------
        AlyxEndpointError
            When the server has no such endpoint (the message lists those it has).
        """
        if endpoint not in self.table:
            raise AlyxEndpointError(
                f'REST endpoint "{endpoint}" does not exist. Available endpoints are:\n    '
                + '\n    '.join(self.endpoints),
                value=endpoint,
            )
        return list(self.table[endpoint])

    def action(self, endpoint: str, action: str) -> Action:
        """The description of one action; raises :class:`AlyxEndpointError` if unknown."""
        actions = self.actions(endpoint)
        if action not in actions:
            raise AlyxEndpointError(
                f'Action "{action}" for REST endpoint "{endpoint}" does not exist. '
                f'Available actions are: {", ".join(actions)}',
                value=action,
            )
        return self.table[endpoint][action]

    def filters(self, endpoint: str, action: str = 'list') -> list[str]:
        """The query parameters ``endpoint``/``action`` accepts."""
        return self.action(endpoint, action).filters

    def validate_filters(self, endpoint: str, action: str, names: Iterable[str]) -> None:
        """Raise :class:`AlyxEndpointError` for any name that is not a documented filter."""
        valid = self.filters(endpoint, action)
        unknown = sorted(set(names) - set(valid))
        if unknown:
            raise AlyxEndpointError(
                f'Unsupported filter(s) {", ".join(repr(u) for u in unknown)} for '
                f'"{endpoint}" {action}. Valid filters are: {", ".join(valid) or "(none)"}',
                value=unknown[0] if len(unknown) == 1 else unknown,
            )

    def describe(self, endpoint: str, action: str | None = None) -> str:
        """Human-readable actions, URL templates, filters and fields of ``endpoint``."""
        names = [self.action(endpoint, action).name] if action else self.actions(endpoint)
        lines = [endpoint]
        for name in names:
            act = self.table[endpoint][name]
            lines.append(f'  {name}: {act.method} {act.url}')
            if act.description:
                first = act.description.strip().splitlines()[0].strip()
                if first:
                    lines.append(f'    {first}')
            path = [p for p in act.parameters if p.location == 'path']
            for p in path:
                lines.append(f'    {_describe_parameter(p)} (path)')
            if act.filters:
                lines.append('    filters: ' + ', '.join(act.filters))
            ordered = sorted(act.fields, key=lambda f: (not f.required, f.name))
            for f in ordered:
                lines.append(f'    {_describe_parameter(f)}')
        return '\n'.join(lines)


def _describe_parameter(p: Parameter) -> str:
    text = f'"{p.name}"' + (' (required)' if p.required else '') + f': {p.type or "any"}'
    return text + (f', {p.description}' if p.description else '')


def _ordered(table: dict[str, dict[str, Action]]) -> dict[str, dict[str, Action]]:
    """Actions in the usual order (list, read, create, ...), any others after."""
    rank = {name: i for i, name in enumerate(ACTIONS)}
    return {
        endpoint: dict(sorted(actions.items(), key=lambda kv: (rank.get(kv[0], 99), kv[0])))
        for endpoint, actions in table.items()
    }


def _resolve(node: Any, document: Mapping[str, Any]) -> Any:
    """Follow a local ``$ref`` (``#/components/...``)."""
    seen = 0
    while isinstance(node, Mapping) and '$ref' in node and seen < 16:
        target: Any = document
        for part in str(node['$ref']).lstrip('#/').split('/'):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        node, seen = target, seen + 1
    return node


def _openapi_parameter(raw: Any, document: Mapping[str, Any]) -> Parameter:
    p = _resolve(raw, document)
    schema = _resolve(p.get('schema', {}), document) or {}
    return Parameter(
        name=str(p.get('name', '')),
        location=str(p.get('in', 'query')),
        required=bool(p.get('required', False)),
        type=str(schema.get('type', '')) if isinstance(schema, Mapping) else '',
        description=str(p.get('description', '') or ''),
    )


def _openapi_body(
    operation: Mapping[str, Any], components: Mapping[str, Any]
) -> tuple[Parameter, ...]:
    content = operation.get('requestBody', {}).get('content', {})
    media = content.get('application/json') or next(iter(content.values()), None)
    if not isinstance(media, Mapping):
        return ()
    schema = _resolve(media.get('schema', {}), {'components': {'schemas': components}})
    if not isinstance(schema, Mapping):
        return ()
    required = set(schema.get('required', []))
    return tuple(
        Parameter(
            name=str(name),
            location='body',
            required=name in required,
            type=str(prop.get('type', '')) if isinstance(prop, Mapping) else '',
            description=str(prop.get('description', '') or '')
            if isinstance(prop, Mapping)
            else '',
        )
        for name, prop in schema.get('properties', {}).items()
        if not (isinstance(prop, Mapping) and prop.get('readOnly'))
    )


def _coreapi_links(content: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """The ``(action, link)`` pairs of a CoreAPI section, nested sections flattened."""
    for name, value in content.items():
        if not isinstance(value, Mapping):
            continue
        if value.get('_type') == 'link':
            yield str(name), value
        else:
            yield from _coreapi_links(value)
