"""Pydantic models of the Alyx records the library reads.

Field for field as Alyx 3.6.1 answers (see ``tests/fixtures/alyx_3_6_1``).  Every model accepts
and keeps fields it does not declare (``extra='allow'``), so a newer server adding fields does not
break reading; the declared fields are validated and a bad record raises pydantic's
``ValidationError`` naming the field.  Build them with ``Model.model_validate(record)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    'AlyxRecord',
    'CacheInfo',
    'CacheTableInfo',
    'DataRepository',
    'DatasetRecord',
    'DatasetType',
    'FileRecord',
    'InsertionDataset',
    'InsertionRecord',
    'RevisionRecord',
    'SessionDataset',
    'SessionDetail',
    'SessionInfo',
    'SessionRecord',
]


def _uuid_from_url(url: str | None) -> UUID | None:
    """The UUID that ends an Alyx record URL, or None."""
    if not url:
        return None
    try:
        return UUID(urlsplit(url).path.rstrip('/').rsplit('/', 1)[-1])
    except ValueError:
        return None


class AlyxRecord(BaseModel):
    """Base of the Alyx record models: tolerant of extra fields, immutable."""

    model_config = ConfigDict(extra='allow', frozen=True, populate_by_name=True)


class FileRecord(AlyxRecord):
    """A file record: a dataset's copy in one data repository.

    Nested in datasets (``id``, ``data_repository_path``, ``data_url``) or from ``/files``
    (``url``, ``dataset``).
    """

    relative_path: str
    data_repository: str
    exists: bool = False
    id: UUID | None = None
    data_repository_path: str | None = None
    data_url: str | None = None
    url: str | None = None
    dataset: str | None = None


class DatasetRecord(AlyxRecord):
    """A dataset from ``/datasets`` (list or detail)."""

    url: str
    name: str
    dataset_type: str | None = None
    data_format: str | None = None
    collection: str | None = None
    session: str | None = None
    file_size: int | None = None
    hash: str | None = None
    version: str | None = None
    revision: str | None = None
    default_dataset: bool = True
    qc: str | int | None = None
    file_records: list[FileRecord] = Field(default_factory=list)
    tags: list[Any] = Field(default_factory=list)
    created_by: str | None = None
    created_datetime: datetime | None = None
    auto_datetime: datetime | None = None
    protected: bool | int | None = None
    public: bool | int | None = None
    json_: Any = Field(None, alias='json')

    @property
    def id(self) -> UUID | None:
        """The dataset UUID (the last segment of ``url``)."""
        return _uuid_from_url(self.url)

    @property
    def session_id(self) -> UUID | None:
        """The session UUID (the last segment of ``session``)."""
        return _uuid_from_url(self.session)


class InsertionDataset(AlyxRecord):
    """A dataset summary in an insertion detail."""

    id: UUID
    name: str
    dataset_type: str | None = None
    data_url: str | None = None
    url: str | None = None
    file_size: int | None = None
    hash: str | None = None
    version: str | None = None
    collection: str | None = None
    qc: str | int | None = None


class SessionDataset(InsertionDataset):
    """A dataset summary in a session detail's ``data_dataset_session_related``: an insertion's
    summary plus the revision fields."""

    revision: str | None = None
    default_revision: bool | None = None

    @field_validator('default_revision', mode='before')
    @classmethod
    def _text_bool(cls, value: Any) -> Any:
        # Alyx serialises this flag as the string "True"/"False".
        if isinstance(value, str) and value.lower() in ('true', 'false'):
            return value.lower() == 'true'
        return value


class SessionInfo(AlyxRecord):
    """The short session description nested in insertions (``session_info``)."""

    id: UUID
    subject: str
    start_time: datetime | None = None
    number: int | None = None
    lab: str | None = None
    projects: list[str] = Field(default_factory=list)
    task_protocol: str | None = None


class SessionRecord(SessionInfo):
    """A session from the ``/sessions`` list."""

    url: str | None = None


class InsertionRecord(AlyxRecord):
    """A probe insertion (``/insertions`` list: dataset UUIDs; detail: dataset summaries)."""

    id: UUID
    name: str
    session: UUID | None = None
    model: str | None = None
    serial: str | None = None
    session_info: SessionInfo | None = None
    datasets: list[InsertionDataset | UUID] = Field(default_factory=list)
    chronic_insertion: str | None = None
    auto_datetime: datetime | None = None
    json_: Any = Field(None, alias='json')


class SessionDetail(SessionRecord):
    """A session from ``/sessions/<eid>``, with its datasets and insertions."""

    users: list[str] = Field(default_factory=list)
    location: str | None = None
    procedures: list[Any] = Field(default_factory=list)
    type: str | None = None
    end_time: datetime | None = None
    narrative: str | None = None
    parent_session: str | None = None
    n_correct_trials: int | None = None
    n_trials: int | None = None
    qc: str | int | None = None
    extended_qc: dict[str, Any] | None = None
    json_: Any = Field(None, alias='json')
    auto_datetime: datetime | None = None
    data_dataset_session_related: list[SessionDataset] = Field(default_factory=list)
    probe_insertion: list[InsertionRecord] = Field(default_factory=list)
    field_of_view: list[Any] = Field(default_factory=list)
    notes: list[Any] = Field(default_factory=list)
    wateradmin_session_related: list[Any] = Field(default_factory=list)


class DatasetType(AlyxRecord):
    """A dataset type from ``/dataset-types``."""

    name: str
    id: UUID | None = None
    created_by: str | None = None
    description: str | None = None
    filename_pattern: str | None = None


class DataRepository(AlyxRecord):
    """A data repository from ``/data-repository``."""

    name: str
    timezone: str | None = None
    globus_path: str | None = None
    hostname: str | None = None
    data_url: str | None = None
    repository_type: str | None = None
    globus_endpoint_id: UUID | None = None
    globus_is_personal: bool | None = None
    json_: Any = Field(None, alias='json')


class RevisionRecord(AlyxRecord):
    """A revision from ``/revisions``."""

    name: str
    id: UUID | None = None
    description: str | None = None
    created_datetime: datetime | None = None
    json_: Any = Field(None, alias='json')


class CacheTableInfo(AlyxRecord):
    """Size of one table in ``cache/info``."""

    nrecs: int
    size: int | None = None


class CacheInfo(AlyxRecord):
    """What ``/cache/info/`` says about the cache tables the server offers."""

    date_created: datetime
    origin: str | None = None
    min_api_version: str | None = None
    tables: dict[str, CacheTableInfo] = Field(default_factory=dict)
    database_tags: str | list[str] | None = None
    location: str | None = None
