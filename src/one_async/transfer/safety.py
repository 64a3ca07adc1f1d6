"""Target paths: derived only from validated relative paths, and kept inside the target directory.

Whatever a record or a server says, a download is written only under the target directory: a
relative path with ``..``, an absolute path, or a directory that resolves (through symlinks) to
somewhere outside the target directory is refused with :class:`UnsafePathError`.
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from one_async.alf.path import add_uuid_string, get_alf_path, remove_uuid_string
from one_async.alf.spec import is_uuid_string
from one_async.exceptions import UnsafePathError
from one_async.transfer.records import DownloadItem

__all__ = ['check_inside', 'target_rel_parts', 'target_rel_path', 'validate_rel_path']


def validate_rel_path(rel_path: str) -> PurePosixPath:
    """Check that ``rel_path`` is a plain relative POSIX path and return it.

    Raises
    ------
    UnsafePathError
        The path is empty, absolute, holds ``..``, a backslash, a drive or a NUL byte.
    """
    return PurePosixPath(*_split_rel_path(rel_path))


def _split_rel_path(rel_path: str) -> list[str]:
    """The parts of ``rel_path`` once checked (see :func:`validate_rel_path`)."""
    if not rel_path or rel_path.startswith(('/', '~')) or '\\' in rel_path or '\x00' in rel_path:
        raise UnsafePathError(f'Refusing unsafe relative path {rel_path!r}', value=rel_path)
    parts = [p for p in rel_path.split('/') if p not in ('', '.')]
    if not parts or '..' in parts or ':' in parts[0]:
        raise UnsafePathError(f'Refusing unsafe relative path {rel_path!r}', value=rel_path)
    return parts


def _remote_path(item: DownloadItem) -> str:
    if item.url is not None:
        return unquote(urlsplit(item.url).path)
    assert item.s3 is not None
    return item.s3.key


def target_rel_path(item: DownloadItem, keep_uuid: bool = False) -> PurePosixPath:
    """The validated path, relative to the target directory, where ``item`` is saved.

    The item's ``rel_path`` when given, else the ALF part of the remote path (from the session
    folder on, as ONE saves data URLs), else the whole remote path.  As in ONE, a dataset UUID
    in the file name (``spikes.times.<uuid>.npy``) is removed unless ``keep_uuid``; with
    ``keep_uuid`` the item's ``dataset_id`` is put in the name if it is not there already.
    """
    return _with_uuid_rule(PurePosixPath(*_split_rel_path(_rel_path(item))), item, keep_uuid)


def target_rel_parts(item: DownloadItem, keep_uuid: bool = False) -> tuple[str, ...]:
    """``target_rel_path(item, keep_uuid).parts``, without building a path object when the file
    name cannot hold a UUID (thousands of items are planned at once)."""
    parts = _split_rel_path(_rel_path(item))
    if not keep_uuid and '-' not in parts[-1]:
        return tuple(parts)
    return _with_uuid_rule(PurePosixPath(*parts), item, keep_uuid).parts


def _rel_path(item: DownloadItem) -> str:
    if item.rel_path is not None:
        return item.rel_path
    remote = _remote_path(item).strip('/')
    return get_alf_path(remote) or remote


def _with_uuid_rule(path: PurePosixPath, item: DownloadItem, keep_uuid: bool) -> PurePosixPath:
    stem_parts = path.stem.split('.')
    has_uuid = len(stem_parts) > 1 and is_uuid_string(stem_parts[-1])
    if not keep_uuid:
        return remove_uuid_string(path) if has_uuid else path
    if item.dataset_id and not (has_uuid and stem_parts[-1] == item.dataset_id):
        return add_uuid_string(path, item.dataset_id)
    return path


def check_inside(root_real: str, path: str) -> None:
    """Raise :class:`UnsafePathError` unless ``path`` resolves inside ``root_real``.

    ``root_real`` is the target directory after ``os.path.realpath``.  Symlinks are followed, so
    a directory linking out of the target directory is refused.
    """
    real = os.path.realpath(path)
    if real != root_real and not real.startswith(root_real.rstrip(os.sep) + os.sep):
        raise UnsafePathError(
            f'Refusing to write {path!r}: it resolves outside the target directory', value=path
        )
