"""AlfBunch, the dict of an ALF object's attributes, with ALF's dimension rules.

The attributes of one ALF object share their first dimension (the object's rows).  This module
holds the dict type :func:`~one_async.alf.io.load_object` returns, the check of that rule and the
conversions between a bunch and a (polars) table.

Differences from ONE-api's ``one.alf.io.AlfBunch``/``dataframe``: tables are polars DataFrames
(ONE uses pandas); :meth:`AlfBunch.from_df` keeps each column's own dtype (ONE goes through
``DataFrame.values`` and so casts all columns to one common dtype) and joins ``x_0``/``x_1`` only
when both exist; bad input raises :class:`~one_async.exceptions.InvalidArgument`.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from one_async.alf.atomic import atomic_write
from one_async.exceptions import ALFFileError, ALFFileNotFound, InvalidArgument

__all__ = ['AlfBunch', 'check_dimensions', 'dataframe', 'shape_of']

_logger = logging.getLogger(__name__)

_SPLIT_COLUMN: Final = re.compile(r'(.+?)_([01])$')
"""Column names ``x_0``/``x_1``: the two columns of a split 2-D attribute (e.g. intervals)."""

MAX_SPLIT_COLUMNS: Final = 10
"""Columns of a 2-D attribute kept by :func:`dataframe` (ONE's limit)."""


def shape_of(value: Any) -> tuple[int, ...] | None:
    """Return the shape of an array or table value, None for anything without rows.

    numpy arrays, polars (and pandas) DataFrames and Series have a shape; scalars (0-d arrays),
    dicts, lists, paths and strings do not count as having rows.
    """
    shape = getattr(value, 'shape', None)
    if isinstance(shape, tuple) and shape and all(isinstance(n, int) for n in shape):
        return shape
    return None


def check_dimensions(dico: Mapping[str, Any]) -> int:
    """Test that the attributes of an object agree on their number of rows.

    ALF broadcasting: first dimensions must be equal, or 1.  Attributes named ``timestamps*``
    may instead be a ``(2, 2)`` array of (sample, time) synchronisation points.

    Parameters
    ----------
    dico
        The attributes (arrays, tables; other values are ignored).

    Returns
    -------
    int
        0 when the dimensions are consistent, 1 when not (ONE's convention).
    """
    first: list[int] = []
    for key, value in dico.items():
        shape = shape_of(value)
        if shape is None:
            continue
        if not key.startswith('timestamps'):
            first.append(shape[0])
        elif isinstance(value, np.ndarray):
            if value.ndim == 1 or (value.ndim == 2 and shape[1] == 1):
                first.append(shape[0])
            elif shape != (2, 2):
                return 1
    consistent = not first or set(first) <= {max(first), 1}
    return int(not consistent)


def _column_array(value: Any, key: str) -> npt.NDArray[Any]:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, pl.Series):
        return value.to_numpy()
    raise InvalidArgument(
        f'Attribute "{key}" is a {type(value).__name__}, not an array; cannot make a table column',
        value=key,
    )


def dataframe(adict: Mapping[str, Any]) -> pl.DataFrame:
    """Convert the attributes of an object into a polars DataFrame (ONE returns pandas).

    Vectors become columns; a 2-D attribute ``x`` becomes columns ``x_0``, ``x_1``, ... (at most
    ten, as ONE), a single-column one becomes ``x``.  Attributes of 3 or more dimensions are
    left out with a logged warning.

    Raises
    ------
    InvalidArgument
        The attributes do not share their number of rows, or one is not an array.
    """
    if check_dimensions(adict) != 0:
        sizes = {k: shape_of(v) for k, v in adict.items()}
        raise InvalidArgument(
            f'Can only convert to DataFrame objects with consistent size: {sizes}', value=sizes
        )
    columns: dict[str, Any] = {}
    for key, value in adict.items():
        arr = _column_array(value, key)
        if arr.ndim == 1:
            columns[key] = value if isinstance(value, pl.Series) else arr
        elif arr.ndim == 2 and arr.shape[1] == 1:
            columns[key] = arr[:, 0]
        elif arr.ndim == 2:
            for i in range(min(arr.shape[1], MAX_SPLIT_COLUMNS)):
                columns[f'{key}_{i}'] = arr[:, i]
        else:
            _logger.warning('%s attribute is 3D or more and is left out of the DataFrame', key)
    return pl.DataFrame(columns)


def _as_array(column: Any) -> npt.NDArray[Any]:
    return np.asarray(column.to_numpy() if hasattr(column, 'to_numpy') else column)


class AlfBunch(dict[str, Any]):
    """A dict of an ALF object's attributes, also readable as ``bunch.attribute``.

    Keys that clash with dict methods (``bunch.keys``) stay reachable with ``bunch['keys']``.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f'{type(self).__name__!r} object has no attribute {name!r}'
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(k for k in self if k.isidentifier())})

    def copy(self, deep: bool = False) -> AlfBunch:
        """Return a shallow copy, or a deep copy (arrays copied too) when ``deep`` is true."""
        return copy.deepcopy(self) if deep else AlfBunch(self)

    @property
    def check_dimensions(self) -> int:
        """0 when the attributes agree on their number of rows, 1 when not."""
        return check_dimensions(self)

    def append(self, b: Mapping[str, Any], inplace: bool = False) -> AlfBunch:
        """Append the rows of another bunch with the same keys, key by key.

        Arrays are concatenated along the first axis, lists extended, polars frames and series
        stacked; other values are kept from this bunch with a logged warning.

        Parameters
        ----------
        b
            The attributes to append.
        inplace
            Modify this bunch rather than a deep copy of it.

        Returns
        -------
        AlfBunch
            The bunch with the data appended (this bunch itself when ``inplace``; ONE returns
            None in that case only when the bunch was empty).

        Raises
        ------
        InvalidArgument
            The keys of the two bunches differ.
        """
        a = self if inplace else AlfBunch(copy.deepcopy(dict(self)))
        if not b:
            return a
        if not a:
            if inplace:
                a.update(b)
                return a
            return AlfBunch(b)
        if set(a) != set(b):
            diff = sorted(set(a) ^ set(b))
            raise InvalidArgument(
                f'Can only append bunches with the same keys; differing keys: {diff}', value=diff
            )
        for k, value in a.items():
            if isinstance(value, np.ndarray):
                a[k] = np.concatenate((value, b[k]), axis=0)
            elif isinstance(value, list):
                value.extend(b[k])
            elif isinstance(value, pl.DataFrame):
                a[k] = pl.concat([value, b[k]], how='vertical')
            elif isinstance(value, pl.Series):
                a[k] = value.append(b[k])
            else:
                _logger.warning('bunch key "%s" is a %s and is not appended', k, type(value))
        if a.check_dimensions != 0:
            sizes = '\n'.join(f'{shape_of(v)},\t{k}' for k, v in a.items())
            _logger.warning('Inconsistent dimensions for object:\n%s', sizes)
        return a

    def to_df(self) -> pl.DataFrame:
        """Return the attributes as a polars DataFrame (see :func:`dataframe`)."""
        return dataframe(self)

    @staticmethod
    def from_df(df: Any) -> AlfBunch:
        """Make a bunch from a polars (or pandas) DataFrame, one attribute per column.

        Column pairs ``x_0``/``x_1`` are joined back into a 2-column attribute ``x`` (e.g.
        ``intervals``), the inverse of :func:`dataframe` for two columns.
        """
        data: dict[str, Any] = {str(c): _as_array(df[c]) for c in df.columns}
        for key in sorted(data):
            m = _SPLIT_COLUMN.fullmatch(key)
            if m is None or m[2] != '0':
                continue
            second = f'{m[1]}_1'
            if second in data:
                data[m[1]] = np.c_[data.pop(key), data.pop(second)]
        return AlfBunch(data)

    def save(self, npz_file: str | os.PathLike[str], compress: bool = False) -> None:
        """Save the arrays to an ``.npz`` file, written atomically (temp file then rename)."""
        with atomic_write(npz_file) as fp:
            (np.savez_compressed if compress else np.savez)(fp, **self)

    @staticmethod
    def load(npz_file: str | os.PathLike[str]) -> AlfBunch:
        """Load a bunch saved with :meth:`save`.

        Raises
        ------
        ALFFileNotFound
            The file does not exist.
        ALFFileError
            The file is not an ``.npz`` archive.
        """
        path = Path(npz_file)
        if not path.exists():
            raise ALFFileNotFound(f'File not found: "{path}"', value=path)
        try:
            with path.open('rb') as fp:
                if not zipfile.is_zipfile(fp):
                    raise ValueError('not a zip archive of arrays')
                fp.seek(0)
                with np.load(fp, allow_pickle=False) as archive:
                    return AlfBunch({name: archive[name] for name in archive.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as ex:
            raise ALFFileError(f'Cannot read "{path}" as npz: {ex}', value=path) from ex
