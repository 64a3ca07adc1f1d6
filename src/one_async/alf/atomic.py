"""Atomic file writes: a file appears under its final name complete or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from one_async.defaults import PART_SUFFIX

__all__ = ['atomic_write']


@contextmanager
def atomic_write(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``target`` for writing; on success fsync and rename it.

    On any error (or cancellation) the temporary file is removed and ``target`` is untouched.

    Examples
    --------
    >>> with atomic_write(folder / 'obj.attr.json') as fp:
    ...     fp.write(b'{}')
    """
    path = Path(target)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix=PART_SUFFIX)
    try:
        with os.fdopen(fd, 'wb') as fp:
            yield fp
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
