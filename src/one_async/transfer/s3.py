"""S3 side of transfers: objects fetched with aioboto3, under the engine's rules.

On asyncio, items with an ``s3`` location are read with aioboto3's ``get_object`` (resuming with
``Range`` + ``IfMatch``).  aioboto3 runs on asyncio only, so on other backends (trio) the same
objects are fetched over the engine's HTTP client from URLs presigned locally by botocore (plain
URLs for anonymous access).  Integrity, atomic placement and concurrency are the engine's either
way.  Credentials are never part of a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, SecretStr

from one_async.defaults import DOWNLOAD_CHUNK_SIZE, HTTP_CONNECT_TIMEOUT, HTTP_READ_TIMEOUT
from one_async.exceptions import DownloadError
from one_async.transfer.http import (
    Body,
    HttpSource,
    Restart,
    Retryable,
    _on_asyncio,
)
from one_async.transfer.records import DownloadItem

if TYPE_CHECKING:
    from one_async.transfer.http1 import Http1Source

__all__ = ['S3Config', 'open_s3_source']

_PRESIGN_EXPIRY = 6 * 3600
_RETRY_CODES = frozenset(
    {'SlowDown', 'RequestTimeout', 'InternalError', 'ServiceUnavailable', 'Throttling'}
)


class S3Config(BaseModel):
    """How to reach S3: endpoint, region and credentials.

    ``anonymous=None`` follows ONE: unsigned requests when no keys are given and every bucket of
    the job is public (its name contains ``public``); otherwise botocore's usual credential
    chain (environment, profile) applies.
    """

    model_config = ConfigDict(frozen=True, extra='forbid')

    endpoint_url: str | None = None
    region_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    anonymous: bool | None = None

    def is_anonymous(self, buckets: set[str]) -> bool:
        """Whether requests go unsigned for a job over ``buckets``."""
        if self.anonymous is not None:
            return self.anonymous
        has_keys = bool(self.aws_access_key_id or self.aws_secret_access_key)
        return not has_keys and all('public' in b.lower() for b in buckets)

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of a boto session (secrets revealed only here)."""
        secret = self.aws_secret_access_key
        token = self.aws_session_token
        return {
            'aws_access_key_id': self.aws_access_key_id,
            'aws_secret_access_key': secret.get_secret_value() if secret else None,
            'aws_session_token': token.get_secret_value() if token else None,
            'region_name': self.region_name,
        }


def _client_error(item: DownloadItem, exc: Any) -> Exception:
    """Classify a botocore ``ClientError``."""
    response = getattr(exc, 'response', {}) or {}
    code = str(response.get('Error', {}).get('Code', ''))
    status = int(response.get('ResponseMetadata', {}).get('HTTPStatusCode') or 0)
    if status in (412, 416) or code in ('PreconditionFailed', 'InvalidRange'):
        return Restart(f'S3 refused to resume ({code or status})')
    if status >= 500 or status == 429 or code in _RETRY_CODES:
        return Retryable(f'S3 {code or status}')
    return DownloadError(
        f'S3 error {code or status} for {item.label}', value=item.dataset_id or item.source
    )


class _AioS3Source:
    """Reads objects with an aioboto3 client (asyncio only)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @asynccontextmanager
    async def open(
        self, item: DownloadItem, offset: int, validator: str | None
    ) -> AsyncIterator[Body]:
        import aiohttp
        from botocore.exceptions import BotoCoreError, ClientError

        assert item.s3 is not None
        kwargs: dict[str, Any] = {'Bucket': item.s3.bucket, 'Key': item.s3.key}
        if offset:
            kwargs['Range'] = f'bytes={offset}-'
            if validator:
                kwargs['IfMatch'] = validator
        transient = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError, OSError)
        try:
            response = await self.client.get_object(**kwargs)
        except ClientError as exc:
            raise _client_error(item, exc) from exc
        except transient as exc:
            raise Retryable(f'{type(exc).__name__}: {exc}') from exc
        body = response['Body']
        try:
            if offset:
                content_range = str(response.get('ContentRange', ''))
                if not content_range.startswith(f'bytes {offset}-'):
                    raise Restart(f'S3 answered another range: {content_range!r}')

            async def chunks() -> AsyncIterator[bytes]:
                try:
                    async for chunk in body.iter_chunks(DOWNLOAD_CHUNK_SIZE):
                        yield chunk
                except transient as exc:
                    raise Retryable(f'{type(exc).__name__}: {exc}') from exc

            etag = response.get('ETag')
            yield Body(bool(offset), response.get('ContentLength'), etag or None, chunks())
        finally:
            body.close()


class _PresignedS3Source:
    """Reads objects over HTTP from locally presigned (or plain, anonymous) URLs."""

    def __init__(self, client: Any, http: HttpSource | Http1Source) -> None:
        self.client = client
        self.http = http

    def open(
        self, item: DownloadItem, offset: int, validator: str | None
    ) -> AbstractAsyncContextManager[Body]:
        assert item.s3 is not None
        params = {'Bucket': item.s3.bucket, 'Key': item.s3.key}
        url = self.client.generate_presigned_url(
            'get_object', Params=params, ExpiresIn=_PRESIGN_EXPIRY
        )
        return self.http.get(item, url, offset, validator)


@asynccontextmanager
async def open_s3_source(
    config: S3Config,
    *,
    buckets: set[str],
    max_connections: int,
    connect_timeout: float = HTTP_CONNECT_TIMEOUT,
    read_timeout: float = HTTP_READ_TIMEOUT,
    http: HttpSource | Http1Source,
) -> AsyncIterator[_AioS3Source | _PresignedS3Source]:
    """The S3 source of a job: aioboto3 on asyncio, presigned URLs over ``http`` elsewhere."""
    from botocore import UNSIGNED
    from botocore.config import Config

    signature: Any = UNSIGNED if config.is_anonymous(buckets) else 's3v4'
    kwargs = config.session_kwargs()
    region = kwargs.pop('region_name')
    if _on_asyncio():
        import aioboto3
        from aiobotocore.config import AioConfig

        aio_config = AioConfig(
            signature_version=signature,
            max_pool_connections=max_connections,
            retries={'total_max_attempts': 1},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        session = aioboto3.Session(region_name=region, **kwargs)
        async with session.client(
            's3', endpoint_url=config.endpoint_url, config=aio_config
        ) as client:
            yield _AioS3Source(client)
        return

    def make_client() -> Any:
        import botocore.session

        sync_config = Config(signature_version=signature)
        session = botocore.session.get_session()
        return session.create_client(
            's3',
            endpoint_url=config.endpoint_url,
            region_name=region,
            config=sync_config,
            **kwargs,
        )

    client = await anyio.to_thread.run_sync(make_client)
    try:
        yield _PresignedS3Source(client, http)
    finally:
        client.close()
