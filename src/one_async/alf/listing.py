"""Finding ALF datasets on disk: folder listing, filtering by name parts, sessions, variants.

Mirrors the search half of ONE-api's ``one.alf.io`` (``filter_by``, ``iter_sessions``,
``iter_datasets``, ``find_variants``).  A folder is listed once per call (one ``scandir``) and
filter patterns are compiled once per call, not once per file, so that scanning many sessions
stays cheap.  Unlike ONE 2.9.0 (like 3.6.1) folders are never taken for datasets, and results
come in lexicographic order rather than the file system's.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import Any, Final, TypeAlias

from one_async.alf import path as alf_path
from one_async.alf import spec
from one_async.alf.formats import StrPath
from one_async.exceptions import ArgumentTypeError, InvalidArgument

__all__ = [
    'PARTS',
    'FilterValue',
    'filter_by',
    'filter_names',
    'find_variants',
    'iter_datasets',
    'iter_sessions',
    'list_files',
    'parse_name',
]

FilterValue: TypeAlias = 'str | Sequence[str | None] | None'
"""A filter on one name part: a pattern, a list of patterns (any may match) or None."""

DatasetParts: TypeAlias = tuple[str | None, ...]
"""(namespace, object, attribute, timescale, extra, extension) of a dataset file name."""

_FILE_RE: Final = spec.regex(spec.FILE_SPEC)
PARTS: Final[tuple[str, ...]] = tuple(_FILE_RE.groupindex)
"""The name parts of an ALF dataset file, in order: namespace ... extension."""

_Matcher: TypeAlias = Callable[[str | None], bool]


def parse_name(name: str) -> DatasetParts | None:
    """Return the ALF parts of a dataset file name, or None if it is not a valid ALF name."""
    m = _FILE_RE.match(name)
    return None if m is None else m.groups()


def list_files(folder: StrPath) -> list[str]:
    """Return the sorted names of the non-folder entries of ``folder`` (one directory scan)."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if not e.is_dir())


def _compile(pattern: str, wildcards: bool) -> re.Pattern[str]:
    try:
        return re.compile(fnmatch.translate(pattern) if wildcards else pattern)
    except re.error as ex:
        raise InvalidArgument(f'Invalid filter pattern {pattern!r}: {ex}', value=pattern) from ex


def _matcher(part: str, pattern: Any, wildcards: bool) -> _Matcher:
    """Build the test of one name part against one filter value, with ONE's semantics.

    None matches only a missing part, and a missing part matches only None.  ``extra`` is
    matched by membership: every requested element must be one of the file's dot-separated
    extra parts (no wildcards).  Otherwise a str is a shell pattern (``wildcards``) matched
    in full, or a regular expression matched at the start; a list matches if any element does.
    """
    if pattern is None:
        return lambda value: value is None
    if part == 'extra':
        wanted = pattern.split('.') if isinstance(pattern, str) else list(pattern)
        wanted = [w for w in wanted if w]
        return lambda value: value is not None and all(w in value.split('.') for w in wanted)
    if isinstance(pattern, str):
        compiled = _compile(pattern, wildcards)
        return lambda value: value is not None and compiled.match(value) is not None
    if not isinstance(pattern, Iterable):
        raise ArgumentTypeError(
            f'Filter {part}={pattern!r} must be a str, a list of str or None', value=pattern
        )
    options = list(pattern)
    if wildcards:
        tests = [_matcher(part, p, wildcards) for p in options]
        return lambda value: value is not None and any(test(value) for test in tests)
    if not all(isinstance(p, str) for p in options):
        raise ArgumentTypeError(
            f'Filter {part}={pattern!r}: regular expressions must be str', value=pattern
        )
    compiled = _compile('|'.join(options), wildcards=False)
    return lambda value: value is not None and compiled.match(value) is not None


def _matchers(wildcards: bool, filters: dict[str, Any]) -> list[tuple[int, _Matcher]]:
    unknown = sorted(filters.keys() - set(PARTS))
    if unknown:
        raise ArgumentTypeError(
            f'filter_by() got an unexpected keyword argument "{unknown[0]}"; '
            f'ALF parts are {", ".join(PARTS)}',
            value=unknown[0],
        )
    return [(PARTS.index(k), _matcher(k, v, wildcards)) for k, v in filters.items()]


def filter_names(
    names: Iterable[str], wildcards: bool = True, **kwargs: Any
) -> tuple[list[str], list[DatasetParts]]:
    """Filter file names by their ALF parts (see :func:`filter_by`); invalid names are dropped."""
    tests = _matchers(wildcards, kwargs)
    kept: list[str] = []
    kept_parts: list[DatasetParts] = []
    for name in names:
        parts = parse_name(name)
        if parts is not None and all(test(parts[i]) for i, test in tests):
            kept.append(name)
            kept_parts.append(parts)
    return kept, kept_parts


def filter_by(
    alf_path: StrPath, wildcards: bool = True, **kwargs: Any
) -> tuple[list[str], list[DatasetParts]]:
    """List the ALF dataset files of a folder whose name parts match all the filters.

    Parameters
    ----------
    alf_path
        The folder (not searched recursively).
    wildcards
        Match filters as shell patterns (``fnmatch``, whole part) when true, as regular
        expressions (``re.match``, from the start) when false.
    **kwargs
        Filters on ``namespace``, ``object``, ``attribute``, ``timescale``, ``extra`` or
        ``extension``: a pattern, a list of patterns (any may match; under ``wildcards=False``
        they are joined with ``|``), or None for files without that part.  ``extra`` is a
        dot-separated str or list of elements that must all be among the file's extra parts.

    Returns
    -------
    list of str
        The matching file names, sorted.
    list of tuple
        Their parts (namespace, object, attribute, timescale, extra, extension).

    Raises
    ------
    ArgumentTypeError
        A keyword is not an ALF part, or a filter is not a str, list or None.
    InvalidArgument
        A pattern is not a valid regular expression.
    FileNotFoundError
        The folder does not exist.

    Examples
    --------
    >>> filter_by(alf_path, object='wh*', timescale=None)
    >>> filter_by(alf_path, attribute=['intervals', 'timestamps'])
    >>> filter_by(alf_path, object='^wheel.*', wildcards=False)
    """
    return filter_names(list_files(alf_path), wildcards, **kwargs)


def iter_sessions(root_dir: StrPath, pattern: str = '*') -> Iterator[Path]:
    """Yield the session folders under ``root_dir`` (itself included), in lexicographic order.

    Parameters
    ----------
    root_dir
        The folder to search.
    pattern
        Glob pattern of the folders to consider, relative to any depth; a specific pattern
        (e.g. ``'*/Subjects/*/????-??-??/*'``) avoids walking the whole tree.
    """
    root = Path(root_dir)
    if spec.is_session_path(root):
        yield root
    for path in sorted(root.rglob(pattern)):
        if spec.is_session_path(path) and path.is_dir():
            yield path


def iter_datasets(session_path: StrPath) -> Iterator[Path]:
    """Yield the ALF dataset files under a folder, relative to it, in lexicographic order."""
    root = Path(session_path)
    for path in sorted(root.rglob('*.*')):
        if _FILE_RE.match(path.name) is not None and not path.is_dir():
            yield path.relative_to(root)


_SESSION_PARTS: Final = ('lab', 'subject', 'date', 'number', 'collection', 'object', 'attribute')


def find_variants(
    file_list: Iterable[StrPath],
    namespace: bool = True,
    timescale: bool = True,
    extra: bool = True,
    extension: bool = True,
) -> dict[Path, list[Path]]:
    """Find the other versions on disk of each dataset: same name in other revision folders.

    A dataset is identified by its session, collection, object and attribute, and, unless the
    matching flag is false, namespace, timescale, extra parts and extension.  Files with the
    same identity in the collection folder or any of its ``#revision#`` sub-folders are
    variants.

    Parameters
    ----------
    file_list
        Full ALF paths of datasets (session path included).
    namespace, timescale, extra, extension
        Treat files that differ in this part as different datasets (true) or as variants.

    Returns
    -------
    dict
        Each input path mapped to its variants (itself excluded), sorted.

    Raises
    ------
    ALFInvalid
        An input path is not a full ALF dataset path.
    """
    flags = {'namespace': namespace, 'timescale': timescale, 'extra': extra}
    flags['extension'] = extension
    keys = (*_SESSION_PARTS, *(k for k, on in flags.items() if on))

    def identity(file: Path) -> tuple[Any, ...] | None:
        parts = alf_path.full_path_parts(file, as_dict=True, assert_valid=False)
        if parts['object'] is None:
            return None
        return tuple(parts[k] for k in keys)

    variants: dict[Path, list[Path]] = {}
    for file in map(Path, file_list):
        parts = alf_path.full_path_parts(file, as_dict=True)
        wanted = tuple(parts[k] for k in keys)
        folder = alf_path.without_revision(file).parent
        glob = (
            f'*{fnmatch_escape(str(parts["object"]))}.{fnmatch_escape(str(parts["attribute"]))}*'
        )
        found = chain(folder.glob(glob), folder.glob('#*#/' + glob))
        variants[file] = sorted(
            p for p in found if p != file and p.is_file() and identity(p) == wanted
        )
    return variants


def fnmatch_escape(text: str) -> str:
    """Escape the shell-pattern metacharacters of a literal name part."""
    return re.sub(r'([*?[])', r'[\1]', text)
