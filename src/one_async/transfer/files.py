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
import itertools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from one_async.defaults import (
    DOWNLOAD_SYNCFS_MAX_OTHER,
    DOWNLOAD_WRITE_BATCH,
    DOWNLOAD_WRITEBACK_LAG,
    PART_SUFFIX,
)
from one_async.exceptions import UnsafePathError
from one_async.transfer.integrity import StreamDigest, file_matches
from one_async.transfer.records import Chunk, DownloadItem
from one_async.transfer.safety import check_inside

__all__ = ['BUSY', 'SKIP', 'Claim', 'FileSide']

BUSY: Final = 'busy'
"""Claim outcome: another task or process holds the target's lock."""

SKIP: Final = 'skip'
"""Claim outcome: the target is already there, complete (placed meanwhile by another holder)."""

_serials = itertools.count()  # claims in the order their part files were opened
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NOFOLLOW', 0)
_META_SUFFIX = '.json'


def _linux_call(name: str, *argtypes: Any) -> Any:
    """The C library's function ``name`` (returning an int, setting errno), on Linux only."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        function = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


# syncfs(fd): flush the whole file system holding fd.
_syncfs: Callable[[int], int] | None = _linux_call('syncfs', ctypes.c_int)
# sync_file_range(fd, offset, nbytes, flags): start or wait for the writeback of a range.
_sync_file_range: Callable[[int, int, int, int], int] | None = _linux_call(
    'sync_file_range', ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint
)
_SFR_WAIT_BEFORE, _SFR_WRITE, _SFR_WAIT_AFTER = 1, 2, 4
_SFR_WAIT = _SFR_WAIT_BEFORE | _SFR_WRITE | _SFR_WAIT_AFTER

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
    written_back: int = 0
    serial: int = field(default_factory=lambda: next(_serials))


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

    def claim(self, final: str, item: DownloadItem, recheck: bool) -> Claim | str:
        """Take the lock of ``final``: a :class:`Claim`, :data:`BUSY` or :data:`SKIP`.

        With ``recheck`` a target already in place (right size, and md5 when checked) is
        skipped, before locking and again once locked (another holder may just have placed it).
        A part file left by an earlier job is resumed when its ``.json`` state names the same
        source (the item's URL or S3 location) and size, else truncated.
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
                self._resume_or_truncate(claim, item)
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
        self, requests: list[tuple[str, DownloadItem, bool]]
    ) -> list[Claim | str | BaseException | None]:
        """:meth:`claim` for several targets in one call; errors are returned in place."""
        out: list[Claim | str | BaseException | None] = []
        for final, item, recheck in requests:
            try:
                out.append(self.claim(final, item, recheck))
            except (OSError, UnsafePathError) as exc:
                out.append(exc)
        return out

    def _resume_or_truncate(self, claim: Claim, item: DownloadItem) -> None:
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
            and state.get('source') == item.source
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

    def write(self, claim: Claim, chunks: list[Chunk]) -> None:
        """Hash and append ``chunks`` to the part file."""
        claim.digest.update(chunks)
        _write_all(claim.fd, chunks)
        claim.offset = claim.digest.size

    def write_streamed(self, claim: Claim, chunks: list[Chunk]) -> None:
        """:meth:`write` a piece of a large file, and have the kernel write it to disk already.

        A large file is flushed before placement.  Left to the final fsync, all its bytes would
        be written then, after the download; instead each piece is handed to writeback as soon
        as it lands (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, which does not wait),
        and once more than ``DOWNLOAD_WRITEBACK_LAG`` bytes are in flight the older ones are
        waited for.  Disk writes then overlap the download, the final fsync waits only for the
        last few MiB (and the metadata), and a disk slower than the network holds back the
        download instead of filling memory with dirty pages.  The pages stay cached (a file
        just downloaded is often read next).  Elsewhere the final fsync does it all.
        """
        start = claim.offset
        self.write(claim, chunks)
        if not self.fsync or _sync_file_range is None:
            return
        if _sync_file_range(claim.fd, start, claim.offset - start, _SFR_WRITE) != 0:
            return  # not supported here: the final fsync flushes everything
        settled = claim.offset - DOWNLOAD_WRITEBACK_LAG
        if settled - claim.written_back >= DOWNLOAD_WRITE_BATCH:
            length = settled - claim.written_back
            if _sync_file_range(claim.fd, claim.written_back, length, _SFR_WAIT) != 0:
                # A write error reported here is not reported again by fsync: fail now.
                code = ctypes.get_errno()
                raise OSError(code, f'{os.strerror(code)} writing {claim.part}')
            claim.written_back = settled

    def save_state(self, claim: Claim, source: str, size: int | None) -> None:
        """Record what the part file's bytes are, so that a later job can resume it."""
        state = {'source': source, 'size': size, 'validator': claim.validator}
        with open(claim.part + _META_SUFFIX, 'w', encoding='utf-8') as handle:
            json.dump(state, handle)
        claim.meta_written = True

    def finish_many(
        self, jobs: list[tuple[Claim, list[Chunk], DownloadItem]]
    ) -> list[str | OSError | None]:
        """Append each job's last chunks, verify, flush and rename into place; release the locks.

        Returns, per job, None once placed, the mismatch found (``'md5 <found>'`` or ``'size
        <found>'``: nothing placed, the lock kept for the caller to retry or drop) or the
        ``OSError`` met.

        Every file is written and verified first, then all are flushed to disk together, then
        renamed, so a file gets its final name only once its bytes are durable: on Linux one
        ``syncfs`` flushes the batch with a single journal commit, where one ``fsync`` per file
        would wait for a commit each (the bottleneck for many small files); see
        :meth:`_flush`.  Elsewhere each file is fsynced.
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
        """Make the bytes of ``claims`` durable; the errors met, by file descriptor.

        One ``syncfs`` per file system for a batch, when the rest of the system has little
        unwritten data (:func:`_syncfs_affordable`), else one ``fsync`` per file.  ``syncfs``
        reports any write error on the file system since the descriptor it is given was opened
        (Linux >= 5.8), so it is given the batch's oldest one; on an error (possibly another
        process's), each file is fsynced, which reports its own errors only.
        """
        pending = claims
        if len(claims) > 1 and _syncfs is not None and _syncfs_affordable(claims):
            by_device: dict[int, list[Claim]] = {}
            for claim in claims:
                by_device.setdefault(os.fstat(claim.fd).st_dev, []).append(claim)
            pending = []
            for group in by_device.values():
                oldest = min(group, key=lambda c: c.serial)
                if len(group) == 1 or _syncfs(oldest.fd) != 0:
                    pending += group
        failed: dict[int, OSError] = {}
        for claim in pending:
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
        claim.written_back = 0
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


def _syncfs_affordable(claims: list[Claim]) -> bool:
    """True when a ``syncfs`` would write little beyond the batch's own bytes.

    ``syncfs`` flushes every file of the file system, other processes' included: with more
    than ``DOWNLOAD_SYNCFS_MAX_OTHER`` bytes of other dirty or in-flight data on the system
    (``/proc/meminfo``, all file systems counted, so an overestimate), per-file fsyncs bound
    the wait instead.
    """
    try:
        with open('/proc/meminfo', 'rb') as handle:
            text = handle.read()
    except OSError:
        return False
    unwritten = 0
    for line in text.splitlines():
        if line.startswith((b'Dirty:', b'Writeback:')):
            unwritten += int(line.split()[1]) * 1024
    own = sum(c.offset - c.written_back for c in claims)
    return unwritten - own <= DOWNLOAD_SYNCFS_MAX_OTHER


def _write_all(fd: int, chunks: list[Chunk]) -> None:
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


def _write_one(fd: int, chunk: Chunk) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]
