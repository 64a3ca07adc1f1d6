"""Size and md5 checks: computed as bytes stream in, and of files already on disk."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from one_async.defaults import HASH_CHUNK_SIZE
from one_async.transfer.records import Chunk

__all__ = ['StreamDigest', 'file_matches']


class StreamDigest:
    """md5 and byte count of a stream, updated chunk by chunk (no second pass over the file)."""

    __slots__ = ('_md5', 'size')

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunks: Iterable[Chunk]) -> None:
        """Add ``chunks`` (in order).  Releases the GIL for large chunks: run it in a thread."""
        md5 = self._md5
        for chunk in chunks:
            md5.update(chunk)
            self.size += len(chunk)

    def hexdigest(self) -> str:
        """The md5 of the bytes so far."""
        return self._md5.hexdigest()


def file_matches(path: str, size: int | None, md5: str | None, check_hash: bool) -> bool:
    """True when the file at ``path`` exists with ``size`` (and ``md5`` when ``check_hash``).

    Blocking (reads the whole file when hashing): call it from a worker thread.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    if size is not None and st.st_size != size:
        return False
    if not check_hash or md5 is None:
        return True
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, 'rb') as handle:
        while chunk := handle.read(HASH_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest() == md5
