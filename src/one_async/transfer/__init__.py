"""Bulk downloads over HTTP and S3: concurrent, verified, resumable, cancellable.

>>> from one_async.transfer import download_files
>>> report = await download_files(urls, cache_dir, auth=('user', 'password'))
>>> report.raise_for_failures()
"""

from one_async.transfer.api import download_files, download_files_sync, stream_downloads
from one_async.transfer.records import (
    DownloadItem,
    DownloadReport,
    DownloadResult,
    ItemLike,
    S3Location,
)
from one_async.transfer.s3 import S3Config

__all__ = [
    'DownloadItem',
    'DownloadReport',
    'DownloadResult',
    'ItemLike',
    'S3Config',
    'S3Location',
    'download_files',
    'download_files_sync',
    'stream_downloads',
]
