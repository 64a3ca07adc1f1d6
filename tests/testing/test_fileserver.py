"""The data file server, over a real uvicorn server on loopback."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from one.webclient import http_download_file
from starlette.applications import Starlette
from starlette.routing import Mount

from one_async.testing.fileserver import create_file_server
from one_async.testing.runner import serve_in_thread

SMALL = os.urandom(1000)
LARGE = os.urandom(3 * 1024 * 1024 + 17)  # streamed: above the 1 MiB small-file limit
AUTH = ('user', 's3cret')


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / 'root'
    (base / 'lab' / 'Subjects').mkdir(parents=True)
    (base / 'lab' / 'Subjects' / 'small.bin').write_bytes(SMALL)
    (base / 'large.bin').write_bytes(LARGE)
    (tmp_path / 'secret.txt').write_text('outside')
    (base / 'escape.txt').symlink_to(tmp_path / 'secret.txt')
    (base / 'inside.bin').symlink_to(base / 'large.bin')
    return base


@pytest.fixture
def server(root: Path) -> Iterator[str]:
    with serve_in_thread(create_file_server(root)) as url:
        yield url


@pytest.mark.parametrize(
    ('name', 'body'), [('lab/Subjects/small.bin', SMALL), ('large.bin', LARGE)]
)
def test_get_whole_file(server: str, name: str, body: bytes) -> None:
    response = httpx.get(f'{server}/{name}')
    assert response.status_code == 200
    assert response.content == body
    assert response.headers['content-length'] == str(len(body))
    assert response.headers['accept-ranges'] == 'bytes'
    assert response.headers['etag'].startswith('"')


def test_head_has_headers_and_no_body(server: str) -> None:
    response = httpx.head(f'{server}/large.bin')
    assert response.status_code == 200
    assert response.headers['content-length'] == str(len(LARGE))
    assert response.content == b''
    assert response.headers['etag'] == httpx.get(f'{server}/large.bin').headers['etag']


@pytest.mark.parametrize(
    'path', ['missing.bin', 'lab', 'escape.txt', 'lab/../../secret.txt', 'lab/%2E%2E/large.bin']
)
def test_not_found_and_outside_root(server: str, path: str) -> None:
    response = httpx.get(f'{server}/{path}')
    assert response.status_code == 404
    assert b'outside' not in response.content


def test_symlink_inside_root_is_served(server: str) -> None:
    assert httpx.get(f'{server}/inside.bin').content == LARGE


@pytest.mark.parametrize('name', ['lab/Subjects/small.bin', 'large.bin'])
@pytest.mark.parametrize(
    ('header', 'start', 'end'),
    [('bytes=10-19', 10, 19), ('bytes=500-', 500, None), ('bytes=-7', -7, None)],
)
def test_range_requests(server: str, name: str, header: str, start: int, end: int | None) -> None:
    body = SMALL if name.endswith('small.bin') else LARGE
    response = httpx.get(f'{server}/{name}', headers={'Range': header})
    expected = body[start : None if end is None else end + 1]
    assert response.status_code == 206
    assert response.content == expected
    first = start % len(body)
    assert response.headers['content-range'] == (
        f'bytes {first}-{first + len(expected) - 1}/{len(body)}'
    )
    assert response.headers['content-length'] == str(len(expected))


def test_unsatisfiable_range(server: str) -> None:
    response = httpx.get(f'{server}/lab/Subjects/small.bin', headers={'Range': 'bytes=5000-'})
    assert response.status_code == 416
    assert response.headers['content-range'] == f'bytes */{len(SMALL)}'


def test_if_range(server: str, root: Path) -> None:
    url = f'{server}/large.bin'
    first = httpx.get(url)
    etag, modified = first.headers['etag'], first.headers['last-modified']
    for validator in (etag, modified):
        resumed = httpx.get(url, headers={'Range': 'bytes=100-', 'If-Range': validator})
        assert resumed.status_code == 206
        assert resumed.content == LARGE[100:]
    # Once the file changes, the old validator no longer matches: the whole new file comes back.
    (root / 'large.bin').write_bytes(LARGE[::-1])
    os.utime(root / 'large.bin', ns=(1, 1))
    changed = httpx.get(url, headers={'Range': 'bytes=100-', 'If-Range': etag})
    assert changed.status_code == 200
    assert changed.content == LARGE[::-1]
    assert changed.headers['etag'] != etag


def test_basic_auth(root: Path) -> None:
    with serve_in_thread(create_file_server(root, auth=AUTH)) as url:
        missing = httpx.get(f'{url}/large.bin')
        wrong = httpx.get(f'{url}/large.bin', auth=('user', 'nope'))
        right = httpx.get(f'{url}/large.bin', auth=AUTH)
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers['www-authenticate'].startswith('Basic realm=')
    assert 's3cret' not in missing.text + wrong.text
    assert right.content == LARGE


def test_one_downloader_with_basic_auth(root: Path, tmp_path: Path) -> None:
    """ONE-api's own downloader (urllib + Basic auth challenge) gets the right bytes."""
    target = tmp_path / 'one'
    target.mkdir()
    with serve_in_thread(create_file_server(root, auth=AUTH)) as url:
        path, md5 = http_download_file(
            f'{url}/large.bin',
            target_dir=target,
            username=AUTH[0],
            password=AUTH[1],
            silent=True,
            return_md5=True,
        )
    assert Path(path).read_bytes() == LARGE
    assert md5 == hashlib.md5(LARGE).hexdigest()


def test_mounted_under_prefix(root: Path) -> None:
    app = Starlette(routes=[Mount('/files', app=create_file_server(root))])
    with serve_in_thread(app) as url:
        assert httpx.get(f'{url}/files/lab/Subjects/small.bin').content == SMALL
        assert httpx.get(f'{url}/lab/Subjects/small.bin').status_code == 404


def test_many_small_files_concurrently(tmp_path: Path) -> None:
    bodies = {f'd{i % 7}/f{i}.bin': os.urandom(1 + (i * 37) % 4096) for i in range(600)}
    for name, body in bodies.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(body)
    with serve_in_thread(create_file_server(tmp_path)) as url, httpx.Client() as client:

        def fetch(name: str) -> bytes:
            return client.get(f'{url}/{name}').content

        with ThreadPoolExecutor(8) as pool:
            got = dict(zip(bodies, pool.map(fetch, bodies), strict=True))
    assert got == bodies
