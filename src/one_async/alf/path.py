"""Parse, validate and rebuild ALF paths, and the ``ALFPath`` pathlib classes.

A dataset path reads
``(lab/Subjects/)subject/date/number/(collection/)(#revision#/)(_namespace_)object.attribute(_timescale)(.extra).ext``.
The ``*_parts`` functions split a path into these parts (a tuple, or a dict with ``as_dict``)
and raise :class:`~one_async.exceptions.ALFInvalid` when it does not follow the specification
(or return Nones with ``assert_valid=False``).  :class:`ALFPath` and :class:`PureALFPath` are
pathlib paths with the same parsing as properties and ``with_*`` methods to replace parts.

Names and results mirror ONE-api 3.x ``one.alf.path`` (``one.alf.files`` in 2.x).  The
patterns are compiled once at import: these functions run per dataset on tables of millions of
rows.  Deliberate differences from ONE 3.6.1:

- errors are typed (``ALFInvalid``, ``InvalidArgument``, ``ArgumentTypeError``) where ONE raises
  a bare ValueError, or an AttributeError/IndexError on some malformed paths;
- ``get_session_path`` never pairs the first folder with the last one (ONE reads
  '123/2020-01-01' as the session '123');
- ``session_path_short(include_lab=True)`` without a lab gives 'subject/date/number', not
  '/subject/date/number';
- ``ALFPath.iter_datasets`` yields ALF datasets only (ONE yields any file matching '*.*.*');
- parsing functions return plain dicts (ordered) where ONE returns OrderedDicts.
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, Final, Literal, TypeVar, cast, overload

from one_async.alf import spec
from one_async.alf.spec import COLLECTION_SPEC, FILE_SPEC, REL_PATH_SPEC, SESSION_SPEC
from one_async.exceptions import ALFInvalid, ArgumentTypeError, InvalidArgument

__all__ = [
    'ALFPath',
    'PosixALFPath',
    'PureALFPath',
    'PurePosixALFPath',
    'PureWindowsALFPath',
    'WindowsALFPath',
    'add_uuid_string',
    'ensure_alf_path',
    'filename_parts',
    'folder_parts',
    'full_path_parts',
    'get_alf_path',
    'get_session_path',
    'padded_sequence',
    'rel_path_parts',
    'remove_uuid_string',
    'session_path_parts',
    'without_revision',
]

_logger = logging.getLogger(__name__)

StrPath = str | pathlib.PurePath
"""A path given as a string or a pathlib object."""
Parts = tuple[str | None, ...]
"""Parsed parts in path order, None for a part that is absent."""
PartsDict = dict[str, str | None]
"""Parsed parts by name, None for a part that is absent."""

_P = TypeVar('_P', bound=pathlib.PurePath)
_PA = TypeVar('_PA', bound='PureALFPath')
_POSIX: Final = os.name != 'nt'


def _as_posix(path: object) -> str:
    """Return ``path`` as a POSIX string (pathlib objects) or itself (str)."""
    if isinstance(path, str):
        return path
    as_posix = getattr(path, 'as_posix', None)
    if as_posix is None:
        raise ArgumentTypeError(f'expected a str or pathlib path, not {path!r}', value=path)
    return str(as_posix())


class _Parser:
    """One compiled spec: parses a string into its named parts, like ONE's ``_path_parts``."""

    __slots__ = ('_find', '_named_only', '_names', '_nones')

    def __init__(self, spec_str: str, match: bool) -> None:
        pattern = spec.regex(spec_str)
        self._find: Callable[[str], re.Match[str] | None] = (
            pattern.match if match else pattern.search
        )
        self._names = tuple(pattern.groupindex)
        self._named_only = pattern.groups == len(self._names)
        self._nones: Parts = (None,) * len(self._names)

    def empty(self, as_dict: bool) -> Parts | PartsDict:
        return dict.fromkeys(self._names) if as_dict else self._nones

    def __call__(self, path: object, as_dict: bool, assert_valid: bool) -> Parts | PartsDict:
        string = path if isinstance(path, str) else _as_posix(path)
        found = self._find(string)
        if found is not None:
            if as_dict:
                return found.groupdict()
            return found.groups() if self._named_only else tuple(found.groupdict().values())
        if assert_valid:
            raise ALFInvalid(f'Invalid ALF: "{string}"', value=string)
        return dict.fromkeys(self._names) if as_dict else self._nones


@lru_cache(maxsize=256)
def _parser(spec_str: str, match: bool) -> _Parser:
    return _Parser(spec_str, match)


def _path_parts(
    path: StrPath,
    spec_str: str,
    match: bool = True,
    as_dict: bool = False,
    assert_valid: bool = True,
) -> Parts | PartsDict:
    """Parse ``path`` with any spec string (``match`` anchors it at the start, else search)."""
    return _parser(spec_str, match)(path, as_dict, assert_valid)


_FILE: Final = _Parser(FILE_SPEC, match=True)
_REL_PATH: Final = _Parser(REL_PATH_SPEC, match=True)
_SESSION: Final = _Parser(SESSION_SPEC, match=False)
_FOLDER: Final = _Parser(f'{SESSION_SPEC}/{COLLECTION_SPEC}', match=False)
_SESSION_RE: Final = spec.regex(SESSION_SPEC)
_REL_PATH_RE: Final = spec.regex(REL_PATH_SPEC)
_FILE_RE: Final = spec.regex(FILE_SPEC)
_LAB_SUBJECTS_RE: Final = spec.regex('{lab}/Subjects/')
_SUBJECT_DATE_NUMBER_RE: Final = spec.regex('{subject}/{date}/{number}')
_SESSION_COLLECTION_RE: Final = spec.regex('{subject}/{date}/{number}/' + COLLECTION_SPEC)
_COLLECTION_ONLY_RE: Final = spec.regex(f'^{COLLECTION_SPEC}$')
_NAMESPACE_OBJECT_RE: Final = spec.regex(FILE_SPEC.split('\\.')[0])
_ATTRIBUTE_TIMESCALE_RE: Final = spec.regex('{attribute}(?:_{timescale})?')
_REVISION_FOLDER_RE: Final = spec.regex('^#{revision}#$')
_REVISION: Final = _Parser('^{revision}$', match=True)
_PART_RE: Final = {
    part: spec.regex(f'^{{{part}}}$')
    for part in ('lab', 'subject', 'date', 'number', 'collection', 'extension')
}


# --- parsing functions --------------------------------------------------------------------


@overload
def rel_path_parts(
    rel_path: StrPath, as_dict: Literal[False] = ..., assert_valid: bool = ...
) -> Parts: ...
@overload
def rel_path_parts(
    rel_path: StrPath, as_dict: Literal[True], assert_valid: bool = ...
) -> PartsDict: ...
@overload
def rel_path_parts(
    rel_path: StrPath, as_dict: bool, assert_valid: bool = ...
) -> Parts | PartsDict: ...
def rel_path_parts(
    rel_path: StrPath, as_dict: bool = False, assert_valid: bool = True
) -> Parts | PartsDict:
    """Parse a path relative to the session: ``(collection/)(#revision#/)filename``.

    Returns (collection, revision, namespace, object, attribute, timescale, extra, extension),
    or a dict of them with ``as_dict``.

    Raises
    ------
    ALFInvalid
        The path does not match and ``assert_valid`` is true (otherwise all parts are None).
    """
    return _REL_PATH(rel_path, as_dict, assert_valid)


@overload
def session_path_parts(
    session_path: StrPath, as_dict: Literal[False] = ..., assert_valid: bool = ...
) -> Parts: ...
@overload
def session_path_parts(
    session_path: StrPath, as_dict: Literal[True], assert_valid: bool = ...
) -> PartsDict: ...
@overload
def session_path_parts(
    session_path: StrPath, as_dict: bool, assert_valid: bool = ...
) -> Parts | PartsDict: ...
def session_path_parts(
    session_path: StrPath, as_dict: bool = False, assert_valid: bool = True
) -> Parts | PartsDict:
    """Find the session in a path and return (lab, subject, date, number).

    The session may sit anywhere in the path (the first match is returned).

    Raises
    ------
    ALFInvalid
        No session found and ``assert_valid`` is true (otherwise all parts are None).
    """
    return _SESSION(session_path, as_dict, assert_valid)


@overload
def filename_parts(
    filename: StrPath, as_dict: Literal[False] = ..., assert_valid: bool = ...
) -> Parts: ...
@overload
def filename_parts(
    filename: StrPath, as_dict: Literal[True], assert_valid: bool = ...
) -> PartsDict: ...
@overload
def filename_parts(
    filename: StrPath, as_dict: bool, assert_valid: bool = ...
) -> Parts | PartsDict: ...
def filename_parts(
    filename: StrPath, as_dict: bool = False, assert_valid: bool = True
) -> Parts | PartsDict:
    """Parse an ALF file name into (namespace, object, attribute, timescale, extra, extension).

    >>> filename_parts('_ibl_trials.goCue_times_bpod.csv')
    ('ibl', 'trials', 'goCue_times', 'bpod', None, 'csv')
    >>> filename_parts('_spikeglx_ephysData_g0_t0.imec0.lf.bin')
    ('spikeglx', 'ephysData_g0_t0', 'imec0', None, 'lf', 'bin')

    Raises
    ------
    ALFInvalid
        Not an ALF file name and ``assert_valid`` is true (otherwise all parts are None).
    """
    return _FILE(filename, as_dict, assert_valid)


@overload
def folder_parts(
    folder_path: StrPath, as_dict: Literal[False] = ..., assert_valid: bool = ...
) -> Parts: ...
@overload
def folder_parts(
    folder_path: StrPath, as_dict: Literal[True], assert_valid: bool = ...
) -> PartsDict: ...
@overload
def folder_parts(
    folder_path: StrPath, as_dict: bool, assert_valid: bool = ...
) -> Parts | PartsDict: ...
def folder_parts(
    folder_path: StrPath, as_dict: bool = False, assert_valid: bool = True
) -> Parts | PartsDict:
    """Parse a folder path into (lab, subject, date, number, collection, revision).

    >>> folder_parts('lab/Subjects/subject/2020-01-01/001/collection/#revision#')
    ('lab', 'subject', '2020-01-01', '001', 'collection', 'revision')

    Raises
    ------
    ALFInvalid
        No session found and ``assert_valid`` is true (otherwise all parts are None).
    """
    string = folder_path if isinstance(folder_path, str) else _as_posix(folder_path)
    if string and string[-1] != '/':  # the pattern needs the trailing slash
        string += '/'
    return _FOLDER(string, as_dict, assert_valid)


def _is_clean_posix(path: str) -> bool:
    """True if pathlib would keep this string as it is (no '//', '.', trailing '/')."""
    return (
        bool(path)
        and path[-1] != '/'
        and '//' not in path
        and '/./' not in path
        and not path.startswith('./')
        and not path.endswith('/.')
        and path != '.'
    )


def _split(path: object) -> tuple[str, str, str]:
    """Return (posix path, name, posix parent) of ``path`` as ``pathlib.Path`` reads it."""
    if _POSIX and isinstance(path, str) and _is_clean_posix(path):
        idx = path.rfind('/')
        parent = path[:idx] if idx > 0 else '/' if idx == 0 else '.'
        return path, path[idx + 1 :], parent
    if _POSIX and isinstance(path, pathlib.PurePosixPath):
        native: pathlib.PurePath = path
    else:
        try:
            native = pathlib.Path(path)  # type: ignore[arg-type]
        except TypeError:
            raise ArgumentTypeError(
                f'expected a str or pathlib path, not {path!r}', value=path
            ) from None
    return native.as_posix(), native.name, native.parent.as_posix()


@overload
def full_path_parts(
    path: StrPath, as_dict: Literal[False] = ..., assert_valid: bool = ...
) -> Parts: ...
@overload
def full_path_parts(
    path: StrPath, as_dict: Literal[True], assert_valid: bool = ...
) -> PartsDict: ...
@overload
def full_path_parts(
    path: StrPath, as_dict: bool, assert_valid: bool = ...
) -> Parts | PartsDict: ...
def full_path_parts(
    path: StrPath, as_dict: bool = False, assert_valid: bool = True
) -> Parts | PartsDict:
    """Parse every part of a session, folder, dataset or file path.

    Returns the folder parts then the file name parts: (lab, subject, date, number,
    collection, revision, namespace, object, attribute, timescale, extra, extension).  A last
    component with fewer than two periods is read as a folder.

    Raises
    ------
    ALFInvalid
        The path does not follow the specification and ``assert_valid`` is true.  As in ONE
        3.x, a folder path whose last component is not one of its parsed parts is invalid
        (e.g. 'subject/2020-01-01/001/alf/spikes.times', an extensionless file name).
    """
    posix, name, parent = _split(path)
    folders: Parts | PartsDict
    dataset: Parts | PartsDict
    if name.count('.') < 2:  # a folder
        folders = folder_parts(posix, as_dict, assert_valid)
        if assert_valid:
            if isinstance(folders, dict):
                values: Iterable[str | None] = folders.values()
                revision = folders['revision']
            else:
                values, revision = folders, folders[-1]
            if name not in values and f'#{revision}#' != name:
                raise ALFInvalid(f'Invalid ALF: "{posix}"', value=posix)
        dataset = _FILE.empty(as_dict)
    elif '/' not in posix:  # a file name alone
        folders = _FOLDER.empty(as_dict)
        dataset = filename_parts(name, as_dict, assert_valid)
    else:
        folders = folder_parts(parent, as_dict, assert_valid)
        dataset = filename_parts(name, as_dict, assert_valid)
    if isinstance(folders, dict) and isinstance(dataset, dict):
        return {**folders, **dataset}
    assert isinstance(folders, tuple)
    assert isinstance(dataset, tuple)
    return folders + dataset


@lru_cache(maxsize=4096)
def _isdatetime(s: str) -> bool:
    """Return True if ``s`` is a date as ``datetime.strptime(s, '%Y-%m-%d')`` reads it."""
    try:
        datetime.strptime(s, '%Y-%m-%d')
    except ValueError:
        return False
    return True


@overload
def get_session_path(path: None) -> None: ...
@overload
def get_session_path(path: str) -> pathlib.Path | None: ...
@overload
def get_session_path(path: _P) -> _P | None: ...
@overload
def get_session_path(path: StrPath | os.PathLike[str] | None) -> pathlib.PurePath | None: ...
def get_session_path(path: StrPath | os.PathLike[str] | None) -> pathlib.PurePath | None:
    """Return the path up to its first ``date/number`` folders (root included), or None.

    The date is any date ``strptime`` accepts as %Y-%m-%d and the number any digits.  A str
    gives a ``pathlib.Path``; a pathlib object gives the same class.

    >>> get_session_path('/data/lab/Subjects/subject/2020-01-01/001/alf/spikes.times.npy')
    PosixPath('/data/lab/Subjects/subject/2020-01-01/001')
    """
    if path is None:
        return None
    if isinstance(path, str):
        path = pathlib.Path(path)
    elif not isinstance(path, pathlib.PurePath):
        if not isinstance(path, os.PathLike):
            raise ArgumentTypeError(f'expected a str or pathlib path, not {path!r}', value=path)
        path = pathlib.Path(path)
    parts = path.parts
    # NB ONE also compares parts[0] with parts[-1] (negative index); a leading number folder
    # is never a session.
    for i in range(1, len(parts)):
        if parts[i].isdigit() and _isdatetime(parts[i - 1]):
            return path if i == len(parts) - 1 else path.__class__().joinpath(*parts[: i + 1])
    return None


def get_alf_path(path: StrPath) -> str | None:
    """Return the ALF part of a path: from the session on, else the relative path, else the name.

    Returns None when no part of the path is ALF.

    >>> get_alf_path('/data/etc/subj/2021-01-21/001/collection/file.attr.ext')
    'subj/2021-01-21/001/collection/file.attr.ext'
    >>> get_alf_path('etc/collection/file.attr.ext')
    'etc/collection/file.attr.ext'
    """
    string = path if isinstance(path, str) else pathlib.Path(path).as_posix()
    string = string.strip('/')
    if found := _SESSION_RE.search(string):
        return string[found.start() :]
    name = string.rsplit('/', 1)[-1]
    if _FILE_RE.match(name):
        return string if _REL_PATH_RE.match(string) else name
    return None


@overload
def add_uuid_string(file_path: str, uuid: Any, strict: bool = ...) -> pathlib.Path: ...
@overload
def add_uuid_string(file_path: _P, uuid: Any, strict: bool = ...) -> _P: ...
def add_uuid_string(file_path: StrPath, uuid: Any, strict: bool = False) -> pathlib.PurePath:
    """Insert a UUID as the last extra part of a name: 'obj.attr.ext' -> 'obj.attr.<uuid>.ext'.

    A UUID already there is replaced (or, with ``strict``, an error), unless it is the same.
    A str path gives a ``pathlib.Path``; a pathlib object keeps its class.

    Raises
    ------
    InvalidArgument
        ``uuid`` is a str but not a canonical UUID, or ``strict`` and the name already holds a
        different UUID.
    """
    if isinstance(uuid, str) and not spec.is_uuid_string(uuid):
        raise InvalidArgument(f'Should provide a valid UUID v4, not {uuid!r}', value=uuid)
    uuid = str(uuid)
    path = pathlib.Path(file_path) if isinstance(file_path, str) else file_path
    name_parts = path.stem.split('.')
    if spec.is_uuid(name_parts[-1]):
        *name_parts, old_uuid = name_parts
        if old_uuid == uuid:
            _logger.warning('UUID already found in file name: %s: IGNORE', path.name)
            return path
        if strict:
            raise InvalidArgument(
                f'UUID {old_uuid} already found in file name: {path.name}; expected {uuid}',
                value=path,
            )
        _logger.debug('Replacing %s with %s in %s', old_uuid, uuid, path)
    return path.parent.joinpath(f'{".".join(name_parts)}.{uuid}{path.suffix}')


def _renamed(path: _P, name: str) -> _P:
    """``path.with_name(name)``, raising ALFInvalid for a name pathlib refuses ('', 'a/b')."""
    try:
        return path.with_name(name)
    except ValueError:
        raise ALFInvalid(f'Invalid file name {name!r} for "{path}"', value=name) from None


@overload
def remove_uuid_string(file_path: str) -> pathlib.Path: ...
@overload
def remove_uuid_string(file_path: _P) -> _P: ...
def remove_uuid_string(file_path: StrPath) -> pathlib.PurePath:
    """Remove a trailing UUID extra part from a file name (the path is returned if none).

    A str path gives a ``pathlib.Path``; a pathlib object keeps its class.
    """
    path = pathlib.Path(file_path) if isinstance(file_path, str) else file_path
    name_parts = path.stem.split('.')
    if spec.is_uuid_string(name_parts[-1]):
        path = _renamed(path, '.'.join(name_parts[:-1]) + path.suffix)
    return path


def padded_sequence(file_path: StrPath) -> PureALFPath:
    """Return the path with its session number folder zero-padded to three digits.

    A str or ``pathlib.Path`` gives an :class:`ALFPath`, a pure path a :class:`PureALFPath`.

    >>> padded_sequence('/data/subject/2023-01-01/1/_ibl_experiment.description.yaml')
    PosixALFPath('/data/subject/2023-01-01/001/_ibl_experiment.description.yaml')

    Raises
    ------
    ALFInvalid
        The path holds no session (subject/YYYY-MM-DD/N).
    """
    path = ensure_alf_path(file_path)
    if not isinstance(path, PureALFPath):
        raise ArgumentTypeError(f'expected one path, not {file_path!r}', value=file_path)
    session_path = get_session_path(path)
    if session_path is None:
        raise ALFInvalid(
            f'path must include a valid ALF session path, e.g. subject/YYYY-MM-DD/N: "{path}"',
            value=path,
        )
    idx = len(path.parts) - len(session_path.parts)
    try:
        sequence = str(int(session_path.parts[-1])).zfill(3)
    except ValueError:  # a digit int() does not read, e.g. '²'
        raise ALFInvalid(f'Invalid session number in "{path}"', value=path) from None
    return path.parents[idx].joinpath(sequence, path.relative_to(session_path))


@overload
def without_revision(file_path: str) -> pathlib.Path: ...
@overload
def without_revision(file_path: _P) -> _P: ...
def without_revision(file_path: StrPath) -> pathlib.PurePath:
    """Return a dataset path with its revision folder removed (session/collection/name).

    Raises
    ------
    ALFInvalid
        The path holds no session.
    """
    path = pathlib.Path(file_path) if isinstance(file_path, str) else file_path
    *_, collection, _revision = folder_parts(path.parent)
    session_path = get_session_path(path)
    if session_path is None:  # ONE raises AttributeError
        raise ALFInvalid(f'Invalid ALF session path: "{path}"', value=path)
    return session_path.joinpath(*filter(None, (collection, path.name)))


# --- path classes ---------------------------------------------------------------------------


class PureALFPath(pathlib.PurePath):
    """A pure (no I/O) pathlib path with ALF parsing and part replacement.

    Constructing ``PureALFPath`` gives a :class:`PurePosixALFPath` or, on Windows, a
    :class:`PureWindowsALFPath`.  The properties give the ALF parts, with '' for a missing part.
    """

    def __new__(cls, *args: StrPath) -> PureALFPath:
        if cls is PureALFPath:
            cls = PureWindowsALFPath if os.name == 'nt' else PurePosixALFPath
        return super().__new__(cls, *args)  # type: ignore[no-any-return,misc,call-arg,unused-ignore]

    def is_dataset(self) -> bool:
        """Return True if the name is an ALF dataset file name."""
        return spec.is_valid(self.name)

    def is_valid_alf(path: StrPath) -> bool:  # also called on a str, as ONE allows
        """Return True if the path (a folder or a file) follows the ALF specification.

        Also callable on the class with any path: ``PureALFPath.is_valid_alf('a.b.c')``.
        """
        try:
            return any(full_path_parts(path))
        except ALFInvalid:
            return False

    def is_session_path(path: StrPath) -> bool:  # also called on a str, as ONE allows
        """Return True if the path ends with an ALF session (subject/date/number)."""
        return spec.is_session_path(path)

    def session_path(self) -> PureALFPath | None:
        """Return the path up to the session number folder (root included), or None."""
        return get_session_path(self)

    def session_path_short(self, include_lab: bool = False) -> str | None:
        """Return 'subject/date/number' (or 'lab/subject/date/number'), or None if no session."""
        parts = self.session_parts[0 if include_lab else 1 :]
        if any(parts):
            # NB: ONE joins the empty lab too, giving '/subject/...' when there is no lab.
            return '/'.join(part for part in parts if part)
        return None

    def without_lab(self: _P) -> _P:
        """Return the path without its 'lab/Subjects/' folders (unchanged if absent)."""
        string = self.as_posix()
        if found := _LAB_SUBJECTS_RE.search(string):
            return self.__class__(string[: found.start()], string[found.end() :])
        return self

    def relative_to_lab(self: _P) -> _P:
        """Return the path relative to its 'lab/Subjects/' folders.

        Raises
        ------
        ALFInvalid
            The path has no lab/Subjects folders.
        """
        string = self.as_posix()
        if found := _LAB_SUBJECTS_RE.search(string):
            return self.__class__(string[found.end() :])
        raise ALFInvalid(f'{self} does not contain <lab>/Subjects pattern', value=self)

    def relative_to_session(self) -> PureALFPath:
        """Return the path relative to its session folder.

        Raises
        ------
        ALFInvalid
            The path holds no session.
        """
        if session_path := self.session_path():
            return self.relative_to(session_path)
        raise ALFInvalid(f'{self} does not contain session path pattern', value=self)

    @overload
    def parse_alf_path(self, as_dict: Literal[True] = ...) -> PartsDict: ...
    @overload
    def parse_alf_path(self, as_dict: Literal[False]) -> Parts: ...
    def parse_alf_path(self, as_dict: bool = True) -> Parts | PartsDict:
        """Return every ALF part of the path (None where absent), a dict by default."""
        return full_path_parts(self, as_dict=as_dict, assert_valid=False)

    @overload
    def parse_alf_name(self, as_dict: Literal[True] = ...) -> PartsDict: ...
    @overload
    def parse_alf_name(self, as_dict: Literal[False]) -> Parts: ...
    def parse_alf_name(self, as_dict: bool = True) -> Parts | PartsDict:
        """Return the parts of the file name (None where absent), a dict by default."""
        return filename_parts(self.name, as_dict=as_dict, assert_valid=False)

    @cached_property
    def dataset_name_parts(self) -> tuple[str, ...]:
        """(namespace, object, attribute, timescale, extra, extension), '' where absent."""
        return tuple(p or '' for p in self.parse_alf_name(as_dict=False))

    @cached_property
    def session_parts(self) -> tuple[str, ...]:
        """(lab, subject, date, number), '' where absent."""
        return tuple(p or '' for p in session_path_parts(self, assert_valid=False))

    @cached_property
    def alf_parts(self) -> tuple[str, ...]:
        """Every part of :func:`full_path_parts`, '' where absent."""
        return tuple(p or '' for p in self.parse_alf_path(as_dict=False))

    @property
    def lab(self) -> str:
        """The lab, or ''."""
        return self.session_parts[0]

    @property
    def subject(self) -> str:
        """The subject, or ''."""
        return self.session_parts[1]

    @property
    def date(self) -> str:
        """The session date (yyyy-mm-dd), or ''."""
        return self.session_parts[2]

    @property
    def sequence(self) -> str:
        """The session number folder as written, or ''."""
        return self.session_parts[3]

    @property
    def collection(self) -> str:
        """The collection, or ''."""
        return self.alf_parts[4]

    @property
    def revision(self) -> str:
        """The revision (without pound signs), or ''."""
        return self.alf_parts[5]

    @property
    def namespace(self) -> str:
        """The namespace of the file name, or ''."""
        return self.dataset_name_parts[0]

    @property
    def object(self) -> str:
        """The ALF object of the file name, or ''."""
        return self.dataset_name_parts[1]

    @property
    def attribute(self) -> str:
        """The attribute of the file name, or ''."""
        return self.dataset_name_parts[2]

    @property
    def timescale(self) -> str:
        """The timescale of the file name, or ''."""
        return self.dataset_name_parts[3]

    @property
    def extra(self) -> str:
        """The extra parts of the file name (period-separated), or ''."""
        return self.dataset_name_parts[4]

    @staticmethod
    def _require_part(part: str, value: Any) -> str:
        if not value:
            raise ALFInvalid(f'Invalid {part}: {value!r}', value=value)
        if not isinstance(value, str):
            raise ArgumentTypeError(f'{part} must be a str, not {value!r}', value=value)
        if not _PART_RE[part].match(value):
            raise ALFInvalid(f'Invalid {part}: {value!r}', value=value)
        return value

    def _require_dataset(self) -> None:
        if not self.is_dataset():
            raise ALFInvalid(f'{self} is not a valid ALF dataset file path', value=self)

    def with_lab(self: _PA, lab: str, strict: bool = False) -> _PA:
        """Return the path with its lab replaced, or 'lab/Subjects/' inserted before the subject.

        Raises
        ------
        ALFInvalid
            Invalid lab name, no session in the path, or no lab with ``strict``.
        """
        self._require_part('lab', lab)
        if not self.subject or (strict and not self.lab):
            raise ALFInvalid(f'{self} has no ALF session to set the lab of', value=self)
        return self.__class__(
            _SESSION_RE.sub(
                lambda m: f'{lab}/Subjects/{m["subject"]}/{m["date"]}/{m["number"]}',
                self.as_posix(),
                count=1,
            )
        )

    def with_subject(self: _PA, subject: str) -> _PA:
        """Return the path with its subject replaced.

        Raises
        ------
        ALFInvalid
            Invalid subject name, or no session in the path.
        """
        self._require_part('subject', subject)
        if not self.subject:
            raise ALFInvalid(f'{self} has no ALF session to set the subject of', value=self)
        return self.__class__(
            _SUBJECT_DATE_NUMBER_RE.sub(
                lambda m: f'{subject}/{m["date"]}/{m["number"]}', self.as_posix(), count=1
            )
        )

    def with_date(self: _PA, date: Any) -> _PA:
        """Return the path with its session date replaced (a yyyy-mm-dd str, date or datetime).

        Raises
        ------
        ALFInvalid
            Invalid date, or no session in the path.
        """
        if date and not isinstance(date, str):
            date = str(date)[:10]
        if not isinstance(date, str) or not (date and _PART_RE['date'].match(date)):
            raise ALFInvalid(f'Invalid date: {date!r}', value=date)
        if not self.date:
            raise ALFInvalid(f'{self} has no ALF session to set the date of', value=self)
        return self.__class__(
            _SUBJECT_DATE_NUMBER_RE.sub(
                lambda m: f'{m["subject"]}/{date}/{m["number"]}', self.as_posix(), count=1
            )
        )

    def with_sequence(self: _PA, number: str | int) -> _PA:
        """Return the path with its session number replaced, zero-padded to three digits.

        Raises
        ------
        ALFInvalid
            Not a number of one to three digits, or no session in the path.
        """
        if isinstance(number, str):
            try:
                number = int(number.strip())
            except ValueError:
                raise ALFInvalid(f'Invalid number: {number!r}', value=number) from None
        if number is None or not _PART_RE['number'].match(str(number)):
            raise ALFInvalid(f'Invalid number: {number!r}', value=number)
        if not self.sequence:
            raise ALFInvalid(f'{self} has no ALF session to set the number of', value=self)
        return self.__class__(
            _SUBJECT_DATE_NUMBER_RE.sub(
                lambda m: f'{m["subject"]}/{m["date"]}/{number:03d}', self.as_posix(), count=1
            )
        )

    def with_object(self: _PA, obj: str) -> _PA:
        """Return the dataset path with its object replaced (the name is not validated).

        Raises
        ------
        ALFInvalid
            The path is not an ALF dataset.
        """
        self._require_dataset()
        ns_obj, rest = self.name.split('.', 1)
        found = _NAMESPACE_OBJECT_RE.match(ns_obj)
        assert found is not None  # a dataset name always matches
        ns = found['namespace']
        prefix = f'_{ns}_' if ns else ''
        return _renamed(self, f'{prefix}{obj}.{rest}')

    def with_namespace(self: _PA, ns: str | None) -> _PA:
        """Return the dataset path with its namespace added, replaced or (if empty) removed.

        Raises
        ------
        ALFInvalid
            The path is not an ALF dataset.
        """
        self._require_dataset()
        ns_obj, rest = self.name.split('.', 1)
        found = _NAMESPACE_OBJECT_RE.match(ns_obj)
        assert found is not None
        prefix = f'_{ns}_' if ns else ''
        return _renamed(self, f'{prefix}{found["object"]}.{rest}')

    def with_attribute(self: _PA, attr: str) -> _PA:
        """Return the dataset path with its attribute replaced (the timescale is kept).

        Raises
        ------
        ALFInvalid
            The path is not an ALF dataset.
        """
        self._require_dataset()
        ns_obj, attr_ts, rest = self.name.split('.', 2)
        found = _ATTRIBUTE_TIMESCALE_RE.match(attr_ts)
        assert found is not None
        ts = f'_{found["timescale"]}' if found['timescale'] else ''
        return _renamed(self, f'{ns_obj}.{attr}{ts}.{rest}')

    def with_timescale(self: _PA, timescale: str | None) -> _PA:
        """Return the dataset path with its timescale added, replaced or (if empty) removed.

        Raises
        ------
        ALFInvalid
            The path is not an ALF dataset.
        """
        self._require_dataset()
        ns_obj, attr_ts, rest = self.name.split('.', 2)
        found = _ATTRIBUTE_TIMESCALE_RE.match(attr_ts)
        assert found is not None
        ts = f'_{timescale}' if timescale else ''
        return _renamed(self, f'{ns_obj}.{found["attribute"]}{ts}.{rest}')

    def with_extra(self: _PA, extra: str | Iterable[str], append: bool = False) -> _PA:
        """Return the dataset path with its extra parts replaced (or appended to).

        ``extra`` is a period-separated str or a sequence of parts; empty parts are dropped.

        Raises
        ------
        ALFInvalid
            The path is not an ALF dataset.
        """
        self._require_dataset()
        parts = self.stem.split('.', 2)
        extras = extra.strip('.').split('.') if isinstance(extra, str) else extra
        previous = parts.pop() if len(parts) > 2 else None
        if previous and append:
            extras = (previous, *extras)
        obj_attr = '.'.join(parts)
        if joined := '.'.join(filter(None, extras)):
            return _renamed(self, f'{obj_attr}.{joined}{self.suffix}')
        return _renamed(self, obj_attr + self.suffix)

    def with_extension(self: _PA, ext: str) -> _PA:
        """Return the dataset path with its extension replaced (``ext`` without the period).

        Raises
        ------
        ALFInvalid
            Invalid extension, or the path is not an ALF dataset.
        """
        self._require_part('extension', ext)
        self._require_dataset()
        return _renamed(self, self.stem + f'.{ext}')

    def with_padded_sequence(path: StrPath) -> PureALFPath:  # also called on a str
        """Return the path with its session number zero-padded (see :func:`padded_sequence`)."""
        return padded_sequence(path)

    def with_collection(self: _PA, collection: str | pathlib.PurePath | None) -> _PA:
        """Return the path with its collection added or replaced (the revision is kept).

        Raises
        ------
        ALFInvalid
            Invalid collection name, no session in the path, or a folder path that is not
            session/collection/revision.
        """
        if not isinstance(collection, (str, pathlib.PurePath, type(None))):
            raise ArgumentTypeError(
                f'collection must be a str, not {collection!r}', value=collection
            )
        name = pathlib.PurePath(collection or '').as_posix().strip('/')
        if not (name and _PART_RE['collection'].match(name)):
            raise ALFInvalid(f'Invalid collection name: {name!r}', value=collection)
        if not self.session_path():
            raise ALFInvalid(
                f'Cannot add collection to a path without session parts, e.g. '
                f'subject/date/number: "{self}"',
                value=self,
            )
        if self.is_session_path():
            return self.joinpath(name)
        string = self.as_posix()
        if not self.is_dataset():
            if _COLLECTION_ONLY_RE.match(self.relative_to_session().as_posix() + '/'):
                string += '/'  # folder paths need the trailing slash to match
            else:
                raise ALFInvalid(f'Invalid ALF path: "{self}"', value=self)
        found = _SESSION_COLLECTION_RE.search(string)
        if found is None:  # ONE raises AttributeError
            raise ALFInvalid(f'Invalid ALF path: "{self}"', value=self)
        revision = f'#{found["revision"]}#/' if found['revision'] else ''
        new = f'{found["subject"]}/{found["date"]}/{found["number"]}/{name}/{revision}'
        return self.__class__(string[: found.start()] + new + string[found.end() :])

    def with_revision(self: _PA, revision: str) -> _PA:
        """Return the path with its revision folder added or replaced (no pound signs in input).

        Raises
        ------
        ALFInvalid
            Invalid revision name, or the path is not an ALF path with its session part.
        """
        (name,) = _REVISION(revision, False, True)
        if PureALFPath.is_dataset(self):
            return self.without_revision().parent / f'#{name}#' / self.name
        return self.without_revision() / f'#{name}#'

    def without_revision(self: _PA) -> _PA:
        """Return the path with its revision folder removed (unchanged if there is none).

        Raises
        ------
        ALFInvalid
            The path is not an ALF path with its session part.
        """
        if PureALFPath.is_dataset(self):
            return without_revision(self)
        if not self.is_valid_alf():
            raise ALFInvalid(f'{self} not a valid ALF path or is relative to session', value=self)
        if _REVISION_FOLDER_RE.match(self.name):
            return self.parent
        return self

    def with_uuid(self: _PA, uuid: Any, strict: bool = False) -> _PA:
        """Return the dataset path with a UUID as last extra part (see :func:`add_uuid_string`).

        Raises
        ------
        ALFInvalid
            The path is not an ALF dataset.
        InvalidArgument
            Invalid UUID, or a different UUID already there with ``strict``.
        """
        self._require_dataset()
        return add_uuid_string(self, uuid, strict=strict)

    def without_uuid(self: _PA) -> _PA:
        """Return the dataset path without its UUID extra part (unchanged if none)."""
        return remove_uuid_string(self) if self.is_dataset() else self


class ALFPath(PureALFPath):
    """A concrete pathlib path (with I/O) with ALF parsing and part replacement.

    Constructing ``ALFPath`` gives a :class:`PosixALFPath` or, on Windows, a
    :class:`WindowsALFPath`.  Unlike the pure class, the ``is_*`` checks look at the file
    system when the path exists.
    """

    def __new__(cls, *args: StrPath) -> ALFPath:
        return super().__new__(  # type: ignore[return-value]
            WindowsALFPath if os.name == 'nt' else PosixALFPath, *args
        )

    def is_dataset(self) -> bool:
        """Return True if the name is an ALF dataset name and the path is not a directory."""
        return not cast(pathlib.Path, self).is_dir() and spec.is_valid(self.name)

    def is_session_path(path: StrPath) -> bool:  # also called on a str, as ONE allows
        """Return True if the path is an ALF session path and not an existing file."""
        alf_path = path if isinstance(path, ALFPath) else ALFPath(path)
        return not cast(pathlib.Path, alf_path).is_file() and spec.is_session_path(alf_path)

    def is_valid_alf(path: StrPath) -> bool:  # also called on a str, as ONE allows
        """Return True if the path follows the ALF specification and, if it exists, is a file
        when it parses as a dataset and a directory when it parses as a folder.
        """
        try:
            parsed = full_path_parts(path, as_dict=True)
        except ALFInvalid:
            return False
        is_dataset = parsed['object'] is not None
        if isinstance(path, str):
            path = ALFPath(path)
        if isinstance(path, pathlib.Path):
            if path.is_file():
                return is_dataset
            if path.is_dir():
                return not is_dataset
        return True

    def iter_datasets(self, recursive: bool = False) -> Iterator[ALFPath]:
        """Yield the ALF dataset files in this folder (and below, if recursive), sorted.

        Blocking file-system calls: async code runs this in a worker thread.
        """
        folder = cast(pathlib.Path, self)
        glob = folder.rglob if recursive else folder.glob
        for found in sorted(glob('*.*.*')):
            # NB: ONE tests `p.is_dataset` without calling it and so yields any file.
            if cast(ALFPath, found).is_dataset():
                yield cast(ALFPath, found)


class PurePosixALFPath(pathlib.PurePosixPath, PureALFPath):
    """A :class:`PureALFPath` with POSIX separators."""


class PureWindowsALFPath(pathlib.PureWindowsPath, PureALFPath):
    """A :class:`PureALFPath` with Windows separators and drives."""


class PosixALFPath(pathlib.PosixPath, ALFPath):
    """An :class:`ALFPath` on a POSIX system."""


class WindowsALFPath(pathlib.WindowsPath, ALFPath):
    """An :class:`ALFPath` on Windows."""


@overload
def ensure_alf_path(path: str | pathlib.PurePath) -> PureALFPath: ...  # type: ignore[overload-overlap]
@overload
def ensure_alf_path(path: Iterable[str | pathlib.PurePath]) -> list[PureALFPath]: ...
def ensure_alf_path(
    path: str | pathlib.PurePath | Iterable[str | pathlib.PurePath],
) -> PureALFPath | list[PureALFPath]:
    """Return the path as an ALF path class (a list of them for an iterable of paths).

    ALF paths are returned as they are; a str or ``pathlib.Path`` gives an :class:`ALFPath`,
    a pure path the matching pure ALF class.

    Raises
    ------
    ArgumentTypeError
        Neither a str, a pathlib path nor an iterable of them.
    """
    if isinstance(path, PureALFPath):
        return path
    if isinstance(path, pathlib.PurePath):
        if isinstance(path, pathlib.Path):
            return ALFPath(path)
        if isinstance(path, pathlib.PurePosixPath):
            return PurePosixALFPath(path)
        if isinstance(path, pathlib.PureWindowsPath):
            return PureWindowsALFPath(path)
        return PureALFPath(path)
    if isinstance(path, str):
        return ALFPath(path)
    if isinstance(path, Iterable):
        return [ensure_alf_path(p) for p in path]
    raise ArgumentTypeError(f'expected os.PathLike type, got {type(path)} instead', value=path)
