"""Data URLs with a revision folder (``alf/#2022-04-19#/...``): '#' is part of the path.

ONE-api splits data URLs without fragments and quotes their path; so does DownloadItem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from one_async.transfer import DownloadItem, download_files
from one_async.transfer.records import quote_url_path
from one_async.transfer.safety import target_rel_path

from .conftest import AUTH, SESSION

REVISED = f'{SESSION}/alf/#2022-04-19#/_ibl_trials.intervals.npy'


def test_a_revision_folder_is_part_of_the_path() -> None:
    item = DownloadItem(url=f'http://data.example.org/{REVISED}')
    assert item.url == f'http://data.example.org/{REVISED.replace("#", "%23")}'
    assert target_rel_path(item).as_posix() == REVISED


def test_quoting_keeps_existing_escapes_and_is_idempotent() -> None:
    url = 'https://u:p@data.example.org/a%20b/alf/#x#/obj attr.npy?token=1'
    once = quote_url_path(url)
    assert once == 'https://u:p@data.example.org/a%20b/alf/%23x%23/obj%20attr.npy?token=1'
    assert quote_url_path(once) == once
    plain = 'http://data.example.org/lab/Subjects/s/2020-01-01/001/alf/obj.attr.npy'
    assert quote_url_path(plain) == plain


@pytest.mark.anyio
async def test_a_revised_file_is_downloaded_to_its_revision_folder(
    tmp_path: Path, serve: Any
) -> None:
    root = tmp_path / 'server'
    body = b'revised trials intervals'
    source = root / REVISED
    source.parent.mkdir(parents=True)
    source.write_bytes(body)
    served = serve(root, auth=AUTH)
    item = {
        'data_url': f'{served.url}/{REVISED}',  # as ONE's records give it, '#' unescaped
        'file_size': len(body),
        'hash': hashlib.md5(body).hexdigest(),
    }
    report = await download_files([item], tmp_path / 'cache', auth=AUTH)
    report.raise_for_failures()
    assert report.paths == [tmp_path / 'cache' / REVISED]
    assert (tmp_path / 'cache' / REVISED).read_bytes() == body
    assert [path for _, path, _ in served.log.requests] == [f'/{REVISED}']
