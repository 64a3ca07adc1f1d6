"""Datasets on AWS: when the cache tables mark a batch as ``exists_aws``, files come from S3
(moto's server on loopback), bucket and keys from the Alyx data repository record as ONE reads
them; what S3 cannot serve comes over HTTP."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import boto3
import numpy as np
import polars as pl
import pytest

from one_async.alf.path import add_uuid_string
from one_async.api import AsyncOne
from one_async.cache import write_tables
from one_async.testing.server import LocalAlyx
from one_async.transfer import S3Config

from .conftest import OneFactory, data_gets, generated

pytestmark = pytest.mark.anyio

CREDENTIALS = {'aws_access_key_id': 'testing', 'aws_secret_access_key': 'testing'}


def publish_on_aws(server: LocalAlyx, moto_url: str, ids: list[str], upload: bool = True) -> None:
    """Register an AWS repository (credentials in its JSON, as IBL's), file records on it for
    ``ids``, and (``upload``) their objects in its bucket at ``data/<path with UUID>``.

    Each server gets a bucket of its own (the S3 server is shared by the tests).
    """
    s3 = boto3.client('s3', endpoint_url=moto_url, region_name='us-east-1', **CREDENTIALS)
    store = server.store
    repo = store.get('data_repositories', 'aws_cortexlab')
    if repo is None:
        bucket = f'ibl-brain-wide-map-private-{uuid.uuid4().hex[:12]}'
        s3.create_bucket(Bucket=bucket)
        store.insert(
            'data_repositories',
            {
                'name': 'aws_cortexlab',
                'globus_path': '/data/',
                'hostname': 's3.amazonaws.com',
                'data_url': None,
                'globus_is_personal': False,
                'json': {
                    'bucket_name': bucket,
                    'Access key ID': CREDENTIALS['aws_access_key_id'],
                    'Secret access key': CREDENTIALS['aws_secret_access_key'],
                    'region_name': 'us-east-1',
                },
            },
        )
    else:
        bucket = json.loads(repo['json'])['bucket_name']
    records = store.table('file_records')
    data = generated(server).datasets
    for did in ids:
        relative = records.filter(pl.col('dataset') == did)['relative_path'][0]
        row = data.filter(pl.col('id') == did).row(0, named=True)
        body = (server.data_dir / row['session_path'] / row['rel_path']).read_bytes()
        if upload:
            key = 'data/' + add_uuid_string(relative, did).as_posix()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        store.insert(
            'file_records',
            {
                'id': str(uuid.uuid4()),
                'dataset': did,
                'data_repository': 'aws_cortexlab',
                'relative_path': relative,
                'exists': True,
            },
        )


async def mark_exists_aws(one: AsyncOne, ids: list[str]) -> None:
    """Rewrite the session's tables with an ``exists_aws`` column (as IBL's tables have)."""
    tables = one.cache
    assert tables is not None
    datasets = tables.frame('datasets').with_columns(pl.col('id').is_in(ids).alias('exists_aws'))
    write_tables(
        one.tables_dir, tables.frame('sessions'), datasets, layout='alyx3', origin='alyx',
        date_created=datetime.now(), cache_info=False,
    )  # fmt: skip
    await one.load_cache()
    assert one.cache is not None
    assert 'exists_aws' in one.cache.frame('datasets').columns


def wheel(server: LocalAlyx) -> pl.DataFrame:
    data = generated(server).datasets
    return data.filter(pl.col('exists') & pl.col('rel_path').str.starts_with('alf/_ibl_wheel.'))


async def test_datasets_on_aws_come_from_s3(
    fresh_alyx: LocalAlyx, make_one: OneFactory, moto_url: str
) -> None:
    rows = wheel(fresh_alyx)
    eid = rows['eid'][0]
    rows = rows.filter(pl.col('eid') == eid)
    ids = rows['id'].to_list()
    publish_on_aws(fresh_alyx, moto_url, ids)
    async with make_one(fresh_alyx, s3=S3Config(endpoint_url=moto_url)) as one:
        await mark_exists_aws(one, ids)
        before = data_gets(fresh_alyx).copy()
        loaded: Any = await one.load_object(eid, 'wheel')
        assert data_gets(fresh_alyx) == before  # nothing from the HTTP data server
        for row in rows.iter_rows(named=True):
            attribute = row['rel_path'].split('.')[1]
            expected = np.load(fresh_alyx.data_dir / row['session_path'] / row['rel_path'])
            np.testing.assert_array_equal(loaded[attribute], expected)


async def test_what_s3_cannot_serve_comes_over_http(
    fresh_alyx: LocalAlyx, make_one: OneFactory, moto_url: str
) -> None:
    rows = wheel(fresh_alyx)
    eid = rows['eid'][0]
    rows = rows.filter(pl.col('eid') == eid)
    on_s3, not_uploaded = rows['id'][0], rows['id'][1]
    publish_on_aws(fresh_alyx, moto_url, [on_s3])
    publish_on_aws(fresh_alyx, moto_url, [not_uploaded], upload=False)  # record, no object
    async with make_one(fresh_alyx, s3=S3Config(endpoint_url=moto_url)) as one:
        await mark_exists_aws(one, [on_s3, not_uploaded])
        before = data_gets(fresh_alyx).copy()
        files = await one.load_object(eid, 'wheel', download_only=True)
        assert len(files) == 2
        fetched = data_gets(fresh_alyx) - before
        assert list(fetched.values()) == [1]  # the object S3 lacks, over HTTP
        assert not_uploaded in next(iter(fetched))
        for row in rows.iter_rows(named=True):
            local = one.cache_dir / row['session_path'] / row['rel_path']
            remote = fresh_alyx.data_dir / row['session_path'] / row['rel_path']
            assert local.read_bytes() == remote.read_bytes()


async def test_a_dataset_without_an_aws_record_is_fetched_over_http(
    fresh_alyx: LocalAlyx, make_one: OneFactory, moto_url: str
) -> None:
    rows = wheel(fresh_alyx)
    eid = rows['eid'][0]
    did = rows.filter(pl.col('eid') == eid)['id'][0]
    async with make_one(fresh_alyx, s3=S3Config(endpoint_url=moto_url)) as one:
        await mark_exists_aws(one, [did])  # the tables say AWS, Alyx has no AWS file record
        rel = rows.filter(pl.col('id') == did)['rel_path'][0]
        file = await one.load_dataset(eid, rel, download_only=True)
        assert file.exists()
        assert one.cache is not None
        marked = one.cache.frame('datasets').filter(pl.col('id') == did)['exists_aws']
        assert marked.to_list() == [False]  # as ONE, the tables learn it is not on AWS
