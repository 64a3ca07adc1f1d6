"""The on-disk cache of GET responses, with expiry, as ONE-api's ``cache_rest`` keeps it.

Each response is one file in ``<cache_dir>/.rest`` named by the SHA-1 of its URL (query
parameters sorted), holding ``[response, expiry]`` in JSON as ONE-api writes it.  Files are
written atomically (temporary file, fsync, rename) so concurrent writers never leave a torn entry;
an unreadable entry counts as missing and is removed.  Only successful JSON answers to
authenticated GETs are stored: never the token exchange, never an error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import anyio.to_thread

from one_async.alyx.urls import cache_key

__all__ = ['CachedResponse', 'RestCache', 'json_default']

_logger = logging.getLogger('one_async.alyx')


def json_default(value: object) -> object:
    """JSON encoding of values REST data often holds beyond plain JSON (UUID, dates, paths)."""
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (UUID, os.PathLike)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f'Object of type {type(value).__name__} is not JSON serializable')


@dataclass(frozen=True)
class CachedResponse:
    """A cached JSON body and the time it stops being fresh."""

    value: Any
    expires: datetime

    @property
    def fresh(self) -> bool:
        """True until the expiry time."""
        return datetime.now(timezone.utc) < self.expires


class RestCache:
    """GET responses cached in a folder.

    Parameters
    ----------
    directory
        The folder of the entries (created on first write).
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({str(self.directory)!r})'

    def path_for(self, url: str) -> Path:
        """The entry file of ``url``."""
        return self.directory / cache_key(url)

    async def load(self, url: str) -> CachedResponse | None:
        """The cached response of ``url`` (fresh or not), or None."""
        return await anyio.to_thread.run_sync(self._load, self.path_for(url))

    async def store(self, url: str, value: Any, expires: timedelta) -> None:
        """Cache ``value`` as the response of ``url``, fresh for ``expires``."""
        # Naive local time, as ONE-api writes and compares it.
        when = datetime.now() + expires
        text = json.dumps([value, when.isoformat()], default=json_default)
        await anyio.to_thread.run_sync(self._write, self.path_for(url), text)

    async def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        return await anyio.to_thread.run_sync(self._clear)

    def _load(self, path: Path) -> CachedResponse | None:
        try:
            value, when = json.loads(path.read_text(encoding='utf-8'))
            expires = datetime.fromisoformat(when)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            _logger.debug('Removing unreadable REST cache entry %s', path.name)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        if expires.tzinfo is None:  # ONE-api writes naive local times
            expires = expires.astimezone()
        return CachedResponse(value, expires)

    def _write(self, path: Path, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix='.' + path.name, suffix='.tmp')
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _clear(self) -> int:
        removed = 0
        if not self.directory.is_dir():
            return 0
        for entry in self.directory.iterdir():
            if entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        return removed
