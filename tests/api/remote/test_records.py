"""REST records as cache rows, against ONE-api 2.9.0's ``ses2records``/``datasets2records`` on
responses of a real Alyx 3.6.1 server (``tests/fixtures/alyx_3_6_1``) and on edge cases."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from one_async.api.remote.records import (
    as_paginated,
    dataset_rows,
    record_uuid,
    ses2eid,
    session_datasets,
    url_path,
)

FIXTURES = Path(__file__).parents[2] / 'fixtures' / 'alyx_3_6_1'

pytestmark = [
    pytest.mark.filterwarnings('ignore::FutureWarning'),  # ONE 2.9.0's pandas calls
    pytest.mark.filterwarnings('ignore::DeprecationWarning'),
]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def as_records(frame: Any) -> list[dict[str, Any]]:
    """ONE's frame (index eid, id) as sorted plain records."""
    table = frame.reset_index().astype({'qc': str})
    return sorted(table.to_dict('records'), key=lambda r: (r['eid'], r['id']))


def test_session_record_matches_ses2records() -> None:
    from one.util import ses2records

    ses = fixture('sessions_read.json')
    session29, datasets29 = ses2records(copy.deepcopy(ses))
    session, datasets = session_datasets(ses)
    assert session == {'id': session29.name, **session29.to_dict()}
    mine = datasets.with_columns(datasets['qc'].cast(str)).to_dicts()
    theirs = as_records(datasets29)
    assert [{k: r[k] for k in theirs[0]} for r in mine] == theirs


def test_datasets_records_match_datasets2records() -> None:
    from one.util import datasets2records

    records = fixture('datasets_list.json')['results']
    mine = dataset_rows(records)
    theirs = as_records(datasets2records(copy.deepcopy(records)))
    rows = mine.with_columns(mine['qc'].cast(str)).to_dicts()
    assert [{k: r[k] for k in theirs[0]} for r in rows] == theirs
    extra = dataset_rows(records, extra=['dataset_type'])
    assert extra['dataset_type'].to_list() == [
        r['dataset_type'] for r in sorted(records, key=lambda r: record_uuid(r['url']))
    ]


def test_revision_folders_survive_the_url() -> None:
    ses = fixture('sessions_read.json')
    first = ses['data_dataset_session_related'][0]
    url = first['data_url'].replace('/alf/', '/alf/#2024-02-01#/')
    first['data_url'] = url
    _, datasets = session_datasets(ses)
    row = datasets.filter(datasets['id'] == first['id']).row(0, named=True)
    assert row['rel_path'].startswith('alf/#2024-02-01#/')
    assert url_path(url).endswith(first['id'] + '.npy')


def test_datasets_without_a_data_url_keep_their_folders() -> None:
    ses = fixture('sessions_read.json')
    first = ses['data_dataset_session_related'][0]
    first['data_url'] = None
    first['revision'] = 'v2'
    _, datasets = session_datasets(ses)  # ONE fails here (urlsplit of None)
    row = datasets.filter(datasets['id'] == first['id']).row(0, named=True)
    assert row['session_path'] == 'testlab/Subjects/SWC_003/2024-01-04/001'
    assert row['rel_path'] == f'{first["collection"]}/#v2#/{first["name"]}'


def test_datasets_without_an_existing_file_record_are_left_out() -> None:
    records = fixture('datasets_list.json')['results']
    for record in records[:2]:
        for file_record in record['file_records']:
            file_record['exists'] = False
    assert dataset_rows(records).height == len(records) - 2
    assert dataset_rows([]).height == 0
    assert dataset_rows([]).columns[:3] == ['eid', 'id', 'rel_path']


def test_ids_of_records() -> None:
    ses = fixture('sessions_read.json')
    assert ses2eid(ses) == ses['id']
    assert ses2eid({'url': ses['url']}) == ses['id']
    assert record_uuid(ses['url'] + '/') == ses['id']


@pytest.mark.anyio
async def test_a_plain_list_is_one_complete_page() -> None:
    pages = as_paginated(['a', 'b', 'c'])
    assert len(pages) == 3
    assert await pages.to_list() == ['a', 'b', 'c']
    assert await pages[1] == 'b'
    assert pages.requests == 1


def test_paths_leading_outside_the_cache_are_refused() -> None:
    from one_async.exceptions import UnsafePathError

    ses = fixture('sessions_read.json')
    first = ses['data_dataset_session_related'][0]
    first['data_url'] = 'http://data.example.org/../../etc/x/2024-01-01/001/alf/obj.attr.npy'
    _, datasets = session_datasets(ses)  # the ALF part starts at the session: inside
    row = datasets.filter(datasets['id'] == first['id']).row(0, named=True)
    assert (row['session_path'], row['rel_path']) == ('x/2024-01-01/001', 'alf/obj.attr.npy')
    first['data_url'] = (
        'http://data.example.org/lab/Subjects/s/2024-01-01/001/alf/../../../../../obj.attr.npy'
    )
    with pytest.raises(UnsafePathError):
        session_datasets(ses)
