"""one_async: an async-first client for neurophysiology data shared through ONE and Alyx.

The flat namespace holds what most code needs: :class:`AsyncOne` (and, for scripts, the sync
facade), the Alyx client, bulk downloads, the cache tables, the ALF helpers and every error.
Sub-packages hold the rest: :mod:`one_async.alf`, :mod:`one_async.alyx`, :mod:`one_async.api`,
:mod:`one_async.cache`, :mod:`one_async.config`, :mod:`one_async.sync`,
:mod:`one_async.transfer`, :mod:`one_async.testing`.
"""

from one_async.alf.bunch import AlfBunch
from one_async.alf.path import ALFPath, PureALFPath
from one_async.alf.spec import QC
from one_async.alyx import AsyncAlyxClient, PaginatedList
from one_async.api import AsyncOne
from one_async.cache import CacheTables, abuild_cache, build_cache
from one_async.config import OneSettings, resolve_settings, setup
from one_async.exceptions import (
    ALFError,
    ALFFileError,
    ALFFileNotFound,
    ALFInvalid,
    ALFMultipleCollectionsFound,
    ALFMultipleObjectsFound,
    ALFMultipleRevisionsFound,
    ALFObjectNotFound,
    ALFWarning,
    AlyxAuthError,
    AlyxConnectionError,
    AlyxEndpointError,
    AlyxError,
    AlyxHTTPError,
    AlyxSubjectNotFound,
    ArgumentTypeError,
    CacheError,
    CacheLockError,
    CacheTableError,
    CacheWarning,
    ConfigError,
    DownloadError,
    IntegrityError,
    InvalidArgument,
    InvalidPattern,
    LocalModeError,
    NoServerError,
    OneError,
    OneWarning,
    SyncCallError,
    TransferError,
    UnsafePathError,
)
from one_async.sync.alyx import AlyxClient
from one_async.sync.one import ONE, One
from one_async.sync.pagination import SyncPaginatedList
from one_async.transfer import (
    DownloadItem,
    DownloadReport,
    DownloadResult,
    S3Config,
    download_files,
    download_files_sync,
    stream_downloads,
)

__version__ = '0.1.0'

__all__ = [
    'ONE',
    'QC',
    'ALFError',
    'ALFFileError',
    'ALFFileNotFound',
    'ALFInvalid',
    'ALFMultipleCollectionsFound',
    'ALFMultipleObjectsFound',
    'ALFMultipleRevisionsFound',
    'ALFObjectNotFound',
    'ALFPath',
    'ALFWarning',
    'AlfBunch',
    'AlyxAuthError',
    'AlyxClient',
    'AlyxConnectionError',
    'AlyxEndpointError',
    'AlyxError',
    'AlyxHTTPError',
    'AlyxSubjectNotFound',
    'ArgumentTypeError',
    'AsyncAlyxClient',
    'AsyncOne',
    'CacheError',
    'CacheLockError',
    'CacheTableError',
    'CacheTables',
    'CacheWarning',
    'ConfigError',
    'DownloadError',
    'DownloadItem',
    'DownloadReport',
    'DownloadResult',
    'IntegrityError',
    'InvalidArgument',
    'InvalidPattern',
    'LocalModeError',
    'NoServerError',
    'One',
    'OneError',
    'OneSettings',
    'OneWarning',
    'PaginatedList',
    'PureALFPath',
    'S3Config',
    'SyncCallError',
    'SyncPaginatedList',
    'TransferError',
    'UnsafePathError',
    '__version__',
    'abuild_cache',
    'build_cache',
    'download_files',
    'download_files_sync',
    'resolve_settings',
    'setup',
    'stream_downloads',
]
