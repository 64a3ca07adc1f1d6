"""Whole-table query support: the datasets table as codes of its distinct relative paths.

A datasets table of millions of rows has only thousands of distinct ``rel_path`` values, so a
path pattern (ONE's regular expressions, which need Python's :mod:`re`) is tested once per
distinct value and the answers are gathered per row with numpy.  The index also keeps the
``exists`` flags, the QC ranks and the session boundaries (the table is sorted by ``eid``) as
arrays, so that a per-session "any dataset matches" is one ``reduceat``.

An index belongs to one materialised frame; it is rebuilt when the table changes.  Building it
costs a few tens of milliseconds per million rows, in the worker thread of the first query
that needs it.
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

__all__ = ['DatasetsIndex']

_LUT_CACHE: Final = 16


@dataclass(eq=False)
class DatasetsIndex:
    """Arrays over one materialised datasets frame (sorted by ``eid``, ``id``).

    Attributes
    ----------
    frame
        The frame indexed.
    codes
        Per row, the position of its ``rel_path`` in :attr:`paths`.
    paths
        The distinct relative paths, in order of first appearance.
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
    codes: npt.NDArray[np.uint32]
    paths: list[str]
    exists: npt.NDArray[np.bool_]
    qc: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]
    eids: pl.Series
    _luts: OrderedDict[tuple[str, str], npt.NDArray[np.bool_]] = field(
        default_factory=OrderedDict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, frame: pl.DataFrame) -> DatasetsIndex:
        """Index a datasets frame sorted by ``eid`` (blocking; run it in a worker thread)."""
        rel = frame.get_column('rel_path').fill_null('')
        categorical = rel.cast(pl.Categorical)
        raw = categorical.to_physical().to_numpy()
        distinct = categorical.unique(maintain_order=True)
        distinct_raw = distinct.to_physical().to_numpy()
        size = int(distinct_raw.max()) + 1 if len(distinct_raw) else 0
        remap = np.zeros(size, dtype=np.uint32)
        remap[distinct_raw] = np.arange(len(distinct_raw), dtype=np.uint32)
        codes = remap[raw] if len(raw) else np.zeros(0, dtype=np.uint32)
        runs = frame.get_column('eid').rle().struct.unnest()
        lengths = runs.get_column('len').to_numpy().astype(np.int64)
        starts = np.zeros(len(lengths), dtype=np.int64)
        if len(lengths) > 1:
            np.cumsum(lengths[:-1], out=starts[1:])
        return cls(
            frame=frame,
            codes=codes,
            paths=distinct.cast(pl.String).to_list(),
            exists=frame.get_column('exists').fill_null(False).to_numpy().astype(np.bool_),
            qc=qc_codes(frame),
            starts=starts,
            eids=runs.get_column('value'),
        )

    def lut(self, test: PathMatcher) -> npt.NDArray[np.bool_]:
        """The test of every distinct path (cached per test)."""
        with self._lock:
            found = self._luts.get(test.key)
            if found is not None:
                self._luts.move_to_end(test.key)
                return found
        table = test.table(self.paths)
        with self._lock:
            self._luts[test.key] = table
            while len(self._luts) > _LUT_CACHE:
                self._luts.popitem(last=False)
        return table

    def rows(self, test: PathMatcher) -> npt.NDArray[np.bool_]:
        """The test of each row's path."""
        return self.lut(test)[self.codes]

    def any_per_session(self, rows: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """For each session (run), whether any of its rows is true."""
        if len(self.starts) == 0:
            return np.zeros(0, dtype=np.bool_)
        return np.logical_or.reduceat(rows, self.starts)

    def first_paths(self, rows: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.uint32]:
        """Codes of the distinct paths of the selected rows, in order of first appearance."""
        if rows is None:
            return np.arange(len(self.paths), dtype=np.uint32)
        kept = self.codes[rows]
        unique = pl.Series(kept, dtype=pl.UInt32).unique(maintain_order=True)
        return unique.to_numpy()
