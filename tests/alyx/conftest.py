"""A small Alyx look-alike speaking Alyx 3.6.1's protocol as the captured responses show.

It serves, over a real uvicorn socket: ``/auth-token`` (400 on a bad password), token checks
(403 ``{"detail": "Invalid token.", "status_code": 403}``, 403 "not provided"), ``/sessions``
(paginated ``{count, next, previous, results}`` with absolute ``next``/``previous`` as Django
REST framework builds them, ``limit`` capped at 1000; read, create, update, partial_update,
delete with JSON fields), ``/datasets``, ``/insertions``, ``/dataset-types``, ``/data-repository``,
``/cache/info`` (301 to ``/cache/info/``), ``/cache.zip``, ``/api/schema`` (OpenAPI) and
``/docs`` (301 to ``/docs/``, CoreAPI).  Bodies come from ``tests/fixtures/alyx_3_6_1``.  The app
is wrapped in :class:`FaultInjector`; one server serves the whole test session and its state is
reset for each test.
"""

from __future__ import annotations

import copy
import json
import random
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from one_async.alyx import AsyncAlyxClient, RetryPolicy
from one_async.testing.faults import FaultInjector, Faults
from one_async.testing.runner import serve_in_thread

FIXTURES = Path(__file__).parents[1] / 'fixtures' / 'alyx_3_6_1'
USER = 'test_user'
PASSWORD = 'TapetesBloc18-secret'
MAX_LIMIT = 1000


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@dataclass
class AlyxState:
    """Mutable state of the fake server, reset for each test."""

    page_size: int = 250
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[str, str, str]] = field(default_factory=list)
    logins: int = 0
    openapi: bool = True
    cache_zip: bytes = b''
    cache_info: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    inflight: int = 0
    max_inflight: int = 0

    def reset(self, n_sessions: int = 5) -> None:
        self.page_size = 250
        self.tokens.clear()
        self.log.clear()
        self.logins = 0
        self.openapi = True
        self.delay = 0.0
        self.inflight = self.max_inflight = 0
        self.cache_zip = (FIXTURES / 'cache.zip').read_bytes()
        self.cache_info = fixture_json('cache_info.json')
        self.set_sessions(n_sessions)

    def set_sessions(self, n: int) -> None:
        """The 5 captured sessions, then generated ones of the same shape (newest first)."""
        captured = fixture_json('sessions_list.json')['results']
        detail = fixture_json('sessions_read.json')
        rng = random.Random(n)
        sessions = captured[:n]
        start = datetime(2023, 12, 31, 10, 0)
        for i in range(len(sessions), n):
            eid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            sessions.append(
                {
                    **captured[0],
                    'id': eid,
                    'subject': f'SWC_{100 + i % 7:03d}',
                    'start_time': (start - timedelta(hours=i)).isoformat(),
                    'url': f'http://127.0.0.1:8000/sessions/{eid}',
                }
            )
        self.sessions = sessions
        self.details = {}
        for s in sessions:
            d = copy.deepcopy(detail)
            d.update({k: s[k] for k in ('id', 'subject', 'start_time', 'number', 'url')})
            self.details[s['id']] = d

    def requests(self, method: str = 'GET', path: str | None = None) -> list[tuple[str, str]]:
        """(path, query) of logged requests of ``method`` (and ``path``)."""
        return [(p, q) for m, p, q in self.log if m == method and (path is None or p == path)]

    def invalidate_tokens(self) -> None:
        """What an admin deleting the tokens does: every token becomes invalid."""
        self.tokens.clear()


def _error(status: int, detail: Any = None, **extra: Any) -> JSONResponse:
    body = {'detail': detail, **extra} if detail is not None else dict(extra)
    return JSONResponse({**body, 'status_code': status}, status_code=status)


def _replace_query(url: str, params: dict[str, Any], remove: tuple[str, ...] = ()) -> str:
    """Django REST framework's replace_query_param: sorted parameters."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update({k: str(v) for k, v in params.items()})
    for key in remove:
        query.pop(key, None)
    return urlunsplit(parts._replace(query=urlencode(sorted(query.items()))))


def _paginate(request: Request, state: AlyxState, records: list[dict[str, Any]]) -> JSONResponse:
    q = request.query_params
    limit = min(int(q.get('limit', state.page_size)), MAX_LIMIT)
    offset = int(q.get('offset', 0))
    count = len(records)
    url = str(request.url)
    nxt = _replace_query(url, {'limit': limit, 'offset': offset + limit})
    if offset - limit <= 0:
        prev = _replace_query(url, {'limit': limit}, remove=('offset',))
    else:
        prev = _replace_query(url, {'limit': limit, 'offset': offset - limit})
    return JSONResponse(
        {
            'count': count,
            'next': nxt if offset + limit < count else None,
            'previous': prev if offset > 0 else None,
            'results': records[offset : offset + limit],
        }
    )


def build_app(state: AlyxState) -> Any:
    def auth_error(request: Request) -> JSONResponse | None:
        header = request.headers.get('authorization', '')
        if not header:
            return _error(403, 'Authentication credentials were not provided.')
        key = header.removeprefix('Token ').strip()
        if not header.startswith('Token ') or key not in state.tokens.values():
            return _error(403, 'Invalid token.')
        return None

    async def auth_token(request: Request) -> Response:
        # urlencoded form, parsed by hand: python-multipart is not a test dependency
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get('username') == USER and form.get('password') == PASSWORD:
            state.logins += 1
            token = state.tokens.setdefault(USER, secrets.token_hex(20))
            return JSONResponse({'token': token})
        return _error(400, non_field_errors=['Unable to log in with provided credentials.'])

    async def sessions(request: Request) -> Response:
        if err := auth_error(request):
            return err
        if request.method == 'POST':
            body = await request.json()
            eid = str(uuid.uuid4())
            record = {**state.details[state.sessions[0]['id']], **body, 'id': eid}
            record['url'] = f'{str(request.base_url).rstrip("/")}/sessions/{eid}'
            state.details[eid] = record
            state.sessions.insert(0, {k: record.get(k) for k in state.sessions[0]})
            return JSONResponse(record, status_code=201)
        records = state.sessions
        q = request.query_params
        if 'subject' in q:
            records = [r for r in records if r['subject'] == q['subject']]
        if 'django' in q:
            parts = q['django'].split(',')
            for key, value in zip(parts[::2], parts[1::2], strict=False):
                if key == 'pk':
                    records = [r for r in records if r['id'] == value]
        return _paginate(request, state, records)

    async def session(request: Request) -> Response:
        if err := auth_error(request):
            return err
        eid = request.path_params['eid']
        if eid not in state.details:
            return _error(404, 'No Session matches the given query.')
        record = state.details[eid]
        if request.method == 'DELETE':
            del state.details[eid]
            state.sessions = [s for s in state.sessions if s['id'] != eid]
            return Response(status_code=204)
        if request.method in ('PUT', 'PATCH'):
            body = await request.json()
            if request.method == 'PUT' and 'subject' not in body:
                return _error(400, subject=['This field is required.'])
            record.update(body)
        return JSONResponse(record)

    async def datasets(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return _paginate(request, state, fixture_json('datasets_list.json')['results'])

    async def insertions(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return _paginate(request, state, fixture_json('insertions_list.json')['results'])

    async def insertion(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return JSONResponse(fixture_json('insertions_read.json'))

    async def dataset_type(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return JSONResponse(fixture_json('dataset_type.json'))

    async def data_repository(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return _paginate(request, state, fixture_json('data_repository.json')['results'])

    async def cache_info_noslash(request: Request) -> Response:
        return RedirectResponse('/cache/info/', status_code=301)

    async def cache_info(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return JSONResponse(state.cache_info)

    async def cache_info_tag(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return JSONResponse({**state.cache_info, 'database_tags': [request.path_params['tag']]})

    async def cache_zip(request: Request) -> Response:
        if err := auth_error(request):
            return err
        return Response(state.cache_zip, media_type='application/zip')

    async def api_schema(request: Request) -> Response:
        if not state.openapi:
            return _error(404, 'Not found.')
        return Response((FIXTURES / 'schema.json').read_bytes(), media_type='application/json')

    async def docs_noslash(request: Request) -> Response:
        return RedirectResponse('/docs/', status_code=301)

    async def docs(request: Request) -> Response:
        if 'application/coreapi+json' not in request.headers.get('accept', ''):
            return Response('<html>docs</html>', media_type='text/html')
        content = (FIXTURES / 'docs_coreapi.json').read_bytes()
        return Response(content, media_type='application/coreapi+json')

    app = Starlette(
        routes=[
            Route('/auth-token', auth_token, methods=['POST']),
            Route('/sessions', sessions, methods=['GET', 'POST']),
            Route('/sessions/{eid}', session, methods=['GET', 'PUT', 'PATCH', 'DELETE']),
            Route('/datasets', datasets),
            Route('/insertions', insertions),
            Route('/insertions/{pid}', insertion),
            Route('/dataset-types/{name}', dataset_type),
            Route('/data-repository', data_repository),
            Route('/cache/info', cache_info_noslash),
            Route('/cache/info/', cache_info),
            Route('/cache/info/{tag}', cache_info_tag),
            Route('/cache.zip', cache_zip),
            Route('/api/schema', api_schema),
            Route('/docs', docs_noslash),
            Route('/docs/', docs),
        ]
    )

    async def logged(scope: Any, receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await app(scope, receive, send)
            return
        state.log.append((scope['method'], scope['path'], scope['query_string'].decode()))
        state.inflight += 1
        state.max_inflight = max(state.max_inflight, state.inflight)
        try:
            if state.delay and scope['path'] not in ('/auth-token', '/api/schema'):
                await anyio.sleep(state.delay)  # lets concurrent requests overlap
            await app(scope, receive, send)
        finally:
            state.inflight -= 1

    return logged


@dataclass
class FakeAlyx:
    """The running server: its URL, state and fault injector."""

    url: str
    state: AlyxState
    faults: FaultInjector


@pytest.fixture(scope='session')
def _alyx_server() -> Iterator[FakeAlyx]:
    state = AlyxState()
    state.reset()
    injector = FaultInjector(build_app(state))
    with serve_in_thread(injector) as url:
        yield FakeAlyx(url, state, injector)


@pytest.fixture
def alyx(_alyx_server: FakeAlyx) -> Iterator[FakeAlyx]:
    """The fake Alyx server, state and faults reset."""
    _alyx_server.state.reset()
    _alyx_server.faults.faults = Faults()
    _alyx_server.faults.reset()
    yield _alyx_server
    _alyx_server.faults.faults = Faults()


FAST_RETRY = RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05, timeout=10)


@pytest.fixture
def make_client(alyx: FakeAlyx, tmp_path: Path) -> Any:
    """Factory of clients of the fake server, with folders in tmp_path and fast retries."""

    @asynccontextmanager
    async def factory(**kwargs: Any) -> AsyncIterator[AsyncAlyxClient]:
        options: dict[str, Any] = {
            'username': USER,
            'password': PASSWORD,
            'cache_dir': tmp_path / 'cache',
            'token_dir': tmp_path / 'tokens',
            'retry': FAST_RETRY,
            'timeout': 5.0,
        }
        options.update(kwargs)
        async with AsyncAlyxClient(options.pop('base_url', alyx.url), **options) as client:
            yield client

    return factory
