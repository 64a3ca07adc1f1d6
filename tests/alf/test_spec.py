"""one_async.alf.spec: spec strings, patterns, validators, name building and QC."""

from __future__ import annotations

import uuid

import one.alf.spec as one_spec
import pytest

from one_async.alf import spec
from one_async.exceptions import ALFInvalid, ArgumentTypeError, InvalidArgument, OneError

UUID4 = 'a976e418-c8b8-4d24-be47-d05120b18341'


def test_spec_strings_and_parts_are_ones() -> None:
    for name in ('SESSION_SPEC', 'COLLECTION_SPEC', 'FILE_SPEC', 'REL_PATH_SPEC', 'FULL_SPEC'):
        assert getattr(spec, name) == getattr(one_spec, name), name
    assert spec.path_pattern() == one_spec.path_pattern()
    assert list(spec.SPEC_DESCRIPTION) == list(one_spec.SPEC_DESCRIPTION)
    assert all(text.strip() for text in spec.SPEC_DESCRIPTION.values())


def test_path_pattern_marks_optional_parts() -> None:
    pattern = spec.path_pattern()
    assert pattern.startswith('(lab/Subjects/)subject/date/number/(collection/)(#revision#/)')
    assert pattern.endswith('.extension')
    assert not set(pattern) & set('{}?*\\$')


def test_regex_names_every_part_and_is_cached() -> None:
    pattern = spec.regex(spec.FULL_SPEC)
    assert list(pattern.groupindex) == [
        'lab',
        'subject',
        'date',
        'number',
        'collection',
        'revision',
        'namespace',
        'object',
        'attribute',
        'timescale',
        'extra',
        'extension',
    ]
    assert spec.regex() is pattern
    assert spec.regex(spec.FILE_SPEC, object='trials') is spec.regex(
        spec.FILE_SPEC, object='trials'
    )


def test_regex_overrides_a_part() -> None:
    trials = spec.regex(spec.FILE_SPEC, object='trials', attribute=None)
    assert trials.match('_ibl_trials.intervals.npy')
    assert not trials.match('_ibl_wheel.position.npy')
    found = trials.match('trials.goCue_times_bpod.raw.npy')
    assert found is not None
    assert found.groupdict() == {
        'namespace': None,
        'object': 'trials',
        'attribute': 'goCue_times',
        'timescale': 'bpod',
        'extra': 'raw',
        'extension': 'npy',
    }


@pytest.mark.parametrize(
    ('args', 'kwargs', 'bad'),
    [
        ((spec.FILE_SPEC,), {'colour': 'red'}, 'colour'),
        (('{subject}/{weekday}',), {}, 'weekday'),
        ((r'\d{4}',), {}, '4'),
    ],
)
def test_regex_rejects_unknown_fields(args: tuple[str], kwargs: dict[str, str], bad: str) -> None:
    with pytest.raises(InvalidArgument, match=bad) as info:
        spec.regex(*args, **kwargs)
    assert info.value.value == bad


@pytest.mark.parametrize(
    ('name', 'valid'),
    [
        ('trials.feedbackType.npy', True),
        ('_ns_obj.attr1.2622b17c-9408-4910-99cb-abf16d9225b9.metadata.json', True),
        ('spike_train.npy', False),
        ('channels._phy_ids.csv', True),  # deprecated attribute-level namespace
        ('_ibl_trials.goCue_times_bpod.csv', True),
        ('obj.attr', False),  # no extension
        ('obj..npy', False),
        ('_name_space_obj.attr.npy', True),  # namespace 'name', object 'space_obj'
        ('obj.attr.', False),
        ('obj.attr_foo.npy', True),  # 'foo' is a timescale
        ('obj.at-tr.npy', False),
        ('', False),
    ],
)
def test_is_valid(name: str, valid: bool) -> None:
    assert spec.is_valid(name) is valid
    assert one_spec.is_valid(name) is valid


def test_is_valid_rejects_non_strings() -> None:
    with pytest.raises(ArgumentTypeError):
        spec.is_valid(b'a.b.c')  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('path', 'expected'),
    [
        ('lab/Subjects/subj/2020-01-01/001', True),
        ('/data/subj/2020-01-01/1/', True),
        ('subj/2020-01-01/1234', False),
        ('subj/2020-01-01', False),
        ('subj/2020-01-01/001/alf', False),
        ('2020-01-01/001', False),
    ],
)
def test_is_session_path(path: str, expected: bool) -> None:
    import pathlib

    assert spec.is_session_path(path) is expected
    assert spec.is_session_path(pathlib.PurePosixPath(path)) is expected


def test_is_session_path_reads_windows_paths() -> None:
    import pathlib

    assert spec.is_session_path(pathlib.PureWindowsPath(r'C:\data\subj\2020-01-01\001'))
    with pytest.raises(ArgumentTypeError):
        spec.is_session_path(42)


def test_is_uuid_string_wants_canonical_v3_v4_v5() -> None:
    assert spec.is_uuid_string(UUID4)
    assert spec.is_uuid_string(str(uuid.uuid3(uuid.NAMESPACE_DNS, 'a')))
    assert spec.is_uuid_string(str(uuid.uuid5(uuid.NAMESPACE_DNS, 'a')))
    assert not spec.is_uuid_string(str(uuid.uuid1()))
    assert not spec.is_uuid_string(UUID4.upper())
    assert not spec.is_uuid_string(UUID4.replace('-', ''))
    assert not spec.is_uuid_string(UUID4 + '\n')
    assert not spec.is_uuid_string(uuid.UUID(UUID4))
    assert not spec.is_uuid_string(None)


def test_is_uuid_accepts_all_forms_of_the_right_versions() -> None:
    value = uuid.UUID(UUID4)
    v3 = uuid.uuid3(uuid.NAMESPACE_DNS, 'a')
    for form in (value, UUID4, UUID4.upper(), value.hex, value.int, value.bytes):
        assert spec.is_uuid(form), form
    assert spec.is_uuid(v3)  # ONE 3.x default: versions 4 and 3
    assert not spec.is_uuid(v3, versions=(4,))
    assert not spec.is_uuid(uuid.uuid5(uuid.NAMESPACE_DNS, 'a'))
    assert spec.is_uuid(uuid.uuid1(), versions=(1,))
    for other in ('abc', '', -1, 2**200, b'short', None, 4.0, True, [UUID4]):
        assert not spec.is_uuid(other), other


@pytest.mark.parametrize(
    ('args', 'kwargs', 'name'),
    [
        (('spikes', 'times', 'ssv'), {}, 'spikes.times.ssv'),
        (('spikes', 'times', 'ssv'), {'namespace': 'ibl'}, '_ibl_spikes.times.ssv'),
        (
            ('spikes', 'times', 'ssv'),
            {'namespace': 'ibl', 'timescale': 'ephysClock'},
            '_ibl_spikes.times_ephysClock.ssv',
        ),
        (
            ('spikes', 'times', 'ssv'),
            {'namespace': 'ibl', 'timescale': ('ephys clock', 'minutes')},
            '_ibl_spikes.times_ephysClock_minutes.ssv',
        ),
        (
            ('spikes', 'times', 'npy'),
            {'namespace': 'ibl', 'timescale': 'ephysClock', 'extra': 'raw'},
            '_ibl_spikes.times_ephysClock.raw.npy',
        ),
        (('wheel', 'timestamps', 'npy', 'ibl', 'bpod', ('raw', 'v12')), {}, None),
        (('trials', 'stim_on_times', '.npy'), {}, 'trials.stimOn_times.npy'),
        (('wheel moves', 'peak amplitude', 'npy'), {'extra': 'a.b'}, None),
        (('mpci ROIs', 'stack_pos', 'npy'), {}, 'mpciROIs.stackPos.npy'),
    ],
)
def test_to_alf_builds_names(args: tuple[str, ...], kwargs: dict[str, object], name: str) -> None:
    built = spec.to_alf(*args, **kwargs)  # type: ignore[arg-type]
    assert built == (name or one_spec.to_alf(*args, **kwargs))
    assert spec.is_valid(built)


@pytest.mark.parametrize(
    ('args', 'kwargs', 'error', 'bad'),
    [
        (('obj', 'attr', ''), {}, ArgumentTypeError, ''),
        (('obj', 'attr', None), {}, ArgumentTypeError, None),
        (('obj.x', 'attr', 'npy'), {}, ALFInvalid, 'obj.x'),
        (('obj', 'attr', 'tar.gz'), {}, ALFInvalid, 'tar.gz'),
        (('obj', 'attr', 'npy'), {'namespace': 'ib.l'}, ALFInvalid, 'ib.l'),
        (('obj', 'attr', 'npy'), {'namespace': 'i_bl'}, ALFInvalid, 'i_bl'),
        (('_obj', 'attr', 'npy'), {}, ALFInvalid, '_obj'),
        (('', 'attr', 'npy'), {}, ALFInvalid, ''),
        (('obj', None, 'npy'), {}, ArgumentTypeError, None),
        (('obj', 'attr', 'npy'), {'namespace': 3}, ArgumentTypeError, 3),
    ],
)
def test_to_alf_rejects_bad_parts(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[OneError], bad: object
) -> None:
    with pytest.raises(error) as info:
        spec.to_alf(*args, **kwargs)  # type: ignore[arg-type]
    assert info.value.value == bad
    # ONE raises the same family (TypeError / ValueError), or IndexError on an empty object
    with pytest.raises((TypeError, ValueError, IndexError)):
        one_spec.to_alf(*args, **kwargs)


@pytest.mark.parametrize(
    ('text', 'camel'),
    [
        ('Hello world', 'helloWorld'),
        ('motion_energy', 'motionEnergy'),
        ('passive_RFM', 'passiveRFM'),
        ('FooBarBaz', 'fooBarBaz'),
        ('mpci ROIs', 'mpciROIs'),
        ('ROI motion', 'ROIMotion'),
        ('', ''),
    ],
)
def test_dromedary(text: str, camel: str) -> None:
    assert spec._dromedary(text) == camel


@pytest.mark.parametrize(
    ('name', 'capitalize', 'text'),
    [
        ('sparseNoise', False, 'sparse noise'),
        ('someROIDataset', False, 'some ROI dataset'),
        ('someROIDataset', True, 'Some ROI dataset'),
        ('mpciROIs', False, 'mpci ROIs'),
        ('trials', True, 'Trials'),
        ('', True, ''),
    ],
)
def test_readable_alf(name: str, capitalize: bool, text: str) -> None:
    assert spec.readableALF(name, capitalize=capitalize) == text


def test_qc_values_are_alyx_codes() -> None:
    assert {q.name: q.value for q in spec.QC} == {
        'CRITICAL': 50,
        'FAIL': 40,
        'WARNING': 30,
        'NOT_SET': 0,
        'PASS': 10,
    }
    assert {q.name: q.value for q in spec.QC} == {q.name: q.value for q in one_spec.QC}
    assert spec.QC.FAIL > spec.QC.WARNING > spec.QC.PASS > spec.QC.NOT_SET


@pytest.mark.parametrize(
    ('value', 'expected'),
    [
        (spec.QC.PASS, spec.QC.PASS),
        (40, spec.QC.FAIL),
        ('critical', spec.QC.CRITICAL),
        ('Warning', spec.QC.WARNING),
        ('NOT_SET', spec.QC.NOT_SET),
        ('30', spec.QC.WARNING),
        (10.0, spec.QC.PASS),
    ],
)
def test_qc_validate(value: object, expected: spec.QC) -> None:
    assert spec.QC.validate(value) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize('value', ['nope', '', '15', '²', 15, -1, None, 1.5, [10]])
def test_qc_validate_names_the_bad_value(value: object) -> None:
    with pytest.raises(InvalidArgument) as info:
        spec.QC.validate(value)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert info.value.value == value
    assert repr(value) in str(info.value)


def test_describe_prints_the_pattern_and_one_part(capsys: pytest.CaptureFixture[str]) -> None:
    spec.describe('revision', width=40)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == spec.path_pattern()
    start = lines[0].index('revision')
    assert lines[1].rstrip() == ' ' * start + '^' * len('revision')
    assert lines[3] == 'REVISION'
    assert all(len(line) <= 40 for line in lines[4:])
    assert ' '.join(lines[4:]).split() == spec.SPEC_DESCRIPTION['revision'].split()


def test_describe_all_parts(capsys: pytest.CaptureFixture[str]) -> None:
    spec.describe()
    out = capsys.readouterr().out
    for part in spec.SPEC_DESCRIPTION:
        assert f'\n{part.upper()}\n' in out


def test_describe_rejects_unknown_part(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InvalidArgument, match='colour') as info:
        spec.describe('colour')
    assert info.value.value == 'colour'
    capsys.readouterr()
