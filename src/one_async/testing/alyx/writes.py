"""Validation of the bodies of create, update and partial_update requests.

Each endpoint declares its writable fields and how a JSON (or form) value becomes a store value;
a bad value is a 400 answer naming the field, with Django REST framework's messages.  Unknown and
read-only fields are ignored, as DRF does.  Related records are given by key, hyperlink (the
``url`` of the record) or name, as Alyx's serializers accept them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import polars as pl

from .tables import QC_CODES

__all__ = ['WRITABLE', 'BodyError', 'Writable', 'validate_body']


class BodyError(Exception):
    """Invalid request body: answered 400 with ``errors`` (field -> messages)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(json.dumps(errors))
        self.errors = errors


Parser = Callable[[Any, dict[str, pl.DataFrame]], Any]
"""Turns a request value into a store value, raising ValueError with DRF's message."""


def text(nullable: bool = False) -> Parser:
    def parse(value: Any, _: dict[str, pl.DataFrame]) -> Any:
        if value is None:
            if nullable:
                return None
            raise ValueError('This field may not be null.')
        if isinstance(value, (dict, list)):
            raise ValueError('Not a valid string.')
        return str(value)

    return parse


def integer(value: Any, _: dict[str, pl.DataFrame]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError('A valid integer is required.')
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError('A valid integer is required.') from None
    if not number.is_integer():
        raise ValueError('A valid integer is required.')
    return int(number)


def boolean(value: Any, _: dict[str, pl.DataFrame]) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered in ('true', '1', 'yes', 'on', 't', 'y'):
        return True
    if lowered in ('false', '0', 'no', 'off', 'f', 'n'):
        return False
    raise ValueError('Must be a valid boolean.')


def timestamp(value: Any, _: dict[str, pl.DataFrame]) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace('Z', '+00:00'))
    except ValueError:
        raise ValueError(
            'Datetime has wrong format. Use one of these formats instead: '
            'YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].'
        ) from None
    return parsed.replace(tzinfo=None)


def names(value: Any, _: dict[str, pl.DataFrame]) -> list[str]:
    if isinstance(value, str):
        raise ValueError(f'Expected a list of items but got type "{type(value).__name__}".')
    if not isinstance(value, (list, tuple)):
        raise ValueError(f'Expected a list of items but got type "{type(value).__name__}".')
    return [str(v) for v in value]


def any_json(value: Any, _: dict[str, pl.DataFrame]) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def qc(value: Any, _: dict[str, pl.DataFrame]) -> int:
    if isinstance(value, str) and value in QC_CODES:
        return QC_CODES[value]
    choices = ', '.join(QC_CODES)
    raise ValueError(f'Invalid qc, choices are: {choices}')


def related(table: str, key: str = 'id', nullable: bool = False) -> Parser:
    """A related record given by key or hyperlink; must exist."""

    def parse(value: Any, tables: dict[str, pl.DataFrame]) -> str | None:
        if value is None:
            if nullable:
                return None
            raise ValueError('This field may not be null.')
        given = str(value).rstrip('/').rsplit('/', 1)[-1]
        if key == 'id':
            try:
                given = str(uuid.UUID(given))
            except ValueError:
                raise ValueError('Invalid hyperlink - Object does not exist.') from None
        if tables[table].filter(pl.col(key) == given).is_empty():
            if key == 'id':
                raise ValueError('Invalid hyperlink - Object does not exist.')
            raise ValueError(f'Object with {key}={given} does not exist.')
        return given

    return parse


@dataclass(frozen=True)
class Writable:
    """The writable fields of an endpoint and those a create (or full update) needs."""

    fields: dict[str, Parser]
    required: tuple[str, ...] = ()
    column: dict[str, str] = field(default_factory=dict)
    """Store column of a field, when it differs from the field name."""


WRITABLE: Final[dict[str, Writable]] = {
    'sessions': Writable(
        {
            'subject': text(),
            'users': names,
            'location': text(nullable=True),
            'procedures': names,
            'lab': text(),
            'projects': names,
            'type': text(nullable=True),
            'task_protocol': text(),
            'number': integer,
            'start_time': timestamp,
            'end_time': timestamp,
            'narrative': text(),
            'parent_session': related('sessions', nullable=True),
            'n_correct_trials': integer,
            'n_trials': integer,
            'extended_qc': any_json,
            'qc': qc,
            'json': any_json,
        },
        required=('subject',),
    ),
    'datasets': Writable(
        {
            'name': text(),
            'created_by': text(),
            'created_datetime': timestamp,
            'dataset_type': related('dataset_types', 'name'),
            'data_format': text(),
            'collection': text(nullable=True),
            'session': related('sessions'),
            'file_size': integer,
            'hash': text(nullable=True),
            'version': text(nullable=True),
            'revision': related('revisions', 'name', nullable=True),
            'default_dataset': boolean,
            'tags': names,
            'qc': qc,
            'json': any_json,
        },
        required=('name', 'dataset_type'),
    ),
    'files': Writable(
        {
            'dataset': related('datasets'),
            'data_repository': related('data_repositories', 'name'),
            'name': text(),
            'relative_path': text(),
            'exists': boolean,
            'json': any_json,
        },
        required=('dataset', 'data_repository', 'relative_path'),
    ),
    'insertions': Writable(
        {
            'session': related('sessions'),
            'model': text(),
            'name': text(),
            'json': any_json,
            'serial': text(),
            'chronic_insertion': text(nullable=True),
        },
        required=('name',),
    ),
    'dataset-types': Writable(
        {
            'name': text(),
            'created_by': text(nullable=True),
            'description': text(),
            'filename_pattern': text(nullable=True),
        },
        required=('name',),
    ),
    'revisions': Writable(
        {
            'name': text(),
            'description': text(),
            'created_datetime': timestamp,
            'json': any_json,
        },
        required=('name',),
    ),
    'data-repository': Writable(
        {
            'name': text(),
            'timezone': text(),
            'globus_path': text(),
            'hostname': text(),
            'data_url': text(nullable=True),
            'repository_type': text(nullable=True),
            'globus_endpoint_id': text(nullable=True),
            'globus_is_personal': boolean,
            'json': any_json,
        },
        required=('name',),
    ),
}
"""Writable fields by endpoint."""


def validate_body(
    endpoint: str,
    body: Mapping[str, Any],
    tables: dict[str, pl.DataFrame],
    *,
    partial: bool,
) -> dict[str, Any]:
    """The store changes a request body asks for.

    Raises
    ------
    BodyError
        A value is invalid, or (unless ``partial``) a required field is missing.
    """
    spec = WRITABLE[endpoint]
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if not partial:
        for name in spec.required:
            if name not in body:
                errors[name] = ['This field is required.']
    for name, value in body.items():
        parse = spec.fields.get(name)
        if parse is None:
            continue
        try:
            changes[spec.column.get(name, name)] = parse(value, tables)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise BodyError(errors)
    return changes
