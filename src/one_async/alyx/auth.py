"""The on-disk store of Alyx tokens: one file per server, one token per user.

Like ONE-api's ``~/.one/.{host}`` parameter files, a token fetched with a password is kept so
that later sessions need no password.  Each server's file (``.{host}_{port}`` in the store's
folder, JSON ``{"TOKEN": {user: {"token": key}}}``) is created with mode 0600 in a 0700 folder
and replaced atomically (temporary file, fsync, rename), so a crash never leaves a truncated file
and no other user can read it.  Tokens are never logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread

from one_async.alyx.urls import server_key

__all__ = ['TokenStore']

_logger = logging.getLogger('one_async.alyx')


class TokenStore:
    """Tokens cached on disk per server and user.

    Parameters
    ----------
    directory
        Folder of the token files; created (mode 0700) on first write.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({str(self.directory)!r})'

    def path_for(self, base_url: str) -> Path:
        """The token file of the server ``base_url``."""
        return self.directory / f'.{server_key(base_url)}'

    async def get(self, base_url: str, username: str) -> str | None:
        """The cached token of ``username`` on ``base_url``, or None."""
        return await anyio.to_thread.run_sync(self._get, base_url, username)

    async def set(self, base_url: str, username: str, token: str) -> None:
        """Cache ``token`` for ``username`` on ``base_url``."""
        await anyio.to_thread.run_sync(self._update, base_url, username, token)

    async def delete(self, base_url: str, username: str) -> None:
        """Forget the token of ``username`` on ``base_url`` (nothing happens if there is none)."""
        await anyio.to_thread.run_sync(self._update, base_url, username, None)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            content = json.loads(path.read_text(encoding='utf-8'))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            _logger.warning('Ignoring unreadable token file %s', path)
            return {}
        return content if isinstance(content, dict) else {}

    def _get(self, base_url: str, username: str) -> str | None:
        with self._lock:
            tokens = self._read(self.path_for(base_url)).get('TOKEN') or {}
        entry = tokens.get(username) if isinstance(tokens, dict) else None
        token = entry.get('token') if isinstance(entry, dict) else None
        return token if isinstance(token, str) and token else None

    def _update(self, base_url: str, username: str, token: str | None) -> None:
        path = self.path_for(base_url)
        with self._lock:
            content = self._read(path)
            tokens = content.get('TOKEN')
            tokens = tokens if isinstance(tokens, dict) else {}
            if token is None:
                if username not in tokens:
                    return
                del tokens[username]
            else:
                tokens[username] = {'token': token}
            content['TOKEN'] = tokens
            _write_private(path, json.dumps(content, indent=1))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + '.', suffix='.tmp')
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
