"""Filtering dataset tables by relative path, QC and revision: ONE's ``filter_datasets``.

The filter of ONE-api 2.9.0 (``one.util.filter_datasets``) is one regular expression built
from the collection, revision and filename arguments and matched against ``rel_path``, a QC
threshold, then optional uniqueness checks and the revision rule ("last revision before",
``default_revision`` when no revision is given).  The same expression is built here (with
Python's :mod:`re`, so that every pattern means exactly what it means in ONE) and evaluated on
polars tables:

* on a whole table, once per *distinct* ``rel_path`` (a few thousand among millions of rows)
  through :class:`~one_async.api.datasets_index.DatasetsIndex`, then gathered per row;
* on a small table (one session), per row with a memo of the paths already seen.

The revision rule runs on the (small) matched rows in plain Python.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from one_async.alf import spec
from one_async.alf.path import rel_path_parts
from one_async.alf.spec import QC
from one_async.cache.schema import QC_LEVELS
from one_async.exceptions import (
    ALFError,
    ALFMultipleCollectionsFound,
    ALFMultipleObjectsFound,
    ALFMultipleRevisionsFound,
    ArgumentTypeError,
    InvalidArgument,
    InvalidPattern,
)

from .terms import ensure_list, validate_qc

__all__ = [
    'DatasetFilter',
    'PathMatcher',
    'apply_filter',
    'build_filter',
    'collection_spec',
    'file_spec',
    'filter_revision_last_before',
    'index_last_before',
    'matcher',
    'qc_mask',
    'revision_of',
]

_logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]

_MEMO_LIMIT: Final = 1 << 16
_NO_QC: Final = 255  # physical code given to a null QC: above every threshold
_REVISION_FOLDER: Final = re.compile('#.*#/')
_OPTIONAL: Final = {'namespace': '?', 'timescale': '?', 'extra': '*'}


def collection_spec(collection: str | None = None, revision: str | None = None) -> str:
    """The collection/revision part of the pattern (ONE's ``_collection_spec``).

    None matches any folder (or none), an empty string matches only its absence, anything
    else requires the folder.
    """
    out = ''
    for value, default in ((collection, '{collection}/'), (revision, '#{revision}#/')):
        if not value:
            default = f'({default})?' if value is None else ''
        out += default
    return out


def file_spec(**parts: Any) -> str:
    """The file name part of the pattern (ONE's ``_file_spec``).

    Parts that are optional in ALF (namespace, timescale, extra) become required when given.
    """
    out = spec.FILE_SPEC
    for key, value in parts.items():
        if key in _OPTIONAL and value is not None:
            i = out.find(key) + len(key)
            i += out[i:].find(_OPTIONAL[key])
            out = out[:i] + out[i:].replace(_OPTIONAL[key], '', 1)
    return out


class PathMatcher:
    """A compiled test on relative paths, with a bounded memo of the paths already tested.

    Parameters
    ----------
    test
        The test of one (non-null) path.
    key
        What identifies the test (used for caching).
    """

    __slots__ = ('_memo', '_test', 'key')

    def __init__(self, test: Callable[[str], bool], key: tuple[str, str]) -> None:
        self._test = test
        self._memo: dict[str, bool] = {}
        self.key = key

    def __call__(self, path: str | None) -> bool:
        if path is None:
            return False
        hit = self._memo.get(path)
        if hit is None:
            hit = self._test(path)
            if len(self._memo) < _MEMO_LIMIT:
                self._memo[path] = hit
        return hit

    def mask(self, paths: Sequence[str | None]) -> BoolArray:
        """The test of each path, as a boolean array."""
        return np.fromiter(map(self, paths), dtype=np.bool_, count=len(paths))

    def table(self, paths: Sequence[str]) -> BoolArray:
        """The test of many distinct paths (no memo: each is tested once)."""
        test = self._test
        return np.fromiter(map(test, paths), dtype=np.bool_, count=len(paths))


def matcher(pattern: str, kind: str = 'match') -> PathMatcher:
    """A cached :class:`PathMatcher` for a pattern.

    ``kind`` is ``'match'`` (``re.match``, ONE's ``str.match``), ``'search'`` (``re.search``,
    ``str.contains``), ``'literal'`` (substring, ``str.contains(regex=False)``) or ``'name'``
    (``re.fullmatch`` of the file name, ONE 3.x's ``datasets`` search term).

    Raises
    ------
    InvalidPattern
        The pattern does not compile.
    ArgumentTypeError
        The pattern is not a str.
    """
    if not isinstance(pattern, str):
        raise ArgumentTypeError(f'Patterns must be str, not {pattern!r}', value=pattern)
    return _matcher(pattern, kind)


@lru_cache(maxsize=128)
def _matcher(pattern: str, kind: str) -> PathMatcher:
    if kind == 'literal':
        return PathMatcher(lambda p: pattern in p, (pattern, kind))
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidPattern(f'Invalid pattern "{pattern}": {exc}', value=pattern) from None
    if kind == 'match':
        match = compiled.match
        return PathMatcher(lambda p: match(p) is not None, (pattern, kind))
    if kind == 'search':
        search = compiled.search
        return PathMatcher(lambda p: search(p) is not None, (pattern, kind))
    if kind == 'name':
        full = compiled.fullmatch
        return PathMatcher(lambda p: full(p.rsplit('/', 1)[-1]) is not None, (pattern, kind))
    raise InvalidArgument(f'Unknown matcher kind "{kind}"', value=kind)


@dataclass(frozen=True)
class DatasetFilter:
    """A compiled ``filter_datasets`` call (see :func:`build_filter`)."""

    path: PathMatcher
    qc: QC
    ignore_qc_not_set: bool
    revision: str | None
    revision_last_before: bool
    assert_unique: bool
    has_filename: bool


def _translated(value: Any, wildcards: bool) -> str:
    if wildcards:
        return '|'.join(fnmatch.translate(x).replace('\\Z', '') for x in ensure_list(value))
    return value if isinstance(value, str) else '|'.join(value)


def build_filter(
    filename: Any = None,
    collection: Any = None,
    revision: Any = None,
    revision_last_before: bool = True,
    qc: Any = QC.FAIL,
    ignore_qc_not_set: bool = False,
    assert_unique: bool = True,
    wildcards: bool = False,
) -> DatasetFilter:
    """Compile the arguments of ONE's ``filter_datasets`` into a :class:`DatasetFilter`.

    ``filename`` is a str, a list of them (any matches) or a dict of ALF parts; ``collection``
    and ``revision`` a str or list.  With ``wildcards`` the values are shell patterns
    (``fnmatch``), otherwise regular expressions.  With ``revision_last_before`` the revision
    is not matched as a pattern but chosen by :func:`filter_revision_last_before`.

    Raises
    ------
    InvalidArgument
        An unknown ALF part, a bad QC value, or a pattern that does not compile
        (:class:`~one_async.exceptions.InvalidPattern`).
    ArgumentTypeError
        A pattern that is not a str.
    """
    try:
        return _build(
            filename,
            collection,
            revision,
            revision_last_before,
            qc,
            ignore_qc_not_set,
            assert_unique,
            wildcards,
        )
    except (TypeError, AttributeError) as exc:
        if isinstance(exc, ArgumentTypeError):
            raise
        value = {'filename': filename, 'collection': collection, 'revision': revision}
        raise ArgumentTypeError(f'Invalid dataset filter {value}: {exc}', value=value) from None


def _build(
    filename: Any,
    collection: Any,
    revision: Any,
    revision_last_before: bool,
    qc: Any,
    ignore_qc_not_set: bool,
    assert_unique: bool,
    wildcards: bool,
) -> DatasetFilter:
    filename = filename or {}
    args: dict[str, Any] = {'collection': collection}
    spec_str = collection_spec(collection, None if revision_last_before else revision)
    if isinstance(filename, dict):
        spec_str += file_spec(**filename)
        args.update(filename)
        has_filename = bool(filename)
    else:
        names = [fnmatch.translate(x) if wildcards else x + '$' for x in ensure_list(filename)]
        spec_str += '|'.join(names)
        has_filename = bool(names)
    if not revision_last_before:
        args['revision'] = revision
    patterns = {k: _translated(v, wildcards) for k, v in args.items() if v is not None}
    try:
        compiled = spec.regex('^' + spec_str, **patterns)
    except InvalidArgument:
        raise  # an unknown ALF part
    except (re.error, ValueError, KeyError, IndexError) as exc:
        source = '^' + spec_str
        raise InvalidPattern(f'Invalid dataset pattern "{source}": {exc}', value=source) from None
    return DatasetFilter(
        path=matcher(compiled.pattern, 'match'),
        qc=validate_qc(qc),
        ignore_qc_not_set=ignore_qc_not_set,
        revision=revision,
        revision_last_before=revision_last_before,
        assert_unique=assert_unique,
        has_filename=has_filename,
    )


def qc_codes(frame: pl.DataFrame) -> npt.NDArray[np.uint8]:
    """The QC outcomes of a table as their rank (0 NOT_SET ... 4 CRITICAL; null -> 255)."""
    return frame.get_column('qc').to_physical().fill_null(_NO_QC).to_numpy().astype(np.uint8)


def qc_mask(codes: npt.NDArray[np.uint8], qc: QC, ignore_qc_not_set: bool) -> BoolArray:
    """Rows whose QC is at or below ``qc`` (and set, with ``ignore_qc_not_set``)."""
    mask: BoolArray = codes <= QC_LEVELS.index(qc.name)
    if ignore_qc_not_set:
        mask &= codes != 0
    return mask


def apply_filter(frame: pl.DataFrame, filt: DatasetFilter, *, has_default: bool) -> pl.DataFrame:
    """Filter a (small) datasets table as ONE's ``filter_datasets`` does.

    Rows keep their order unless the revision rule runs, whose result is ordered by dataset
    (``rel_path`` without its revision folder) and gains a ``revision`` column.

    Parameters
    ----------
    frame
        Datasets rows (canonical columns).
    filt
        The compiled filter.
    has_default
        Whether the table has a ``default_revision`` column in ONE's view of it (tables of old
        layouts do not, and the latest revision is then used).

    Raises
    ------
    ALFMultipleCollectionsFound, ALFMultipleObjectsFound, ALFMultipleRevisionsFound, ALFError
        (``assert_unique``) The match is ambiguous, as in ONE.
    ALFInvalid
        A matched ``rel_path`` is not a valid ALF path (when the revision rule needs its parts).
    """
    if frame.height == 0:
        return frame
    paths = frame.get_column('rel_path').to_list()
    mask = filt.path.mask(paths) & qc_mask(qc_codes(frame), filt.qc, filt.ignore_qc_not_set)
    match = frame if mask.all() else frame.filter(pl.Series(mask))
    return finish_filter(match, filt, has_default=has_default)


def revision_of(rel_path: str) -> str:
    """The revision of a (valid) relative path, '' without one (raises ALFInvalid if invalid)."""
    return rel_path_parts(rel_path)[1] or ''


def finish_filter(match: pl.DataFrame, filt: DatasetFilter, *, has_default: bool) -> pl.DataFrame:
    """The uniqueness checks and revision rule of ``filter_datasets`` on matched rows."""
    if match.height == 0 or not (filt.revision_last_before or filt.assert_unique):
        return match
    paths = match.get_column('rel_path').to_list()
    parts = [rel_path_parts(p) for p in paths]
    revisions = [p[1] or '' for p in parts]
    if filt.assert_unique:
        collections = sorted({p[0] or '' for p in parts})
        if len(collections) > 1:
            raise ALFMultipleCollectionsFound(*collections, value=collections)
        if not filt.revision_last_before:
            if filt.has_filename and match.height > 1:
                raise ALFMultipleObjectsFound(*paths, value=paths)
            if len(set(revisions)) > 1:
                found = sorted(set(revisions))
                raise ALFMultipleRevisionsFound(*found, value=found)
            return match
        if filt.has_filename and len(set(revisions)) != len(revisions):
            raise ALFMultipleObjectsFound(*paths, value=paths)
    return _last_before(match, paths, revisions, filt.revision, filt.assert_unique, has_default)


def filter_revision_last_before(
    datasets: pl.DataFrame,
    revision: str | None = None,
    assert_unique: bool = True,
    *,
    has_default: bool = True,
) -> pl.DataFrame:
    """One row per dataset: its revision ``revision`` or the last one before it.

    Without ``revision`` the row marked ``default_revision`` is chosen (the latest revision
    when the table has no such column, or when none is marked and ``assert_unique`` is false).
    The result is ordered by dataset and has a ``revision`` column, as in ONE.

    Raises
    ------
    ALFMultipleRevisionsFound
        (``assert_unique``) Several default revisions, or several revisions when one is given.
    ALFError
        (``assert_unique``) No default revision among several.
    """
    if datasets.height == 0:
        return datasets.with_columns(pl.lit(None, dtype=pl.String).alias('revision'))
    paths = datasets.get_column('rel_path').to_list()
    revisions = [revision_of(p) for p in paths]
    return _last_before(datasets, paths, revisions, revision, assert_unique, has_default)


def _last_before(
    frame: pl.DataFrame,
    paths: list[str],
    revisions: list[str],
    revision: str | None,
    assert_unique: bool,
    has_default: bool,
) -> pl.DataFrame:
    groups: OrderedDict[str, list[int]] = OrderedDict()
    for i, path in enumerate(paths):
        groups.setdefault(_REVISION_FOLDER.sub('', path), []).append(i)
    defaults: list[Any] = frame.get_column('default_revision').to_list() if has_default else []
    chosen: list[int] = []
    unchanged = True
    for key in sorted(groups):
        rows = groups[key]
        pick = _pick(rows, paths, revisions, defaults, revision, assert_unique, has_default)
        if pick is not None:
            chosen.append(pick)
        unchanged &= rows == [pick]
    if unchanged:
        # pandas' groupby-apply keeps the original row order when every dataset kept its only
        # row, and orders by dataset otherwise; ONE's results inherit that order.
        chosen.sort()
    out = frame[chosen]
    return out.with_columns(pl.Series('revision', [revisions[i] for i in chosen], pl.String))


def _pick(
    rows: list[int],
    paths: list[str],
    revisions: list[str],
    defaults: list[Any],
    revision: str | None,
    assert_unique: bool,
    has_default: bool,
) -> int | None:
    """ONE's ``_last_before`` on the rows of one dataset: the chosen row, or None."""
    if revision is None and has_default:
        marked = [i for i in rows if defaults[i]]
        if assert_unique and len(marked) > 1:
            found = [revisions[i] for i in marked]
            raise ALFMultipleRevisionsFound(*found, value=found)
        if len(marked) == 1:
            return marked[0]
        if len(rows) == 1:
            return rows[0]
        name = paths[rows[0]]
        if assert_unique:
            raise ALFError(f'No default revision for dataset {name}', value=name)
        _logger.warning('No default revision for dataset %s; using most recent', name)
    group_revisions = [revisions[i] for i in rows]
    if assert_unique and len(set(group_revisions)) > 1:
        found = list(dict.fromkeys(group_revisions))
        raise ALFMultipleRevisionsFound(*found, value=found)
    index = index_last_before(group_revisions, revision)
    return None if index is None else rows[index]


def index_last_before(revisions: Sequence[str], revision: str | None) -> int | None:
    """Index of the revision at or lexicographically before ``revision`` (latest if None).

    Of equal revisions the first is chosen; None when every revision is after ``revision``.
    """
    if not revisions:
        return None
    if revision is None:
        return revisions.index(max(revisions))
    before = [r for r in revisions if r <= revision]
    return revisions.index(max(before)) if before else None
