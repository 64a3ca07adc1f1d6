"""one_async.alf.path functions: parsing, session paths, UUIDs, padding, revisions."""

from __future__ import annotations

import logging
import pathlib
import uuid

import pytest

import one_async.alf.exceptions as alf_exceptions
import one_async.alf.files as files
import one_async.exceptions as exceptions
from one_async.alf import path as alfpath
from one_async.alf.path import (
    ALFPath,
    PureALFPath,
    PurePosixALFPath,
    PureWindowsALFPath,
    add_uuid_string,
    ensure_alf_path,
    filename_parts,
    folder_parts,
    full_path_parts,
    get_alf_path,
    get_session_path,
    padded_sequence,
    rel_path_parts,
    remove_uuid_string,
    session_path_parts,
    without_revision,
)
from one_async.exceptions import ALFInvalid, ArgumentTypeError, InvalidArgument

UUID4 = 'a976e418-c8b8-4d24-be47-d05120b18341'
UUID3 = str(uuid.uuid3(uuid.NAMESPACE_URL, 'dataset'))
FULL = (
    'lab/Subjects/subject/2020-01-01/001/collection/#revision#/'
    '_namespace_obj.times_timescale.extra.foo.ext'
)
FULL_PARTS = (
    'lab',
    'subject',
    '2020-01-01',
    '001',
    'collection',
    'revision',
    'namespace',
    'obj',
    'times',
    'timescale',
    'extra.foo',
    'ext',
)
FOLDER_KEYS = ('lab', 'subject', 'date', 'number', 'collection', 'revision')
FILE_KEYS = ('namespace', 'object', 'attribute', 'timescale', 'extra', 'extension')


# --- filename_parts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('name', 'parts'),
    [
        (
            '_namespace_obj.times_timescale.extra.foo.ext',
            ('namespace', 'obj', 'times', 'timescale', 'extra.foo', 'ext'),
        ),
        ('spikes.clusters.npy', (None, 'spikes', 'clusters', None, None, 'npy')),
        ('spikes.times_ephysClock.npy', (None, 'spikes', 'times', 'ephysClock', None, 'npy')),
        (
            '_iblmic_audioSpectrogram.frequencies.npy',
            ('iblmic', 'audioSpectrogram', 'frequencies', None, None, 'npy'),
        ),
        (
            '_spikeglx_ephysData_g0_t0.imec.wiring.json',
            ('spikeglx', 'ephysData_g0_t0', 'imec', None, 'wiring', 'json'),
        ),
        (
            '_spikeglx_ephysData_g0_t0.imec0.lf.bin',
            ('spikeglx', 'ephysData_g0_t0', 'imec0', None, 'lf', 'bin'),
        ),
        (
            '_ibl_trials.goCue_times_bpod.csv',
            ('ibl', 'trials', 'goCue_times', 'bpod', None, 'csv'),
        ),
        (
            f'trials.intervals.{UUID4}.npy',
            (None, 'trials', 'intervals', None, UUID4, 'npy'),
        ),
    ],
)
def test_filename_parts(name: str, parts: tuple[str | None, ...]) -> None:
    assert filename_parts(name) == parts
    assert filename_parts(pathlib.PurePosixPath(name)) == parts
    as_dict = filename_parts(name, as_dict=True)
    assert list(as_dict) == list(FILE_KEYS)
    assert tuple(as_dict.values()) == parts


@pytest.mark.parametrize('name', ['spike_train.npy', 'obj.attr', '', 'a b.c.d', '.attr.npy'])
def test_filename_parts_invalid(name: str) -> None:
    with pytest.raises(ALFInvalid) as info:
        filename_parts(name)
    assert info.value.value == name
    assert isinstance(info.value, ValueError)
    assert filename_parts(name, assert_valid=False) == (None,) * 6
    assert filename_parts(name, as_dict=True, assert_valid=False) == dict.fromkeys(FILE_KEYS)


def test_parsers_reject_non_paths() -> None:
    for parser in (filename_parts, rel_path_parts, session_path_parts, folder_parts):
        with pytest.raises(ArgumentTypeError):
            parser(42)  # type: ignore[call-overload]
    with pytest.raises(ArgumentTypeError):
        full_path_parts(None)  # type: ignore[call-overload]


# --- rel_path_parts, session_path_parts, folder_parts ---------------------------------------


def test_rel_path_parts() -> None:
    parts = rel_path_parts('alf/probe00/#2021-01-01#/_ibl_spikes.times.npy')
    assert parts == ('alf/probe00', '2021-01-01', 'ibl', 'spikes', 'times', None, None, 'npy')
    assert rel_path_parts('trials.table.pqt', as_dict=True) == {
        'collection': None,
        'revision': None,
        'namespace': None,
        'object': 'trials',
        'attribute': 'table',
        'timescale': None,
        'extra': None,
        'extension': 'pqt',
    }
    with pytest.raises(ALFInvalid):
        rel_path_parts('subject/2020-01-01/001/alf/spikes.times.npy/')
    assert rel_path_parts('alf/a b.c.d', assert_valid=False) == (None,) * 8


@pytest.mark.parametrize(
    ('path', 'parts'),
    [
        ('lab/Subjects/subject/2020-01-01/001', ('lab', 'subject', '2020-01-01', '001')),
        ('subject/2020-01-01/1', (None, 'subject', '2020-01-01', '1')),
        (
            '/mnt/data/lab/Subjects/subject/2020-01-01/001/alf/obj.attr.npy',
            ('lab', 'subject', '2020-01-01', '001'),
        ),
        (
            pathlib.PureWindowsPath(r'C:\data\SW_1\2020-01-01\002'),
            (None, 'SW_1', '2020-01-01', '002'),
        ),
    ],
)
def test_session_path_parts(path: str | pathlib.PurePath, parts: tuple[str | None, ...]) -> None:
    assert session_path_parts(path) == parts
    assert session_path_parts(path, as_dict=True) == dict(
        zip(('lab', 'subject', 'date', 'number'), parts, strict=True)
    )


def test_session_path_parts_invalid() -> None:
    with pytest.raises(ALFInvalid, match='subject/2020-01-01'):
        session_path_parts('subject/2020-01-01')
    assert session_path_parts('x', assert_valid=False) == (None,) * 4


def test_folder_parts() -> None:
    assert folder_parts('lab/Subjects/subject/2020-01-01/001/collection/#revision#') == (
        'lab',
        'subject',
        '2020-01-01',
        '001',
        'collection',
        'revision',
    )
    assert folder_parts(pathlib.PurePath('lab/Subjects/subject/2020-01-01/001'), as_dict=True) == {
        'lab': 'lab',
        'subject': 'subject',
        'date': '2020-01-01',
        'number': '001',
        'collection': None,
        'revision': None,
    }
    with pytest.raises(ALFInvalid):
        folder_parts('collection/#revision#')
    assert folder_parts('', assert_valid=False) == (None,) * 6


# --- full_path_parts ------------------------------------------------------------------------


def test_full_path_parts() -> None:
    assert full_path_parts(FULL) == FULL_PARTS
    assert full_path_parts(pathlib.PurePosixPath('/data') / FULL) == FULL_PARTS
    assert full_path_parts(FULL, as_dict=True) == dict(
        zip(FOLDER_KEYS + FILE_KEYS, FULL_PARTS, strict=True)
    )
    assert list(full_path_parts(FULL, as_dict=True)) == list(FOLDER_KEYS + FILE_KEYS)
    assert full_path_parts('spikes.clusters.npy', as_dict=True) == {
        **dict.fromkeys(FOLDER_KEYS),
        'namespace': None,
        'object': 'spikes',
        'attribute': 'clusters',
        'timescale': None,
        'extra': None,
        'extension': 'npy',
    }


def test_full_path_parts_of_folders() -> None:
    session = ('lab', 'subject', '2020-01-01', '001')
    assert full_path_parts('lab/Subjects/subject/2020-01-01/001') == (*session, *(None,) * 8)
    assert full_path_parts('lab/Subjects/subject/2020-01-01/001/alf/') == (
        *session,
        'alf',
        *(None,) * 7,
    )
    assert full_path_parts('lab/Subjects/subject/2020-01-01/001/#v1#')[5] == 'v1'


def test_full_path_parts_normalises_like_pathlib() -> None:
    messy = 'lab//Subjects/./subject/2020-01-01/001/alf/./obj.attr.npy'
    assert full_path_parts(messy) == full_path_parts(pathlib.Path(messy))
    assert full_path_parts(messy)[7] == 'obj'


@pytest.mark.parametrize(
    'path',
    [
        'subject/2020-01-01/001/alf/spikes.times',  # extensionless file (ONE 3.x)
        'subject/2020-01-01/001/alf/a b',
        'subject/2020-01-01',
        'alf/spikes.times.npy/extra',
        '/',
    ],
)
def test_full_path_parts_invalid(path: str) -> None:
    with pytest.raises(ALFInvalid):
        full_path_parts(path)
    assert full_path_parts(path, assert_valid=False)[6:] == (None,) * 6


def test_full_path_parts_without_validation_keeps_what_parses() -> None:
    parts = full_path_parts('subject/2020-01-01/001/alf/a b.c.d', assert_valid=False)
    assert parts == (None, 'subject', '2020-01-01', '001', 'alf', None, *(None,) * 6)


# --- get_session_path, get_alf_path ---------------------------------------------------------


def test_get_session_path() -> None:
    path = '/mnt/sd0/Data/lab/Subjects/subject/2020-01-01/001'
    assert get_session_path(path) == pathlib.Path(path)
    assert type(get_session_path(path)) is type(pathlib.Path(path))
    assert get_session_path(path + '/alf/spikes.times.npy') == pathlib.Path(path)
    windows = pathlib.PureWindowsPath(r'C:\Data\subject\2020-01-01\1\trials.intervals.npy')
    assert get_session_path(windows) == pathlib.PureWindowsPath(r'C:\Data\subject\2020-01-01\1')
    alf = ALFPath('subject/2020-01-01/1/alf')
    assert type(get_session_path(alf)) is type(alf)
    assert get_session_path(None) is None
    assert get_session_path('subject/2020-01-01/alf') is None
    # the date is whatever strptime accepts and the number any digits
    assert get_session_path('s/2020-1-2/0042/x') == pathlib.Path('s/2020-1-2/0042')


def test_get_session_path_takes_the_first_session() -> None:
    path = 'a/2020-01-01/001/b/2020-01-02/002/obj.attr.npy'
    assert get_session_path(path) == pathlib.Path('a/2020-01-01/001')


def test_get_session_path_needs_a_date_before_the_number() -> None:
    # ONE 3.6.1 returns Path('123') here (it pairs the first folder with the last one)
    assert get_session_path('123/2020-01-01') is None
    with pytest.raises(ArgumentTypeError):
        get_session_path(42)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ('path', 'alf'),
    [
        ('etc/etc/lab/Subjects/subj/2021-01-21/001', 'lab/Subjects/subj/2021-01-21/001'),
        (
            '/etc/etc/subj/2021-01-21/001/collection/file.attr.ext',
            'subj/2021-01-21/001/collection/file.attr.ext',
        ),
        ('collection/file.attr.ext', 'collection/file.attr.ext'),
        ('/collection/#rev#/file.attr.ext', 'collection/#rev#/file.attr.ext'),
        ('foo bar/file.attr.ext', 'file.attr.ext'),
        ('etc/not_alf.txt', None),
    ],
)
def test_get_alf_path(path: str, alf: str | None) -> None:
    assert get_alf_path(path) == alf
    assert get_alf_path(pathlib.PurePosixPath(path)) == alf


# --- UUIDs ----------------------------------------------------------------------------------


def test_add_uuid_string() -> None:
    added = add_uuid_string('/path/to/trials.intervals.npy', UUID4)
    assert added == pathlib.Path(f'/path/to/trials.intervals.{UUID4}.npy')
    assert type(added) is type(pathlib.Path())
    pure = add_uuid_string(pathlib.PureWindowsPath(r'C:\a\obj.attr.npy'), uuid.UUID(UUID4))
    assert pure == pathlib.PureWindowsPath(rf'C:\a\obj.attr.{UUID4}.npy')


@pytest.mark.parametrize('old', [UUID4.replace('a976', 'b976'), UUID3])
def test_add_uuid_string_replaces_a_uuid(old: str) -> None:
    path = f'obj.attr.raw.{old}.npy'
    assert add_uuid_string(path, UUID4) == pathlib.Path(f'obj.attr.raw.{UUID4}.npy')
    with pytest.raises(InvalidArgument, match=old):
        add_uuid_string(path, UUID4, strict=True)


def test_add_uuid_string_keeps_the_same_uuid(caplog: pytest.LogCaptureFixture) -> None:
    path = pathlib.PurePosixPath(f'obj.attr.{UUID4}.npy')
    with caplog.at_level(logging.WARNING, logger='one_async.alf.path'):
        assert add_uuid_string(path, UUID4, strict=True) is path
    assert 'UUID already found' in caplog.text


@pytest.mark.parametrize('bad', ['abc', UUID4.upper(), UUID4.replace('-', '')])
def test_add_uuid_string_rejects_bad_uuids(bad: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        add_uuid_string('obj.attr.npy', bad)
    assert info.value.value == bad


def test_remove_uuid_string() -> None:
    assert remove_uuid_string(f'/a/obj.attr.{UUID4}.npy') == pathlib.Path('/a/obj.attr.npy')
    assert remove_uuid_string('/a/obj.attr.npy') == pathlib.Path('/a/obj.attr.npy')
    pure = pathlib.PurePosixPath(f'obj.attr.{UUID3}.npy')
    assert remove_uuid_string(pure) == pathlib.PurePosixPath('obj.attr.npy')
    upper = f'obj.attr.{UUID4.upper()}.npy'  # not canonical: left alone
    assert remove_uuid_string(upper) == pathlib.Path(upper)
    with pytest.raises(ALFInvalid):
        remove_uuid_string(f'alf/{UUID4}')  # nothing would be left of the name


# --- padded_sequence, without_revision ------------------------------------------------------


def test_padded_sequence() -> None:
    path = '/iblrigdata/subject/2023-01-01/1/_ibl_experiment.description.yaml'
    padded = padded_sequence(path)
    assert padded == ALFPath('/iblrigdata/subject/2023-01-01/001/_ibl_experiment.description.yaml')
    assert isinstance(padded, ALFPath)
    session = pathlib.PurePosixPath('subject/2023-01-01/001')
    assert padded_sequence(session) == session
    assert type(padded_sequence(session)) is PurePosixALFPath
    assert padded_sequence('s/2020-01-01/0042/alf') == ALFPath('s/2020-01-01/042/alf')


@pytest.mark.parametrize('path', ['subject/2023-01-01', 'alf/obj.attr.npy', 's/2020-01-01/²'])
def test_padded_sequence_needs_a_session(path: str) -> None:
    with pytest.raises(ALFInvalid):
        padded_sequence(path)


def test_without_revision() -> None:
    path = '/lab/Subjects/subject/2023-01-01/001/collection/#revision#/obj.attr.ext'
    expected = pathlib.Path('/lab/Subjects/subject/2023-01-01/001/collection/obj.attr.ext')
    assert without_revision(path) == expected
    assert without_revision('s/2023-01-01/001/#rev#/obj.attr.ext') == pathlib.Path(
        's/2023-01-01/001/obj.attr.ext'
    )
    same = pathlib.PurePosixPath('s/2023-01-01/001/alf/obj.attr.ext')
    assert without_revision(same) == same
    with pytest.raises(ALFInvalid):
        without_revision('alf/#rev#/obj.attr.ext')
    with pytest.raises(ALFInvalid):  # the regex finds a session but the date is not a date
        without_revision('s/2023-13-01/001/#rev#/obj.attr.ext')


# --- ensure_alf_path and aliases ------------------------------------------------------------


def test_ensure_alf_path() -> None:
    assert type(ensure_alf_path('a/b')) is type(ALFPath())
    assert type(ensure_alf_path(pathlib.Path('a/b'))) is type(ALFPath())
    assert type(ensure_alf_path(pathlib.PurePosixPath('a'))) is PurePosixALFPath
    assert type(ensure_alf_path(pathlib.PureWindowsPath('a'))) is PureWindowsALFPath
    alf = PureALFPath('a/b')
    assert ensure_alf_path(alf) is alf
    many = ensure_alf_path(['a', pathlib.PurePosixPath('b')])
    assert many == [ALFPath('a'), PurePosixALFPath('b')]
    assert ensure_alf_path(p for p in ('x',)) == [ALFPath('x')]
    with pytest.raises(ArgumentTypeError):
        ensure_alf_path(42)  # type: ignore[call-overload]


def test_files_module_is_the_path_module_under_one_2_name() -> None:
    for name in files.__all__:
        assert getattr(files, name) is getattr(alfpath, name)
    assert set(files.__all__) <= set(alfpath.__all__)


def test_alf_exceptions_module_reexports_the_tree() -> None:
    for name in alf_exceptions.__all__:
        assert getattr(alf_exceptions, name) is getattr(exceptions, name)
    assert issubclass(alf_exceptions.ALFInvalid, ValueError)
