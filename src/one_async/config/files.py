"""one_async's own configuration file: where it lives, how it is read and (atomically) written.

The file is TOML (``config.toml`` in the user's configuration folder, or the path in the
``ONE_CONFIG`` variable); a path ending in ``.json`` is read and written as JSON instead.
Layout::

    default_database = "alyx.example.org"   # used when no base URL is given
    download_concurrency = 16               # settings shared by every database

    [databases."alyx.example.org"]
    base_url = "https://alyx.example.org"
    username = "me"
    cache_dir = "/data/ONE/alyx.example.org"

Writing replaces the file atomically (temporary file beside it, fsync, rename) with mode 0600 when
it holds a secret, so it is never seen half-written nor readable by other users.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Any

from pydantic import SecretStr

from one_async import defaults
from one_async.exceptions import ConfigError

__all__ = [
    'CONFIG_ENV',
    'config_path',
    'dumps_toml',
    'read_config_file',
    'user_config_dir',
    'write_config_file',
]

CONFIG_ENV = 'ONE_CONFIG'
"""Environment variable naming the configuration file to use instead of the default one."""


def user_config_dir() -> Path:
    """The platform's folder for one_async's configuration.

    ``%APPDATA%\\one_async`` on Windows, ``~/Library/Application Support/one_async`` on macOS,
    ``$XDG_CONFIG_HOME/one_async`` (default ``~/.config/one_async``) elsewhere.
    """
    if sys.platform in ('win32', 'cygwin') and os.environ.get('APPDATA'):
        base = Path(os.environ['APPDATA'])
    elif sys.platform == 'darwin':
        base = Path.home() / 'Library' / 'Application Support'
    else:
        xdg = os.environ.get('XDG_CONFIG_HOME')
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / '.config'
    return base / defaults.CONFIG_DIR_NAME


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The configuration file: ``path`` if given, else ``$ONE_CONFIG``, else the default one."""
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return user_config_dir() / defaults.CONFIG_FILE_NAME
    return Path(path).expanduser()


def _toml_module() -> Any:
    try:
        return importlib.import_module('tomllib')  # Python >= 3.11
    except ModuleNotFoundError:
        try:
            return importlib.import_module('tomli')
        except ModuleNotFoundError:
            return None


def read_config_file(path: Path) -> dict[str, Any] | None:
    """The content of the configuration file ``path``, or None when it does not exist.

    Raises
    ------
    ConfigError
        When the file cannot be read or parsed.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            f'Cannot read the configuration file {path}: {exc}', value=path
        ) from None
    try:
        if path.suffix.lower() == '.json':
            content = json.loads(data)
        else:
            toml = _toml_module()
            if toml is None:
                raise ConfigError(
                    f'Reading the TOML configuration file {path} needs Python 3.11 or the '
                    f'tomli package; install it, or point {CONFIG_ENV} to a .json file',
                    value=path,
                )
            content = toml.loads(data.decode('utf-8'))
    except ConfigError:
        raise
    except ValueError as exc:  # JSON, TOML and UTF-8 decoding errors
        raise ConfigError(
            f'The configuration file {path} is not valid: {exc}', value=path
        ) from None
    if not isinstance(content, dict):
        raise ConfigError(f'The configuration file {path} is not a table of settings', value=path)
    return content


# --- TOML writing (the standard library only reads it) -------------------------------------

_BARE_KEY = re.compile(r'[A-Za-z0-9_-]+')
_ESCAPES = {
    '"': '\\"',
    '\\': '\\\\',
    '\b': '\\b',
    '\t': '\\t',
    '\n': '\\n',
    '\f': '\\f',
    '\r': '\\r',
}


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f'\\u{ord(char):04X}')
        else:
            out.append(char)
    return '"' + ''.join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _plain(value: Any) -> Any:
    """A value as stored in the file: paths as text, durations in seconds, secrets revealed."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _toml_value(value: Any, where: str) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'nan'
        if math.isinf(value):
            return 'inf' if value > 0 else '-inf'
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    raise ConfigError(f'Cannot store {where} = {type(value).__name__} in a configuration file')


def dumps_toml(content: Mapping[str, Any]) -> str:
    """TOML text of ``content``: scalar values and tables of scalars (one level of nesting
    below a table, as in ``[databases."key"]``).  None values are left out."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in content.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            tables.append((_toml_key(key), value))
        else:
            lines.append(f'{_toml_key(key)} = {_toml_value(value, key)}')
    for prefix, table in tables:
        scalars = {k: v for k, v in table.items() if v is not None and not isinstance(v, Mapping)}
        subtables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        if scalars or not subtables:
            lines += ['', f'[{prefix}]']
            lines += [f'{_toml_key(k)} = {_toml_value(v, k)}' for k, v in scalars.items()]
        for name, sub in subtables.items():
            lines += ['', f'[{prefix}.{_toml_key(name)}]']
            for k, v in sub.items():
                if isinstance(v, Mapping):
                    raise ConfigError(f'Configuration tables nest at most two levels: {k}')
                if v is not None:
                    lines.append(f'{_toml_key(k)} = {_toml_value(v, k)}')
    return '\n'.join(lines).lstrip('\n') + '\n'


def _json_ready(content: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: _json_ready(v) if isinstance(v, Mapping) else _plain(v)
        for k, v in content.items()
        if v is not None
    }


def write_config_file(path: Path, content: Mapping[str, Any], *, secret: bool) -> None:
    """Replace ``path`` atomically with ``content`` (TOML, or JSON for a ``.json`` path).

    The file gets mode 0600 when ``secret`` (it holds a password), 0644 otherwise; a missing
    folder is created with mode 0700.
    """
    if path.suffix.lower() == '.json':
        text = json.dumps(_json_ready(content), indent=4) + '\n'
    else:
        text = dumps_toml(content)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o600 if secret else 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if os.name == 'posix':
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
