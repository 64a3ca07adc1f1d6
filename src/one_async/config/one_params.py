"""Read ONE-api's existing configuration, so a current ONE user needs no new configuration.

ONE-api (2.9, via ``iblutil.io.params``) keeps its parameters as JSON files in ``~/.one/``
(``%APPDATA%\\.one\\`` on Windows):

``.caches``
    ``{"CLIENT_MAP": {client_key: cache_dir, ...}, "DEFAULT": client_key}``: the cache folder of
    each database and the database used when none is named.
``.{client_key}``
    One database: ``ALYX_URL``, ``ALYX_LOGIN``, ``HTTP_DATA_SERVER``,
    ``HTTP_DATA_SERVER_LOGIN``, ``HTTP_DATA_SERVER_PWD``, optionally ``ALYX_PWD`` and the cached
    tokens ``TOKEN: {username: {"token": key}}``.

The client key of a database is its URL without scheme nor slashes, as ONE-api computes it
(:func:`client_key`).  These files are only read here, never written, and secrets read from them
are kept as ``SecretStr``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from one_async import defaults
from one_async.exceptions import ConfigError, OneWarning

__all__ = [
    'OneDatabase',
    'OneParams',
    'client_key',
    'one_params_dir',
    'read_one_params',
]

_WINDOWS_PATH = re.compile(r'^(?:[A-Za-z]:[\\/]|\\\\)')


def client_key(url: str) -> str:
    """The name ONE-api gives a database's files: its URL without scheme, lower case, with
    characters other than letters, digits, ``.``, ``_`` and ``-`` replaced (as ONE's
    ``one.params._key_from_url``)."""
    url = unicodedata.normalize('NFKC', url)
    url = re.sub('^https?://', '', url).strip('/')
    url = re.sub(r'[^.\w\s-]', '_', url.lower())
    return re.sub(r'[-\s]+', '-', url)


def one_params_dir() -> Path:
    """ONE-api's parameter folder: ``~/.one``, or ``%APPDATA%\\.one`` on Windows."""
    if sys.platform in ('win32', 'cygwin') and os.environ.get('APPDATA'):
        return Path(os.environ['APPDATA'], defaults.ONE_PARAMS_DIR_NAME)
    return Path.home() / defaults.ONE_PARAMS_DIR_NAME


def _as_path(value: Any, what: str, source: Path) -> Path | None:
    """A folder named in a params file, or None (with a warning) when it cannot be used here."""
    if not isinstance(value, str) or not value:
        if value not in (None, ''):
            warnings.warn(f'Ignoring {what} {value!r} in {source}: not a path', OneWarning, 2)
        return None
    if _WINDOWS_PATH.match(value) and os.name != 'nt':
        warnings.warn(
            f'Ignoring {what} {value!r} in {source}: a Windows path cannot be used on this system',
            OneWarning,
            2,
        )
        return None
    return Path(value).expanduser()


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_secret(value: Any) -> SecretStr | None:
    return SecretStr(value) if isinstance(value, str) and value else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f'Cannot read the ONE-api parameter file {path}: {exc}', value=path
        ) from None
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            f'The ONE-api parameter file {path} is not valid JSON: {exc}', value=path
        ) from None
    if not isinstance(content, dict):
        raise ConfigError(f'The ONE-api parameter file {path} is not a JSON object', value=path)
    return content


@dataclass(frozen=True)
class OneDatabase:
    """The parameters ONE-api keeps for one database (any of them may be missing).

    Secrets are ``SecretStr``; ``tokens`` maps user names to their cached Alyx token.
    """

    key: str
    base_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    http_data_server: str | None = None
    http_data_server_login: str | None = None
    http_data_server_password: SecretStr | None = None
    cache_dir: Path | None = None
    tokens: Mapping[str, SecretStr] = field(default_factory=dict, repr=False)

    def token_for(self, username: str | None) -> SecretStr | None:
        """The token ONE-api cached for ``username``, or None."""
        return self.tokens.get(username) if username else None


@dataclass(frozen=True)
class OneParams:
    """ONE-api's configuration: the database map and each database's parameters.

    ``caches`` maps client keys to cache folders; ``default`` is the default client key.
    """

    root: Path
    default: str | None = None
    caches: Mapping[str, Path] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """True when ONE-api was set up on this machine (its database map exists)."""
        return (self.root / '.caches').is_file()

    def database(self, key: str) -> OneDatabase | None:
        """The parameters of the database ``key`` (a client key), or None if ONE has none."""
        path = self.root / f'.{key}'
        content = _read_json(path)
        if content is None:
            return None
        tokens: dict[str, SecretStr] = {}
        raw_tokens = content.get('TOKEN')
        if isinstance(raw_tokens, dict):
            for user, entry in raw_tokens.items():
                token = entry.get('token') if isinstance(entry, dict) else None
                if isinstance(user, str) and isinstance(token, str) and token:
                    tokens[user] = SecretStr(token)
        return OneDatabase(
            key=key,
            base_url=_as_str(content.get('ALYX_URL')),
            username=_as_str(content.get('ALYX_LOGIN')),
            password=_as_secret(content.get('ALYX_PWD')),
            http_data_server=_as_str(content.get('HTTP_DATA_SERVER')),
            http_data_server_login=_as_str(content.get('HTTP_DATA_SERVER_LOGIN')),
            http_data_server_password=_as_secret(content.get('HTTP_DATA_SERVER_PWD')),
            cache_dir=self.caches.get(key),
            tokens=tokens,
        )

    def key_for_cache_dir(self, cache_dir: str | os.PathLike[str]) -> str | None:
        """The database whose cache folder is ``cache_dir``, or None."""
        wanted = Path(cache_dir).expanduser().absolute()
        for key, path in self.caches.items():
            if path.absolute() == wanted:
                return key
        return None


def read_one_params(root: str | os.PathLike[str] | None = None) -> OneParams:
    """Read ONE-api's database map from ``root`` (default :func:`one_params_dir`).

    Nothing is created: a machine without ONE-api parameters gives an empty map.

    Raises
    ------
    ConfigError
        When a parameter file exists but is not a JSON object.
    """
    folder = Path(root) if root is not None else one_params_dir()
    path = folder / '.caches'
    content = _read_json(path) or {}
    caches: dict[str, Path] = {}
    client_map = content.get('CLIENT_MAP')
    if isinstance(client_map, dict):
        for key, value in client_map.items():
            cache = _as_path(value, f'the cache folder of {key!r}', path)
            if isinstance(key, str) and cache is not None:
                caches[key] = cache
    default = _as_str(content.get('DEFAULT'))
    return OneParams(root=folder, default=default, caches=caches)
