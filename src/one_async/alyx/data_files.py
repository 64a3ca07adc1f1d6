"""Files of the HTTP data server an Alyx database points to (ONE-api's ``AlyxClient`` file calls).

The data server mirrors the ALF tree: a relative path maps to ``<data server>/<path>``
(:func:`data_server_url`), and :func:`download_data_files` fetches file URLs of that server
into one folder, by their base names, through the transfer engine (concurrent, verified,
placed atomically).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread

from one_async.alyx.urls import redact_url
from one_async.exceptions import InvalidArgument
from one_async.transfer import DownloadItem, download_files

__all__ = ['data_server_url', 'download_data_files']


def data_server_url(server: str | None, path: str | os.PathLike[str]) -> str:
    """The URL of relative ALF ``path`` on data server ``server``.

    Raises
    ------
    InvalidArgument
        No data server is configured, or ``path`` is already a URL.
    """
    rel = PurePath(path).as_posix() if isinstance(path, os.PathLike) else str(path)
    rel = rel.strip('/')
    if server is None:
        raise InvalidArgument(f'No HTTP data server is configured to locate {rel!r}', value=rel)
    if rel.startswith(('http://', 'https://')):
        shown = redact_url(rel)
        raise InvalidArgument(f'Expected a relative path, not the URL {shown!r}', value=shown)
    return f'{server.rstrip("/")}/{rel}'


def _file_url(server: str | None, url: str) -> str:
    """``url`` made absolute on ``server``; a URL of another server is refused."""
    if not url.startswith(('http://', 'https://')):
        return data_server_url(server, url)
    if server is None or not url.startswith(server.rstrip('/') + '/'):
        raise InvalidArgument(
            f'{redact_url(url)!r} is not on the data server {server!r}', value=redact_url(url)
        )
    return url


def _md5(path: Path) -> str:
    from one_async.cache.build import md5_file

    return md5_file(path)


async def download_data_files(
    server: str | None,
    urls: str | Sequence[str],
    target_dir: str | os.PathLike[str],
    *,
    auth: tuple[str, str] | None = None,
    clobber: bool = False,
    silent: bool = True,
    return_md5: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """Download data server files into ``target_dir`` under their base names.

    ``urls`` is one URL or relative path, or several.  Returns what ONE-api's ``download_file``
    returns: the local path, or a list of them; with ``return_md5``, ``(path, md5)`` for one
    file and ``[paths, md5s]`` (two tuples) for several.  Files already there are kept unless
    ``clobber``.

    Raises
    ------
    InvalidArgument
        A URL of another server, or a relative path with no data server configured.
    DownloadError
        A file could not be downloaded (the first failure; the other files are still placed).
    """
    single = isinstance(urls, str)
    targets = [_file_url(server, u) for u in ([urls] if isinstance(urls, str) else urls)]
    # Named as on the server, dataset UUID included (ONE-api's ``download_file`` keeps it).
    items = [DownloadItem(url=u, rel_path=urlsplit(u).path.rsplit('/', 1)[-1]) for u in targets]
    report = await download_files(
        items,
        target_dir,
        auth=auth,
        headers=headers,
        overwrite=clobber,
        keep_uuid=True,
        progress=None if not silent else False,
    )
    report.raise_for_failures()
    paths = [r.path for r in report.results if r.path is not None]
    assert len(paths) == len(items)
    if not return_md5:
        return paths[0] if single else paths
    digests = [await anyio.to_thread.run_sync(_md5, p) for p in paths]
    return (paths[0], digests[0]) if single else [tuple(paths), tuple(digests)]
