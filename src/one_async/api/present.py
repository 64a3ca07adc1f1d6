"""The shape of results: ONE-api 2.9.0's columns, in its order, as polars tables and dicts.

ONE reads a table with pandas, sets its index (``id``, or ``eid`` and ``id``) and patches old
layouts (``project`` renamed, a ``qc`` column added), so the columns it returns depend on the
file.  :class:`ResultShape` computes that column list from the file's stored schema, and
results are given in it:

* a pandas DataFrame of ONE becomes a polars DataFrame whose first columns are ONE's index
  levels (``id`` for one session's datasets, ``eid``/``id`` otherwise), then ONE's columns;
* a pandas Series (one record) becomes a dict of ONE's columns (``Series.to_dict()``);
* columns one_async fills in that ONE would not have (``default_revision`` of old layouts) are
  left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from one_async.cache.metadata import parse_version
from one_async.cache.parquet import TableInfo
from one_async.exceptions import CacheTableError

__all__ = ['DATASETS_INDEX', 'SESSION_INDEX', 'ResultShape', 'one_columns']

SESSION_INDEX: Final = ('id',)
DATASETS_INDEX: Final = ('eid', 'id')

_EMPTY: Final = {
    'sessions': ('lab', 'subject', 'date', 'number', 'task_protocol', 'projects'),
    'datasets': ('session_path', 'rel_path', 'file_size', 'hash', 'exists', 'qc'),
}
_INDEX_NAME: Final = re.compile('.?id')


def one_columns(name: str, info: TableInfo | None) -> tuple[str, ...]:
    """The non-index columns ONE-api 2.9.0 has for table ``name`` read from ``info``'s file.

    Without a file, the columns of ONE's empty tables.
    """
    if info is None:
        return _EMPTY.get(name, ())
    stored = list(info.schema)
    index = [c for c in info.index_columns if c in stored]
    if not index:
        index = [c for c in stored if _INDEX_NAME.search(c)]
    columns = [c for c in stored if c not in index and not c.startswith('__index_level_')]
    try:
        version = parse_version(info.meta.get('min_api_version'))
    except CacheTableError:
        version = (0,)
    if version < (1, 13) and 'project' in columns and 'projects' not in columns:
        columns[columns.index('project')] = 'projects'
    if name == 'datasets' and version < (2, 7) and 'qc' not in columns:
        columns.append('qc')
    return tuple(columns)


@dataclass(frozen=True)
class ResultShape:
    """ONE's columns of the sessions and datasets tables of one cache."""

    sessions: tuple[str, ...]
    datasets: tuple[str, ...]

    @classmethod
    def of(cls, sessions: TableInfo | None, datasets: TableInfo | None) -> ResultShape:
        """The shape of tables read from these files."""
        return cls(one_columns('sessions', sessions), one_columns('datasets', datasets))

    @property
    def has_default_revision(self) -> bool:
        """Whether ONE sees a ``default_revision`` column (it picks the latest one without)."""
        return 'default_revision' in self.datasets

    def dataset_table(
        self, frame: pl.DataFrame, index: Sequence[str] = DATASETS_INDEX, extra: Sequence[str] = ()
    ) -> pl.DataFrame:
        """A datasets result table: index columns, ONE's columns, then ``extra`` columns."""
        return _select(frame, [*index, *self.datasets, *extra])

    def session_table(self, frame: pl.DataFrame) -> pl.DataFrame:
        """A sessions result table: ``id`` then ONE's columns."""
        return _select(frame, [*SESSION_INDEX, *self.sessions])

    def session_records(self, frame: pl.DataFrame) -> list[dict[str, Any]]:
        """Session rows as dicts of ONE's columns (no ``id``: ONE drops its index)."""
        return _select(frame, self.sessions).to_dicts()

    def dataset_records(
        self, frame: pl.DataFrame, index: Sequence[str] = (), extra: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Dataset rows as dicts: ``index`` columns, ONE's columns, then ``extra`` ones."""
        return _select(frame, [*index, *self.datasets, *extra]).to_dicts()


def _select(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    present = set(frame.columns)
    wanted = list(dict.fromkeys(c for c in columns if c in present))
    return frame if wanted == frame.columns else frame.select(wanted)
