"""Vectorised UUID conversions for cache tables.

Cache tables hold UUIDs as canonical strings (``'8-4-4-4-12'`` lowercase hex).  Old tables written
by Alyx's ``one_cache --int-id`` hold each UUID as two ``int64`` columns (``id_0``/``id_1``): the
16 UUID bytes read as two little-endian integers, which is what ONE's ``iblutil.io.parquet``
helpers produce.  Converting millions of them one ``uuid.UUID`` at a time takes seconds, so these
helpers work on whole numpy byte matrices instead.
"""

from __future__ import annotations

import binascii

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

__all__ = [
    'bytes_to_uuid_strings',
    'int64_pairs_to_uuid_strings',
    'random_uuid_bytes',
    'uuid_strings_to_bytes',
    'uuid_strings_to_int64_pairs',
]

_DASHES = [8, 13, 18, 23]
# (slice of the 32 hex digits, slice of the 36-character string it goes to)
_GROUPS = (
    ((0, 8), (0, 8)),
    ((8, 12), (9, 13)),
    ((12, 16), (14, 18)),
    ((16, 20), (19, 23)),
    ((20, 32), (24, 36)),
)


def bytes_to_uuid_strings(raw: npt.NDArray[np.uint8]) -> pl.Series:
    """Format an ``(n, 16)`` byte matrix as a String series of canonical UUIDs.

    Parameters
    ----------
    raw
        One UUID per row, in RFC 4122 byte order.

    Returns
    -------
    polars.Series
        ``n`` lowercase hyphenated UUID strings.
    """
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1, 16)
    n = raw.shape[0]
    digits = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype=np.uint8).reshape(n, 32)
    text = np.empty((n, 36), dtype=np.uint8)
    text[:, _DASHES] = ord('-')
    for (start, stop), (dst_start, dst_stop) in _GROUPS:
        text[:, dst_start:dst_stop] = digits[:, start:stop]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(text.tobytes())
    )
    return pl.Series(array)


def uuid_strings_to_bytes(uuids: pl.Series) -> npt.NDArray[np.uint8]:
    """Parse canonical UUID strings (with or without dashes) to an ``(n, 16)`` byte matrix.

    Raises
    ------
    ValueError
        A value is null or is not 32 hex digits once dashes are removed.
    """
    if uuids.null_count():
        raise ValueError('cannot convert null UUIDs to bytes')
    hexed = uuids.cast(pl.String).str.replace_all('-', '', literal=True).str.to_lowercase()
    n = len(hexed)
    if n == 0:
        return np.empty((0, 16), dtype=np.uint8)
    lengths = hexed.str.len_bytes()
    if not bool((lengths == 32).all()):
        raise ValueError(f'not a UUID: "{uuids.filter(lengths != 32)[0]}"')
    array = hexed.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset :]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[0] + 32 * n]
    try:
        raw = binascii.unhexlify(data.tobytes())
    except binascii.Error:
        valid = hexed.str.contains(r'^[0-9a-f]{32}$')
        raise ValueError(f'not a UUID: "{uuids.filter(~valid)[0]}"') from None
    out: npt.NDArray[np.uint8] = np.frombuffer(raw, dtype=np.uint8).reshape(n, 16).copy()
    return out


def int64_pairs_to_uuid_strings(low: npt.ArrayLike, high: npt.ArrayLike) -> pl.Series:
    """Convert legacy ``(<name>_0, <name>_1)`` integer columns to UUID strings.

    The pair ``(0, 0)`` becomes the nil UUID, as ONE's own conversion does.
    """
    pairs = np.column_stack([np.asarray(low), np.asarray(high)]).astype('<i8', copy=False)
    return bytes_to_uuid_strings(pairs.view(np.uint8).reshape(-1, 16))


def uuid_strings_to_int64_pairs(
    uuids: pl.Series,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Convert UUID strings to the legacy ``(<name>_0, <name>_1)`` integer columns."""
    raw = np.ascontiguousarray(uuid_strings_to_bytes(uuids))
    pairs = raw.view('<i8').reshape(-1, 2).astype(np.int64)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def random_uuid_bytes(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """Draw ``n`` random version-4 UUIDs from ``rng`` as an ``(n, 16)`` byte matrix."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw
