"""Django-style field lookups over the store's polars tables.

Alyx filters accept ``django=field__lookup,value,...`` and most of its named filters are such
lookups, following relations (``subject__nickname``, ``data_dataset_session_related__name``,
``session__projects__name`` ...).  :func:`lookup_mask` evaluates one ``field__lookup`` against a
table and returns a boolean mask; ``~field`` negates it as Django's ``exclude`` does (a row whose
related records include no match).  The value syntax is Alyx's (:func:`parse_django`).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

import polars as pl

from .store import AlyxStore
from .tables import PRIMARY_KEYS, QC_CODES, SCHEMAS

__all__ = ['MODELS', 'FieldError', 'lookup_mask', 'parse_django', 'split_outside_brackets']


class FieldError(Exception):
    """A lookup names no field or an unsupported lookup: Alyx answers such queries with 500."""


@dataclass(frozen=True)
class Scalar:
    """A column; ``attrs`` name the attributes of a related object the column stands for."""

    column: str
    attrs: frozenset[str] = frozenset()
    enum: bool = False


@dataclass(frozen=True)
class Many:
    """A list column of names (a many-to-many relation to a named model)."""

    column: str
    attrs: frozenset[str] = frozenset({'name'})


@dataclass(frozen=True)
class Json:
    """A JSON text column, queried by key paths."""

    column: str


@dataclass(frozen=True)
class Forward:
    """A foreign key column holding the primary key of a record of ``target``."""

    column: str
    target: str


@dataclass(frozen=True)
class Reverse:
    """Records of ``target`` whose ``column`` holds this record's primary key."""

    target: str
    column: str


FieldSpec = Scalar | Many | Json | Forward | Reverse


@dataclass(frozen=True)
class Model:
    """The queryable fields of one table."""

    table: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)


def members(values: pl.Series | list[Any]) -> pl.Series | list[Any]:
    """The right of ``is_in``: a Series imploded to one list (polars deprecates comparing a
    column with a bare Series of its own type), a Python list as it is."""
    return values.implode() if isinstance(values, pl.Series) else values


def _scalars(*names: str) -> dict[str, FieldSpec]:
    return {name: Scalar(name) for name in names}


MODELS: Final[dict[str, Model]] = {
    'sessions': Model(
        'sessions',
        {
            **_scalars(
                'id',
                'start_time',
                'end_time',
                'number',
                'task_protocol',
                'type',
                'narrative',
                'n_correct_trials',
                'n_trials',
                'auto_datetime',
            ),
            'qc': Scalar('qc', enum=True),
            'subject': Scalar('subject', frozenset({'nickname'})),
            'lab': Scalar('lab', frozenset({'name'})),
            'location': Scalar('location', frozenset({'name'})),
            'projects': Many('projects'),
            'users': Many('users', frozenset({'username'})),
            'procedures': Many('procedures'),
            'parent_session': Forward('parent_session', 'sessions'),
            'data_dataset_session_related': Reverse('datasets', 'session'),
            'probe_insertion': Reverse('insertions', 'session'),
            'json': Json('json'),
            'extended_qc': Json('extended_qc'),
        },
    ),
    'datasets': Model(
        'datasets',
        {
            **_scalars(
                'id',
                'name',
                'collection',
                'file_size',
                'hash',
                'version',
                'default_dataset',
                'created_datetime',
                'auto_datetime',
            ),
            'qc': Scalar('qc', enum=True),
            'revision': Scalar('revision', frozenset({'name'})),
            'dataset_type': Scalar('dataset_type', frozenset({'name'})),
            'data_format': Scalar('data_format', frozenset({'name'})),
            'created_by': Scalar('created_by', frozenset({'username'})),
            'tags': Many('tags'),
            'session': Forward('session', 'sessions'),
            'probe_insertion': Forward('probe_insertion', 'insertions'),
            'file_records': Reverse('file_records', 'dataset'),
            'json': Json('json'),
        },
    ),
    'file_records': Model(
        'file_records',
        {
            **_scalars('id', 'relative_path', 'exists', 'name'),
            'dataset': Forward('dataset', 'datasets'),
            'data_repository': Forward('data_repository', 'data_repositories'),
            'json': Json('json'),
        },
    ),
    'data_repositories': Model(
        'data_repositories',
        {
            **_scalars(
                'name',
                'timezone',
                'globus_path',
                'hostname',
                'data_url',
                'globus_endpoint_id',
                'globus_is_personal',
            ),
            'repository_type': Scalar('repository_type', frozenset({'name'})),
            'file_records': Reverse('file_records', 'data_repository'),
            'json': Json('json'),
        },
    ),
    'insertions': Model(
        'insertions',
        {
            **_scalars('id', 'name', 'serial', 'auto_datetime', 'chronic_insertion'),
            'model': Scalar('model', frozenset({'name'})),
            'session': Forward('session', 'sessions'),
            'datasets': Reverse('datasets', 'probe_insertion'),
            'json': Json('json'),
        },
    ),
    'dataset_types': Model(
        'dataset_types',
        {
            **_scalars('id', 'name', 'description', 'filename_pattern'),
            'created_by': Scalar('created_by', frozenset({'username'})),
        },
    ),
    'revisions': Model(
        'revisions',
        {
            **_scalars('id', 'name', 'description', 'created_datetime'),
            'json': Json('json'),
        },
    ),
}
"""The queryable fields of every table, with their relations."""

LOOKUPS: Final = frozenset(
    {
        'exact',
        'iexact',
        'contains',
        'icontains',
        'in',
        'gt',
        'gte',
        'lt',
        'lte',
        'startswith',
        'istartswith',
        'endswith',
        'iendswith',
        'range',
        'isnull',
        'regex',
        'iregex',
    }
)
_TRANSFORMS: Final = frozenset({'date', 'year', 'month', 'day'})


# --- parsing ---------------------------------------------------------------------------------


def split_outside_brackets(value: str) -> list[str]:
    """Split on commas that are not inside ``[...]`` or ``(...)``, as Alyx does."""
    parts: list[str] = []
    word = ''
    closing = ''
    for char in value:
        if char == ',' and not closing:
            parts.append(word)
            word = ''
            continue
        if char == '[':
            closing = ']'
        elif char == '(':
            closing = ')'
        elif char == closing:
            closing = ''
        word += char
    parts.append(word)
    return parts


def _parse_value(text: str) -> Any:
    if text == 'None':
        return None
    if text.lower() == 'true':
        return True
    if text.lower() == 'false':
        return False
    if text.replace('.', '', 1).isdigit():
        return float(text)
    if text.startswith(('(', '[')) and text.endswith((')', ']')):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise FieldError(f'Not a list or tuple of literals: "{text}"') from None
    return text


def parse_django(value: str, prefix: str = '') -> dict[str, Any]:
    """Parse ``field,value,field,value...`` into ``{prefix + field: value}`` as Alyx does.

    Values ``None``, ``True``/``False`` and numbers are converted; ``[...]``/``(...)`` are
    literal lists.

    Raises
    ------
    FieldError
        An odd number of items, a duplicated field or a malformed list.
    """
    items = split_outside_brackets(value)
    if len(items) % 2:
        raise FieldError(f'expected field,value pairs in "{value}"')
    out: dict[str, Any] = {}
    for key, text in zip(items[::2], items[1::2], strict=True):
        if prefix + key in out:
            raise FieldError(f'Duplicated fields in "{value}"')
        out[prefix + key] = _parse_value(text)
    return out


# --- value coercion --------------------------------------------------------------------------


def _coerce(value: Any, dtype: pl.DataType, enum: bool = False) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple, set)):
        return [_coerce(v, dtype, enum) for v in value]
    if enum and isinstance(value, str) and not value.lstrip('-').isdigit():
        try:
            return QC_CODES[value.upper()]
        except KeyError:
            raise FieldError(f'invalid QC value "{value}"') from None
    try:
        if isinstance(dtype, pl.Datetime):
            if isinstance(value, datetime):
                return value
            if isinstance(value, date):
                return datetime.combine(value, datetime.min.time())
            return datetime.fromisoformat(str(value))
        if isinstance(dtype, pl.Date):
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, date):
                return value
            return date.fromisoformat(str(value)[:10])
        if dtype.is_integer() or dtype.is_float():
            if isinstance(value, bool):
                return int(value)
            return float(value)
        if isinstance(dtype, pl.Boolean):
            if isinstance(value, str):
                return value.lower() in ('true', '1')
            return bool(value)
    except (TypeError, ValueError):
        raise FieldError(f'value "{value}" does not suit a {dtype} field') from None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- expressions -----------------------------------------------------------------------------


def _lookup_expr(
    expr: pl.Expr, dtype: pl.DataType, lookup: str, value: Any, enum: bool = False
) -> pl.Expr:
    """Boolean expression applying ``lookup`` with ``value`` to ``expr`` of type ``dtype``."""
    if lookup == 'isnull':
        return expr.is_null() if value else expr.is_not_null()
    text_lookups = {
        'iexact',
        'contains',
        'icontains',
        'startswith',
        'istartswith',
        'endswith',
        'iendswith',
        'regex',
        'iregex',
    }
    if lookup in text_lookups:
        text = expr if isinstance(dtype, pl.String) else expr.cast(pl.String)
        insensitive = lookup.startswith('i')
        base = lookup[1:] if insensitive else lookup
        needle = '' if value is None else str(value)
        if base == 'regex':
            return text.str.contains(('(?i)' if insensitive else '') + needle)
        if insensitive:
            text = text.str.to_lowercase()
            needle = needle.lower()
        if base == 'exact':
            return text == needle
        if base == 'contains':
            return text.str.contains(needle, literal=True)
        if base == 'startswith':
            return text.str.starts_with(needle)
        return text.str.ends_with(needle)
    coerced = _coerce(value, dtype, enum)
    if lookup == 'exact':
        return expr.is_null() if coerced is None else expr == pl.lit(coerced)
    if lookup == 'in':
        values = coerced if isinstance(coerced, list) else [coerced]
        return expr.is_in(pl.Series(values, dtype=dtype, strict=False).implode())
    if lookup == 'range':
        if not isinstance(coerced, list) or len(coerced) != 2:
            raise FieldError(f'range needs two values, got "{value}"')
        return expr.is_between(pl.lit(coerced[0]), pl.lit(coerced[1]), closed='both')
    comparisons: dict[str, Callable[[pl.Expr, Any], pl.Expr]] = {
        'gt': lambda e, v: e > v,
        'gte': lambda e, v: e >= v,
        'lt': lambda e, v: e < v,
        'lte': lambda e, v: e <= v,
    }
    if lookup in comparisons and coerced is not None:
        return comparisons[lookup](expr, pl.lit(coerced))
    raise FieldError(f"Unsupported lookup '{lookup}' or value {value!r}")


def _transform(expr: pl.Expr, dtype: pl.DataType, name: str) -> tuple[pl.Expr, pl.DataType]:
    if not isinstance(dtype, (pl.Datetime, pl.Date)):
        raise FieldError(f"Unsupported lookup '{name}' for a {dtype} field")
    if name == 'date':
        return expr.dt.date(), pl.Date()
    return getattr(expr.dt, name)().cast(pl.Int64), pl.Int64()


def _split_lookup(rest: list[str]) -> tuple[list[str], str]:
    if rest and rest[-1] in LOOKUPS:
        return rest[:-1], rest[-1]
    return rest, 'exact'


def _json_match(obj: Any, keys: list[str], lookup: str, value: Any) -> bool:
    for key in keys:
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
        elif isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
            obj = obj[int(key)]
        else:
            return lookup == 'isnull' and bool(value)
    if lookup == 'isnull':
        return (obj is None) == bool(value)
    if lookup == 'exact':
        return bool(obj == value)
    if lookup in ('iexact', 'icontains', 'contains') and isinstance(obj, str):
        if lookup == 'contains':
            return str(value) in obj
        if lookup == 'iexact':
            return obj.lower() == str(value).lower()
        return str(value).lower() in obj.lower()
    if lookup == 'contains' and isinstance(obj, (list, dict)):
        return bool(value in obj) if not isinstance(value, (list, dict)) else False
    if lookup == 'in':
        return obj in (value if isinstance(value, (list, tuple)) else [value])
    if lookup in ('gt', 'gte', 'lt', 'lte'):
        try:
            left, right = float(obj), float(value)
        except (TypeError, ValueError):
            return False
        return {
            'gt': left > right,
            'gte': left >= right,
            'lt': left < right,
            'lte': left <= right,
        }[lookup]
    if lookup == 'startswith' and isinstance(obj, str):
        return obj.startswith(str(value))
    if lookup == 'endswith' and isinstance(obj, str):
        return obj.endswith(str(value))
    if lookup in ('regex', 'iregex') and isinstance(obj, str):
        return re.search(str(value), obj, re.IGNORECASE if lookup == 'iregex' else 0) is not None
    return False


def _json_mask(frame: pl.DataFrame, column: str, rest: list[str], value: Any) -> pl.Series:
    keys, lookup = _split_lookup(rest)
    if not keys:
        if lookup == 'isnull':
            return frame[column].is_null() if value else frame[column].is_not_null()
        target = None if value is None else json.dumps(value)
        return frame[column].eq_missing(target)
    out = []
    for text in frame[column].to_list():
        obj = json.loads(text) if text is not None else None
        out.append(_json_match(obj, keys, lookup, value))
    return pl.Series(out, dtype=pl.Boolean)


def _mask(
    store_tables: dict[str, pl.DataFrame], model: Model, parts: list[str], value: Any
) -> pl.Series:
    frame = store_tables[model.table]
    name, rest = parts[0], parts[1:]
    if name == 'pk':
        name = PRIMARY_KEYS[model.table]
    spec = model.fields.get(name)
    if spec is None:
        choices = ', '.join(sorted({*model.fields, 'pk'}))
        raise FieldError(f"Cannot resolve keyword '{name}' into field. Choices are: {choices}")
    schema = SCHEMAS[model.table]
    if isinstance(spec, Json):
        return _json_mask(frame, spec.column, rest, value)
    if isinstance(spec, (Scalar, Many)):
        if rest and rest[0] in spec.attrs:
            rest = rest[1:]
        elif rest and isinstance(spec, Many) and rest[0] in ('id', 'pk'):
            rest = rest[1:]  # names stand for the related records' keys
        dtype = schema[spec.column]
        if isinstance(spec, Many):
            dtype = pl.String()
        expr = pl.element() if isinstance(spec, Many) else pl.col(spec.column)
        transforms, lookup = _split_lookup(rest)
        for transform in transforms:
            if transform not in _TRANSFORMS:
                raise FieldError(f"Unsupported lookup '{transform}' for field '{name}'")
            expr, dtype = _transform(expr, dtype, transform)
        enum = isinstance(spec, Scalar) and spec.enum
        if isinstance(spec, Many):
            if lookup == 'isnull':
                length = pl.col(spec.column).list.len()
                result = length == 0 if value else length > 0
            else:
                element = _lookup_expr(expr, dtype, lookup, value)
                result = pl.col(spec.column).list.eval(element).list.any()
        else:
            result = _lookup_expr(expr, dtype, lookup, value, enum)
        return frame.select(result.fill_null(False)).to_series()
    target = MODELS[spec.target]
    target_frame = store_tables[target.table]
    target_pk = PRIMARY_KEYS[target.table]
    if isinstance(spec, Forward):
        if not rest or rest[0] in LOOKUPS or rest[0] in ('pk', target_pk):
            if rest and rest[0] in ('pk', target_pk):
                rest = rest[1:]
            _, lookup = _split_lookup(rest)
            dtype = schema[spec.column]
            result = _lookup_expr(pl.col(spec.column), dtype, lookup, value)
            return frame.select(result.fill_null(False)).to_series()
        sub = _mask(store_tables, target, rest, value)
        keys = target_frame.filter(sub)[target_pk]
        return frame.select(pl.col(spec.column).is_in(members(keys)).fill_null(False)).to_series()
    # Reverse relation: rows having at least one related record that matches.
    related = target_frame[spec.column]
    own_pk = pl.col(PRIMARY_KEYS[model.table])
    if not rest or rest == ['isnull']:
        if rest == ['isnull']:
            has = own_pk.is_in(members(related.drop_nulls()))
            return frame.select(~has if value else has).to_series()
        rest = ['pk']
    elif rest[0] in LOOKUPS:
        rest = ['pk', *rest]
    sub = _mask(store_tables, target, rest, value)
    keys = target_frame.filter(sub)[spec.column].drop_nulls()
    return frame.select(own_pk.is_in(members(keys)).fill_null(False)).to_series()


def lookup_mask(
    store: AlyxStore | dict[str, pl.DataFrame], table: str, key: str, value: Any
) -> pl.Series:
    """Boolean mask of the rows of ``table`` matching ``key`` (``[~]field[__...][__lookup]``).

    Raises
    ------
    FieldError
        Unknown field, unsupported lookup or a value that does not suit the field.
    """
    tables = store if isinstance(store, dict) else store.snapshot()[1]
    negate = key.startswith('~')
    parts = key.lstrip('~').split('__')
    if not parts or not parts[0]:
        raise FieldError(f'empty field name in "{key}"')
    mask = _mask(tables, MODELS[table], parts, value)
    return ~mask if negate else mask
