"""A FastAPI service over one shared :class:`one_async.AsyncOne` session.

The session opens in the app's lifespan and closes with it; every request uses the same session,
so concurrent requests share its cache tables, its connection pool and its download limits.

Run it against a local Alyx-compatible server (``one-async serve`` prints its connection info)::

    ONE_BASE_URL=... ONE_USERNAME=... ONE_PASSWORD=... ONE_CACHE_DIR=/data/one \\
        uvicorn docs.examples.fastapi_app:app
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request

from one_async import AsyncOne, OneError
from one_async.api.factory import make_session


def create_app(**session_args: Any) -> FastAPI:
    """The service; ``session_args`` go to the session factory (``ONE()``'s arguments)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with make_session(**session_args) as one:
            app.state.one = one
            yield

    service = FastAPI(title='one_async example', lifespan=lifespan)

    def session(request: Request) -> AsyncOne:
        one: AsyncOne = request.app.state.one
        return one

    @service.get('/sessions')
    async def search(
        request: Request,
        subject: str | None = None,
        dataset: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        terms = {k: v for k, v in {'subject': subject, 'dataset': dataset}.items() if v}
        try:
            found = await session(request).search(**terms)
        except OneError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        eids = found if isinstance(found, list) else await found.to_list()
        return {'eids': [str(e) for e in eids], 'session_id': id(session(request))}

    @service.post('/sessions/{eid}/download')
    async def download(
        request: Request, eid: str, collection: str | None = None
    ) -> dict[str, Any]:
        try:
            report = await session(request).download(eid, collection=collection)
        except OneError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {
            'downloaded': report.downloaded,
            'skipped': report.skipped,
            'failed': [str(r.error) for r in report.failed],
            'session_id': id(session(request)),
        }

    return service


app = create_app()
