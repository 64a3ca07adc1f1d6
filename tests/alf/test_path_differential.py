"""Property-based differential tests: one_async.alf against ONE-api 2.9.0 (``one.alf.files``).

Hypothesis builds ALF names, relative, session, folder and full paths, valid and malformed
(random deletions, insertions of separators, dots, pound signs, UUIDs, unicode, Windows
separators...).  Both libraries must give the same parts (tuple and dict, with and without
``assert_valid``) or raise the same family of error; ours raises the typed ``ALFInvalid``.
The only accepted differences are those where we follow ONE 3.x (named in each test).
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Callable
from typing import Any

import one.alf.files as one_files
import one.alf.spec as one_spec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from one_async.alf import path as our_files
from one_async.alf import spec as our_spec
from one_async.exceptions import ALFInvalid, OneError

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -----------------------------------------------------------------------------

UUID4 = str(uuid.UUID(int=0x1234_5678_9ABC_4DEF_8123_4567_89AB_CDEF))
UUID3 = str(uuid.uuid3(uuid.NAMESPACE_DNS, 'alf'))
UUIDS = [
    UUID4,
    UUID3,
    UUID4.upper(),
    UUID4.replace('-', ''),
    str(uuid.uuid5(uuid.NAMESPACE_DNS, 'x')),
]

ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
odd_chars = st.sampled_from(['_', '-', '.', ' ', 'é', 'Δ', '١', '#', '\\', '/', '\n', 'ß'])
ident = st.text(ALNUM, min_size=1, max_size=8)
word = st.one_of(
    ident,
    ident,
    st.text(st.one_of(st.sampled_from(ALNUM), odd_chars), min_size=0, max_size=8),
)
namespace = st.one_of(st.just(''), ident, st.sampled_from(['ibl', 'spike_glx', '_', 'é']))
alf_object = st.one_of(ident, st.sampled_from(['ephysData_g0_t0', 'ROIs', '_x', 'obj-1']), word)
attribute = st.one_of(
    ident,
    ident.map(lambda a: a + '_times'),
    ident.map(lambda a: a + '_intervals'),
    st.sampled_from(['_phy_ids', 'feedback_type', 'a-b', 'intervals_bpod']),
    word,
)
timescale = st.one_of(st.just(''), ident, word)
extra = st.one_of(
    st.just(''),
    st.lists(st.one_of(ident, st.sampled_from(UUIDS)), min_size=1, max_size=3).map('.'.join),
    word,
)
extension = st.one_of(ident, st.sampled_from(['npy', 'pqt', '', 'n-p', 'ß']))


@st.composite
def alf_names(draw: st.DrawFn) -> str:
    ns = draw(namespace)
    name = (f'_{ns}_' if ns else '') + draw(alf_object) + '.' + draw(attribute)
    ts, ex = draw(timescale), draw(extra)
    name += (f'_{ts}' if ts else '') + (f'.{ex}' if ex else '')
    if draw(st.booleans()) or draw(st.booleans()):
        name += '.' + draw(extension)
    return name


date = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.from_regex(r'\A\d{4}-\d{1,2}-\d{1,2}\Z'),
    st.sampled_from(['2020-13-01', '20200101', '٢٠٢٠-٠١-٠١', '2020-02-30']),
)
number = st.one_of(
    st.integers(0, 999).map(lambda n: f'{n:03d}'),
    st.integers(0, 99_999).map(str),
    st.sampled_from(['', 'abc', '١', '²', '1a']),
)
lab = st.one_of(ident, word)
subject = st.one_of(ident, st.sampled_from(['SWC_001', 'sub-01', 'a.b']), word)
collection = st.one_of(
    st.just(''),
    st.lists(
        st.one_of(ident, st.sampled_from(['alf', 'probe00', 'raw_ephys_data'])),
        min_size=1,
        max_size=3,
    ).map('/'.join),
    word,
)
revision = st.one_of(st.just(''), ident, st.sampled_from(['2020-01-01', 'v1.0.0']), word)
root = st.sampled_from(
    [
        '',
        '',
        '/',
        '/data/',
        'C:\\Data\\',
        'C:/Data/',
        '//srv/share/',
        './',
        'x/',
        '1/',
        '/d/2020-01-01/1/',
    ]
)


@st.composite
def session_paths(draw: st.DrawFn) -> str:
    prefix = draw(lab) + '/Subjects/' if draw(st.booleans()) else ''
    return f'{draw(root)}{prefix}{draw(subject)}/{draw(date)}/{draw(number)}'


@st.composite
def folders(draw: st.DrawFn) -> str:
    col, rev = draw(collection), draw(revision)
    return (f'{col}/' if col else '') + (f'#{rev}#/' if rev else '')


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """Apply up to three random edits to a drawn string."""
    text = draw(base)
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.integers(0, 6))
        if op == 0:
            text = text[: max(i - 1, 0)] + text[i:]
        elif op == 1:
            text = (
                text[:i]
                + draw(st.sampled_from(['.', '_', '/', '#', '//', '..', ' ', '\n']))
                + text[i:]
            )
        elif op == 2:
            text = text.replace('/', '\\')
        elif op == 3:
            text = text[:i] + draw(st.sampled_from(UUIDS)) + text[i:]
        elif op == 4:
            text += '/'
        elif op == 5:
            text = text.rsplit('.', 1)[0]
        else:
            text = text[:i] + draw(odd_chars) + text[i:]
    return text


names = mutated(alf_names())
rel_paths = mutated(st.builds(lambda f, n: f + n, folders(), alf_names()))
sessions = mutated(session_paths())
folder_paths = mutated(st.builds(lambda s, f: s + '/' + f, session_paths(), folders()))
full_paths = mutated(
    st.builds(lambda s, f, n: f'{s}/{f}{n}', session_paths(), folders(), alf_names())
)
any_path = st.one_of(names, rel_paths, sessions, folder_paths, full_paths)
path_type = st.sampled_from([str, str, str, pathlib.PurePosixPath, pathlib.PureWindowsPath])


# --- helpers --------------------------------------------------------------------------------


def outcome(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """('ok', result) or ('error', exception) - dicts become item lists to compare order."""
    try:
        result = func(*args, **kwargs)
    except Exception as error:
        return 'error', error
    if isinstance(result, dict):
        return 'ok', list(result.items())
    return 'ok', result


def family(error: BaseException) -> type[BaseException]:
    return next(f for f in (ValueError, TypeError, Exception) if isinstance(error, f))


def assert_same(ours: tuple[str, Any], theirs: tuple[str, Any]) -> None:
    if ours[0] == 'error' or theirs[0] == 'error':
        assert ours[0] == theirs[0] == 'error', (ours, theirs)
        assert family(ours[1]) is family(theirs[1]), (ours, theirs)
        if family(theirs[1]) is ValueError:
            assert isinstance(ours[1], OneError), ours
        return
    assert ours == theirs


def session_candidates(path: pathlib.PurePath) -> list[int]:
    """Indices of number folders that follow a date folder (what get_session_path looks for)."""
    parts = path.parts
    return [
        i
        for i in range(1, len(parts))
        if parts[i].isdigit() and our_files._isdatetime(parts[i - 1])
    ]


def one_wraps(path: pathlib.PurePath) -> bool:
    """ONE also compares the first folder with the last (negative index)."""
    parts = path.parts
    return len(parts) > 1 and parts[0].isdigit() and our_files._isdatetime(parts[-1])


def unambiguous(path: pathlib.PurePath) -> bool:
    """One session at most: ONE 2.9.0 (last match) and 3.x (first match) agree."""
    return len(session_candidates(path)) <= 1 and not one_wraps(path)


# --- parsers --------------------------------------------------------------------------------

PARSERS = [
    ('filename_parts', names),
    ('rel_path_parts', rel_paths),
    ('session_path_parts', sessions),
    ('folder_parts', folder_paths),
]


@pytest.mark.parametrize(('name', 'strategy'), PARSERS, ids=[p[0] for p in PARSERS])
def test_parsers_match_one(name: str, strategy: st.SearchStrategy[str]) -> None:
    ours_fn, one_fn = getattr(our_files, name), getattr(one_files, name)

    @SETTINGS
    @given(st.one_of(strategy, any_path), path_type, st.booleans(), st.booleans())
    def check(text: str, cls: type, as_dict: bool, assert_valid: bool) -> None:
        value = cls(text)
        ours = outcome(ours_fn, value, as_dict=as_dict, assert_valid=assert_valid)
        theirs = outcome(one_fn, value, as_dict=as_dict, assert_valid=assert_valid)
        assert_same(ours, theirs)
        if ours[0] == 'error':
            assert isinstance(ours[1], ALFInvalid)
            assert ours[1].value is not None

    check()


@SETTINGS
@given(st.one_of(full_paths, any_path), path_type, st.booleans(), st.booleans())
def test_full_path_parts_matches_one(
    text: str, cls: type, as_dict: bool, assert_valid: bool
) -> None:
    value = cls(text)
    ours = outcome(our_files.full_path_parts, value, as_dict=as_dict, assert_valid=assert_valid)
    theirs = outcome(one_files.full_path_parts, value, as_dict=as_dict, assert_valid=assert_valid)
    if ours[0] == 'error' and theirs[0] == 'ok':
        # ONE 3.x: a folder path whose last component is not one of its parsed parts (e.g. an
        # extensionless file name) is invalid; 2.9.0 reads it as a collection.
        path = pathlib.Path(value)
        parsed = (
            dict(theirs[1])
            if as_dict
            else dict(
                zip(
                    ('lab', 'subject', 'date', 'number', 'collection', 'revision'),
                    theirs[1][:6],
                    strict=True,
                )
            )
        )
        assert assert_valid
        assert isinstance(ours[1], ALFInvalid)
        assert path.name.count('.') < 2
        assert path.name not in parsed.values()
        assert f'#{parsed["revision"]}#' != path.name
        return
    assert_same(ours, theirs)


# --- path functions -------------------------------------------------------------------------


@SETTINGS
@given(any_path, path_type)
def test_get_session_path_matches_one(text: str, cls: type) -> None:
    value = cls(text)
    ours = our_files.get_session_path(value)
    theirs = one_files.get_session_path(value)
    native = pathlib.Path(value) if isinstance(value, str) else value
    if unambiguous(native):
        # 2.9.0 always returns a pathlib.Path, 3.x the class of the input
        assert (ours and ours.parts) == (theirs and theirs.parts)
        if ours is not None:
            assert type(ours) is type(native)
    else:
        # ONE 3.x returns the first session, 2.9.0 the last; ONE's first-folder wrap ignored.
        candidates = session_candidates(native)
        if candidates:
            assert ours is not None
            assert len(ours.parts) == candidates[0] + 1
            assert native.parts[: len(ours.parts)] == ours.parts
        else:
            assert ours is None


@SETTINGS
@given(any_path, path_type)
def test_get_alf_path_matches_one(text: str, cls: type) -> None:
    value = cls(text)
    assert_same(outcome(our_files.get_alf_path, value), outcome(one_files.get_alf_path, value))


@SETTINGS
@given(
    any_path,
    path_type,
    st.one_of(st.sampled_from([*UUIDS, 'abc', '']), st.uuids(version=4), st.uuids(version=1)),
)
def test_add_and_remove_uuid_match_one(text: str, cls: type, new_uuid: Any) -> None:
    value = cls(text)
    ours = outcome(our_files.add_uuid_string, value, new_uuid)
    theirs = outcome(one_files.add_uuid_string, value, new_uuid)
    last = pathlib.PurePath(value).stem.split('.')[-1]
    if ours != theirs and ours[0] == theirs[0] == 'ok':
        # ONE 3.x also replaces a version 3 UUID (made by its cache builder); 2.9.0 only v4.
        assert our_spec.is_uuid(last, (3,))
        source = pathlib.PurePath(value)
        stem_parts = source.stem.split('.')
        assert ours[1].parent == theirs[1].parent
        assert ours[1].name == '.'.join(stem_parts[:-1]) + f'.{new_uuid}{source.suffix}'
    else:
        assert_same(ours, theirs)
    if ours[0] == 'ok':
        assert type(ours[1]) is type(theirs[1])
    assert_same(
        outcome(our_files.remove_uuid_string, value), outcome(one_files.remove_uuid_string, value)
    )


@SETTINGS
@given(st.one_of(full_paths, folder_paths, sessions), path_type)
def test_padded_sequence_and_without_revision_match_one(text: str, cls: type) -> None:
    value = cls(text)
    native = pathlib.Path(value) if isinstance(value, str) else value
    if not unambiguous(native):
        return  # which session is padded differs between ONE versions (see above)
    ours = outcome(our_files.padded_sequence, value)
    theirs = outcome(one_files.padded_sequence, value)
    if ours[0] == 'ok' and theirs[0] == 'ok':
        # 2.9.0 returns pathlib classes, 3.x ALF path classes
        assert isinstance(ours[1], our_files.PureALFPath)
        assert str(ours[1]) == str(theirs[1])
    else:
        assert_same(ours, theirs)
    ours = outcome(our_files.without_revision, value)
    theirs = outcome(one_files.without_revision, value)
    if theirs[0] == 'error' and isinstance(theirs[1], AttributeError):
        assert isinstance(ours[1], ALFInvalid)  # ONE fails on a session the regex finds only
    elif ours[0] == 'ok' and theirs[0] == 'ok':
        # 2.9.0 returns a pathlib.Path, 3.x the class of the input
        assert type(ours[1]) is type(native)
        assert ours[1].parts == theirs[1].parts
    else:
        assert_same(ours, theirs)


# --- spec -----------------------------------------------------------------------------------


@SETTINGS
@given(st.one_of(names, any_path))
def test_is_valid_matches_one(text: str) -> None:
    assert our_spec.is_valid(text) == one_spec.is_valid(text)


@SETTINGS
@given(any_path, path_type)
def test_is_session_path_matches_one(text: str, cls: type) -> None:
    value = cls(text)
    assert our_spec.is_session_path(value) == one_spec.is_session_path(value)


uuid_like = st.one_of(
    st.sampled_from(UUIDS),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.uuids().map(lambda u: u.hex),
    st.uuids(),
    st.text(max_size=40),
    st.binary(min_size=15, max_size=17),
    st.integers(-1, 2**129),
    mutated(st.sampled_from(UUIDS)),
)


@SETTINGS
@given(uuid_like, st.sampled_from([(4,), (3, 4, 5), (1,), (3,)]))
def test_uuid_checks_match_one(value: Any, versions: tuple[int, ...]) -> None:
    assert our_spec.is_uuid_string(value) == one_spec.is_uuid_string(value)
    assert our_spec.is_uuid(value, versions) == one_spec.is_uuid(value, versions)


# Words on which ONE 2.9.0's and 3.x's acronym rules agree: no digits or plural 's' next to
# capitals (3.x keeps 'ROIs' whole, 2.9.0 does not).
camel_word = st.one_of(
    st.text('abcdefghijklmnopqrtuvwxyz', min_size=1, max_size=6),
    st.text('ABCDEFGHIJKLMNOPQRSTUVWXYZ', min_size=1, max_size=3),
    st.builds(
        lambda a, b: a + b,
        st.text('ABCDEFGHIJKLMNOPQRSTUVWXYZ', min_size=1, max_size=1),
        st.text('abcdefghijklmnopqrtuvwxyz', min_size=1, max_size=5),
    ),
)
phrase = st.lists(camel_word, min_size=1, max_size=3).flatmap(
    lambda ws: st.lists(
        st.sampled_from(['_', ' ']), min_size=len(ws) - 1, max_size=len(ws) - 1
    ).map(lambda seps: ws[0] + ''.join(s + w for s, w in zip(seps, ws[1:], strict=True)))
)


@SETTINGS
@given(phrase, st.booleans())
def test_case_helpers_match_one(text: str, capitalize: bool) -> None:
    assert our_spec._dromedary(text) == one_spec._dromedary(text)
    joined = text.replace(' ', '').replace('_', '')
    assert our_spec.readableALF(joined, capitalize) == one_spec.readableALF(joined, capitalize)


@SETTINGS
@given(
    st.one_of(phrase, alf_object),
    st.one_of(phrase, attribute),
    st.one_of(extension, extension.map(lambda e: '.' + e)),
    st.one_of(st.none(), namespace),
    st.one_of(st.none(), timescale, st.lists(phrase, max_size=2).map(tuple)),
    st.one_of(st.none(), extra, st.lists(ident, max_size=2).map(tuple)),
)
def test_to_alf_matches_one(obj: str, attr: str, ext: str, ns: Any, ts: Any, ex: Any) -> None:
    ours = outcome(our_spec.to_alf, obj, attr, ext, namespace=ns, timescale=ts, extra=ex)
    theirs = outcome(one_spec.to_alf, obj, attr, ext, namespace=ns, timescale=ts, extra=ex)
    if theirs[0] == 'error' and isinstance(theirs[1], IndexError):
        assert obj == ''  # ONE indexes an empty object
        assert isinstance(ours[1], ALFInvalid)
        return
    if ours[0] == theirs[0] == 'ok' and ours != theirs:
        # camel casing follows ONE 3.x, whose acronym rule differs from 2.9.0's
        words = [obj, attr, *([ts] if isinstance(ts, str) else ts or ())]
        assert any(our_spec._dromedary(w) != one_spec._dromedary(w) for w in words)
        return
    assert_same(ours, theirs)


lower_camel = st.builds(
    lambda a, b: a + b,
    st.text('abcdefghijklmnopqrstuvwxyz', min_size=1, max_size=1),
    st.text(ALNUM, max_size=7),
)


@SETTINGS
@given(
    lower_camel,
    st.one_of(
        lower_camel,
        lower_camel.map(lambda a: a + '_times'),
        lower_camel.map(lambda a: a + '_intervals'),
    ),
    st.text('abcdefghijklmnopqrstuvwxyz0123456789', min_size=1, max_size=5),
    st.one_of(st.none(), ident),
    st.one_of(st.none(), lower_camel),
    st.lists(
        st.one_of(st.text(ALNUM + '-', min_size=1, max_size=6), st.sampled_from(UUIDS)), max_size=3
    ),
)
def test_to_alf_round_trips(
    obj: str, attr: str, ext: str, ns: str | None, ts: str | None, extras: list[str]
) -> None:
    name = our_spec.to_alf(obj, attr, ext, namespace=ns, timescale=ts, extra=tuple(extras))
    assert name == one_spec.to_alf(obj, attr, ext, namespace=ns, timescale=ts, extra=tuple(extras))
    parts = our_files.filename_parts(name, as_dict=True)
    assert parts == {
        'namespace': ns or None,
        'object': obj,
        'attribute': attr,
        'timescale': ts or None,
        'extra': '.'.join(extras) or None,
        'extension': ext,
    }
    assert our_spec.is_valid(name)


qc_value = st.one_of(
    st.sampled_from(['pass', 'PASS', 'Warning', 'not_set', 'CRITICAL', 'fail', 'nope', '', '²']),
    st.integers(-5, 60),
    st.integers(-5, 60).map(str),
    st.floats(allow_nan=False, min_value=-5, max_value=60),
    st.text(max_size=5),
    st.none(),
)


@SETTINGS
@given(qc_value)
def test_qc_validate_matches_one(value: Any) -> None:
    assert_same(outcome(our_spec.QC.validate, value), outcome(one_spec.QC.validate, value))


@SETTINGS
@given(
    st.sampled_from(
        ['SESSION_SPEC', 'COLLECTION_SPEC', 'FILE_SPEC', 'REL_PATH_SPEC', 'FULL_SPEC']
    ),
    st.dictionaries(
        st.sampled_from(['lab', 'subject', 'object', 'attribute', 'extension', 'revision']),
        st.one_of(st.none(), ident),
        max_size=3,
    ),
)
def test_regex_matches_one(spec_name: str, overrides: dict[str, str | None]) -> None:
    ours = our_spec.regex(getattr(our_spec, spec_name), **overrides)
    theirs = one_spec.regex(getattr(one_spec, spec_name), **overrides)
    assert ours.pattern == theirs.pattern
    assert ours.flags == theirs.flags
