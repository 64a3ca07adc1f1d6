"""Searching sessions: ONE-api 2.9.0's ``One.search`` and ``search_terms`` over polars tables.

The terms are applied one after the other in ONE's order (other terms first, then
``date_range``, ``number``, and the dataset terms last) so that the same calls fail the same
way (a bad value of a later term is not looked at once no session is left).  The dataset terms
are answered from the whole-table index: each pattern is tested once per distinct relative
path, and "a session has a matching dataset" is one ``reduceat`` over the sorted table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import polars as pl

from one_async.cache.schema import QC_LEVELS

from .core import OneCore
from .datasets_index import DatasetsIndex
from .filters import PathMatcher, matcher
from .terms import (
    autocomplete,
    ensure_list,
    join_patterns,
    parse_numbers,
    validate_date_range,
    validate_qc,
)

__all__ = ['SearchMixin', 'run_search']

_ORDER: Final = ('date_range', 'number', 'dataset', 'datasets')
_STRING_TERMS: Final = {
    'subject': 'subject',
    'task_protocol': 'task_protocol',
    'laboratory': 'lab',
    'projects': 'projects',
}
_DATASET_TERMS: Final = ('dataset', 'datasets')
_SORT: Final = ['date', 'subject', 'number']


def _order(item: tuple[str, Any]) -> int:
    return _ORDER.index(item[0]) if item[0] in _ORDER else -1


def string_mask(column: pl.Series, value: Any, regex: bool, term: str) -> pl.Series:
    """Rows whose value contains the pattern(s) (ONE's ``str.contains``; null never matches).

    Each distinct value is tested once.
    """
    test = matcher(join_patterns(value, term), 'search' if regex else 'literal')
    hits = [v for v in column.drop_nulls().unique().to_list() if test(v)]
    return column.is_in(pl.Series(hits, dtype=column.dtype).implode()).fill_null(False)


def _dataset_tests(key: str, value: Any, wildcards: bool) -> list[PathMatcher]:
    if key == 'dataset':
        kind = 'search' if wildcards else 'literal'
        return [matcher(v, kind) for v in ensure_list(value)]
    if key == 'datasets':
        return [matcher(v, 'name') for v in ensure_list(value)]
    return [matcher('', 'literal')]


def run_search(
    sessions: pl.DataFrame,
    index: Callable[[], DatasetsIndex],
    queries: Mapping[str, Any],
    wildcards: bool,
) -> pl.DataFrame:
    """The sessions matching every (already autocompleted) query term, in ONE's order.

    Parameters
    ----------
    sessions
        The sessions table, sorted by ``id``.
    index
        Returns the datasets index (called only when a dataset term is used).
    queries
        Search term -> value.
    wildcards
        Regular expressions (true) or plain substrings (false) for the string terms.

    Returns
    -------
    polars.DataFrame
        The matching sessions by date, subject and number, all descending.
    """
    has_dataset_terms = any(k in queries for k in _DATASET_TERMS)
    cached: list[DatasetsIndex] = []
    for key, value in sorted(queries.items(), key=_order):
        if sessions.height == 0:
            return sessions
        if key in _STRING_TERMS:
            column = _STRING_TERMS[key]
            sessions = sessions.filter(string_mask(sessions[column], value, wildcards, key))
        elif key == 'date_range':
            if value is None:
                continue
            start, end = validate_date_range(value)
            when = pl.col('date').cast(pl.Datetime('us'))
            condition = pl.lit(True)
            if start is not None:
                condition &= when >= start
            if end is not None:
                condition &= when <= end
            sessions = sessions.filter(condition.fill_null(False))
        elif key == 'number':
            numbers = parse_numbers(value)
            sessions = sessions.filter(pl.col('number').cast(pl.Int64).is_in(numbers))
        elif key in _DATASET_TERMS or (key == 'dataset_qc_lte' and not has_dataset_terms):
            qc = validate_qc(queries.get('dataset_qc_lte', 'FAIL'))
            tests = _dataset_tests(key, value, wildcards)
            if not cached:
                cached.append(index())
            idx = cached[0]
            usable = idx.exists & (idx.qc <= QC_LEVELS.index(qc.name))
            selected = np.ones(len(idx.starts), dtype=np.bool_)
            for rows in idx.rows_many(tests):
                selected &= idx.any_per_session(rows & usable)
            eids = idx.eids.filter(pl.Series(selected))
            sessions = sessions.filter(pl.col('id').is_in(eids.implode()))
    if sessions.height == 0:
        return sessions
    return sessions.sort(_SORT, descending=True, nulls_last=True, maintain_order=True)


class SearchMixin(OneCore):
    """``search`` and ``search_terms``."""

    async def search_terms(self, query_type: str | None = None) -> tuple[str, ...]:
        """The search terms ``search`` accepts (ONE-api 2.9.0's local terms).

        ``datasets`` (ONE-api 3.x: exact file names) is accepted too, spelled in full.
        """
        await self._query(query_type)
        return self._search_terms

    async def search(
        self, /, details: bool = False, query_type: str | None = None, **kwargs: Any
    ) -> list[str] | tuple[list[str], list[dict[str, Any]] | None]:
        """Search sessions matching all the given criteria, as ONE's ``One.search``.

        Parameters
        ----------
        details
            Also return one dict of session details per result.
        query_type
            'local' (or 'auto'/None: the session's mode); 'remote' needs an Alyx client.
        **kwargs
            Search terms, or any unambiguous start of one (``lab=``, ``date=``, ``task=``):

            dataset : str or list
                Sessions with a dataset whose relative path contains each pattern (all of
                them).  Regular expressions when ``wildcards`` is true, plain text otherwise.
            datasets : str or list
                As ONE-api 3.x: sessions having a dataset with each file name (the whole name
                matches the regular expression).
            dataset_qc_lte : str, int or QC
                Only datasets with this QC or better count (default FAIL); alone, sessions with
                any such dataset.
            date_range : str, date, datetime, numpy.datetime64 or list
                A day, or ``[start, end]`` inclusive (None for an open end; a 1-element list
                has no end).
            laboratory, subject, task_protocol, projects : str or list
                The value contains the pattern (any of a list).
            number : int, str or list
                The session number (any of a list).

        Only datasets that exist count.  Matching is case-sensitive.

        Returns
        -------
        list of str
            The session IDs, by date, subject and number (all descending).
        list of dict or None
            (``details``) The sessions' columns (ONE's, without ``id``); None with no result.

        Raises
        ------
        InvalidArgument
            An unknown or ambiguous term, a bad date, number or QC value; a pattern that does
            not compile (:class:`~one_async.exceptions.InvalidPattern`, also a ``re.error``).
        ArgumentTypeError
            A pattern that is not a str.
        """
        tables = await self._query(query_type)
        queries = {autocomplete(k, self._search_terms): v for k, v in kwargs.items()}
        sessions = await self._sessions(tables)
        if any(k in queries for k in (*_DATASET_TERMS, 'dataset_qc_lte')):
            await self._datasets(tables)
        found = await self._run(
            run_search, sessions, lambda: self._index(tables), queries, self.wildcards
        )
        eids: list[str] = found.get_column('id').to_list()
        if not details:
            return eids
        if not eids:
            return [], None
        return eids, self._result_shape().session_records(found)
