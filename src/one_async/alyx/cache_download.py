"""Download the cache tables an Alyx server publishes (``cache.zip``) and unpack them safely.

``/cache/info/`` (or ``/cache/info/<tag>``) tells where the archive is (``location``, default
``<server>/cache.zip``).  The archive is streamed to a temporary file beside the destination,
checked (a valid zip, every member's CRC, no absolute path, no ``..``, no link), unpacked into a
temporary folder there, and each file then renamed over its final name: a table is either the
old one or the complete new one, never half written, and nothing is written outside the
destination whatever the archive holds.  The token is sent only to the Alyx server itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx

from one_async import defaults
from one_async.alyx.models import CacheInfo
from one_async.alyx.urls import redact_url
from one_async.exceptions import DownloadError, UnsafePathError

if TYPE_CHECKING:
    from one_async.alyx.client import AsyncAlyxClient

__all__ = ['CacheDownload', 'download_cache_tables', 'safe_member_path', 'unpack_zip']


@dataclass(frozen=True)
class CacheDownload:
    """Result of :func:`download_cache_tables`: what the server said and the files written."""

    info: CacheInfo
    files: list[Path]
    destination: Path


def safe_member_path(destination: Path, name: str) -> Path:
    """Where zip member ``name`` goes inside ``destination``.

    Raises
    ------
    UnsafePathError
        For an absolute path, a drive, a backslash, a ``..`` part or an empty name.
    """
    parts = PurePosixPath(name).parts
    if (
        not name
        or name.startswith(('/', '\\'))
        or '\\' in name
        or (len(name) > 1 and name[1] == ':')
        or any(part in ('..', '') for part in parts)
        or not parts
    ):
        raise UnsafePathError(f'Refusing cache archive member {name!r}: unsafe path', value=name)
    target = destination.joinpath(*parts)
    if not target.resolve().is_relative_to(destination.resolve()):
        raise UnsafePathError(f'Refusing cache archive member {name!r}: unsafe path', value=name)
    return target


def unpack_zip(archive: Path, destination: Path) -> list[Path]:
    """Unpack ``archive`` into ``destination`` atomically per file (blocking; run in a thread).

    Every member is checked before anything is written; files are unpacked into a temporary
    folder inside ``destination`` and renamed into place only once all are complete.
    """
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            targets = []
            for member in members:
                mode = member.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafePathError(
                        f'Refusing cache archive member {member.filename!r}: a link',
                        value=member.filename,
                    )
                targets.append(safe_member_path(destination, member.filename))
            bad = zipped.testzip()
            if bad is not None:
                raise DownloadError(f'Cache archive member {bad!r} is corrupt', value=bad)
            staging = Path(tempfile.mkdtemp(dir=destination, prefix='.cache-unpack-'))
            try:
                staged: list[Path] = []
                for member in members:
                    path = staging / f'{len(staged)}.tmp'
                    with zipped.open(member) as source, open(path, 'wb') as sink:
                        shutil.copyfileobj(source, sink, defaults.DOWNLOAD_WRITE_BATCH)
                        sink.flush()
                        os.fsync(sink.fileno())
                    staged.append(path)
                for path, target in zip(staged, targets, strict=True):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f'{archive.name} is not a valid zip archive', value=archive) from exc
    return targets


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


async def download_cache_tables(
    client: AsyncAlyxClient, destination: str | os.PathLike[str], tag: str | None = None
) -> CacheDownload:
    """Download the server's cache tables (of ``tag``, if given) into ``destination``.

    Parameters
    ----------
    client
        The Alyx client.
    destination
        Folder of the tables (created if missing).
    tag
        A dataset tag whose tables to fetch (``/cache/info/<tag>``).

    Returns
    -------
    CacheDownload
        The server's cache info and the paths of the files unpacked.

    Raises
    ------
    DownloadError
        The archive is not a valid zip or a member is corrupt.
    UnsafePathError
        A member would be written outside ``destination``.
    AlyxHTTPError, AlyxConnectionError
        The server refused or could not be reached.
    """
    target = Path(destination)
    await anyio.to_thread.run_sync(lambda: target.mkdir(parents=True, exist_ok=True))
    info = await client.cache_info(tag)
    source = info.location or f'{client.base_url}/cache.zip'
    if '://' not in source:
        source = f'{client.base_url}/{source.lstrip("/")}'
    fd, name = tempfile.mkstemp(dir=target, prefix='.cache.zip.', suffix=defaults.PART_SUFFIX)
    os.close(fd)
    archive = Path(name)

    async def sink(response: httpx.Response) -> None:
        # Each attempt starts the file afresh.
        async with await anyio.open_file(archive, 'wb') as file:
            async for chunk in response.aiter_bytes(defaults.DOWNLOAD_CHUNK_SIZE):
                await file.write(chunk)
            await file.flush()
            await anyio.to_thread.run_sync(os.fsync, file.wrapped.fileno())

    try:
        if client._is_local(source):
            await client._stream_to(source, sink)
        else:
            await client._download_external(source, sink)
        files = await anyio.to_thread.run_sync(unpack_zip, archive, target)
    except DownloadError as exc:
        raise DownloadError(f'{exc.message} (from {redact_url(source)})', value=exc.value) from exc
    finally:
        with anyio.CancelScope(shield=True):  # clean up even when cancelled
            await anyio.to_thread.run_sync(_remove, archive)
    return CacheDownload(info=info, files=files, destination=target)
