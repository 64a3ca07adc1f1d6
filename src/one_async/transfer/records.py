"""What a transfer job is given (download items) and what it gives back (results and report)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias
from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from one_async.exceptions import DownloadError, InvalidArgument, TransferError

__all__ = [
    'Chunk',
    'DownloadItem',
    'DownloadReport',
    'DownloadResult',
    'ItemLike',
    'S3Location',
    'quote_url_path',
    'redact_url',
    'to_item',
]

Chunk: TypeAlias = 'bytes | bytearray'
"""A piece of a body: bytearrays are received into directly, bytes come from libraries."""

_NETLOC = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)')

_MD5 = re.compile(r'[0-9a-f]{32}')
# Characters left as they are when escaping a URL path: RFC 3986 path characters and '%' (so
# existing escapes stay), everything else ('#' of revision folders, spaces ...) is escaped.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


def redact_url(url: str) -> str:
    """``url`` without credentials or query string, fit for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ''
    if parts.port:
        host = f'{host}:{parts.port}'
    return f'{parts.scheme}://{host}{parts.path}' if parts.scheme else parts.path


def quote_url_path(url: str) -> str:
    """``url`` with its path escaped as ONE-api escapes data URLs.

    A ``#`` in a data URL is part of the path (revision folders: ``alf/#2022-04-19#/...``), not
    a fragment: as ONE-api does, the URL is split without fragments and its path quoted.
    Existing ``%`` escapes are kept, so quoting twice changes nothing.
    """
    parts = urlsplit(url, allow_fragments=False)
    path = quote(parts.path, safe=_PATH_SAFE)
    return url if path == parts.path else parts._replace(path=path).geturl()


class S3Location(BaseModel):
    """An object in an S3 bucket."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)

    @classmethod
    def from_uri(cls, uri: str) -> S3Location:
        """Parse ``s3://bucket/key``."""
        parts = urlsplit(uri)
        if parts.scheme != 's3' or not parts.netloc or not parts.path.strip('/'):
            raise InvalidArgument(f'Not an S3 URI (s3://bucket/key): {uri!r}', value=uri)
        return cls(bucket=parts.netloc, key=parts.path.lstrip('/'))

    def __str__(self) -> str:
        return f's3://{self.bucket}/{self.key}'


class DownloadItem(BaseModel):
    """One file to download: where from, where to (relative to the target directory), and what
    to expect of it.

    Exactly one of ``url`` (http or https) and ``s3`` is given.  ``rel_path`` defaults to the ALF
    part of the URL path or S3 key (from the session folder on, as ONE saves files).  ``size``
    and ``md5`` are checked while the bytes stream in when given.  Field names of ONE's dataset
    records are accepted too (``data_url``, ``file_size``, ``hash``, ``id``).
    """

    # hide_input_in_errors: a rejected URL may hold credentials.
    model_config = ConfigDict(
        frozen=True, extra='ignore', populate_by_name=True, hide_input_in_errors=True
    )

    url: str | None = Field(None, validation_alias=AliasChoices('url', 'data_url'))
    s3: S3Location | None = None
    rel_path: str | None = None
    size: int | None = Field(None, ge=0, validation_alias=AliasChoices('size', 'file_size'))
    md5: str | None = Field(None, validation_alias=AliasChoices('md5', 'hash'))
    dataset_id: str | None = Field(None, validation_alias=AliasChoices('dataset_id', 'id'))

    @field_validator('md5')
    @classmethod
    def _check_md5(cls, value: str | None) -> str | None:
        if value is None or value == '':
            return None
        value = value.lower()
        if not _MD5.fullmatch(value):
            raise ValueError(f'md5 must be 32 hexadecimal digits, not {value!r}')
        return value

    @field_validator('url')
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlsplit(value).scheme not in ('http', 'https'):
            raise ValueError(f'url must be http or https: {redact_url(value)!r}')
        return quote_url_path(value)

    @model_validator(mode='after')
    def _one_source(self) -> DownloadItem:
        if (self.url is None) == (self.s3 is None):
            raise ValueError('give exactly one of url and s3')
        return self

    @property
    def source(self) -> str:
        """The remote location, without credentials."""
        return redact_url(self.url) if self.url is not None else str(self.s3)

    @property
    def host(self) -> str:
        """The host the bytes come from (per-host concurrency is counted on it)."""
        if self.url is not None:
            match = _NETLOC.match(self.url)
            return match.group(1).rpartition('@')[2] if match else ''
        return f's3:{self.s3.bucket}' if self.s3 else ''

    @property
    def label(self) -> str:
        """How messages name the item: the dataset id when known, else its source."""
        if self.dataset_id:
            return f'dataset {self.dataset_id} ({self.source})'
        return self.source


ItemLike = DownloadItem | str | Mapping[str, Any]
"""A download item, a URL (``http(s)://`` or ``s3://``), or a mapping of item fields."""


def to_item(value: ItemLike) -> DownloadItem:
    """Coerce one :data:`ItemLike` into a :class:`DownloadItem`."""
    if isinstance(value, DownloadItem):
        return value
    try:
        if isinstance(value, str):
            if value.startswith('s3://'):
                return DownloadItem(s3=S3Location.from_uri(value))
            return DownloadItem(url=value)
        if isinstance(value, Mapping):
            return DownloadItem.model_validate(dict(value))
    except ValueError as exc:
        shown = redact_url(value) if isinstance(value, str) else value
        raise InvalidArgument(f'Invalid download item {shown!r}: {exc}', value=shown) from exc
    raise InvalidArgument(
        f'A download item must be a DownloadItem, URL or mapping, not {type(value).__name__}',
        value=value,
    )


Status = Literal['downloaded', 'skipped', 'failed']


class DownloadResult(BaseModel):
    """The outcome of one item.

    ``status`` is ``'downloaded'`` (fetched and verified), ``'skipped'`` (already present with the
    right size and md5) or ``'failed'`` (``error`` says why).  ``path`` is the final file path for
    the first two.  ``bytes`` counts bytes received over the network, ``seconds`` the time from the
    first request to placement, ``attempts`` the requests made.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    item: DownloadItem
    status: Status
    path: Path | None = None
    error: TransferError | None = None
    bytes: int = 0
    seconds: float = 0.0
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """True when the file is in place and verified."""
        return self.status != 'failed'

    def describe(self) -> str:
        """One line naming the item and what happened (its error for a failure)."""
        if self.error is None:
            return f'{self.item.label}: {self.status}'
        text = str(self.error) or type(self.error).__name__
        return text if self.item.label in text else f'{self.item.label}: {text}'


class DownloadReport(BaseModel):
    """The outcome of a transfer job, one result per item in the order given."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    results: tuple[DownloadResult, ...]
    seconds: float = 0.0

    @property
    def failed(self) -> list[DownloadResult]:
        """Results of the items that could not be placed."""
        return [r for r in self.results if r.status == 'failed']

    @property
    def ok(self) -> bool:
        """True when every item is in place."""
        return not self.failed

    @property
    def paths(self) -> list[Path | None]:
        """Final paths in item order; None where the item failed."""
        return [r.path for r in self.results]

    @property
    def bytes(self) -> int:
        """Bytes received over the network."""
        return sum(r.bytes for r in self.results)

    @property
    def downloaded(self) -> int:
        """Number of files fetched."""
        return sum(r.status == 'downloaded' for r in self.results)

    @property
    def skipped(self) -> int:
        """Number of files already present and verified."""
        return sum(r.status == 'skipped' for r in self.results)

    def raise_for_failures(self) -> None:
        """Raise when any item failed.

        One failure raises its own error (e.g. :class:`IntegrityError`); several raise a
        :class:`DownloadError` listing them, with the failed results as ``.value``.
        """
        failed = self.failed
        if not failed:
            return
        if len(failed) == 1 and failed[0].error is not None:
            raise failed[0].error
        lines = [f'  {r.describe()}' for r in failed[:20]]
        if len(failed) > 20:
            lines.append(f'  ... and {len(failed) - 20} more')
        message = f'{len(failed)} of {len(self.results)} files failed:\n' + '\n'.join(lines)
        raise DownloadError(message, value=tuple(failed)) from failed[0].error

    def __str__(self) -> str:
        return (
            f'DownloadReport(downloaded={self.downloaded}, skipped={self.skipped}, '
            f'failed={len(self.failed)}, bytes={self.bytes}, seconds={self.seconds:.3f})'
        )

    __repr__ = __str__
