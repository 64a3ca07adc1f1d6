"""Datasets on AWS S3, found and reached the way ONE-api 2.9.0 does (``one/remote/aws.py``).

When the cache tables mark every dataset of a download as available on AWS (``exists_aws``),
ONE asks Alyx for the datasets' file records (100 UUIDs per request), takes each one's file
record on an ``aws*`` repository, and reads the object
``<data_repository_path>/<relative_path with the dataset UUID>`` from the bucket named in the
repository record's JSON, with the credentials and region stored there (unsigned requests for a
public bucket without keys).  The same records drive :class:`~one_async.transfer.S3Location`
items here; the transfer engine does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Final

import anyio
from pydantic import SecretStr

from one_async.alf.path import add_uuid_string
from one_async.exceptions import AlyxError
from one_async.transfer import S3Config

from .records import as_paginated, record_uuid

if TYPE_CHECKING:
    from one_async.alyx.client import AsyncAlyxClient

__all__ = ['REPO_DEFAULT', 'UUIDS_PER_QUERY', 'aws_objects', 'repository_s3']

REPO_DEFAULT: Final = 'aws_cortexlab'
"""ONE-api's default AWS data repository."""

UUIDS_PER_QUERY: Final = 100
"""Dataset UUIDs per ``datasets`` query (ONE's, to avoid a 414 URI Too Long)."""


async def repository_s3(
    alyx: AsyncAlyxClient, name: str = REPO_DEFAULT, override: S3Config | None = None
) -> tuple[S3Config, str]:
    """The S3 settings and bucket of an Alyx data repository (ONE's ``get_s3_from_alyx``).

    ``override`` fields that are set (an endpoint, say) win over the repository's.

    Raises
    ------
    AlyxError
        The repository record names no bucket.
    """
    record = await alyx.rest('data-repository', 'read', id=name)
    info: dict[str, Any] = record.get('json') or {}
    bucket = info.get('bucket_name')
    if not bucket:
        raise AlyxError(f'Data repository "{name}" names no S3 bucket', value=name)
    key = info.get('Access key ID')
    secret = info.get('Secret access key')
    config = S3Config(
        aws_access_key_id=key or None,
        aws_secret_access_key=SecretStr(secret) if secret else None,
        region_name=info.get('region_name'),
    )
    if override is not None:
        config = config.model_copy(update=override.model_dump(exclude_unset=True))
    return config, str(bucket)


async def aws_objects(
    alyx: AsyncAlyxClient, dataset_ids: Sequence[str]
) -> list[tuple[str, str] | None]:
    """The AWS repository and object key of each dataset (None where it has no existing file
    record on an ``aws*`` repository), from Alyx's dataset records queried concurrently."""
    chunks = [
        list(dataset_ids[i : i + UUIDS_PER_QUERY])
        for i in range(0, len(dataset_ids), UUIDS_PER_QUERY)
    ]
    found: dict[str, dict[str, Any]] = {}

    async def query(ids: list[str]) -> None:
        page = await alyx.rest('datasets', 'list', exists=True, django=f'id__in,{ids}')
        for record in await as_paginated(page).to_list():
            found[record_uuid(record['url'])] = record

    async with anyio.create_task_group() as tg:
        for ids in chunks:
            tg.start_soon(query, ids)
    out: list[tuple[str, str] | None] = []
    for did in dataset_ids:
        file_record = next(
            (
                fr
                for fr in (found.get(did) or {}).get('file_records') or []
                if str(fr.get('data_repository', '')).startswith('aws') and fr.get('exists')
            ),
            None,
        )
        if file_record is None:
            out.append(None)
            continue
        source = PurePosixPath(
            file_record.get('data_repository_path') or '', file_record['relative_path']
        )
        key = add_uuid_string(source, did).as_posix().lstrip('/')
        out.append((str(file_record['data_repository']), key))
    return out
