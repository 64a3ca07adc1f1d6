"""Aggregate datasets (no session, under ``aggregates/<Relation>/...``): listed and loaded as
ONE-api 2.9.0 does, files fetched from the data server."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from one_async.exceptions import ALFObjectNotFound
from one_async.testing.server import LocalAlyx

from .conftest import OneFactory

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings('ignore::FutureWarning'),  # ONE 2.9.0's pandas calls
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]

AGGREGATES = (
    ('Subjects', 'cortexlab/KS001', '_ibl_subjectTraining.table.pqt'),
    ('Subjects', 'cortexlab/KS001', '_ibl_subjectTrials.table.pqt'),
    ('Subjects', 'danlab/DY_001', '_ibl_subjectTraining.table.pqt'),
    ('Tags', '2023_Q1_release', 'trials.table.pqt'),
)


def add_aggregates(server: LocalAlyx) -> dict[str, pl.DataFrame]:
    """Write aggregate files on the data server and register them (no session)."""
    store = server.store
    store.insert(
        'data_repositories',
        {
            'name': 'flatiron_aggregates',
            'globus_path': '/',
            'hostname': 'localhost',
            'data_url': server.info.data_server_url + '/',
            'globus_is_personal': False,
        },
    )
    written: dict[str, pl.DataFrame] = {}
    for i, (relation, identifier, name) in enumerate(AGGREGATES):
        collection = f'aggregates/{relation}/{identifier}'
        table = pl.DataFrame({'session': [f's{i}', f't{i}'], 'value': [i, i + 1]})
        path = server.data_dir / collection / name
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_pandas().to_parquet(path)  # as IBL writes them (ONE reads pandas metadata)
        body = path.read_bytes()
        did = str(uuid.UUID(int=i + 1, version=4))
        store.insert(
            'datasets',
            {
                'id': did,
                'session': None,
                'name': name,
                'collection': collection,
                'revision': '',
                'file_size': len(body),
                'hash': hashlib.md5(body).hexdigest(),
                'qc': 0,
                'default_dataset': True,
            },
        )
        store.insert(
            'file_records',
            {
                'id': str(uuid.UUID(int=100 + i, version=4)),
                'dataset': did,
                'data_repository': 'flatiron_aggregates',
                'relative_path': f'{collection}/{name}',
                'exists': True,
            },
        )
        written[did] = table
    return written


async def test_aggregates_match_one29(
    fresh_alyx: LocalAlyx, make_one: OneFactory, make_one29: Callable[..., Any]
) -> None:
    written = add_aggregates(fresh_alyx)
    one29 = make_one29(fresh_alyx, mode='remote')
    async with make_one(fresh_alyx) as one:
        for relation, identifier, dataset in (
            ('subjects', None, None),
            ('Subjects', 'KS001', None),
            ('subjects', 'cortexlab/KS001', '_ibl_subjectTraining.table.pqt'),
            ('subjects', 'DY', '*Training*'),
            ('tags', None, None),
            ('sessions', None, None),
        ):
            mine = await one.list_aggregates(relation, identifier, dataset=dataset)
            theirs = one29.list_aggregates(relation, identifier, dataset=dataset).reset_index()
            # ONE adds exists_aws row by row, so an empty result of ONE lacks the column
            expected = [*theirs.columns, *(['exists_aws'] if theirs.empty else [])]
            assert mine.columns == expected, (relation, identifier)
            assert sorted(mine['did']) == sorted(theirs['did']), (relation, identifier)
            assert sorted(mine['identifier']) == sorted(theirs['identifier'])
            assert sorted(mine['rel_path']) == sorted(theirs['rel_path'])
            assert not mine['exists_aws'].any()
        table = await one.load_aggregate('subjects', 'KS001', '_ibl_subjectTraining.table')
        did = str(uuid.UUID(int=1, version=4))
        assert table.equals(written[did])
        theirs = one29.load_aggregate('subjects', 'KS001', '_ibl_subjectTraining.table')
        assert table['value'].to_list() == theirs['value'].to_list()
        file = await one.load_aggregate(
            'subjects', 'cortexlab/KS001', '_ibl_subjectTrials.table.pqt', download_only=True
        )
        expected = 'aggregates/Subjects/cortexlab/KS001/_ibl_subjectTrials.table.pqt'
        assert file == one.cache_dir / expected
        with pytest.raises(ALFObjectNotFound, match='not found for subjects/nobody'):
            await one.load_aggregate('subjects', 'nobody', '_ibl_subjectTraining.table')
