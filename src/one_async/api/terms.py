"""Argument parsing shared by the query methods: search terms, dates, numbers, patterns, QC.

These mirror the helpers of ONE-api 2.9.0's ``one.util`` (``autocomplete``, ``ensure_list``,
``validate_date_range``) with typed errors naming the bad value.  Dates are parsed without
pandas: ISO 8601 strings (and ``YYYY-MM``/``YYYY``), :class:`datetime.date`,
:class:`datetime.datetime` (``pandas.Timestamp`` included) and :class:`numpy.datetime64`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Final

import numpy as np

from one_async.alf.spec import QC
from one_async.exceptions import ArgumentTypeError, InvalidArgument, InvalidPattern

__all__ = [
    'EXTRA_SEARCH_TERMS',
    'SEARCH_TERMS',
    'autocomplete',
    'compile_pattern',
    'ensure_list',
    'join_patterns',
    'parse_numbers',
    'to_datetime',
    'validate_date_range',
    'validate_qc',
]

SEARCH_TERMS: Final = (
    'dataset',
    'date_range',
    'laboratory',
    'number',
    'projects',
    'subject',
    'task_protocol',
    'dataset_qc_lte',
)
"""The local search terms of ONE-api 2.9.0, in its order (what ``search_terms()`` returns)."""

EXTRA_SEARCH_TERMS: Final = ('datasets',)
"""Terms accepted when spelled out in full, for scripts written for ONE-api 3.x."""

_DAY: Final = timedelta(days=1) - timedelta(milliseconds=1)
_PARTIAL_DATES: Final = ('%Y-%m', '%Y')


def ensure_list(value: Any) -> Any:
    """``value`` in a list unless it already is a non-string, non-mapping iterable (as ONE)."""
    if isinstance(value, (str, dict)) or not isinstance(value, Iterable):
        return [value]
    return value


def autocomplete(term: str, search_terms: Sequence[str]) -> str:
    """The full search term that ``term`` starts (case-insensitive), as ONE's ``autocomplete``.

    Terms of :data:`EXTRA_SEARCH_TERMS` are accepted only in full, so that every abbreviation
    resolves as it does in ONE-api 2.9.0.

    Raises
    ------
    InvalidArgument
        ``term`` starts no search term, or several.
    """
    if not isinstance(term, str):
        raise ArgumentTypeError(f'Search terms are str, not {term!r}', value=term)
    key = term.lower()
    if key in search_terms or key in EXTRA_SEARCH_TERMS:
        return key
    matches = [t for t in search_terms if t.lower().startswith(key)]
    if not matches:
        raise InvalidArgument(f'Invalid search term "{key}", see `one.search_terms()`', value=term)
    if len(matches) > 1:
        raise InvalidArgument(f'Ambiguous search term "{key}": {matches}', value=term)
    return matches[0]


def join_patterns(value: Any, term: str) -> str:
    """ONE's ``'|'.join(ensure_list(value))``: one alternation of the given patterns.

    Raises
    ------
    ArgumentTypeError
        A value is not a str.
    """
    values = list(ensure_list(value))
    bad = next((v for v in values if not isinstance(v, str)), None)
    if bad is not None or (not values and not isinstance(value, Iterable)):
        raise ArgumentTypeError(f'{term} values must be str, got {value!r}', value=value)
    return '|'.join(values)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a regular expression (cached).

    Raises
    ------
    InvalidPattern
        It does not compile (also a :class:`re.error`).
    """
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidPattern(
            f'Invalid regular expression "{pattern}": {exc}', value=pattern
        ) from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidPattern(
            f'Invalid regular expression "{pattern}": {exc}', value=pattern
        ) from None


def parse_numbers(value: Any) -> list[int]:
    """Session numbers as ONE reads them: ``int()`` of each value.

    Raises
    ------
    InvalidArgument
        A value ``int()`` refuses (``ArgumentTypeError`` for a value of the wrong type).
    """
    out: list[int] = []
    for item in ensure_list(value):
        try:
            out.append(int(item))
        except ValueError:
            raise InvalidArgument(f'Invalid session number {item!r}', value=item) from None
        except TypeError:
            raise ArgumentTypeError(f'Invalid session number {item!r}', value=item) from None
    return out


def to_datetime(value: Any) -> datetime:
    """A naive datetime from a date, datetime, numpy datetime64 or ISO 8601 string.

    Raises
    ------
    InvalidArgument
        A string that is not an ISO date, a timezone-aware time, or another type.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise InvalidArgument(f'Dates must be naive, not {value!r}', value=value)
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise InvalidArgument(f'Invalid date {value!r}', value=value)
        out = value.astype('datetime64[us]').item()
        if isinstance(out, datetime):
            return out
        raise InvalidArgument(f'Date out of range: {value!r}', value=value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_datetime(datetime.fromisoformat(text))
        except ValueError:
            pass
        for fmt in _PARTIAL_DATES:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise InvalidArgument(f'Invalid date "{value}" (expected ISO 8601)', value=value)
    raise InvalidArgument(f'Invalid date {value!r}', value=value)


def validate_date_range(date_range: Any) -> tuple[datetime | None, datetime | None]:
    """The inclusive (start, end) of a ``date_range`` search term, as ONE's function.

    A single date covers that whole day (until 1 ms before midnight); a 1-element list has no
    end; None or another false value in a 2-element list leaves that bound open (None).

    Raises
    ------
    InvalidArgument
        Not one or two dates, or a value that is not a date.
    """
    if isinstance(date_range, str) or not isinstance(date_range, Iterable):
        day = to_datetime(date_range)
        return day, day + _DAY
    if isinstance(date_range, Mapping):
        raise InvalidArgument(f'Invalid date range {date_range!r}', value=date_range)
    bounds = list(date_range)
    if len(bounds) == 1:
        bounds.append(None)
    if len(bounds) != 2:
        raise InvalidArgument(
            f'A date range has one or two dates, not {len(bounds)}', value=date_range
        )
    start, end = (to_datetime(b) if _truthy(b) else None for b in bounds)
    return start, end


def _truthy(value: Any) -> bool:
    try:
        return bool(value)
    except (TypeError, ValueError):
        return True


def validate_qc(value: Any) -> QC:
    """A QC outcome from a QC member, its value or its name.

    Raises
    ------
    InvalidArgument
        ``value`` names no QC outcome.
    """
    return QC.validate(value)
