"""The ALF specification: the parts of an ALF path, their patterns and validators.

An ALF path reads::

    (lab/Subjects/)subject/date/number/(collection/)(#revision#/)(_namespace_)object.attribute(_timescale)(.extra).extension

The spec strings below hold ``{part}`` placeholders that :func:`regex` replaces with named
capture groups, so that one pattern both validates a name and splits it into its parts.  The
names, spec strings and results mirror ONE-api's ``one.alf.spec`` (3.x behaviour: ``is_uuid``
accepts versions 4 and 3 by default, acronym plurals such as 'ROIs' stay whole); compiled
patterns are cached because parsing runs once per dataset on tables of millions of rows.

Deliberate differences from ONE: bad arguments raise typed errors (``InvalidArgument`` rather
than KeyError for an unknown field of :func:`regex`, ``ALFInvalid`` rather than IndexError for
an empty object in :func:`to_alf`); ``readableALF('', capitalize=True)`` returns '' (ONE raises
IndexError) and ``is_uuid(True)`` is False (ONE raises TypeError).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Container, Iterable
from enum import IntEnum
from functools import lru_cache
from typing import Any, Final
from uuid import UUID

from one_async.exceptions import ALFInvalid, ArgumentTypeError, InvalidArgument

__all__ = [
    'COLLECTION_SPEC',
    'FILE_SPEC',
    'FULL_SPEC',
    'QC',
    'REL_PATH_SPEC',
    'SESSION_SPEC',
    'SPEC_DESCRIPTION',
    'describe',
    'is_session_path',
    'is_uuid',
    'is_uuid_string',
    'is_valid',
    'path_pattern',
    'readableALF',
    'regex',
    'to_alf',
]

SPEC_DESCRIPTION: Final[dict[str, str]] = {
    'lab': 'Optional.  The lab that collected the data.  When present it is followed by a '
    '"Subjects" folder.',
    'Subjects': 'A literal folder name separating the lab from the subject folders.  It is '
    'present exactly when the lab part is.',
    'subject': 'The name of the animal, a free label of letters, digits, underscores, hyphens '
    'and periods.',
    'date': 'The day the session was recorded, as an ISO date: yyyy-mm-dd.',
    'number': 'The session sequence number within that day, one to three digits, usually '
    'zero-padded to three (001, 002...).',
    'collection': 'Optional.  One or more folders grouping the datasets of a session, for '
    'instance by device or modality ("alf", "alf/probe00", "raw_video_data").  A collection '
    'must be named exactly when loading: there is no fallback.',
    'revision': 'Optional.  A folder whose name starts and ends with a pound sign ("#v2#", '
    '"#2024-01-01#") holding a newer version of datasets of the collection above it.  When the '
    'requested revision is missing, the latest earlier one (in lexicographic order) is used.',
    'namespace': 'Optional.  A file name prefix between underscores ("_ibl_", "_spikeglx_") '
    'marking data specific to a project, program or device rather than a shared standard.  It '
    'holds letters and digits only.',
    'object': 'The thing the file describes.  All files of one object have the same number of '
    'rows, so together they form a table whose columns are the attributes.  Object names are '
    'camel case and plural ("trials", "wheelMoves").\nAn attribute named after another object '
    'holds row indices into that object: "spikes.clusters.npy" indexes the rows of the '
    '"clusters" files, counting from zero.',
    'attribute': 'The column of the object the file holds ("intervals", "amplitudes"), in camel '
    'case.  Only the reserved endings "_times" and "_intervals" may follow an underscore '
    '("stimOn_times").\n"times" holds event times in seconds on the universal clock; '
    '"intervals" has two columns, start and end times; "timestamps" gives the times of a '
    'regularly or irregularly sampled series, either one per sample or as (sample index, time) '
    'pairs to interpolate between.',
    'timescale': 'Optional.  Appended to the attribute after an underscore when times are not '
    'on the universal clock ("spikes.times_ephysClock.npy").',
    'extra': 'Optional.  Any number of further period-separated parts before the extension '
    '("obj.attr.part1.part2.ext").  They carry no meaning for ALF but may hold a UUID or a '
    'hash; files differing only by extra parts are concatenated in lexicographic order.',
    'extension': 'The file format ("npy", "tsv", "bin", "json"...).  Any format with a notion '
    'of rows along its first dimension fits.  Flat binary files come with a metadata file '
    'giving the number of columns and the dtype.',
}
"""The ALF parts and what each holds."""

SESSION_SPEC: Final = '({lab}/Subjects/)?{subject}/{date}/{number}'
"""The session part of a path: optional lab folder, subject, date and sequence number."""

COLLECTION_SPEC: Final = r'({collection}/)?(#{revision}#/)?'
"""The optional collection and revision folders."""

FILE_SPEC: Final = (
    r'_?{namespace}?_?{object}\.{attribute}(?:_{timescale})?(?:\.{extra})*\.{extension}$'
)
"""The dataset file name."""

REL_PATH_SPEC: Final = f'{COLLECTION_SPEC}{FILE_SPEC}'
"""A dataset path relative to its session: collection, revision and file name."""

FULL_SPEC: Final = f'{SESSION_SPEC}/{REL_PATH_SPEC}'
"""A full dataset path from the lab (or subject) folder on."""

_DEFAULT: Final[tuple[tuple[str, str], ...]] = (
    ('lab', r'\w+'),
    ('subject', r'[\w.-]+'),
    ('date', r'\d{4}-\d{2}-\d{2}'),
    ('number', r'\d{1,3}'),
    ('collection', r'[\w./-]+'),
    ('revision', r'[\w.-]+'),
    # The namespace follows the leading underscore of the file name.
    ('namespace', '(?<=_)[a-zA-Z0-9]+'),
    ('object', r'\w+'),
    # An optional deprecated attribute-level namespace (_ns_attr), then the attribute, which may
    # end with the reserved _times or _intervals.
    ('attribute', r'(?:_[a-z]+_)?[a-zA-Z0-9]+(?:_times(?=[_.])|_intervals(?=[_.]))?'),
    ('timescale', r'\w+'),
    ('extra', r'[.\w-]+'),
    ('extension', r'\w+'),
)
"""The default pattern of every part, in path order."""

_FIELDS: Final = dict(_DEFAULT)
_PLACEHOLDER: Final = re.compile(r'(?<={)\w+')
_ALL_CAPS: Final = re.compile(r'^[A-Z]+s?$')
_WORD_SPLIT: Final = re.compile(r'[_\s]')
_WORD_START: Final = re.compile(r'[A-Z](?=[a-rt-z0-9])|(?<=[a-z0-9])[A-Z]')
_TIME_ATTRIBUTE: Final = re.compile('_(times|timestamps|intervals)$')
_CANONICAL_UUID: Final = re.compile(
    r'[0-9a-f]{8}-[0-9a-f]{4}-[345][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
)


class QC(IntEnum):
    """Quality-control outcome of a dataset or session, with Alyx's numeric codes."""

    CRITICAL = 50
    """Unusable: e.g. clocks cannot be aligned, data missing or wrong."""
    FAIL = 40
    """Below the expected standard, e.g. event timings off the protocol."""
    WARNING = 30
    """Minor issues that should not affect most analyses."""
    NOT_SET = 0
    """Not assessed."""
    PASS = 10
    """Meets the standard."""

    @staticmethod
    def validate(v: QC | int | str) -> QC:
        """Return the QC member for a member, its integer value or its (case-insensitive) name.

        Raises
        ------
        InvalidArgument
            ``v`` names no QC outcome (also a ValueError, as in ONE).
        """
        if isinstance(v, QC):
            return v
        try:
            if isinstance(v, str):
                return QC(int(v)) if v.isnumeric() else QC[v.upper()]
            return QC(v)
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument(f'{v!r} is not a valid QC', value=v) from None


def path_pattern() -> str:
    """Return the ALF path template with optional parts in brackets (for documentation)."""
    return ''.join(c for c in FULL_SPEC if c not in '{}?*\\$')


def describe(part: str | None = None, width: int = 99) -> None:
    """Print the ALF path template and the description of one part (or of all parts).

    Parameters
    ----------
    part
        A key of :data:`SPEC_DESCRIPTION`, marked with carets under the template; None describes
        every part.
    width
        The maximum line length of the descriptions.

    Raises
    ------
    InvalidArgument
        ``part`` is not an ALF part.
    """
    template = path_pattern()
    print(template)
    if part:
        if part not in SPEC_DESCRIPTION:
            known = '"' + '", "'.join(SPEC_DESCRIPTION) + '"'
            raise InvalidArgument(
                f'Unknown ALF part "{part}", should be one of {known}', value=part
            )
        start = template.index(part)
        end = start + len(part)
        print(' ' * start + '^' * (end - start) + ' ' * (len(template) - end))
        parts: Iterable[str] = (part,)
    else:
        parts = SPEC_DESCRIPTION
    for name in parts:
        print('\n' + name.upper())
        for paragraph in SPEC_DESCRIPTION[name].splitlines():
            for line in textwrap.wrap(paragraph, width, replace_whitespace=False):
                print(line)


def _capitalize(word: str) -> str:
    return word if _ALL_CAPS.match(word) else word.capitalize()


def _dromedary(string: str) -> str:
    """Return ``string`` in camel case, keeping acronyms (and their plurals) in capitals.

    Words are split on underscores and whitespace: 'motion_energy' -> 'motionEnergy',
    'passive_RFM' -> 'passiveRFM', 'mpci ROIs' -> 'mpciROIs', 'FooBarBaz' -> 'fooBarBaz'.
    Empty strings (and None) are returned unchanged.
    """
    if not string:
        return string
    first, *others = _WORD_SPLIT.split(string)
    if not others:
        return first[0].lower() + first[1:]
    first = first if _ALL_CAPS.match(first) else first.lower()
    return ''.join([first, *map(_capitalize, others)])


def _named(pattern: str, name: str) -> str:
    """Wrap a pattern in a named capture group."""
    return f'(?P<{name}>{pattern})'


@lru_cache(maxsize=1024)
def _compile(spec: str, overrides: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    fields = {**_FIELDS, **dict(overrides)}
    names = _PLACEHOLDER.findall(spec)
    unknown = next((name for name in names if name not in fields), None)
    if unknown is not None:
        raise InvalidArgument(f'Unknown ALF field "{unknown}" in spec {spec!r}', value=unknown)
    return re.compile(spec.format(**{name: _named(fields[name], name) for name in names}))


def regex(spec: str = FULL_SPEC, **kwargs: str | None) -> re.Pattern[str]:
    """Compile an ALF spec string into a pattern with one named group per part.

    Parameters
    ----------
    spec
        A spec string such as :data:`FILE_SPEC`, with ``{part}`` placeholders.
    **kwargs
        Patterns replacing the default of some parts (None keeps the default), e.g.
        ``object='trials'``.

    Returns
    -------
    re.Pattern
        The compiled pattern (cached: equal arguments return the same object).

    Raises
    ------
    InvalidArgument
        A keyword or placeholder names no ALF part (ONE raises KeyError).
    """
    unknown = next((key for key in kwargs if key not in _FIELDS), None)
    if unknown is not None:
        raise InvalidArgument(f'Unknown ALF field "{unknown}"', value=unknown)
    if not isinstance(spec, str):
        raise ArgumentTypeError(f'spec must be a str, not {spec!r}', value=spec)
    overrides = tuple((k, str(v)) for k, v in kwargs.items() if v is not None)
    return _compile(spec, overrides)


_FILE_RE: Final = regex(FILE_SPEC)
_SESSION_END_RE: Final = re.compile(regex(SESSION_SPEC).pattern + '$')


def is_valid(filename: str) -> bool:
    """Return True if ``filename`` is a valid ALF dataset file name.

    >>> is_valid('trials.feedbackType.npy'), is_valid('spike_train.npy')
    (True, False)
    """
    if not isinstance(filename, str):
        raise ArgumentTypeError(f'filename must be a str, not {filename!r}', value=filename)
    return _FILE_RE.match(filename) is not None


def is_session_path(path_object: Any) -> bool:
    """Return True if the path (str or PurePath) ends with an ALF session path.

    Only the syntax is checked; nothing is read from disk.  Leading and trailing slashes are
    ignored.
    """
    path = path_object.as_posix() if hasattr(path_object, 'as_posix') else path_object
    if not isinstance(path, str):
        raise ArgumentTypeError(f'expected a str or path, not {path_object!r}', value=path_object)
    return _SESSION_END_RE.search(path.strip('/')) is not None


def is_uuid_string(string: Any) -> bool:
    """Return True for a canonical (lower-case, hyphenated) UUID string of version 3, 4 or 5."""
    return isinstance(string, str) and _CANONICAL_UUID.fullmatch(string) is not None


def is_uuid(uuid: Any, versions: Container[int | None] = (4, 3)) -> bool:
    """Return True if ``uuid`` is (or converts to) a UUID of one of ``versions``.

    Accepts UUID objects and their str, bytes and int forms; anything else is simply not a
    UUID.  Alyx makes version 4 UUIDs and ONE's cache builder version 3, hence the default.
    """
    if isinstance(uuid, UUID):
        value = uuid
    elif isinstance(uuid, str):
        try:
            value = UUID(uuid)
        except ValueError:
            return False
    elif isinstance(uuid, bytes):
        try:
            value = UUID(bytes=uuid)
        except ValueError:
            return False
    elif isinstance(uuid, int) and not isinstance(uuid, bool):
        try:
            value = UUID(int=uuid)
        except ValueError:
            return False
    else:
        return False
    return value.version in versions


def to_alf(
    object: str,
    attribute: str,
    extension: str,
    namespace: str | None = None,
    timescale: str | Iterable[str] | None = None,
    extra: str | Iterable[str] | None = None,
) -> str:
    """Build an ALF file name from its parts, adding the separating periods and underscores.

    Object, attribute and timescale are converted to camel case (a trailing '_times',
    '_timestamps' or '_intervals' of the attribute is kept).

    >>> to_alf('spikes', 'times', 'npy', namespace='ibl', timescale='ephys clock')
    '_ibl_spikes.times_ephysClock.npy'
    >>> to_alf('wheel', 'timestamps', 'npy', 'ibl', 'bpod', ('raw', 'v12'))
    '_ibl_wheel.timestamps_bpod.raw.v12.npy'

    Raises
    ------
    ArgumentTypeError
        No extension, or a part that is not a string (TypeError, as in ONE).
    ALFInvalid
        A part holds a period, the namespace an underscore, or the object is empty or starts
        with an underscore.
    """
    if not extension:
        raise ArgumentTypeError('An extension must be provided', value=extension)
    for name, value in (('object', object), ('attribute', attribute), ('extension', extension)):
        if not isinstance(value, str):
            raise ArgumentTypeError(f'{name} must be a str, not {value!r}', value=value)
    if namespace is not None and not isinstance(namespace, str):
        raise ArgumentTypeError(f'namespace must be a str, not {namespace!r}', value=namespace)
    if extension.startswith('.'):
        extension = extension[1:]
    checked: tuple[tuple[str, str | Iterable[str] | None], ...] = (
        ('object', object),
        ('attribute', attribute),
        ('namespace', namespace),
        ('extension', extension),
        ('timescale', timescale),
    )
    for name, part in checked:
        if part is not None and '.' in part:
            raise ALFInvalid(f'ALF {name} must not contain a period: {part!r}', value=part)
    if '_' in (namespace or ''):
        raise ALFInvalid(f'Namespace must not contain underscores: {namespace!r}', value=namespace)
    if not object or object[0] == '_':
        raise ALFInvalid(
            f'Object must be non-empty and not start with an underscore (use namespace): '
            f'{object!r}',
            value=object,
        )
    scale = ''
    if timescale:
        words = [timescale] if isinstance(timescale, str) else timescale
        scale = '_'.join(map(_dromedary, filter(None, words)))
    times = _TIME_ATTRIBUTE.search(attribute)
    idx = times.start() if times else len(attribute)
    attribute = _dromedary(attribute[:idx]) + attribute[idx:]
    object = _dromedary(object)
    if not extra:
        extras: Iterable[str] = ()
    elif isinstance(extra, str):
        extras = extra.split('.')
    else:
        extras = extra
    parts = (
        (f'_{namespace}_' if namespace else '') + object,
        attribute + (f'_{scale}' if scale else ''),
        *extras,
        extension,
    )
    return '.'.join(parts)


def readableALF(name: str, capitalize: bool = False) -> str:
    """Split a camel case ALF name into lower-case words, keeping acronyms in capitals.

    >>> readableALF('sparseNoise'), readableALF('someROIDataset', capitalize=True)
    ('sparse noise', 'Some ROI dataset')
    """
    if not isinstance(name, str):
        raise ArgumentTypeError(f'name must be a str, not {name!r}', value=name)
    words = []
    i = 0
    for match in _WORD_START.finditer(name):
        j = match.start()
        words.append(name[i:j])
        i = j
    words.append(name[i:])
    text = ' '.join(w if _ALL_CAPS.match(w) else w.lower() for w in words)
    return text[:1].upper() + text[1:] if capitalize else text
