"""Cache tables: the parquet index of sessions and datasets, read and written with polars.

:class:`CacheTables` opens a directory of tables lazily and normalises every layout ONE meets to
one canonical schema (:mod:`one_async.cache.schema`); :func:`build_cache` indexes a folder of ALF
files into new tables; :mod:`one_async.cache.layouts` writes tables in each layout.
"""

from one_async.cache.build import abuild_cache, build_cache, md5_file
from one_async.cache.layouts import LAYOUTS, Layout, write_tables
from one_async.cache.metadata import CacheMeta, api_version_supported, read_cache_info
from one_async.cache.schema import (
    DATASETS_COLUMNS,
    QC_DTYPE,
    QC_LEVELS,
    SESSIONS_COLUMNS,
    empty_table,
    session_path_expr,
)
from one_async.cache.store import cache_lock, save_cache
from one_async.cache.tables import CacheTables

__all__ = [
    'DATASETS_COLUMNS',
    'LAYOUTS',
    'QC_DTYPE',
    'QC_LEVELS',
    'SESSIONS_COLUMNS',
    'CacheMeta',
    'CacheTables',
    'Layout',
    'abuild_cache',
    'api_version_supported',
    'build_cache',
    'cache_lock',
    'empty_table',
    'md5_file',
    'read_cache_info',
    'save_cache',
    'session_path_expr',
    'write_tables',
]
