"""S3 downloads against moto's S3 server on loopback (aioboto3 on asyncio, presigned on trio)."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import boto3
import pytest

from one_async.exceptions import DownloadError, IntegrityError
from one_async.transfer import DownloadItem, S3Config, S3Location, download_files

from .conftest import parts_left

pytestmark = pytest.mark.anyio

CREDENTIALS = {'aws_access_key_id': 'testing', 'aws_secret_access_key': 'testing'}
SESSION = 'mainenlab/Subjects/ZM_1743/2019-06-14/001'


@pytest.fixture(scope='module')
def buckets(moto_url: str) -> dict[str, dict[str, bytes]]:
    """A private and a public bucket holding ALF-named objects (UUID in the name, as IBL's)."""
    s3 = boto3.client('s3', endpoint_url=moto_url, region_name='us-east-1', **CREDENTIALS)
    content: dict[str, dict[str, bytes]] = {}
    for bucket in ('private-data', 'ibl-public-data'):
        s3.create_bucket(Bucket=bucket)
        objects: dict[str, bytes] = {}
        sizes = [10, 5000, 70_000, 3 * 1024 * 1024 + 11] + [2000 + i for i in range(40)]
        for i, size in enumerate(sizes):
            key = f'data/{SESSION}/alf/obj{i}.times.{uuid.uuid4()}.npy'
            body = os.urandom(size)
            acl = 'public-read' if 'public' in bucket else 'private'
            s3.put_object(Bucket=bucket, Key=key, Body=body, ACL=acl)
            objects[key] = body
        content[bucket] = objects
    return content


def _items(bucket: str, objects: dict[str, bytes]) -> list[DownloadItem]:
    return [
        DownloadItem(
            s3=S3Location(bucket=bucket, key=key),
            size=len(body),
            md5=hashlib.md5(body).hexdigest(),
            dataset_id=key.rsplit('.', 2)[-2],
        )
        for key, body in objects.items()
    ]


async def test_private_bucket_with_credentials(
    tmp_path: Path, moto_url: str, buckets: dict[str, dict[str, bytes]]
) -> None:
    config = S3Config(endpoint_url=moto_url, region_name='us-east-1', **CREDENTIALS)
    items = _items('private-data', buckets['private-data'])
    report = await download_files(items, tmp_path, s3=config)
    assert report.ok, [str(r.error) for r in report.failed]
    for result, body in zip(report.results, buckets['private-data'].values(), strict=True):
        assert result.path is not None
        # Saved at the ALF path of the key, the UUID removed as ONE does.
        assert result.path.parent == tmp_path / SESSION / 'alf'
        assert result.item.dataset_id not in result.path.name
        assert result.path.read_bytes() == body
    assert not parts_left(tmp_path)
    again = await download_files(items, tmp_path, s3=config)
    assert again.skipped == len(items)


async def test_public_bucket_anonymously(
    tmp_path: Path, moto_url: str, buckets: dict[str, dict[str, bytes]]
) -> None:
    config = S3Config(endpoint_url=moto_url, region_name='us-east-1')
    assert config.is_anonymous({'ibl-public-data'})
    items = _items('ibl-public-data', buckets['ibl-public-data'])
    report = await download_files(items[:6], tmp_path, s3=config, keep_uuid=True)
    assert report.ok, [str(r.error) for r in report.failed]
    for result in report.results:
        assert result.path is not None
        assert result.item.dataset_id in result.path.name


async def test_s3_integrity_and_missing_keys_are_reported(
    tmp_path: Path, moto_url: str, buckets: dict[str, dict[str, bytes]]
) -> None:
    config = S3Config(endpoint_url=moto_url, region_name='us-east-1', **CREDENTIALS)
    good, other = _items('private-data', buckets['private-data'])[1:3]
    corrupt = other.model_copy(update={'md5': '1' * 32})
    missing = DownloadItem(s3=S3Location(bucket='private-data', key='data/nothing.here.npy'))
    report = await download_files([good, corrupt, missing], tmp_path, s3=config)
    assert [r.status for r in report.results] == ['downloaded', 'failed', 'failed']
    assert isinstance(report.results[1].error, IntegrityError)
    assert str(corrupt.dataset_id) in str(report.results[1].error)
    assert isinstance(report.results[2].error, DownloadError)
    assert 'nothing.here' in str(report.results[2].error)
    assert 'testing' not in str(report.results[2].error)
    assert not parts_left(tmp_path)
