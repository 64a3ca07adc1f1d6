"""The async Alyx REST client and the records it reads.

>>> async with AsyncAlyxClient('https://alyx.example.org', 'user', 'pass') as alyx:
...     sessions = await alyx.rest('sessions', 'list', subject='SWC_001')
...     detail = SessionDetail.model_validate(await alyx.rest('sessions', 'read', id=eid))
"""

from one_async.alyx.auth import TokenStore
from one_async.alyx.cache_download import CacheDownload, download_cache_tables
from one_async.alyx.client import AsyncAlyxClient, Expires
from one_async.alyx.models import (
    AlyxRecord,
    CacheInfo,
    CacheTableInfo,
    DataRepository,
    DatasetRecord,
    DatasetType,
    FileRecord,
    InsertionDataset,
    InsertionRecord,
    RevisionRecord,
    SessionDataset,
    SessionDetail,
    SessionInfo,
    SessionRecord,
)
from one_async.alyx.pagination import PaginatedList, iter_records
from one_async.alyx.rest_cache import RestCache
from one_async.alyx.retry import RetryPolicy
from one_async.alyx.schema import Action, Parameter, RestSchema

__all__ = [
    'Action',
    'AlyxRecord',
    'AsyncAlyxClient',
    'CacheDownload',
    'CacheInfo',
    'CacheTableInfo',
    'DataRepository',
    'DatasetRecord',
    'DatasetType',
    'Expires',
    'FileRecord',
    'InsertionDataset',
    'InsertionRecord',
    'PaginatedList',
    'Parameter',
    'RestCache',
    'RestSchema',
    'RetryPolicy',
    'RevisionRecord',
    'SessionDataset',
    'SessionDetail',
    'SessionInfo',
    'SessionRecord',
    'TokenStore',
    'download_cache_tables',
    'iter_records',
]
