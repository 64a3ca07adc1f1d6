"""Session settings: resolved once from arguments, ``ONE_*`` variables and configuration files.

:func:`resolve_settings` gives a frozen, hashable :class:`OneSettings`; equal arguments (and
unchanged environment and files) give equal settings, so the ``ONE()`` factory can cache
sessions by them.  Each setting comes from the first of these that has it:

1. explicit arguments (None means "not given");
2. environment variables ``ONE_<NAME>`` (listed below; empty values are ignored);
3. one_async's configuration file (``$ONE_CONFIG`` or ``config.toml`` in the user's
   configuration folder, see :mod:`one_async.config.files`): shared settings, then the table of
   the selected database;
4. ONE-api's parameter files (``~/.one/``, read only, see :mod:`one_async.config.one_params`),
   for the selected database: URL, login, file server, cache folder and cached token;
5. defaults (:mod:`one_async.defaults`); the cache folder defaults to ONE-api's
   ``~/Downloads/ONE/<database>``.

The database is selected by the base URL when one is given, otherwise by the cache folder when
it is a database's cache folder, otherwise it is the file's ``default_database``, then ONE-api's
default database, then the public IBL database (a cache folder of no database keeps the default
database, as in ONE-api).

Environment variables
---------------------
=================================  ================================================================
``ONE_BASE_URL``                   Alyx database URL.
``ONE_USERNAME``                   Alyx login.
``ONE_PASSWORD``                   Alyx password (never printed).
``ONE_TOKEN``                      Alyx token to use instead of a password (never printed).
``ONE_CACHE_DIR``                  Folder of the downloaded files and cache tables.
``ONE_TABLES_DIR``                 Folder of the cache tables, when not the cache folder.
``ONE_HTTP_DATA_SERVER``           URL of the file server.
``ONE_HTTP_DATA_SERVER_LOGIN``     Login on the file server.
``ONE_HTTP_DATA_SERVER_PASSWORD``  Password on the file server (never printed).
``ONE_MODE``                       'auto', 'local', 'remote' or 'refresh'.
``ONE_WILDCARDS``                  true: shell wildcards in filters; false: regular expressions.
``ONE_SILENT``                     true: no prompts, no progress output.
``ONE_CACHE_REST``                 false: do not cache Alyx GET responses.
``ONE_VERIFY_TLS``                 false: do not verify TLS certificates (unsafe).
``ONE_DOWNLOAD_CONCURRENCY``       Files downloaded at once (ONE-api's ``ONE_HTTP_DL_THREADS``
                                   is honoured when this one is not set).
``ONE_DOWNLOAD_PER_HOST``          Files downloaded at once from one host.
``ONE_REST_PAGE_CONCURRENCY``      Pages of one Alyx list fetched at once.
``ONE_CONNECT_TIMEOUT``            Seconds to establish a connection.
``ONE_READ_TIMEOUT``               Seconds without data before a request fails.
``ONE_RETRY_ATTEMPTS``             Attempts per request or download, the first included.
``ONE_RETRY_INITIAL_WAIT``         Seconds before the first retry (then doubling).
``ONE_RETRY_MAX_WAIT``             Longest wait between two retries, in seconds.
``ONE_RETRY_TIMEOUT``              Longest time spent retrying one request, in seconds.
``ONE_CACHE_EXPIRY``               Age after which cache tables are refreshed (seconds, ISO 8601).
``ONE_REST_CACHE_EXPIRY``          Lifetime of a cached Alyx response (seconds, ISO 8601).
``ONE_CONFIG``                     Path of the configuration file to read instead of the default.
=================================  ================================================================
"""

from __future__ import annotations

import os
import stat
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import anyio.to_thread
import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from one_async import defaults
from one_async.alyx.retry import RetryPolicy
from one_async.alyx.urls import normalise_base_url
from one_async.config.files import CONFIG_ENV, config_path, read_config_file
from one_async.config.one_params import client_key, read_one_params
from one_async.exceptions import ConfigError, InvalidArgument, OneWarning

__all__ = [
    'DATABASE_FIELDS',
    'ENVIRONMENT_VARIABLES',
    'SECRET_FIELDS',
    'Mode',
    'OneSettings',
    'database_for_cache_dir',
    'default_cache_dir',
    'resolve_settings',
    'resolve_settings_async',
]

Mode = Literal['auto', 'local', 'remote', 'refresh']

ENV_PREFIX: Final = 'ONE_'
LEGACY_DOWNLOAD_ENV: Final = 'ONE_HTTP_DL_THREADS'
"""ONE-api's variable for its download threads, read as ``download_concurrency``."""

DATABASE_FIELDS: Final = frozenset(
    {
        'base_url',
        'username',
        'password',
        'token',
        'cache_dir',
        'tables_dir',
        'http_data_server',
        'http_data_server_login',
        'http_data_server_password',
    }
)
"""Settings that belong to one database (a ``[databases."key"]`` table of the config file)."""

SECRET_FIELDS: Final = frozenset({'password', 'token', 'http_data_server_password'})
"""Settings that are never printed nor logged."""

_MASK = '**********'


def default_cache_dir(base_url: str) -> Path:
    """ONE-api's default cache folder of a database: ``~/Downloads/ONE/<client key>``."""
    return Path.home().joinpath(*defaults.CACHE_ROOT, client_key(base_url))


# --- where the sources read from ----------------------------------------------------------


@dataclass
class _Context:
    config_file: Path
    require_file: bool
    params_dir: Path | None
    file_values: dict[str, Any] = field(default_factory=dict)
    params_values: dict[str, Any] = field(default_factory=dict)
    params_file: Path | None = None


_CONTEXT: ContextVar[_Context | None] = ContextVar('one_async_settings', default=None)


def _context() -> _Context:
    context = _CONTEXT.get()
    if context is None:
        explicit = bool(os.environ.get(CONFIG_ENV))
        context = _Context(config_path(), require_file=explicit, params_dir=None)
    return context


def _key_of(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    try:
        return client_key(normalise_base_url(url))
    except InvalidArgument:
        return client_key(url)


def _same_dir(a: Any, b: Any) -> bool:
    try:
        return Path(a).expanduser().absolute() == Path(b).expanduser().absolute()
    except TypeError:
        return False


@dataclass(frozen=True)
class _ConfigFile:
    path: Path
    shared: dict[str, Any]
    databases: dict[str, dict[str, Any]]
    default_database: str | None

    def database_for(self, state: dict[str, Any]) -> str | None:
        """The table selected by the base URL, else the cache folder, else the default."""
        key = _key_of(state.get('base_url'))
        if key is not None:
            for name, section in self.databases.items():
                if name == key or _key_of(section['base_url']) == key:
                    return name
            return None
        if state.get('cache_dir'):
            for name, section in self.databases.items():
                folder = section.get('cache_dir')
                if folder and _same_dir(folder, state['cache_dir']):
                    return name
        return self.default_database


def _load_config_file(path: Path, require: bool) -> _ConfigFile:
    """Read and check the structure of one_async's configuration file."""
    raw = read_config_file(path)
    if raw is None:
        if require:
            raise ConfigError(f'The configuration file {path} does not exist', value=path)
        return _ConfigFile(path, {}, {}, None)
    shared_names = set(OneSettings.model_fields) - DATABASE_FIELDS
    shared: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ('databases', 'default_database'):
            continue
        if key in DATABASE_FIELDS:
            raise ConfigError(
                f'{key!r} in {path} belongs to a database: put it in a [databases."<name>"] table',
                value=key,
            )
        if key not in shared_names:
            raise ConfigError(f'Unknown setting {key!r} in {path}', value=key)
        shared[key] = value
    databases: dict[str, dict[str, Any]] = {}
    tables = raw.get('databases', {})
    if not isinstance(tables, dict):
        raise ConfigError(f'"databases" in {path} must be a table of tables', value=tables)
    for name, section in tables.items():
        if not isinstance(section, dict):
            raise ConfigError(f'databases.{name} in {path} must be a table', value=name)
        unknown = sorted(set(section) - DATABASE_FIELDS)
        if unknown:
            raise ConfigError(
                f'Unknown setting(s) {", ".join(unknown)} in databases.{name} of {path}',
                value=unknown[0],
            )
        if not isinstance(section.get('base_url'), str):
            raise ConfigError(f'databases.{name} in {path} has no base_url', value=name)
        databases[name] = dict(section)
    default = raw.get('default_database')
    if default is not None and (not isinstance(default, str) or default not in databases):
        raise ConfigError(
            f'default_database {default!r} in {path} is not one of its databases', value=default
        )
    return _ConfigFile(path, shared, databases, default)


def _warn_if_readable(path: Path) -> None:
    if os.name != 'posix':
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f'The configuration file {path} holds a password but other users can read it; '
            f'restrict it with: chmod 600 {path}',
            OneWarning,
            stacklevel=2,
        )


class _LegacyEnvSource(PydanticBaseSettingsSource):
    """ONE-api's ``ONE_HTTP_DL_THREADS``, below the ``ONE_DOWNLOAD_CONCURRENCY`` variable."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        value = os.environ.get(LEGACY_DOWNLOAD_ENV)
        return {'download_concurrency': value} if value else {}


class _ConfigFileSource(PydanticBaseSettingsSource):
    """one_async's configuration file: shared settings, then the selected database's table."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        context = _context()
        config = _load_config_file(context.config_file, context.require_file)
        values = dict(config.shared)
        key = config.database_for(self.current_state)
        if key is not None:
            values.update(config.databases[key])
            if any(values.get(name) for name in SECRET_FIELDS):
                _warn_if_readable(config.path)
        context.file_values = values
        return values


class _OneParamsSource(PydanticBaseSettingsSource):
    """ONE-api's parameters of the selected database (read only)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        context = _context()
        params = read_one_params(context.params_dir)
        state = self.current_state
        key = _key_of(state.get('base_url'))
        if key is None and state.get('cache_dir'):
            key = params.key_for_cache_dir(state['cache_dir'])
        if key is None:
            key = params.default
        if key is None:
            return {}
        values: dict[str, Any] = {'cache_dir': params.caches.get(key)}
        database = params.database(key)
        if database is not None:
            context.params_file = params.root / f'.{key}'
            values.update(
                base_url=database.base_url,
                username=database.username,
                password=database.password,
                http_data_server=database.http_data_server,
                http_data_server_login=database.http_data_server_login,
                http_data_server_password=database.http_data_server_password,
                token=database.token_for(state.get('username') or database.username),
            )
        values = {name: value for name, value in values.items() if value is not None}
        context.params_values = values
        return values


# --- the settings ---------------------------------------------------------------------------


class OneSettings(BaseSettings):
    """The settings of a session, resolved from every source (see the module documentation).

    Frozen and hashable.  Secrets are ``SecretStr`` and shown masked in ``repr``, ``str`` and
    JSON dumps.  Build it with :func:`resolve_settings`, which also turns validation errors into
    :class:`~one_async.exceptions.InvalidArgument` (bad argument) or
    :class:`~one_async.exceptions.ConfigError` (bad variable or file).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        env_ignore_empty=True,
        extra='forbid',
        frozen=True,
        hide_input_in_errors=True,
        validate_default=True,
    )

    base_url: str = Field(defaults.DEFAULT_BASE_URL, description='Alyx database URL.')
    username: str | None = Field(None, description='Alyx login.')
    password: SecretStr | None = Field(None, description='Alyx password (never printed).')
    token: SecretStr | None = Field(
        None, description='Alyx token to use instead of a password (never printed).'
    )
    cache_dir: Path = Field(description='Folder of the downloaded files and cache tables.')
    tables_dir: Path | None = Field(
        None, description='Folder of the cache tables, when not the cache folder.'
    )
    http_data_server: str | None = Field(None, description='URL of the file server.')
    http_data_server_login: str | None = Field(None, description='Login on the file server.')
    http_data_server_password: SecretStr | None = Field(
        None, description='Password on the file server (never printed).'
    )
    mode: Mode = Field(
        defaults.DEFAULT_MODE, description="'auto', 'local', 'remote' or 'refresh'."
    )
    wildcards: bool = Field(
        True, description='true: shell wildcards in filters; false: regular expressions.'
    )
    silent: bool = Field(False, description='true: no prompts, no progress output.')
    cache_rest: bool = Field(True, description='false: do not cache Alyx GET responses.')
    verify_tls: bool = Field(True, description='false: do not verify TLS certificates (unsafe).')
    download_concurrency: int = Field(
        defaults.DOWNLOAD_CONCURRENCY, ge=1, description='Files downloaded at once.'
    )
    download_per_host: int = Field(
        defaults.DOWNLOAD_PER_HOST, ge=1, description='Files downloaded at once from one host.'
    )
    rest_page_concurrency: int = Field(
        defaults.REST_PAGE_CONCURRENCY, ge=1, description='Pages of one Alyx list fetched at once.'
    )
    connect_timeout: float = Field(
        defaults.HTTP_CONNECT_TIMEOUT, gt=0, description='Seconds to establish a connection.'
    )
    read_timeout: float = Field(
        defaults.HTTP_READ_TIMEOUT,
        gt=0,
        description='Seconds without data before a request fails.',
    )
    retry_attempts: int = Field(
        defaults.RETRY_ATTEMPTS, ge=1, description='Attempts per request, the first included.'
    )
    retry_initial_wait: float = Field(
        defaults.RETRY_INITIAL_WAIT, ge=0, description='Seconds before the first retry.'
    )
    retry_max_wait: float = Field(
        defaults.RETRY_MAX_WAIT, ge=0, description='Longest wait between two retries, in seconds.'
    )
    retry_timeout: float = Field(
        defaults.RETRY_TIMEOUT, ge=0, description='Longest time spent retrying one request.'
    )
    cache_expiry: timedelta = Field(
        defaults.CACHE_EXPIRY, description='Age after which cache tables are refreshed.'
    )
    rest_cache_expiry: timedelta = Field(
        defaults.REST_CACHE_EXPIRY, description='Lifetime of a cached Alyx response.'
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _LegacyEnvSource(settings_cls),
            _ConfigFileSource(settings_cls),
            _OneParamsSource(settings_cls),
        )

    @model_validator(mode='before')
    @classmethod
    def _derived_defaults(cls, data: Any) -> Any:
        """Defaults that depend on the database: its cache folder, and ONE-api's public login
        and file server for the public database."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        base_url = data.get('base_url') or defaults.DEFAULT_BASE_URL
        data['base_url'] = base_url
        try:
            base_url = normalise_base_url(base_url)
        except InvalidArgument:
            return data  # reported by the field validator
        if base_url == defaults.DEFAULT_BASE_URL:
            data.setdefault('username', defaults.DEFAULT_USERNAME)
            data.setdefault('http_data_server', defaults.DEFAULT_HTTP_DATA_SERVER)
        if not data.get('cache_dir'):
            data['cache_dir'] = default_cache_dir(base_url)
        return data

    @field_validator('cache_expiry', 'rest_cache_expiry', mode='before')
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        """Durations also as a number of seconds in text (environment variables)."""
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value

    @field_validator('base_url')
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        return normalise_base_url(value)

    @field_validator('http_data_server')
    @classmethod
    def _check_data_server(cls, value: str | None) -> str | None:
        return value.rstrip('/') if value else None

    @field_validator('cache_dir', 'tables_dir')
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    # --- derived values ----------------------------------------------------------------------

    @property
    def database(self) -> str:
        """The database's client key (its URL without scheme, as ONE-api names it)."""
        return client_key(self.base_url)

    @property
    def tables_path(self) -> Path:
        """Folder of the cache tables: ``tables_dir``, or else the cache folder."""
        return self.tables_dir or self.cache_dir

    def retry_policy(self) -> RetryPolicy:
        """The retry policy of the Alyx client and of downloads."""
        return RetryPolicy(
            attempts=self.retry_attempts,
            initial_wait=self.retry_initial_wait,
            max_wait=self.retry_max_wait,
            timeout=self.retry_timeout,
        )

    def http_timeout(self) -> httpx.Timeout:
        """The httpx timeout of Alyx requests and downloads."""
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def redacted(self) -> dict[str, Any]:
        """Every setting as JSON values, secrets masked (for display and ``--json`` output)."""
        return self.model_dump(mode='json')


def _env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


ENVIRONMENT_VARIABLES: Final[dict[str, str]] = {
    **{_env_name(name): info.description or '' for name, info in OneSettings.model_fields.items()},
    CONFIG_ENV: 'Path of the configuration file to read instead of the default.',
    LEGACY_DOWNLOAD_ENV: (
        "ONE-api's download threads, used when ONE_DOWNLOAD_CONCURRENCY is unset."
    ),
}
"""Every environment variable one_async reads, with what it sets."""


# --- resolution ---------------------------------------------------------------------------


def _shown(name: str, value: Any) -> Any:
    return _MASK if name in SECRET_FIELDS else value


def _translate(exc: ValidationError, explicit: dict[str, Any], context: _Context) -> Exception:
    """A typed error naming the setting, its source and (unless secret) its value."""
    error = exc.errors()[0]
    name = str(error['loc'][0]) if error['loc'] else ''
    message = error['msg']
    if name in explicit:
        value = _shown(name, explicit[name])
        return InvalidArgument(f'Invalid {name}={value!r}: {message}', value=value)
    env_values = {key.upper(): value for key, value in os.environ.items()}
    names = [_env_name(name)] + ([LEGACY_DOWNLOAD_ENV] if name == 'download_concurrency' else [])
    for env in names:
        if env_values.get(env):
            value = _shown(name, env_values[env])
            return ConfigError(
                f'Invalid {name} from the environment variable {env}={value!r}: {message}',
                value=value,
            )
    for source, values in (
        (f'the configuration file {context.config_file}', context.file_values),
        (f'the ONE-api parameter file {context.params_file}', context.params_values),
    ):
        if name in values:
            value = _shown(name, values[name])
            return ConfigError(f'Invalid {name}={value!r} from {source}: {message}', value=value)
    return ConfigError(f'Invalid settings: {name or "settings"}: {message}', value=name)


def _resolve(
    kwargs: dict[str, Any],
    config_file: str | os.PathLike[str] | None,
    one_params_dir: str | os.PathLike[str] | None,
    require_file: bool | None = None,
) -> OneSettings:
    unknown = sorted(set(kwargs) - set(OneSettings.model_fields))
    if unknown:
        raise InvalidArgument(
            f'Unknown setting(s) {", ".join(map(repr, unknown))}; valid names are '
            f'{", ".join(sorted(OneSettings.model_fields))}',
            value=unknown[0],
        )
    explicit = {name: value for name, value in kwargs.items() if value is not None}
    if require_file is None:
        require_file = config_file is not None or bool(os.environ.get(CONFIG_ENV))
    context = _Context(
        config_path(config_file),
        require_file=require_file,
        params_dir=Path(one_params_dir) if one_params_dir is not None else None,
    )
    token = _CONTEXT.set(context)
    try:
        return OneSettings(**explicit)
    except ValidationError as exc:
        raise _translate(exc, explicit, context) from None
    finally:
        _CONTEXT.reset(token)


def resolve_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    one_params_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> OneSettings:
    """Resolve the settings of a session from arguments, environment and configuration files.

    Parameters
    ----------
    config_file
        one_async configuration file to read (default ``$ONE_CONFIG``, else the user's
        ``config.toml``); a file named here or in ``ONE_CONFIG`` must exist.
    one_params_dir
        ONE-api's parameter folder (default ``~/.one``).
    **kwargs
        Settings (fields of :class:`OneSettings`); None values count as not given.

    Returns
    -------
    OneSettings
        Frozen and hashable: equal inputs give equal settings, usable as a cache key.

    Raises
    ------
    InvalidArgument
        An unknown setting name, or an argument with an invalid value.
    ConfigError
        An invalid environment variable or configuration file.

    Notes
    -----
    Reads small files synchronously; from async code use :func:`resolve_settings_async`.
    """
    return _resolve(kwargs, config_file, one_params_dir)


async def resolve_settings_async(
    *,
    config_file: str | os.PathLike[str] | None = None,
    one_params_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> OneSettings:
    """:func:`resolve_settings` in a worker thread, for async code."""
    return await anyio.to_thread.run_sync(partial(_resolve, kwargs, config_file, one_params_dir))


def database_for_cache_dir(
    cache_dir: str | os.PathLike[str],
    *,
    config_file: str | os.PathLike[str] | None = None,
    one_params_dir: str | os.PathLike[str] | None = None,
) -> str | None:
    """The database (client key) whose cache folder is ``cache_dir``, or None.

    Looks in one_async's configuration file, then in ONE-api's database map.  The ``ONE()``
    factory uses it, as ONE-api does, to tell a database's cache from a local ALF folder.
    """
    require = config_file is not None or bool(os.environ.get(CONFIG_ENV))
    config = _load_config_file(config_path(config_file), require)
    for name, section in config.databases.items():
        if section.get('cache_dir') and _same_dir(section['cache_dir'], cache_dir):
            return name
    return read_one_params(one_params_dir).key_for_cache_dir(cache_dir)
