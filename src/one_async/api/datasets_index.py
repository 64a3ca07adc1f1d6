"""Whole-table query support: the datasets table seen through its distinct relative paths.

A datasets table of millions of rows has only thousands of distinct ``rel_path`` values, so a
path pattern (ONE's regular expressions, which need Python's :mod:`re`) is tested once per
distinct value, and the answers are spread over the rows.  The index also keeps the ``exists``
flags, the QC ranks and the session boundaries (the table is sorted by ``eid``) as arrays, so
that "a session has a matching dataset" is one ``reduceat``.

Spreading answers over the rows works in two ways.  The first whole-table query on a table
uses ``is_in`` on the matching paths (no preparation).  From the second query on, each row
carries the code of its path (built once, a few tens of milliseconds per million rows), and
answers are gathered by code with numpy, several times faster.

An index belongs to one materialised frame; it is rebuilt when the table changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from .filters import PathMatcher, qc_codes

__all__ = ['CODES_AFTER', 'DatasetsIndex']

CODES_AFTER: Final = 2
"""Whole-table queries on a table after which rows get path codes."""

_LUT_CACHE: Final = 16

BoolArray = npt.NDArray[np.bool_]


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

    def rows(self, test: PathMatcher) -> BoolArray:
        """The test of each row's path."""
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
