"""Pydantic models read the captured Alyx 3.6.1 records field for field."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

from one_async.alyx import (
    CacheInfo,
    DataRepository,
    DatasetRecord,
    DatasetType,
    FileRecord,
    InsertionDataset,
    InsertionRecord,
    RevisionRecord,
    SessionDetail,
    SessionRecord,
)

from .conftest import fixture_json


def test_session_list_records() -> None:
    raw = fixture_json('sessions_list.json')['results']
    records = [SessionRecord.model_validate(r) for r in raw]
    assert [str(r.id) for r in records] == [r['id'] for r in raw]
    assert records[0].start_time == datetime(2024, 1, 4, 10, 14)
    assert records[0].projects == ['test_project']
    assert records[0].model_dump(mode='json', exclude_unset=True) == raw[0]


def test_session_detail() -> None:
    raw = fixture_json('sessions_read.json')
    session = SessionDetail.model_validate(raw)
    assert session.id == UUID(raw['id'])
    assert session.end_time == datetime(2024, 1, 4, 11, 14)
    assert session.n_trials == 582
    assert len(session.data_dataset_session_related) == len(raw['data_dataset_session_related'])
    first = session.data_dataset_session_related[0]
    assert first.default_revision is True  # Alyx sends the text "True"
    assert first.file_size == 2541744
    assert first.collection == 'alf'
    assert first.revision == ''
    insertion = session.probe_insertion[0]
    assert insertion.name == 'probe00'
    assert all(isinstance(d, UUID) for d in insertion.datasets)
    assert insertion.session_info is not None
    assert insertion.session_info.subject == 'SWC_003'
    assert session.json_ is None
    assert session.model_dump(by_alias=True)['json'] is None


def test_dataset_and_file_records() -> None:
    raw = fixture_json('datasets_list.json')['results']
    datasets = [DatasetRecord.model_validate(d) for d in raw]
    for dataset, record in zip(datasets, raw, strict=True):
        assert dataset.id is not None
        assert str(dataset.id) in dataset.file_records[0].data_url  # type: ignore[operator]
        assert dataset.url == record['url']
        assert dataset.session_id == UUID(record['session'].rsplit('/', 1)[-1])
        assert dataset.file_records[0].exists is True
        assert dataset.default_dataset is True
        assert dataset.hash == record['hash']
    assert datasets[0].model_extra == {'experiment_number': 1}


def test_insertion_detail_has_dataset_summaries() -> None:
    insertion = InsertionRecord.model_validate(fixture_json('insertions_read.json'))
    assert all(isinstance(d, InsertionDataset) for d in insertion.datasets)
    assert insertion.datasets[0].qc == 0
    listed = InsertionRecord.model_validate(fixture_json('insertions_list.json')['results'][0])
    assert [str(d) for d in listed.datasets] == [str(d.id) for d in insertion.datasets]  # type: ignore[union-attr]


def test_small_records() -> None:
    dtype = DatasetType.model_validate(fixture_json('dataset_type.json'))
    assert dtype.filename_pattern == '*trials.table*'
    repo = DataRepository.model_validate(fixture_json('data_repository.json')['results'][0])
    assert repo.data_url == 'http://127.0.0.1:8081/testlab/Subjects/'
    assert repo.globus_is_personal is False
    info = CacheInfo.model_validate(fixture_json('cache_info.json'))
    assert info.date_created == datetime(2026, 11, 27, 4, 35)
    assert info.min_api_version == '2.10'
    assert info.tables['sessions'].nrecs == 5
    revision = RevisionRecord.model_validate(
        {
            'id': 'a0b1c2d3-0000-4000-8000-000000000000',
            'name': '2024-01-01',
            'description': '',
            'created_datetime': '2024-01-01T00:00:00',
            'json': None,
        }
    )
    assert revision.name == '2024-01-01'
    files = FileRecord.model_validate(
        {
            'url': 'http://x/files/1',
            'dataset': 'http://x/datasets/2',
            'data_repository': 'repo',
            'relative_path': 'a/b.npy',
            'exists': False,
            'name': 'extra',
        }
    )
    assert files.model_extra == {'name': 'extra'}


def test_errors_name_the_field() -> None:
    raw = fixture_json('sessions_read.json')
    broken = {k: v for k, v in raw.items() if k != 'id'}
    with pytest.raises(ValidationError, match='id'):
        SessionDetail.model_validate(broken)
    with pytest.raises(ValidationError, match='n_trials'):
        SessionDetail.model_validate({**raw, 'n_trials': 'many'})
    with pytest.raises(ValidationError, match='date_created'):
        CacheInfo.model_validate({'tables': {}})
