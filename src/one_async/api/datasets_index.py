"""Whole-table query support: the datasets table seen through its distinct relative paths.

A datasets table of millions of rows has only thousands of distinct ``rel_path`` values, so a
path pattern (ONE's regular expressions, which need Python's :mod:`re`) is tested once per
distinct value, and the answers are spread over the rows.  The index also keeps the ``exists``
flags, the QC ranks and the session boundaries (the table is sorted by ``eid``) as arrays, so
that "a session has a matching dataset" is one ``reduceat``.

Spreading answers over the rows works in three ways.  From the second whole-table query on a
table, each row carries the code of its path (built once, a few tens of milliseconds per million
rows) and answers are gathered by code with numpy.  Before that, a pattern that means exactly
the same to polars' regular expression engine as to Python's (:func:`polars_pattern`: plain
text, ``.``, ``*``, ``+``, ``?``, ``|``, groups, anchors, ASCII classes, counted repeats) is
evaluated by polars on every row; any other pattern is tested once per distinct path and
spread with ``is_in``.

An index belongs to one materialised frame; it is rebuilt when the table changes.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from .filters import PathMatcher, qc_codes

__all__ = ['CODES_AFTER', 'DatasetsIndex', 'polars_pattern']

CODES_AFTER: Final = 2
"""Whole-table queries on a table after which rows get path codes."""

_LUT_CACHE: Final = 16

BoolArray = npt.NDArray[np.bool_]

# Python regular expressions whose meaning polars (Rust ``regex``) shares exactly: literal
# characters, escaped punctuation, '.', quantifiers '*', '+', '?' (lazy too), counted repeats
# '{m}', '{m,}', '{m,n}', alternation, plain and non-capturing groups, '^', '$', and classes of
# literal characters and ranges.  No class escapes (\w, \d, \s, \b: Unicode tables differ),
# no flags, lookarounds, backreferences or nested classes.
_TOKEN: Final = re.compile(
    r"""
      \\[^0-9A-Za-z]               # escaped punctuation
    | \[\^?(?:\\[^0-9A-Za-z]|[^\\\[\]])+\]   # a class of literal characters and ranges
    | \{\d+(?:,\d*)?\}\??          # counted repeat
    | \(\?:                         # non-capturing group
    | \((?!\?)                      # capturing group (no flags, no lookaround)
    | [*+?]\??                      # quantifiers, greedy or lazy
    | [.|)^$]                       # other metacharacters
    | [^\\\[\]{}()*+?.|^$]          # a literal character
    """,
    re.VERBOSE,
)


@lru_cache(maxsize=256)
def polars_pattern(pattern: str, kind: str) -> str | None:
    """The polars equivalent of a :class:`~one_async.api.filters.PathMatcher` test, or None.

    ``kind`` is the matcher's kind (``'literal'``, ``'search'``, ``'match'``); the result is a
    regular expression for ``str.contains`` (for ``'literal'``, the text itself).  None when the
    meanings might differ.
    """
    if kind == 'literal':
        return pattern
    if kind not in ('search', 'match'):
        return None
    position = 0
    while position < len(pattern):
        token = _TOKEN.match(pattern, position)
        if token is None:
            return None
        text = token.group()
        if text.startswith('[') and any(op in text for op in ('[:', '&&', '--', '~~')):
            return None  # POSIX classes and set operations: polars only
        position = token.end()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            re.compile(pattern)
        pl.Series([''], dtype=pl.String).str.contains(pattern)
    except (re.error, Warning, pl.exceptions.PolarsError):
        return None
    return pattern if kind == 'search' else f'^(?:{pattern})'


@dataclass(eq=False)
class DatasetsIndex:
    """Arrays over one materialised datasets frame (sorted by ``eid``, ``id``).

    Attributes
    ----------
    frame
        The frame indexed.
    exists
        The ``exists`` column (null as False).
    qc
        QC ranks (0 NOT_SET ... 4 CRITICAL, 255 for null).
    starts
        First row of each session.
    eids
        The session of each run starting at :attr:`starts`.
    """

    frame: pl.DataFrame
    exists: BoolArray
    qc: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    eids: pl.Series
    uses: int = 0
    _distinct: list[str] | None = field(default=None, repr=False)
    _codes: npt.NDArray[np.uint32] | None = field(default=None, repr=False)
    _paths: list[str] | None = field(default=None, repr=False)
    _luts: OrderedDict[tuple[str, str, str], BoolArray] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def build(cls, frame: pl.DataFrame) -> DatasetsIndex:
        """Index a datasets frame sorted by ``eid`` (blocking; run it in a worker thread)."""
        runs = frame.get_column('eid').rle().struct.unnest()
        lengths = runs.get_column('len').to_numpy().astype(np.int64)
        starts = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths) > 1:
            np.cumsum(lengths[:-1], out=starts[1:])
        return cls(
            frame=frame,
            exists=frame.get_column('exists').fill_null(False).to_numpy().astype(np.bool_),
            qc=qc_codes(frame),
            starts=starts,
            eids=runs.get_column('value'),
        )

    def touch(self) -> None:
        """Count a whole-table query; from the :data:`CODES_AFTER`-th on, rows have codes."""
        with self._lock:
            self.uses += 1
            if self.uses >= CODES_AFTER and self._codes is None:
                self._build_codes()

    @property
    def has_codes(self) -> bool:
        """Whether rows carry path codes (the fast way of spreading answers)."""
        return self._codes is not None

    def _build_codes(self) -> None:
        rel = self.frame.get_column('rel_path').fill_null('')
        categorical = rel.cast(pl.Categorical)
        raw = categorical.to_physical().to_numpy()
        distinct = categorical.unique(maintain_order=True)
        distinct_raw = distinct.to_physical().to_numpy()
        size = int(distinct_raw.max()) + 1 if len(distinct_raw) else 0
        remap = np.zeros(size, dtype=np.uint32)
        remap[distinct_raw] = np.arange(len(distinct_raw), dtype=np.uint32)
        self._codes = remap[raw] if len(raw) else np.zeros(0, dtype=np.uint32)
        self._paths = distinct.cast(pl.String).to_list()
        self._distinct = None

    def _distinct_paths(self) -> list[str]:
        with self._lock:
            if self._paths is not None:
                return self._paths
            if self._distinct is None:
                self._distinct = self.frame.get_column('rel_path').drop_nulls().unique().to_list()
            return self._distinct

    def _lut(self, test: PathMatcher, paths: list[str], coded: bool) -> BoolArray:
        """The test of every distinct path (cached per test and path order)."""
        key = (*test.key, 'codes' if coded else 'distinct')
        with self._lock:
            found = self._luts.get(key)
            if found is not None:
                self._luts.move_to_end(key)
                return found
        table = test.table(paths)
        with self._lock:
            self._luts[key] = table
            while len(self._luts) > _LUT_CACHE:
                self._luts.popitem(last=False)
        return table

    def rows_many(self, tests: list[PathMatcher]) -> list[BoolArray]:
        """The tests of each row's path (polars evaluates several patterns in parallel)."""
        with self._lock:
            codes = self._codes
        patterns = [polars_pattern(*t.key) for t in tests]
        if codes is not None or len(tests) < 2 or any(p is None for p in patterns):
            return [self.rows(t) for t in tests]
        column = pl.col('rel_path')
        found = self.frame.select(
            column.str.contains(p, literal=t.key[1] == 'literal').fill_null(False).alias(f'{i}')
            for i, (p, t) in enumerate(zip(patterns, tests, strict=True))
            if p is not None
        )
        return [s.to_numpy().astype(np.bool_) for s in found.get_columns()]

    def rows(self, test: PathMatcher) -> BoolArray:
        """The test of each row's path."""
        with self._lock:
            codes = self._codes
        if codes is None:
            pattern = polars_pattern(*test.key)
            if pattern is not None:
                rel = self.frame.get_column('rel_path')
                found = rel.str.contains(pattern, literal=test.key[1] == 'literal')
                return found.fill_null(False).to_numpy().astype(np.bool_)
        with self._lock:
            paths = self._distinct_paths()
            codes = self._codes
        lut = self._lut(test, paths, codes is not None)
        if codes is not None:
            return lut[codes]
        matched = [p for p, hit in zip(paths, lut, strict=True) if hit]
        wanted = pl.Series(matched, dtype=pl.String).implode()
        mask = self.frame.get_column('rel_path').is_in(wanted).fill_null(False)
        return mask.to_numpy().astype(np.bool_)

    def any_per_session(self, rows: BoolArray) -> BoolArray:
        """For each session (run), whether any of its rows is true."""
        if len(self.starts) == 0:
            return np.zeros(0, dtype=np.bool_)
        return np.logical_or.reduceat(rows, self.starts)

    def distinct_in_order(self, rows: BoolArray) -> list[str]:
        """The distinct paths of the selected rows, in order of first appearance."""
        with self._lock:
            codes, paths = self._codes, self._paths
        if codes is not None and paths is not None:
            if rows.all():
                return list(paths)
            kept = pl.Series(codes[rows], dtype=pl.UInt32).unique(maintain_order=True)
            return [paths[c] for c in kept.to_numpy()]
        rel = self.frame.get_column('rel_path')
        selected = rel if rows.all() else rel.filter(pl.Series(rows))
        out: list[str] = selected.unique(maintain_order=True).to_list()
        return out
