"""ALFPath and PureALFPath: pathlib behaviour, ALF properties and part replacement."""

from __future__ import annotations

import datetime
import os
import pathlib
import pickle

import pytest

from one_async.alf.path import (
    ALFPath,
    PosixALFPath,
    PureALFPath,
    PurePosixALFPath,
    PureWindowsALFPath,
    WindowsALFPath,
)
from one_async.exceptions import ALFInvalid, ArgumentTypeError, InvalidArgument

UUID4 = 'a976e418-c8b8-4d24-be47-d05120b18341'
SESSION = 'lab/Subjects/subj/2020-01-01/001'
DATASET = f'/data/{SESSION}/alf/probe00/#v2#/_ibl_spikes.times_ephysClock.raw.npy'

# --- pathlib behaviour ----------------------------------------------------------------------


def test_constructors_pick_the_os_flavour() -> None:
    native_pure = PureWindowsALFPath if os.name == 'nt' else PurePosixALFPath
    native = WindowsALFPath if os.name == 'nt' else PosixALFPath
    assert type(PureALFPath('a', 'b')) is native_pure
    assert type(ALFPath('a', pathlib.PurePath('b'))) is native
    assert isinstance(ALFPath('a'), pathlib.Path)
    assert isinstance(ALFPath('a'), PureALFPath)
    assert not isinstance(PureALFPath('a'), pathlib.Path)
    assert type(PureWindowsALFPath(r'C:\a\b')) is PureWindowsALFPath


def test_derived_paths_keep_the_class() -> None:
    path = ALFPath(DATASET)
    for derived in (path.parent, path / 'x', path.with_name('a.b.c'), path.parents[2]):
        assert type(derived) is type(path)
    windows = PureWindowsALFPath(r'C:\data\subj\2020-01-01\001')
    assert type(windows / 'alf') is PureWindowsALFPath
    assert str(windows / 'alf') == r'C:\data\subj\2020-01-01\001\alf'


def test_equality_hashing_and_pickling() -> None:
    path = ALFPath(DATASET)
    assert path == pathlib.Path(DATASET)
    assert hash(path) == hash(pathlib.Path(DATASET))
    assert PurePosixALFPath('a/b') == pathlib.PurePosixPath('a/b')
    restored = pickle.loads(pickle.dumps(path))
    assert restored == path
    assert type(restored) is type(path)
    assert restored.collection == 'alf/probe00'


def test_cached_parts_do_not_leak_to_derived_paths() -> None:
    path = PureALFPath(DATASET)
    assert path.object == 'spikes'
    assert path.with_object('clusters').object == 'clusters'
    assert path.parent.object == ''


# --- checks ---------------------------------------------------------------------------------


def test_is_dataset_pure_and_on_disk(tmp_path: pathlib.Path) -> None:
    assert PureALFPath('a/obj.attr.npy').is_dataset()
    assert not PureALFPath('a/obj.npy').is_dataset()
    folder = tmp_path / 'obj.attr.npy'
    folder.mkdir()
    assert PureALFPath(folder).is_dataset()
    assert not ALFPath(folder).is_dataset()  # a directory is not a dataset
    assert ALFPath(tmp_path / 'obj.attr.ext').is_dataset()  # absent: the name decides


def test_is_valid_alf(tmp_path: pathlib.Path) -> None:
    assert PureALFPath('/home/foo/2020-01-01/001').is_valid_alf()
    assert PureALFPath('/home/foo/2020-01-01/001/alf/spikes.times.npy').is_valid_alf()
    assert PureALFPath.is_valid_alf('_ibl_wheel.timestamps.npy')
    assert ALFPath.is_valid_alf('_ibl_wheel.timestamps.npy')
    assert not PureALFPath.is_valid_alf('foo.bar')
    assert not PureALFPath('subj/2020-01-01/001/alf/spikes.times').is_valid_alf()
    dataset_dir = tmp_path / 'subj' / '2020-01-01' / '001' / 'obj.attr.npy'
    dataset_dir.mkdir(parents=True)
    assert PureALFPath(dataset_dir).is_valid_alf()
    assert not ALFPath(dataset_dir).is_valid_alf()
    folder_file = tmp_path / 'subj' / '2020-01-01' / '001' / 'alf'
    folder_file.write_text('')
    assert not ALFPath(folder_file).is_valid_alf()
    assert ALFPath(dataset_dir.parent).is_valid_alf()


def test_is_session_path(tmp_path: pathlib.Path) -> None:
    assert PureALFPath('/home/foo/2020-01-01/001').is_session_path()
    assert not PureALFPath('/home/foo/2020-01-01/001/alf/spikes.times.npy').is_session_path()
    assert not ALFPath.is_session_path('_ibl_wheel.timestamps.npy')
    assert PureALFPath.is_session_path('lab/Subjects/foo/2020-01-01/001')
    assert ALFPath.is_session_path('lab/Subjects/foo/2020-01-01/001')
    as_file = tmp_path / 'foo' / '2020-01-01' / '001'
    as_file.parent.mkdir(parents=True)
    as_file.write_text('')
    assert PureALFPath(as_file).is_session_path()
    assert not ALFPath(as_file).is_session_path()


# --- session parts --------------------------------------------------------------------------


def test_session_path_and_short_forms() -> None:
    path = PureALFPath(DATASET)
    assert path.session_path() == PureALFPath(f'/data/{SESSION}')
    assert type(path.session_path()) is type(path)
    assert path.session_path_short() == 'subj/2020-01-01/001'
    assert path.session_path_short(include_lab=True) == 'lab/subj/2020-01-01/001'
    no_lab = PureALFPath(r'C:\Data\subject\2020-01-01\1\trials.intervals.npy'.replace('\\', '/'))
    assert no_lab.session_path_short() == 'subject/2020-01-01/1'
    # ONE 3.6.1 gives '/subject/2020-01-01/1' here (it joins the empty lab)
    assert no_lab.session_path_short(include_lab=True) == 'subject/2020-01-01/1'
    assert PureALFPath('alf/obj.attr.npy').session_path() is None
    assert PureALFPath('alf/obj.attr.npy').session_path_short() is None


def test_lab_and_session_relative_paths() -> None:
    path = PureALFPath(DATASET)
    rest = 'alf/probe00/#v2#/_ibl_spikes.times_ephysClock.raw.npy'
    assert path.without_lab() == PureALFPath(f'/data/subj/2020-01-01/001/{rest}')
    assert path.relative_to_lab() == PureALFPath(f'subj/2020-01-01/001/{rest}')
    assert path.relative_to_session() == PureALFPath(rest)
    no_lab = PureALFPath('subj/2020-01-01/001/alf')
    assert no_lab.without_lab() is no_lab
    with pytest.raises(ALFInvalid, match='Subjects'):
        no_lab.relative_to_lab()
    with pytest.raises(ALFInvalid, match='session'):
        PureALFPath('alf/obj.attr.npy').relative_to_session()


def test_parsing_methods_and_properties() -> None:
    path = PureALFPath(DATASET)
    expected = {
        'lab': 'lab',
        'subject': 'subj',
        'date': '2020-01-01',
        'number': '001',
        'collection': 'alf/probe00',
        'revision': 'v2',
        'namespace': 'ibl',
        'object': 'spikes',
        'attribute': 'times',
        'timescale': 'ephysClock',
        'extra': 'raw',
        'extension': 'npy',
    }
    assert path.parse_alf_path() == expected
    assert path.parse_alf_path(as_dict=False) == tuple(expected.values())
    name_keys = ('namespace', 'object', 'attribute', 'timescale', 'extra', 'extension')
    assert path.parse_alf_name() == {k: expected[k] for k in name_keys}
    assert path.parse_alf_name(as_dict=False) == tuple(expected[k] for k in name_keys)
    assert path.alf_parts == tuple(expected.values())
    assert path.session_parts == ('lab', 'subj', '2020-01-01', '001')
    assert path.dataset_name_parts == tuple(expected[k] for k in name_keys)
    properties = {
        'lab': 'lab',
        'subject': 'subj',
        'date': '2020-01-01',
        'sequence': '001',
        'collection': 'alf/probe00',
        'revision': 'v2',
        'namespace': 'ibl',
        'object': 'spikes',
        'attribute': 'times',
        'timescale': 'ephysClock',
        'extra': 'raw',
    }
    for name, value in properties.items():
        assert getattr(path, name) == value, name


def test_missing_parts_are_empty_strings() -> None:
    path = PureALFPath('alf/obj.attr.npy')
    for name in ('lab', 'subject', 'date', 'sequence', 'namespace', 'timescale', 'extra'):
        assert getattr(path, name) == '', name
    # without a session the path is not parsed as a full path: no collection
    assert path.collection == ''
    assert path.parse_alf_path()['object'] == 'obj'
    bad = PureALFPath('a b.c')
    assert bad.parse_alf_name() == dict.fromkeys(
        ('namespace', 'object', 'attribute', 'timescale', 'extra', 'extension')
    )
    assert bad.alf_parts == ('',) * 12


# --- with_* session parts -------------------------------------------------------------------


def test_with_lab() -> None:
    path = PureALFPath(DATASET)
    assert path.with_lab('other') == PureALFPath(DATASET.replace('lab/', 'other/', 1))
    no_lab = PureALFPath('/data/subj/2020-01-01/001/alf/obj.attr.npy')
    assert no_lab.with_lab('new') == PureALFPath(
        '/data/new/Subjects/subj/2020-01-01/001/alf/obj.attr.npy'
    )
    with pytest.raises(ALFInvalid):
        no_lab.with_lab('new', strict=True)
    with pytest.raises(ALFInvalid) as info:
        path.with_lab('bad lab')
    assert info.value.value == 'bad lab'
    with pytest.raises(ALFInvalid):
        path.with_lab('')
    with pytest.raises(ArgumentTypeError):
        path.with_lab(5)  # type: ignore[arg-type]
    with pytest.raises(ALFInvalid):
        PureALFPath('alf/obj.attr.npy').with_lab('lab')


def test_with_subject_date_sequence() -> None:
    path = PureALFPath(f'/data/{SESSION}/alf/obj.attr.npy')
    assert path.with_subject('SW-2.a').subject == 'SW-2.a'
    assert path.with_subject('SW-2.a').date == '2020-01-01'
    assert path.with_date('2021-12-31') == PureALFPath(
        '/data/lab/Subjects/subj/2021-12-31/001/alf/obj.attr.npy'
    )
    assert path.with_date(datetime.date(2022, 2, 3)).date == '2022-02-03'
    assert path.with_date(datetime.datetime(2022, 2, 3, 4, 5)).date == '2022-02-03'
    assert path.with_sequence(7).sequence == '007'
    assert path.with_sequence(' 12 ').sequence == '012'
    assert PureALFPath('s/2020-01-01/1').with_sequence('42') == PureALFPath('s/2020-01-01/042')
    for bad in ('', 'a b', None):
        with pytest.raises(ALFInvalid):
            path.with_subject(bad)  # type: ignore[arg-type]
    for bad_date in ('2021-1-1', '', None, 20210101):
        with pytest.raises(ALFInvalid):
            path.with_date(bad_date)
    for bad_number in (1000, -1, 'abc', '', None, 1.0):
        with pytest.raises(ALFInvalid) as info:
            path.with_sequence(bad_number)  # type: ignore[arg-type]
        assert info.value.value == bad_number
    no_session = PureALFPath('alf/obj.attr.npy')
    for method, arg in (('with_subject', 's'), ('with_date', '2020-01-01'), ('with_sequence', 1)):
        with pytest.raises(ALFInvalid):
            getattr(no_session, method)(arg)


def test_with_padded_sequence() -> None:
    path = ALFPath('/iblrigdata/subject/2023-01-01/1/_ibl_experiment.description.yaml')
    padded = ALFPath('/iblrigdata/subject/2023-01-01/001/_ibl_experiment.description.yaml')
    assert path.with_padded_sequence() == padded
    assert ALFPath.with_padded_sequence(str(path)) == padded
    assert PureALFPath('subject/2023-01-01/001').with_padded_sequence() == PureALFPath(
        'subject/2023-01-01/001'
    )
    with pytest.raises(ALFInvalid):
        PureALFPath('alf/obj.attr.npy').with_padded_sequence()


# --- with_* name parts ----------------------------------------------------------------------


def test_with_object_and_namespace() -> None:
    path = PureALFPath('/s/2020-01-01/001/alf/_ibl_trials.intervals_bpod.raw.npy')
    assert path.with_object('wheel').name == '_ibl_wheel.intervals_bpod.raw.npy'
    assert path.with_namespace('iblrig').name == '_iblrig_trials.intervals_bpod.raw.npy'
    assert path.with_namespace('').name == 'trials.intervals_bpod.raw.npy'
    assert path.with_namespace(None).with_namespace('x').name == '_x_trials.intervals_bpod.raw.npy'
    assert path.with_object('wheel').parent == path.parent
    with pytest.raises(ALFInvalid):
        PureALFPath('/s/2020-01-01/001/alf').with_object('x')
    with pytest.raises(ALFInvalid):
        path.with_object('a/b')  # pathlib refuses the name


def test_with_attribute_and_timescale() -> None:
    path = PureALFPath('alf/_ibl_trials.goCue_times_bpod.raw.npy')
    assert path.with_attribute('stimOn_times').name == '_ibl_trials.stimOn_times_bpod.raw.npy'
    assert path.with_timescale('ephys').name == '_ibl_trials.goCue_times_ephys.raw.npy'
    assert path.with_timescale(None).name == '_ibl_trials.goCue_times.raw.npy'
    plain = PureALFPath('spikes.times.npy')
    assert plain.with_timescale('ephysClock').name == 'spikes.times_ephysClock.npy'
    assert plain.with_attribute('amps').name == 'spikes.amps.npy'
    with pytest.raises(ALFInvalid):
        PureALFPath('spikes.times').with_attribute('amps')


def test_with_extra() -> None:
    path = PureALFPath('alf/obj.attr.x.y.npy')
    assert path.with_extra('z').name == 'obj.attr.z.npy'
    assert path.with_extra('z', append=True).name == 'obj.attr.x.y.z.npy'
    assert path.with_extra(['a', '', 'b']).name == 'obj.attr.a.b.npy'
    assert path.with_extra('.a.b.').name == 'obj.attr.a.b.npy'
    assert path.with_extra('').name == 'obj.attr.npy'
    assert path.with_extra('', append=True) == path
    assert PureALFPath('obj.attr.npy').with_extra('v1', append=True).name == 'obj.attr.v1.npy'
    with pytest.raises(ALFInvalid):
        PureALFPath('alf/obj.attr').with_extra('x')


def test_with_extension() -> None:
    path = PureALFPath('alf/obj.attr.x.npy')
    assert path.with_extension('pqt') == PureALFPath('alf/obj.attr.x.pqt')
    for bad in ('', '.npy', 'n-p', None):
        with pytest.raises((ALFInvalid, ArgumentTypeError)):
            path.with_extension(bad)  # type: ignore[arg-type]
    with pytest.raises(ALFInvalid):
        PureALFPath('alf/obj.attr').with_extension('npy')


def test_with_and_without_uuid() -> None:
    path = PureALFPath('alf/obj.attr.npy')
    with_uuid = path.with_uuid(UUID4)
    assert with_uuid == PureALFPath(f'alf/obj.attr.{UUID4}.npy')
    assert type(with_uuid) is type(path)
    assert with_uuid.extra == UUID4
    assert with_uuid.without_uuid() == path
    assert path.without_uuid() == path
    other = UUID4.replace('a976', 'b976')
    assert with_uuid.with_uuid(other).extra == other
    with pytest.raises(InvalidArgument):
        with_uuid.with_uuid(other, strict=True)
    with pytest.raises(InvalidArgument):
        path.with_uuid('not-a-uuid')
    with pytest.raises(ALFInvalid):
        PureALFPath('alf').with_uuid(UUID4)
    folder = PureALFPath(f'alf/{UUID4}')
    assert folder.without_uuid() is folder


# --- collections and revisions --------------------------------------------------------------


def test_with_collection() -> None:
    session = PureALFPath(f'/data/{SESSION}')
    assert session.with_collection('alf') == PureALFPath(f'/data/{SESSION}/alf')
    dataset = PureALFPath(DATASET)
    assert dataset.with_collection('raw_ephys_data') == PureALFPath(
        f'/data/{SESSION}/raw_ephys_data/#v2#/_ibl_spikes.times_ephysClock.raw.npy'
    )
    flat = PureALFPath(f'{SESSION}/obj.attr.npy')
    assert flat.with_collection('/alf/') == PureALFPath(f'{SESSION}/alf/obj.attr.npy')
    folder = PureALFPath(f'{SESSION}/alf/#v1#')
    assert folder.with_collection('alf/probe00') == PureALFPath(f'{SESSION}/alf/probe00/#v1#')
    assert PureALFPath(f'{SESSION}/alf').with_collection('x') == PureALFPath(f'{SESSION}/x')


def test_with_collection_errors() -> None:
    with pytest.raises(ALFInvalid) as info:
        PureALFPath(SESSION).with_collection('a b')
    assert info.value.value == 'a b'
    with pytest.raises(ALFInvalid, match='session'):
        PureALFPath('alf/obj.attr.npy').with_collection('alf')
    with pytest.raises(ALFInvalid):
        PureALFPath(f'{SESSION}/alf/a b').with_collection('x')  # not an ALF folder
    with pytest.raises(ALFInvalid):  # the regex does not see the strptime-only date
        PureALFPath('s/2020-1-1/1/alf/obj.attr.npy').with_collection('x')
    with pytest.raises(ArgumentTypeError):
        PureALFPath(SESSION).with_collection(5)  # type: ignore[arg-type]


def test_with_and_without_revision() -> None:
    dataset = PureALFPath(f'{SESSION}/alf/obj.attr.ext')
    assert dataset.with_revision('v1') == PureALFPath(f'{SESSION}/alf/#v1#/obj.attr.ext')
    revised = PureALFPath(f'{SESSION}/alf/#revision#/obj.attr.ext')
    assert revised.with_revision('xxx') == PureALFPath(f'{SESSION}/alf/#xxx#/obj.attr.ext')
    assert revised.without_revision() == dataset
    assert dataset.without_revision() == dataset
    folder = PureALFPath(f'{SESSION}/alf')
    assert folder.with_revision('2020-01-01') == PureALFPath(f'{SESSION}/alf/#2020-01-01#')
    assert PureALFPath(f'{SESSION}/alf/#v1#').without_revision() == folder
    assert folder.without_revision() is folder
    with pytest.raises(ALFInvalid):
        dataset.with_revision('bad rev')
    with pytest.raises(ALFInvalid):
        dataset.with_revision('')
    with pytest.raises(ALFInvalid):  # relative to the session: too ambiguous
        PureALFPath('alf/#v1#').without_revision()
    with pytest.raises(ALFInvalid):
        PureALFPath('alf/#v1#/obj.attr.ext').without_revision()


def test_revision_methods_on_disk(tmp_path: pathlib.Path) -> None:
    folder = ALFPath(tmp_path / SESSION / 'alf')
    assert folder.with_revision('v1') == folder / '#v1#'
    assert type(folder.with_revision('v1')) is type(folder)


# --- iter_datasets --------------------------------------------------------------------------


def test_iter_datasets(tmp_path: pathlib.Path) -> None:
    session = ALFPath(tmp_path / 'subj' / '2020-01-01' / '001')
    names = ['trials.intervals.npy', '_ibl_wheel.position.npy', 'spikes.times.raw.npy']
    (session / 'alf' / 'probe00').mkdir(parents=True)
    for name in names:
        (session / name).write_bytes(b'')
    (session / 'alf' / 'probe00' / 'spikes.clusters.npy').write_bytes(b'')
    (session / 'not alf.x.npy').write_bytes(b'')  # matches *.*.* but is not ALF
    (session / 'readme.txt').write_bytes(b'')
    (session / 'folder.like.dataset').mkdir()

    found = list(session.iter_datasets())
    assert found == sorted(session / name for name in names)
    assert all(type(p) is type(session) for p in found)
    recursive = list(session.iter_datasets(recursive=True))
    assert recursive == sorted([*found, session / 'alf' / 'probe00' / 'spikes.clusters.npy'])
    assert list(ALFPath(tmp_path / 'missing').iter_datasets()) == []
