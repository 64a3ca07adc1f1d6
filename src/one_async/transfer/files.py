"""Atomic placement of downloads, one lock per target, and resume state.

Bytes go to ``<target>.part`` beside the target; once complete and verified the part file is
flushed to disk (fsync, or one ``syncfs`` for a batch of files) and renamed to the target, so a
file under its final name is always whole.  The part file is also the lock: whoever holds an
exclusive ``flock`` on it is the one downloading that target, whether the contender is another
task or another process (flock locks belong to open file descriptions, and the kernel drops
them when a process dies).  A large part file can be
resumed later: ``<target>.part.json`` keeps the remote validator (ETag) its bytes came with.

Every function here blocks (file system calls, hashing): the engine runs them in worker threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, cast

from one_async.defaults import PART_SUFFIX
from one_async.exceptions import UnsafePathError
from one_async.transfer.integrity import StreamDigest, file_matches
from one_async.transfer.records import DownloadItem
from one_async.transfer.safety import check_inside

__all__ = ['BUSY', 'SKIP', 'Claim', 'FileSide']

BUSY: Final = 'busy'
"""Claim outcome: another task or process holds the target's lock."""

SKIP: Final = 'skip'
"""Claim outcome: the target is already there, complete (placed meanwhile by another holder)."""

_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NOFOLLOW', 0)
_META_SUFFIX = '.json'


def _load_syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(fd)`` (flush the whole file system holding ``fd``), where available."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return cast('Callable[[int], int]', function)


_syncfs = _load_syncfs()
_FADV_DONTNEED: int | None = getattr(os, 'POSIX_FADV_DONTNEED', None)

if sys.platform == 'win32':  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@dataclass(slots=True, eq=False)
class Claim:
    """A target this job holds the lock of, with its open part file.

    ``offset`` bytes are in the part file and in ``digest``; ``validator`` is the ETag or
    Last-Modified those bytes came with (None: unknown, a resume must start over).
    """

    final: str
    part: str
    fd: int
    digest: StreamDigest = field(default_factory=StreamDigest)
    offset: int = 0
    validator: str | None = None
    meta_written: bool = False


class FileSide:
    """The file-system half of a transfer job rooted at ``root``."""

    def __init__(self, root: str, *, fsync: bool, check_hash: bool) -> None:
        self.root = os.path.realpath(root)
        self.fsync = fsync
        self.check_hash = check_hash
        self._dirs: set[str] = set()

    # --- checks -------------------------------------------------------------------------------

    def present(self, final: str, item: DownloadItem) -> bool:
        """True when ``final`` is already there with the item's size (and md5 if checked)."""
        if os.path.islink(final):
            check_inside(self.root, final)
        return file_matches(final, item.size, item.md5, self.check_hash)

    def _ensure_dir(self, directory: str) -> None:
        if directory in self._dirs:
            return
        # Check the deepest existing ancestor first: never create directories through a link out.
        existing = directory
        while not os.path.isdir(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        check_inside(self.root, existing)
        os.makedirs(directory, exist_ok=True)
        check_inside(self.root, directory)
        self._dirs.add(directory)

    # --- lock ---------------------------------------------------------------------------------

    def claim(self, final: str, item: DownloadItem, source: str, recheck: bool) -> Claim | str:
        """Take the lock of ``final``: a :class:`Claim`, :data:`BUSY` or :data:`SKIP`.

        With ``recheck`` a target already in place (right size, and md5 when checked) is
        skipped, before locking and again once locked (another holder may just have placed it).
        A part file left by an earlier job is resumed when its ``.json`` state names the same
        ``source`` and size, else truncated.
        """
        self._ensure_dir(os.path.dirname(final))
        if recheck and os.path.lexists(final) and self.present(final, item):
            return SKIP
        part = final + PART_SUFFIX
        locked = self._lock_part(part)
        if locked is None:
            return BUSY
        fd, fresh = locked
        claim = Claim(final, part, fd)
        try:
            if recheck and os.path.lexists(final) and self.present(final, item):
                self._drop(claim)
                return SKIP
            if not fresh:
                self._resume_or_truncate(claim, item, source)
        except BaseException:
            self._drop(claim)
            raise
        return claim

    @staticmethod
    def _lock_part(part: str) -> tuple[int, bool] | None:
        """Open ``part`` locked, and whether it was just created; None when another holder
        has it locked."""
        try:  # the common case, a new file: no one else can have it, no identity check needed
            fd = os.open(part, _OPEN_FLAGS | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        else:
            if _try_lock(fd):
                return fd, True
            os.close(fd)
            return None
        while True:
            try:
                fd = os.open(part, _OPEN_FLAGS, 0o644)
            except OSError as exc:
                if os.path.islink(part):
                    raise UnsafePathError(f'Refusing symlinked part file {part!r}') from exc
                raise
            if not _try_lock(fd):
                os.close(fd)
                return None
            # The previous holder may have renamed or removed this inode before we got the lock.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(part))
            except FileNotFoundError:
                same = False
            if same:
                return fd, False
            os.close(fd)

    def claim_many(
        self, requests: list[tuple[str, DownloadItem, str, bool]]
    ) -> list[Claim | str | BaseException | None]:
        """:meth:`claim` for several targets in one call; errors are returned in place."""
        out: list[Claim | str | BaseException | None] = []
        for final, item, source, recheck in requests:
            try:
                out.append(self.claim(final, item, source, recheck))
            except (OSError, UnsafePathError) as exc:
                out.append(exc)
        return out

    def _resume_or_truncate(self, claim: Claim, item: DownloadItem, source: str) -> None:
        size = os.lseek(claim.fd, 0, os.SEEK_END)
        state = None
        if size:
            try:
                with open(claim.part + _META_SUFFIX, encoding='utf-8') as handle:
                    state = json.load(handle)
            except (OSError, ValueError):
                state = None
        if (
            isinstance(state, dict)
            and state.get('source') == source
            and state.get('size') == item.size
            and isinstance(state.get('validator'), str)
            and (item.size is None or size < item.size)
        ):
            with open(claim.part, 'rb') as handle:
                while chunk := handle.read(4 * 1024 * 1024):
                    claim.digest.update((chunk,))
            claim.offset = claim.digest.size
            claim.validator = state['validator']
            claim.meta_written = True
            os.lseek(claim.fd, claim.offset, os.SEEK_SET)
        elif size:
            self.reset(claim)

    # --- writing ------------------------------------------------------------------------------

    def write(self, claim: Claim, chunks: list[bytes]) -> None:
        """Hash and append ``chunks`` to the part file."""
        claim.digest.update(chunks)
        _write_all(claim.fd, chunks)
        claim.offset = claim.digest.size

    def write_streamed(self, claim: Claim, chunks: list[bytes]) -> None:
        """:meth:`write` a piece of a large file, and start writing it to disk already.

        Large files are flushed before placement; asking the kernel to start writeback of each
        piece as it lands spreads the disk writes over the download instead of leaving them all
        to the final fsync (Linux starts writeback on ``POSIX_FADV_DONTNEED`` without waiting).
        """
        start = claim.offset
        self.write(claim, chunks)
        if self.fsync and _FADV_DONTNEED is not None:
            with contextlib.suppress(OSError):
                os.posix_fadvise(claim.fd, start, claim.offset - start, _FADV_DONTNEED)

    def save_state(self, claim: Claim, source: str, size: int | None) -> None:
        """Record what the part file's bytes are, so that a later job can resume it."""
        state = {'source': source, 'size': size, 'validator': claim.validator}
        with open(claim.part + _META_SUFFIX, 'w', encoding='utf-8') as handle:
            json.dump(state, handle)
        claim.meta_written = True

    def finish_many(
        self, jobs: list[tuple[Claim, list[bytes], DownloadItem]]
    ) -> list[str | OSError | None]:
        """Append each job's last chunks, verify, flush and rename into place; release the locks.

        Returns, per job, None once placed, the mismatch found (``'md5 <found>'`` or ``'size
        <found>'``: nothing placed, the lock kept for the caller to retry or drop) or the
        ``OSError`` met.

        Every file is written and verified first, then all are flushed to disk together, then
        renamed: on Linux one ``syncfs`` flushes the batch with a single journal commit, where
        one ``fsync`` per file would wait for a commit each (the bottleneck for many small
        files).  Elsewhere, or if ``syncfs`` fails, each file is fsynced.
        """
        out: list[str | OSError | None] = []
        verified: list[Claim] = []
        for claim, chunks, check in jobs:
            try:
                self.write(claim, chunks)
            except OSError as exc:
                out.append(exc)
                continue
            if check.size is not None and claim.digest.size != check.size:
                out.append(f'size {claim.digest.size}')
            elif check.md5 is not None and claim.digest.hexdigest() != check.md5:
                out.append(f'md5 {claim.digest.hexdigest()}')
            else:
                out.append(None)
                verified.append(claim)
        failed = self._flush(verified) if self.fsync else {}
        position = 0
        for index, outcome in enumerate(out):
            if outcome is not None:
                continue
            claim = verified[position]
            position += 1
            if claim.fd in failed:
                out[index] = failed[claim.fd]
                continue
            try:
                self._place(claim)
            except OSError as exc:
                out[index] = exc
        return out

    @staticmethod
    def _flush(claims: list[Claim]) -> dict[int, OSError]:
        """Make the bytes of ``claims`` durable; the errors met, by file descriptor."""
        if len(claims) > 1 and _syncfs is not None and _syncfs(claims[0].fd) == 0:
            return {}
        failed: dict[int, OSError] = {}
        for claim in claims:
            try:
                os.fsync(claim.fd)
            except OSError as exc:
                failed[claim.fd] = exc
        return failed

    @staticmethod
    def _place(claim: Claim) -> None:
        """Rename the verified, flushed part file to its final name and release the lock."""
        os.replace(claim.part, claim.final)
        if claim.meta_written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(claim.part + _META_SUFFIX)
        os.close(claim.fd)
        claim.fd = -1

    def reset(self, claim: Claim) -> None:
        """Empty the part file and forget its state (the download starts over)."""
        os.ftruncate(claim.fd, 0)
        os.lseek(claim.fd, 0, os.SEEK_SET)
        claim.digest = StreamDigest()
        claim.offset = 0
        claim.validator = None
        if claim.meta_written:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(claim.part + _META_SUFFIX)
            claim.meta_written = False

    def abandon(self, claim: Claim, keep: bool) -> None:
        """Give the target up after a failure or cancellation; release the lock.

        With ``keep`` (a resumable large file), the part file and its state stay for a later
        job; otherwise both are removed.  Nothing is ever left under the final name.
        """
        if claim.fd < 0:
            return
        if not (keep and claim.offset and claim.validator and claim.meta_written):
            self._drop(claim)
            return
        with contextlib.suppress(OSError):
            os.fsync(claim.fd)
        os.close(claim.fd)
        claim.fd = -1

    def _drop(self, claim: Claim) -> None:
        """Remove the part file (and state) and release the lock."""
        for path in (claim.part, claim.part + _META_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if claim.fd >= 0:
            os.close(claim.fd)
            claim.fd = -1


def _write_all(fd: int, chunks: list[bytes]) -> None:
    """Write every byte of ``chunks`` (handles short writes)."""
    if len(chunks) == 1 or not hasattr(os, 'writev'):
        for chunk in chunks:
            _write_one(fd, chunk)
        return
    pending = [memoryview(c) for c in chunks if c]
    while pending:
        written = os.writev(fd, pending[:1024])
        while written and pending:
            head = pending[0]
            if written >= len(head):
                written -= len(head)
                pending.pop(0)
            else:
                pending[0] = head[written:]
                written = 0


def _write_one(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]
