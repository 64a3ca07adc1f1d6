"""Download items, target paths and reports: validation without a server."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

import pytest
from one.alf.files import add_uuid_string, get_alf_path, remove_uuid_string

from one_async.exceptions import InvalidArgument, UnsafePathError
from one_async.transfer import DownloadItem, S3Location
from one_async.transfer.records import DownloadReport, DownloadResult, redact_url, to_item
from one_async.transfer.safety import target_rel_parts, target_rel_path, validate_rel_path

SESSION = 'cortexlab/Subjects/KS023/2019-12-10/001'


UNSAFE = ['', '/etc/passwd', '../up.npy', 'a/../../b.npy', 'a\\b.npy', 'x\x00y', 'C:/w.npy', '~/x']


@pytest.mark.parametrize('bad', UNSAFE)
def test_unsafe_relative_paths_are_refused(bad: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        validate_rel_path(bad)
    assert caught.value.value == bad


def test_relative_paths_are_normalised() -> None:
    assert validate_rel_path('a//b/./c.npy') == PurePosixPath('a/b/c.npy')


@pytest.mark.parametrize(
    'path',
    [
        f'/public/{SESSION}/alf/probe00/spikes.times.npy',
        f'/{SESSION}/raw_video_data/_iblrig_leftCamera.raw.mp4',
        '/histology/atlas/average_template_25.nrrd',
    ],
)
@pytest.mark.parametrize('keep_uuid', [False, True])
def test_target_path_and_uuid_match_one(path: str, keep_uuid: bool) -> None:
    """Differential: ONE saves a data URL at its ALF path, the UUID removed unless kept."""
    dataset_id = str(uuid.uuid4())
    remote = str(add_uuid_string(PurePosixPath(path), dataset_id))
    item = DownloadItem(url=f'https://data.example.org{remote}', dataset_id=dataset_id)
    alf = get_alf_path(remote.lstrip('/')) or remote.lstrip('/')
    expected = PurePosixPath(alf) if keep_uuid else remove_uuid_string(PurePosixPath(alf))
    assert target_rel_path(item, keep_uuid=keep_uuid) == expected
    assert target_rel_parts(item, keep_uuid=keep_uuid) == expected.parts
    plain = item.model_copy(update={'rel_path': f'{SESSION}/alf/spikes.times.npy'})
    assert target_rel_parts(plain, keep_uuid=keep_uuid) == target_rel_path(plain, keep_uuid).parts


def test_keep_uuid_adds_the_dataset_id_to_a_plain_rel_path() -> None:
    dataset_id = str(uuid.uuid4())
    item = DownloadItem(
        url='https://x.org/f', rel_path=f'{SESSION}/alf/trials.table.pqt', dataset_id=dataset_id
    )
    assert target_rel_path(item, keep_uuid=True).name == f'trials.table.{dataset_id}.pqt'
    assert target_rel_path(item).name == 'trials.table.pqt'


def test_items_from_urls_mappings_and_records() -> None:
    one_record = {
        'data_url': 'https://data.example.org/a/b.c.npy',
        'file_size': 12,
        'hash': 'A' * 32,
        'id': 'abc',
        'exists': True,
    }
    item = to_item(one_record)
    assert (item.url, item.size, item.md5, item.dataset_id) == (
        one_record['data_url'],
        12,
        'a' * 32,
        'abc',
    )
    s3 = to_item('s3://bucket/key/x.y.npy')
    assert s3.s3 == S3Location(bucket='bucket', key='key/x.y.npy')
    assert s3.host == 's3:bucket'
    assert to_item(item) is item


@pytest.mark.parametrize(
    'bad',
    [
        'ftp://x.org/a',
        {'url': 'https://x.org/a', 'md5': 'not-an-md5'},
        {'url': 'https://x.org/a', 'size': -1},
        {'md5': 'a' * 32},
        {'url': 'https://x.org/a', 's3': {'bucket': 'b', 'key': 'k'}},
        's3://bucket-only',
    ],
)
def test_bad_items_raise_invalid_argument(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        to_item(bad)  # type: ignore[arg-type]


def test_wrong_type_is_named() -> None:
    with pytest.raises(InvalidArgument, match='int'):
        to_item(42)  # type: ignore[arg-type]


def test_credentials_never_in_messages() -> None:
    url = 'https://alice:hunter2@data.example.org/x/y.npy?token=secret'
    assert redact_url(url) == 'https://data.example.org/x/y.npy'
    item = DownloadItem(url=url)
    assert 'hunter2' not in item.source
    assert 'secret' not in item.label
    assert item.host == 'data.example.org'
    with pytest.raises(InvalidArgument) as caught:
        to_item('ftp://alice:hunter2@data.example.org/x')
    assert 'hunter2' not in str(caught.value)


def test_report_totals() -> None:
    a = DownloadItem(url='https://x.org/a.b.npy', size=3)
    b = DownloadItem(url='https://x.org/c.d.npy')
    report = DownloadReport(
        results=(
            DownloadResult(item=a, status='downloaded', bytes=3),
            DownloadResult(item=b, status='skipped'),
        )
    )
    assert report.ok
    assert (report.downloaded, report.skipped, report.bytes) == (1, 1, 3)
    report.raise_for_failures()
    assert 'downloaded=1' in repr(report)
