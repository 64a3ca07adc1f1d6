"""Write one_async's configuration for a database, asking the user only when interactive.

:func:`setup` records a database (URL, login, cache folder, optional secrets) and shared
settings in one_async's configuration file.  ONE-api's own files are never modified.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from one_async.alyx.urls import normalise_base_url
from one_async.config.files import config_path, read_config_file, write_config_file
from one_async.config.one_params import client_key, read_one_params
from one_async.config.settings import (
    DATABASE_FIELDS,
    SECRET_FIELDS,
    OneSettings,
    _load_config_file,
    _resolve,
)

__all__ = ['is_interactive', 'setup']


def is_interactive() -> bool:
    """True when a person can answer prompts: standard input is a terminal."""
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _ask(question: str, current: Any) -> str:
    shown = '' if current is None else f' [{current}]'
    answer = input(f'{question}{shown}: ').strip()
    return answer or ('' if current is None else str(current))


def _yes(question: str, default: bool) -> bool:
    answer = input(f'{question} [{"Y/n" if default else "y/N"}]: ').strip().lower()
    return default if not answer else answer[0] == 'y'


def _cache_dirs_in_use(path: Path, key: str, one_params_dir: Any) -> dict[Path, str]:
    """Cache folders of the other databases (ours and ONE-api's), mapped to their database."""
    used: dict[Path, str] = {}
    for name, folder in read_one_params(one_params_dir).caches.items():
        if name != key:
            used[folder.expanduser().absolute()] = name
    for name, section in _load_config_file(path, require=False).databases.items():
        if name != key and section.get('cache_dir'):
            used[Path(section['cache_dir']).expanduser().absolute()] = name
    return used


def setup(
    base_url: str | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    make_default: bool | None = None,
    silent: bool = False,
    config_file: str | os.PathLike[str] | None = None,
    one_params_dir: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> OneSettings:
    """Record a database (and shared settings) in one_async's configuration file.

    Values not given default to the current ones (from the configuration file, ONE-api's
    parameters, or the defaults).  When standard input is a terminal and not ``silent``, the
    user is asked for the URL, login and cache folder (Enter keeps the value shown), whether to
    make the database the default, and to confirm; otherwise nothing is asked.

    Parameters
    ----------
    base_url
        The Alyx database URL (default: the current default database).
    username
        The Alyx login.
    password
        Stored (in plain text, in a file only the user can read) only when given here; prefer
        leaving it out, as the Alyx client caches a token at the first login.
    cache_dir
        Cache folder of the database (default ONE-api's, ``~/Downloads/ONE/<database>``).
    make_default
        Make this database the one used when no URL is given (default: ask, or yes when no
        default exists yet).
    silent
        Never prompt (nor does ``ONE_SILENT=true`` or ``silent = true`` in the file).
    config_file, one_params_dir
        As in :func:`~one_async.config.settings.resolve_settings`.
    **settings
        Other settings to record: database ones (``tables_dir``, ``http_data_server`` ...) in
        the database's table, shared ones (``download_concurrency`` ...) for every database.

    Returns
    -------
    OneSettings
        The settings now resolved for the database.

    Raises
    ------
    InvalidArgument
        An unknown setting or an invalid value (nothing is written).
    """
    path = config_path(config_file)
    current = _resolve({'base_url': base_url}, path, one_params_dir, require_file=False)
    interactive = not (silent or current.silent) and is_interactive()

    if interactive:
        base_url = _ask('Alyx database URL', current.base_url)
        if '://' not in base_url:
            base_url = 'https://' + base_url
        base_url = normalise_base_url(base_url)
        if client_key(base_url) != current.database:
            current = _resolve({'base_url': base_url}, path, one_params_dir, require_file=False)
        username = _ask('Alyx login', username or current.username) or None
        cache_dir = _ask('Cache folder', cache_dir or current.cache_dir)
    base_url = normalise_base_url(base_url or current.base_url)
    key = client_key(base_url)
    username = username or current.username
    cache = Path(cache_dir or current.cache_dir).expanduser().absolute()

    in_use = _cache_dirs_in_use(path, key, one_params_dir)
    while interactive and cache in in_use:
        print(f'{cache} is already the cache folder of {in_use[cache]}.')
        if not _yes('Choose another folder?', True):
            break
        cache = Path(_ask('Cache folder', None) or cache).expanduser().absolute()

    section: dict[str, Any] = {'base_url': base_url, 'username': username, 'cache_dir': cache}
    if password is not None:
        section['password'] = password
    shared: dict[str, Any] = {}
    for name, value in settings.items():
        (section if name in DATABASE_FIELDS else shared)[name] = value
    # Validate everything before writing anything.
    _resolve({**shared, **section}, path, one_params_dir, require_file=False)

    raw = read_config_file(path) or {}
    databases = dict(raw.get('databases') or {})
    if make_default is None:
        has_default = raw.get('default_database') in databases
        make_default = _yes('Make it the default database?', True) if interactive else None
        make_default = make_default if make_default is not None else not has_default

    if interactive:
        print(f'\nDatabase {base_url} as {username or "(no login)"}, cache folder {cache}')
        if not _yes('Are these settings correct?', True):
            print('Setup abandoned: nothing was written.')
            return current

    entry = {k: v for k, v in {**databases.get(key, {}), **section}.items() if v is not None}
    databases[key] = entry
    content: dict[str, Any] = {
        k: v for k, v in raw.items() if k not in ('databases', 'default_database')
    }
    content.update({k: v for k, v in shared.items() if v is not None})
    default = key if make_default else raw.get('default_database')
    if default in databases:
        content = {'default_database': default, **content}
    content['databases'] = databases
    secret = any(table.get(name) for table in databases.values() for name in SECRET_FIELDS)
    write_config_file(path, content, secret=secret)
    cache.mkdir(parents=True, exist_ok=True)
    if interactive:
        print(f'Configuration written to {path}')
    return _resolve({'base_url': base_url}, path, one_params_dir, require_file=False)
