"""The ASGI application of the local Alyx server.

:class:`AlyxApp` answers Alyx's REST paths the way Alyx 3.6.1 (Django REST framework) does:
token authentication (403 for a missing or invalid token, every error body with a
``status_code`` key), Django's ``APPEND_SLASH`` redirects (``/cache/info`` -> 301), the HTML 404
page for unknown paths, 405 for unsupported methods, limit/offset pagination with absolute links,
500 ``{"status_code": 500, "detail": ...}`` for queries the database would reject, and
optionally its per-user burst throttle (429 with ``Retry-After``).  It is wrapped in a
:class:`~one_async.testing.faults.FaultInjector` (``app.faults``) and can make tokens expire
(after ``token_expire_after`` requests, or now with :meth:`AlyxApp.expire_tokens`).
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qsl

import anyio.to_thread
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..faults import FaultInjector, Faults, Message, Receive, Scope, Send
from .api_docs import coreapi_document, openapi_document
from .auth import TokenStore
from .cache_tables import CacheBundle, build_cache
from .filters import ENDPOINT_FILTERS, FilterValueError, apply_filters
from .lookups import FieldError
from .pagination import page_bounds
from .serializers import Serializer, to_json
from .store import AlyxStore
from .tables import PRIMARY_KEYS, SCHEMAS
from .writes import BodyError, validate_body

__all__ = ['DEFAULT_PASSWORD', 'DEFAULT_USER', 'AlyxApp', 'AlyxConfig']

DEFAULT_USER: Final = 'test_user'
DEFAULT_PASSWORD: Final = 'TapetesBloc18'  # the password of ONE's documented test user

_THROTTLE_WINDOW: Final = 60.0

_NOT_FOUND_PAGE: Final = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
    '  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n'
    '</body>\n</html>\n'
)


class AlyxConfig(BaseModel):
    """Settings of a local Alyx server."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    users: dict[str, str] = Field(
        default_factory=lambda: {DEFAULT_USER: DEFAULT_PASSWORD},
        description='Passwords by user name.',
        repr=False,
    )
    min_api_version: str = Field(
        '2.10', description="Advertised in cache/info (Alyx 3.6.1's value; ONE 2.9 needs 2.9)."
    )
    origin: str = Field('alyx', description='Origin recorded in the cache tables.')
    token_expire_after: int | None = Field(
        None, ge=1, description='Invalidate a token after this many authenticated requests.'
    )
    throttle_per_minute: int | None = Field(
        None, ge=1, description="Requests per minute per user, then 429 (Alyx's burst: 550)."
    )
    seed: int = Field(0, description='Seeds tokens and the ids of created records.')


class _ApiError(Exception):
    """An answer other than success, with Alyx's JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


class _Throttled(_ApiError):
    """Too many requests: 429 with ``Retry-After``."""

    def __init__(self, wait: int) -> None:
        super().__init__(
            429, {'detail': f'Request was throttled. Expected available in {wait} seconds.'}
        )
        self.wait = wait


def _detail(status: int, detail: str) -> _ApiError:
    return _ApiError(status, {'detail': detail})


@dataclass(frozen=True)
class _Resource:
    """A REST endpoint over one table."""

    endpoint: str
    table: str
    key: str
    model: str
    listing: Callable[[Serializer, list[dict[str, Any]]], list[dict[str, Any]]]
    detail: Callable[[Serializer, dict[str, Any]], dict[str, Any]]
    order: Callable[[pl.DataFrame], pl.DataFrame] | None = None


def _each(
    fn: Callable[[Serializer, dict[str, Any]], dict[str, Any]],
) -> Callable[[Serializer, list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda ser, rows: [fn(ser, row) for row in rows]


_RESOURCES: Final[tuple[_Resource, ...]] = (
    _Resource(
        'sessions', 'sessions', 'id', 'Session', Serializer.session_list,
        Serializer.session_detail,
        order=lambda f: f.sort(
            'start_time', descending=True, nulls_last=True, maintain_order=True
        ),
    ),
    _Resource(
        'datasets', 'datasets', 'id', 'Dataset', Serializer.dataset_list,
        Serializer.dataset_detail,
    ),
    _Resource('files', 'file_records', 'id', 'FileRecord', Serializer.file_list,
              Serializer.file_detail),
    _Resource('insertions', 'insertions', 'id', 'ProbeInsertion', Serializer.insertion_list,
              Serializer.insertion_detail),
    _Resource('dataset-types', 'dataset_types', 'name', 'DatasetType',
              _each(Serializer.dataset_type), Serializer.dataset_type),
    _Resource('revisions', 'revisions', 'name', 'Revision', _each(Serializer.revision),
              Serializer.revision),
    _Resource('data-repository', 'data_repositories', 'name', 'DataRepository',
              _each(Serializer.data_repository), Serializer.data_repository),
)  # fmt: skip

_CREATABLE: Final = frozenset({'sessions', 'insertions', 'dataset-types', 'revisions'})
_DELETABLE: Final = frozenset(
    {'sessions', 'datasets', 'files', 'insertions', 'dataset-types', 'revisions'}
)
# Renaming a record referenced by name updates its references: (table, column) by endpoint.
_REFERENCES: Final = {
    'dataset-types': ('datasets', 'dataset_type'),
    'revisions': ('datasets', 'revision'),
    'data-repository': ('file_records', 'data_repository'),
}

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: dict[str, Handler]
    public: bool = False


class AlyxApp:
    """An Alyx-compatible REST server over an :class:`~.store.AlyxStore`, as an ASGI app.

    Parameters
    ----------
    store
        The database.
    config
        Users, advertised ``min_api_version``, token expiry...
    faults
        Initial fault plans (also settable later through ``app.faults.faults``).

    Attributes
    ----------
    faults : FaultInjector
        The fault-injecting layer every request goes through.
    tokens : TokenStore
        Users and live tokens.
    hits : collections.Counter
        Requests answered, by ``(method, path)``.
    """

    def __init__(
        self,
        store: AlyxStore,
        config: AlyxConfig | None = None,
        *,
        faults: Faults | None = None,
    ) -> None:
        self.store = store
        self.config = config or AlyxConfig()
        self.tokens = TokenStore(
            self.config.users, expire_after=self.config.token_expire_after, seed=self.config.seed
        )
        self.hits: Counter[tuple[str, str]] = Counter()
        self._history: dict[str, deque[float]] = defaultdict(deque)
        self.faults = FaultInjector(self._asgi, faults)
        self._bundles: dict[tuple[int, str | None], CacheBundle] = {}
        self._routes = self._build_routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.faults(scope, receive, send)

    def expire_tokens(self, username: str | None = None) -> int:
        """Invalidate the token of ``username`` (all tokens when None); returns how many."""
        return self.tokens.expire(username)

    # --- routing -----------------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        routes = [_Route(re.compile(r'/auth-token'), {'POST': self._auth_token}, public=True)]
        for res in _RESOURCES:
            name = re.escape(res.endpoint)
            collection: dict[str, Handler] = {'GET': self._lister(res)}
            if res.endpoint in _CREATABLE:
                collection['POST'] = self._creator(res)
            member: dict[str, Handler] = {
                'GET': self._reader(res),
                'PUT': self._updater(res, partial=False),
                'PATCH': self._updater(res, partial=True),
            }
            if res.endpoint in _DELETABLE:
                member['DELETE'] = self._deleter(res)
            routes.append(_Route(re.compile(f'/{name}'), collection))
            routes.append(_Route(re.compile(f'/{name}/(?P<key>[^/]+)'), member))
        routes += [
            _Route(re.compile(r'/cache/info/(?:(?P<tag>[^/]+)/?)?'), {'GET': self._cache_info}),
            _Route(re.compile(r'/cache\.zip'), {'GET': self._cache_zip}),
            _Route(re.compile(r'/cache/(?P<tag>[^/]+)\.zip'), {'GET': self._cache_zip}),
            _Route(re.compile(r'/api/schema'), {'GET': self._schema}, public=True),
            _Route(re.compile(r'/docs/'), {'GET': self._docs}, public=True),
        ]
        return routes

    def _match(self, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match:
                return route, {k: v for k, v in match.groupdict().items() if v is not None}
        return None, {}

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'lifespan':
            await _lifespan(receive, send)
            return
        if scope['type'] != 'http':
            return
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        path = request.url.path
        self.hits[(request.method, path)] += 1
        route, params = self._match(path)
        if route is None:
            if not path.endswith('/') and self._match(path + '/')[0] is not None:
                query = request.url.query
                location = path + '/' + (f'?{query}' if query else '')
                return Response(
                    b'', 301, headers={'Location': location}, media_type='text/html; charset=utf-8'
                )
            return HTMLResponse(_NOT_FOUND_PAGE, 404)
        allow = ', '.join([*route.methods, 'HEAD', 'OPTIONS'] if 'GET' in route.methods
                          else [*route.methods, 'OPTIONS'])  # fmt: skip
        try:
            user = self._authenticate(request)
            if user is None and not route.public:
                raise _detail(403, 'Authentication credentials were not provided.')
            if user is not None:
                self._throttle(user)
            method = 'GET' if request.method == 'HEAD' else request.method
            handler = route.methods.get(method)
            if handler is None:
                raise _detail(405, f'Method "{request.method}" not allowed.')
            response = await handler(request, **params)
        except _Throttled as exc:
            response = _json(exc.body, 429)
            response.headers['Retry-After'] = str(exc.wait)
        except _ApiError as exc:
            response = _json(exc.body, exc.status)
        except BodyError as exc:
            response = _json(dict(exc.errors), 400)
        except FilterValueError as exc:
            response = _json({exc.param: [exc.message]}, 400)
        except FieldError as exc:
            response = _json({'detail': str(exc)}, 500)
        response.headers['Allow'] = allow
        if request.method == 'HEAD':
            response.body = b''
        return response

    def _throttle(self, user: str) -> None:
        """Django REST framework's user rate throttle over the last minute."""
        rate = self.config.throttle_per_minute
        if rate is None:
            return
        now = time.monotonic()
        history = self._history[user]
        while history and history[0] <= now - _THROTTLE_WINDOW:
            history.popleft()
        if len(history) >= rate:
            wait = math.ceil(_THROTTLE_WINDOW - (now - history[0]))
            raise _Throttled(max(wait, 1))
        history.append(now)

    def _authenticate(self, request: Request) -> str | None:
        """The user of the request's token, None without one; a bad token is a 403."""
        parts = request.headers.get('authorization', '').split()
        if not parts or parts[0].lower() != 'token':
            return None
        if len(parts) == 1:
            raise _detail(403, 'Invalid token header. No credentials provided.')
        if len(parts) > 2:
            raise _detail(403, 'Invalid token header. Token string should not contain spaces.')
        user = self.tokens.authenticate(parts[1])
        if user is None:
            raise _detail(403, 'Invalid token.')
        return user

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _base_url(request: Request) -> str:
        return f'{request.url.scheme}://{request.url.netloc}'

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        media = request.headers.get('content-type', '').split(';')[0].strip().lower()
        if media == 'application/x-www-form-urlencoded':
            return dict(parse_qsl(raw.decode('utf-8', 'replace'), keep_blank_values=True))
        if media not in ('application/json', ''):
            raise _detail(415, f'Unsupported media type "{media}" in request.')
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise _detail(400, f'JSON parse error - {exc}') from None
        if not isinstance(data, dict):
            kind = type(data).__name__
            raise _ApiError(
                400,
                {'non_field_errors': [f'Invalid data. Expected a dictionary, but got {kind}.']},
            )
        return data

    def _find(self, res: _Resource, key: str, tables: dict[str, pl.DataFrame]) -> dict[str, Any]:
        if res.key == 'id':
            try:
                key = str(uuid.UUID(key))
            except ValueError:
                raise _detail(404, 'Not found.') from None
        rows = tables[res.table].filter(pl.col(res.key) == key).head(1).to_dicts()
        if not rows:
            raise _detail(404, f'No {res.model} matches the given query.')
        return rows[0]

    # --- REST actions ------------------------------------------------------------------------

    def _lister(self, res: _Resource) -> Handler:
        filters = ENDPOINT_FILTERS[res.endpoint]

        async def handler(request: Request) -> Response:
            _, tables = self.store.snapshot()
            params = dict(request.query_params)
            url, base = str(request.url), self._base_url(request)

            def compute() -> dict[str, Any]:
                frame = apply_filters(tables, res.table, filters, params)
                if res.order is not None:
                    frame = res.order(frame)
                page = page_bounds(url, params.get('limit'), params.get('offset'), frame.height)
                rows = frame.slice(page.offset, page.limit).to_dicts()
                results = res.listing(Serializer(tables, base), rows)
                return {
                    'count': page.count,
                    'next': page.next,
                    'previous': page.previous,
                    'results': results,
                }

            return _json(await anyio.to_thread.run_sync(compute))

        return handler

    def _reader(self, res: _Resource) -> Handler:
        async def handler(request: Request, key: str) -> Response:
            _, tables = self.store.snapshot()
            base = self._base_url(request)

            def compute() -> dict[str, Any]:
                return res.detail(Serializer(tables, base), self._find(res, key, tables))

            return _json(await anyio.to_thread.run_sync(compute))

        return handler

    def _creator(self, res: _Resource) -> Handler:
        async def handler(request: Request) -> Response:
            body = await self._body(request)
            _, tables = self.store.snapshot()
            changes = validate_body(res.endpoint, body, tables, partial=False)
            self._check_unique(res, changes, tables, current=None)
            record = self._new_record(res, changes, tables)
            stored = self.store.insert(res.table, record)
            _, tables = self.store.snapshot()
            return _json(res.detail(Serializer(tables, self._base_url(request)), stored), 201)

        return handler

    def _updater(self, res: _Resource, *, partial: bool) -> Handler:
        async def handler(request: Request, key: str) -> Response:
            body = await self._body(request)
            _, tables = self.store.snapshot()
            row = self._find(res, key, tables)
            changes = validate_body(res.endpoint, body, tables, partial=partial)
            self._check_unique(res, changes, tables, current=row)
            pk = PRIMARY_KEYS[res.table]
            if (
                res.endpoint in _REFERENCES
                and 'name' in changes
                and changes['name'] != row['name']
            ):
                table, column = _REFERENCES[res.endpoint]
                self.store.replace_values(table, column, row['name'], changes['name'])
            stored = self.store.update(res.table, row[pk], changes)
            if stored is None:  # deleted meanwhile
                raise _detail(404, f'No {res.model} matches the given query.')
            _, tables = self.store.snapshot()
            return _json(res.detail(Serializer(tables, self._base_url(request)), stored))

        return handler

    def _deleter(self, res: _Resource) -> Handler:
        async def handler(request: Request, key: str) -> Response:
            _, tables = self.store.snapshot()
            row = self._find(res, key, tables)
            self.store.delete(res.table, row[PRIMARY_KEYS[res.table]])
            return Response(status_code=204)

        return handler

    @staticmethod
    def _check_unique(
        res: _Resource,
        changes: Mapping[str, Any],
        tables: dict[str, pl.DataFrame],
        current: dict[str, Any] | None,
    ) -> None:
        if res.key != 'name' or 'name' not in changes:
            return
        if current is not None and current['name'] == changes['name']:
            return
        if not tables[res.table].filter(pl.col('name') == changes['name']).is_empty():
            words = re.sub(r'(?<!^)(?=[A-Z])', ' ', res.model).lower()
            raise _ApiError(400, {'name': [f'{words} with this name already exists.']})

    def _new_record(
        self, res: _Resource, changes: dict[str, Any], tables: dict[str, pl.DataFrame]
    ) -> dict[str, Any]:
        now = datetime.now()
        record: dict[str, Any] = {'id': self.store.new_id(), 'auto_datetime': now, **changes}
        if res.endpoint == 'sessions' and 'lab' not in changes:
            same = tables['sessions'].filter(pl.col('subject') == changes['subject'])
            record['lab'] = same['lab'][0] if same.height else ''
        if res.endpoint == 'revisions':
            record.setdefault('created_datetime', now)
        return {k: v for k, v in record.items() if k in _columns(res.table)}

    async def _auth_token(self, request: Request) -> Response:
        body = await self._body(request)
        errors = {
            name: ['This field is required.'] for name in ('username', 'password')
            if not body.get(name)
        }  # fmt: skip
        if errors:
            raise _ApiError(400, dict(errors))
        token = self.tokens.login(str(body['username']), str(body['password']))
        if token is None:
            raise _ApiError(
                400, {'non_field_errors': ['Unable to log in with provided credentials.']}
            )
        return _json({'token': token})

    # --- cache tables ------------------------------------------------------------------------

    async def _bundle(self, tag: str | None) -> CacheBundle:
        version, tables = self.store.snapshot()
        key = (version, tag)
        bundle = self._bundles.get(key)
        if bundle is None:
            if (
                tag is not None
                and tables['datasets'].filter(pl.col('tags').list.contains(tag)).is_empty()
            ):
                raise _detail(404, 'Not found.')
            created = self.store.modified

            def build() -> CacheBundle:
                return build_cache(
                    tables,
                    created=created,
                    min_api_version=self.config.min_api_version,
                    origin=self.config.origin,
                    tag=tag,
                )

            bundle = await anyio.to_thread.run_sync(build)
            self._bundles = {k: v for k, v in self._bundles.items() if k[0] == version}
            self._bundles[key] = bundle
        return bundle

    async def _cache_info(self, request: Request, tag: str | None = None) -> Response:
        bundle = await self._bundle(tag)
        info = dict(bundle.info)
        if tag is not None:
            info['location'] = f'{self._base_url(request)}/cache/{tag}.zip'
        return _json(info)

    async def _cache_zip(self, request: Request, tag: str | None = None) -> Response:
        bundle = await self._bundle(tag)
        return Response(bundle.zip_bytes, media_type='application/zip')

    # --- API descriptions --------------------------------------------------------------------

    async def _schema(self, request: Request) -> Response:
        accept = request.headers.get('accept', '')
        media = 'application/vnd.oai.openapi+json' if 'openapi' in accept else 'application/json'
        return Response(to_json(openapi_document()), media_type=media)

    async def _docs(self, request: Request) -> Response:
        if 'application/coreapi+json' in request.headers.get('accept', ''):
            document = coreapi_document(self._base_url(request))
            return Response(to_json(document), media_type='application/coreapi+json')
        links = ''.join(
            f'<li><a href="/{name}">{name}</a></li>' for name in sorted(ENDPOINT_FILTERS)
        )
        return HTMLResponse(f'<html><body><h1>Alyx REST API</h1><ul>{links}</ul></body></html>')


def _columns(table: str) -> set[str]:
    return set(SCHEMAS[table])


def _json(data: Any, status: int = 200) -> Response:
    if isinstance(data, dict) and status >= 400:
        data = {**data, 'status_code': status}
    return Response(to_json(data), status_code=status, media_type='application/json')


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message: Message = await receive()
        if message['type'] == 'lifespan.startup':
            await send({'type': 'lifespan.startup.complete'})
        elif message['type'] == 'lifespan.shutdown':
            await send({'type': 'lifespan.shutdown.complete'})
            return
