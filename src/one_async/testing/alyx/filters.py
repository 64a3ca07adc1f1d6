"""The named query filters of each endpoint, with Alyx 3.6.1's semantics.

Each filter turns a query parameter into a boolean mask over the endpoint's table.  Most are
Django lookups (see :mod:`.lookups`); the rest (``datasets``, ``dataset_types``, ``date_range``,
``performance_gte`` ...) reproduce Alyx's custom filter methods.  As with django-filter, empty
values and unknown parameters are ignored; a value the filter's form field rejects (a bad UUID or
number) is a 400 error naming the parameter, and an error the database would raise is a
:class:`~.lookups.FieldError` (Alyx answers 500).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

from .lookups import FieldError, lookup_mask, members, parse_django
from .tables import QC_CODES, QC_NAMES

__all__ = ['ENDPOINT_FILTERS', 'FilterContext', 'FilterValueError', 'apply_filters', 'qc_code']


class FilterValueError(Exception):
    """A query parameter its form field rejects: Alyx answers 400 ``{param: [message]}``."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f'{param}: {message}')
        self.param = param
        self.message = message


@dataclass
class FilterContext:
    """What a filter sees: the tables, the endpoint's table and all query parameters."""

    tables: dict[str, pl.DataFrame]
    table: str
    params: Mapping[str, str]

    @property
    def frame(self) -> pl.DataFrame:
        return self.tables[self.table]

    def lookup(self, key: str, value: object) -> pl.Series:
        return lookup_mask(self.tables, self.table, key, value)

    def keys_in(self, keys: pl.Series | list[str], column: str = 'id') -> pl.Series:
        return self.frame.select(pl.col(column).is_in(members(keys)).fill_null(False)).to_series()


Filter = Callable[[FilterContext, str, str], pl.Series]
"""A filter: (context, parameter name, value) -> mask."""


def qc_code(value: str | int) -> int:
    """Alyx's QC code for a name (any case) or code, as ``QC.validate`` accepts them.

    Raises
    ------
    FieldError
        Not a QC name or code (Alyx answers 500).
    """
    text = str(value).strip()
    if text.lstrip('-').isdigit():
        if int(text) in QC_NAMES:
            return int(text)
    elif text.upper() in QC_CODES:
        return QC_CODES[text.upper()]
    raise FieldError(f'{value!r} is not a valid QC')


# --- value parsers (django-filter form fields) -----------------------------------------------


def _uuid(param: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise FilterValueError(param, 'Enter a valid UUID.') from None


def _number(param: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise FilterValueError(param, 'Enter a number.') from None


def _datetime(param: str, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise FilterValueError(param, 'Enter a valid date/time.') from None


def _boolean(value: str) -> bool | None:
    lowered = value.lower()
    if lowered in ('true', '1'):
        return True
    if lowered in ('false', '0'):
        return False
    return None


# --- filter factories ------------------------------------------------------------------------


def lookup(key: str) -> Filter:
    """A filter passing the raw string to the lookup ``key`` (a django ``CharFilter``)."""
    return lambda ctx, _, value: ctx.lookup(key, value)


def uuid_lookup(key: str) -> Filter:
    return lambda ctx, param, value: ctx.lookup(key, _uuid(param, value))


def number_lookup(key: str) -> Filter:
    return lambda ctx, param, value: ctx.lookup(key, _number(param, value))


def datetime_lookup(key: str) -> Filter:
    return lambda ctx, param, value: ctx.lookup(key, _datetime(param, value))


def boolean_lookup(key: str) -> Filter:
    def apply(ctx: FilterContext, _: str, value: str) -> pl.Series:
        parsed = _boolean(value)
        if parsed is None:  # NullBooleanField: unknown values do not filter
            return pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
        return ctx.lookup(key, parsed)

    return apply


def enum_lookup(key: str) -> Filter:
    return lambda ctx, _, value: ctx.lookup(key, qc_code(value))


def django(ctx: FilterContext, _: str, value: str) -> pl.Series:
    """``field__lookup,value,...``: every pair must hold; ``~field`` excludes."""
    mask = pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
    for key, val in parse_django(value).items():
        mask &= ctx.lookup(key, val)
    return mask


def json_filter(field: str) -> Filter:
    """``key__lookup,value,...`` on a JSON field (Alyx's ``base_json_filter``)."""

    def apply(ctx: FilterContext, _: str, value: str) -> pl.Series:
        mask = pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
        for key, val in parse_django(value, prefix=f'{field}__').items():
            mask &= ctx.lookup(key, val)
        return mask

    return apply


# --- custom filter methods -------------------------------------------------------------------


def _server_dataset_ids(tables: dict[str, pl.DataFrame], exists: bool = True) -> pl.Series:
    """Ids of datasets with a file record on a server (not personal) repository, by ``exists``."""
    repos = tables['data_repositories'].filter(~pl.col('globus_is_personal').fill_null(False))
    records = tables['file_records'].filter(
        pl.col('data_repository').is_in(repos['name'].implode()) & (pl.col('exists') == exists)
    )
    return records['dataset'].unique()


def _qc_threshold(ctx: FilterContext) -> int:
    return qc_code(ctx.params.get('dataset_qc_lte') or 'FAIL')


def session_date_range(ctx: FilterContext, _: str, value: str) -> pl.Series:
    bounds = value.split(',')
    if len(bounds) < 2:
        raise FieldError(f'date_range needs two dates, got "{value}"')
    return ctx.lookup('start_time__date__gte', bounds[0]) & ctx.lookup(
        'start_time__date__lte', bounds[1]
    )


def session_users(ctx: FilterContext, _: str, value: str) -> pl.Series:
    users = value.split(',')
    counts = ctx.frame.select(
        pl.col('users').list.eval(pl.element().is_in(users)).list.sum().fill_null(0)
    ).to_series()
    return (counts >= len(users)) & (counts > 0)


def _having_all(datasets: pl.DataFrame, owner: str, column: str, wanted: list[str]) -> pl.Series:
    """Owners (sessions or insertions) whose datasets hold at least len(wanted) distinct values."""
    counts = (
        datasets.filter(pl.col(column).is_in(members(wanted)) & pl.col(owner).is_not_null())
        .group_by(owner)
        .agg(pl.col(column).n_unique().alias('n'))
    )
    return counts.filter(pl.col('n') >= len(wanted))[owner]


def session_dataset_types(ctx: FilterContext, _: str, value: str) -> pl.Series:
    owners = _having_all(ctx.tables['datasets'], 'session', 'dataset_type', value.split(','))
    return ctx.keys_in(owners)


def session_datasets(ctx: FilterContext, _: str, value: str) -> pl.Series:
    names = value.split(',')
    datasets = ctx.tables['datasets'].filter(
        (pl.col('qc') <= _qc_threshold(ctx))
        & pl.col('id').is_in(members(_server_dataset_ids(ctx.tables)))
    )
    return ctx.keys_in(_having_all(datasets, 'session', 'name', names))


def session_qc_lte(ctx: FilterContext, _: str, value: str) -> pl.Series:
    if 'datasets' in ctx.params:
        return pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
    return ctx.lookup('data_dataset_session_related__qc__lte', qc_code(value))


def _performance(op: str) -> Filter:
    def apply(ctx: FilterContext, param: str, value: str) -> pl.Series:
        threshold = _number(param, value)
        perf = 100 * pl.col('n_correct_trials') / pl.col('n_trials')
        test = perf >= threshold if op == 'gte' else perf <= threshold
        return ctx.frame.select(
            (pl.col('n_trials').is_not_null() & test).fill_null(False)
        ).to_series()

    return apply


def dataset_exists(ctx: FilterContext, _: str, value: str) -> pl.Series:
    parsed = _boolean(value)
    repos = ctx.tables['data_repositories'].filter(~pl.col('globus_is_personal').fill_null(False))
    if parsed is None or repos.is_empty():
        return pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
    return ctx.keys_in(_server_dataset_ids(ctx.tables, parsed))


def dataset_probe_insertion(ctx: FilterContext, param: str, value: str) -> pl.Series:
    pid = _uuid(param, value)
    probe = ctx.tables['insertions'].filter(pl.col('id') == pid)
    if probe.is_empty():
        raise FieldError('ProbeInsertion matching query does not exist.')
    session, name = probe['session'][0], probe['name'][0]
    return ctx.frame.select(
        (
            (pl.col('session') == session)
            & pl.col('collection').str.to_lowercase().str.contains(name.lower(), literal=True)
        ).fill_null(False)
    ).to_series()


def insertion_dataset_types(ctx: FilterContext, _: str, value: str) -> pl.Series:
    owners = _having_all(
        ctx.tables['datasets'], 'probe_insertion', 'dataset_type', value.split(',')
    )
    return ctx.keys_in(owners)


def insertion_datasets(ctx: FilterContext, _: str, value: str) -> pl.Series:
    names = sorted(set(value.split(',')))
    datasets = ctx.tables['datasets'].filter(pl.col('qc') <= _qc_threshold(ctx))
    return ctx.keys_in(_having_all(datasets, 'probe_insertion', 'name', names))


def insertion_qc_lte(ctx: FilterContext, _: str, value: str) -> pl.Series:
    if 'datasets' in ctx.params:
        return pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
    return ctx.lookup('datasets__qc__lte', qc_code(value))


# --- per endpoint ----------------------------------------------------------------------------

SESSION_FILTERS: Final[dict[str, Filter]] = {
    'subject': lookup('subject__nickname__iexact'),
    'nickname': lookup('subject__nickname__iexact'),
    'lab': lookup('lab__name__iexact'),
    'task_protocol': lookup('task_protocol__icontains'),
    'projects': lookup('projects__name__icontains'),
    'project': lookup('projects__name__icontains'),
    'location': lookup('location__name__icontains'),
    'procedures': lookup('procedures__name__icontains'),
    'type': lookup('type__iexact'),
    'users': session_users,
    'date_range': session_date_range,
    'dataset_types': session_dataset_types,
    'datasets': session_datasets,
    'dataset_qc_lte': session_qc_lte,
    'performance_gte': _performance('gte'),
    'performance_lte': _performance('lte'),
    'qc': enum_lookup('qc'),
    'tag': lookup('data_dataset_session_related__tags__name__icontains'),
    'json': json_filter('json'),
    'extended_qc': json_filter('extended_qc'),
    'id': uuid_lookup('id'),
    'number': number_lookup('number'),
    'n_trials': number_lookup('n_trials'),
    'n_correct_trials': number_lookup('n_correct_trials'),
    'narrative': lookup('narrative'),
    'parent_session': uuid_lookup('parent_session'),
    'start_time': datetime_lookup('start_time'),
    'end_time': datetime_lookup('end_time'),
    'auto_datetime': datetime_lookup('auto_datetime'),
    'django': django,
}

DATASET_FILTERS: Final[dict[str, Filter]] = {
    'subject': lookup('session__subject__nickname'),
    'lab': lookup('session__lab__name'),
    'created_date': lookup('created_datetime__date'),
    'date': lookup('session__start_time__date'),
    'created_by': lookup('created_by__username'),
    'dataset_type': lookup('dataset_type__name'),
    'experiment_number': lookup('session__number'),
    'created_date_gte': datetime_lookup('created_datetime__date__gte'),
    'created_date_lte': datetime_lookup('created_datetime__date__lte'),
    'exists': dataset_exists,
    'probe_insertion': dataset_probe_insertion,
    'public': boolean_lookup('public'),
    'protected': boolean_lookup('protected'),
    'tag': lookup('tags__name'),
    'tags': lookup('tags__name'),
    'revision': lookup('revision__name'),
    'name': lookup('name'),
    'collection': lookup('collection'),
    'session': uuid_lookup('session'),
    'id': uuid_lookup('id'),
    'hash': lookup('hash'),
    'version': lookup('version'),
    'file_size': number_lookup('file_size'),
    'default_dataset': boolean_lookup('default_dataset'),
    'data_format': lookup('data_format__name'),
    'qc': enum_lookup('qc'),
    'created_datetime': datetime_lookup('created_datetime'),
    'auto_datetime': datetime_lookup('auto_datetime'),
    'django': django,
}

FILE_FILTERS: Final[dict[str, Filter]] = {
    'dataset': uuid_lookup('dataset'),
    'exists': boolean_lookup('exists'),
    'lab': lookup('dataset__session__lab__name'),
    'data_repository': lookup('data_repository__name'),
    'globus_is_personal': boolean_lookup('data_repository__globus_is_personal'),
    'relative_path': lookup('relative_path'),
    'name': lookup('name'),
    'id': uuid_lookup('id'),
    'django': django,
}

INSERTION_FILTERS: Final[dict[str, Filter]] = {
    'subject': lookup('session__subject__nickname'),
    'date': lookup('session__start_time__date'),
    'experiment_number': lookup('session__number'),
    'name': lookup('name'),
    'session': uuid_lookup('session'),
    'model': lookup('model__name'),
    'dataset_types': insertion_dataset_types,
    'datasets': insertion_datasets,
    'dataset_qc_lte': insertion_qc_lte,
    'lab': lookup('session__lab__name__iexact'),
    'project': lookup('session__projects__name__icontains'),
    'task_protocol': lookup('session__task_protocol__icontains'),
    'tag': lookup('datasets__tags__name__icontains'),
    'serial': lookup('serial'),
    'id': uuid_lookup('id'),
    'chronic_insertion': uuid_lookup('chronic_insertion'),
    'auto_datetime': datetime_lookup('auto_datetime'),
    'django': django,
}

ENDPOINT_FILTERS: Final[dict[str, dict[str, Filter]]] = {
    'sessions': SESSION_FILTERS,
    'datasets': DATASET_FILTERS,
    'files': FILE_FILTERS,
    'insertions': INSERTION_FILTERS,
    'data-repository': {
        'name': lookup('name'),
        'globus_is_personal': boolean_lookup('globus_is_personal'),
        'globus_endpoint_id': uuid_lookup('globus_endpoint_id'),
    },
    'revisions': {'name': lookup('name')},
    'dataset-types': {},
}
"""Query filters by endpoint (``limit`` and ``offset`` are pagination, not filters)."""


def apply_filters(
    tables: dict[str, pl.DataFrame],
    table: str,
    filters: Mapping[str, Filter],
    params: Mapping[str, str],
) -> pl.DataFrame:
    """Rows of ``table`` matching every known, non-empty parameter in ``params``.

    Raises
    ------
    FilterValueError
        A value rejected by its parameter's form field (answered 400).
    FieldError
        A query the database would refuse (answered 500).
    """
    ctx = FilterContext(tables, table, params)
    mask = pl.Series([True] * ctx.frame.height, dtype=pl.Boolean)
    for param, value in params.items():
        apply = filters.get(param)
        if apply is None or value == '':
            continue
        mask &= apply(ctx, param, value)
    return ctx.frame.filter(mask)
