"""Configuration of one_async sessions.

- :mod:`~one_async.config.settings`: :class:`OneSettings` and :func:`resolve_settings`
  (arguments, then ``ONE_*`` variables, then the config file, then ONE-api's parameters).
- :mod:`~one_async.config.one_params`: reading ONE-api's existing parameter files.
- :mod:`~one_async.config.files`: location, reading and atomic writing of the config file.
- :mod:`~one_async.config.setup`: :func:`setup`, recording a database in the config file.
"""

from one_async.config.files import config_path, user_config_dir
from one_async.config.one_params import (
    OneDatabase,
    OneParams,
    client_key,
    one_params_dir,
    read_one_params,
)
from one_async.config.settings import (
    ENVIRONMENT_VARIABLES,
    Mode,
    OneSettings,
    database_for_cache_dir,
    default_cache_dir,
    resolve_settings,
    resolve_settings_async,
)
from one_async.config.setup import is_interactive, setup

__all__ = [
    'ENVIRONMENT_VARIABLES',
    'Mode',
    'OneDatabase',
    'OneParams',
    'OneSettings',
    'client_key',
    'config_path',
    'database_for_cache_dir',
    'default_cache_dir',
    'is_interactive',
    'one_params_dir',
    'read_one_params',
    'resolve_settings',
    'resolve_settings_async',
    'setup',
    'user_config_dir',
]
