"""Readers of the file formats ALF datasets come in, chosen by file extension.

:func:`load_file_content` mirrors ONE-api's ``one.alf.io.load_file_content`` with these
deliberate differences:

* tables (``.pqt``/``.parquet``, ``.csv``, ``.ssv``, ``.tsv``, ``.htsv``) are returned as
  **polars** DataFrames (a single-column text table as a polars Series, as ONE squeezes it to a
  pandas Series);
* a file that cannot be read as its extension says raises :class:`~one_async.exceptions.
  ALFFileError` naming the file (ONE logs and returns None for bad JSON and lets the parser's
  own error escape otherwise); a missing file raises :class:`~one_async.exceptions.
  ALFFileNotFound`, which is also a :class:`FileNotFoundError`;
* ``.npz`` archives with named arrays come back as a dict of arrays (ONE returns the open
  ``NpzFile``), ``.txt``/``.md`` as ``str`` (ONE returns the path);
* pickled objects inside ``.npy``/``.npz`` files are refused unless ``allow_pickle=True``
  (ONE always unpickles, which runs arbitrary code from the file);
* ``.npy`` files may be memory-mapped (``mmap=True``).
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import polars as pl
import yaml

from one_async.exceptions import ALFFileError, ALFFileNotFound, ALFWarning

__all__ = [
    'READERS',
    'StrPath',
    'ensure_flat',
    'load_file_content',
    'load_table_content',
    'read_flat_binary',
    'read_parquet',
]

StrPath: TypeAlias = 'str | os.PathLike[str]'

Reader: TypeAlias = Callable[[Path, bool, bool], Any]
"""``reader(path, mmap, allow_pickle)`` returning the content of one file."""

_READ_ERRORS: Final = (
    OSError,
    ValueError,  # includes json.JSONDecodeError and UnicodeDecodeError
    EOFError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
    yaml.YAMLError,
    pl.exceptions.PolarsError,
)
"""Errors of the underlying parsers that mean 'this file is not what its extension says'."""

_PANDAS_UNNAMED_INDEX: Final = '__index_level_'
_PARQUET: Final = frozenset({'.pqt', '.parquet'})

# numpy ships these two without annotations; give them types once here.
_open_memmap: Callable[..., npt.NDArray[Any]] = np.lib.format.open_memmap
_read_array: Callable[..., npt.NDArray[Any]] = np.lib.format.read_array


def ensure_flat(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return an ``(n, 1)`` array as a vector of length n; other shapes unchanged.

    MATLAB writes vectors as single-column matrices; ALF treats them as vectors.
    """
    return arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr


def _read_npy(path: Path, mmap: bool, allow_pickle: bool) -> npt.NDArray[Any]:
    if mmap:
        arr = _open_memmap(path, mode='r')
    else:
        with path.open('rb') as fp:
            arr = _read_array(fp, allow_pickle=allow_pickle)
    return ensure_flat(arr)


def _read_npz(path: Path, mmap: bool, allow_pickle: bool) -> Any:
    """Load every array of the archive; a lone default-named array is returned bare, as ONE."""
    with path.open('rb') as fp:  # np.load leaks its own handle when the zip is corrupt
        if not zipfile.is_zipfile(fp):
            raise ValueError('not a zip archive of arrays')
        fp.seek(0)
        with np.load(fp, allow_pickle=allow_pickle) as archive:
            arrays = {name: archive[name] for name in archive.files}
    if set(arrays) == {'arr_0'}:
        return arrays['arr_0']
    return arrays


def read_parquet(path: Path) -> tuple[pl.DataFrame, list[str]]:
    """Read a parquet table and list the columns pandas stored as its index.

    Parameters
    ----------
    path
        The parquet file.

    Returns
    -------
    polars.DataFrame
        Every stored column.
    list of str
        The columns that hold a pandas index (empty for files not written by pandas or with a
        default range index).
    """
    table = pl.read_parquet(path)
    pandas_meta = pl.read_parquet_metadata(path).get('pandas')
    index_columns: list[str] = []
    if pandas_meta:
        declared = json.loads(pandas_meta).get('index_columns', [])
        index_columns = [c for c in declared if isinstance(c, str) and c in table.columns]
    return table, index_columns


def _read_parquet_content(path: Path, mmap: bool, allow_pickle: bool) -> pl.DataFrame:
    """Named pandas index columns lead the frame; pandas' unnamed row labels are dropped."""
    table, index_columns = read_parquet(path)
    unnamed = [c for c in index_columns if c.startswith(_PANDAS_UNNAMED_INDEX)]
    named = [c for c in index_columns if c not in unnamed]
    others = [c for c in table.columns if c not in index_columns]
    return table.select(*named, *others)


def _read_delimited(
    path: Path, mmap: bool, allow_pickle: bool, *, separator: str
) -> pl.DataFrame | pl.Series:
    """Read a text table whose first row holds the column names, as pandas' default does."""
    table = pl.read_csv(path, separator=separator, infer_schema_length=None)
    return table.to_series() if table.width == 1 else table


def _read_json(path: Path, mmap: bool, allow_pickle: bool) -> Any:
    return json.loads(path.read_bytes())


def _read_jsonable(path: Path, mmap: bool, allow_pickle: bool) -> list[Any]:
    """One JSON document per line; blank lines are skipped."""
    records: list[Any] = []
    with path.open('rb') as fp:
        for number, line in enumerate(fp, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as ex:
                raise ValueError(f'line {number}: {ex}') from ex
    return records


def _read_yaml(path: Path, mmap: bool, allow_pickle: bool) -> Any:
    with path.open('rb') as fp:
        return yaml.safe_load(fp)


def _read_text(path: Path, mmap: bool, allow_pickle: bool) -> str:
    return path.read_text(encoding='utf-8')


def _read_sparse_npz(path: Path, mmap: bool, allow_pickle: bool) -> Any:
    """Load with the optional pydata ``sparse`` package; without it warn and return the path."""
    try:
        sparse = importlib.import_module('sparse')
    except ModuleNotFoundError:
        warnings.warn(
            f'{path.name} requires the pydata sparse package to load', ALFWarning, stacklevel=4
        )
        return path
    return sparse.load_npz(path)


READERS: Final[Mapping[str, Reader]] = {
    '.npy': _read_npy,
    '.npz': _read_npz,
    '.pqt': _read_parquet_content,
    '.parquet': _read_parquet_content,
    '.csv': partial(_read_delimited, separator=','),
    '.ssv': partial(_read_delimited, separator=' '),
    '.tsv': partial(_read_delimited, separator='\t'),
    '.htsv': partial(_read_delimited, separator='\t'),
    '.json': _read_json,
    '.jsonable': _read_jsonable,
    '.yaml': _read_yaml,
    '.yml': _read_yaml,
    '.txt': _read_text,
    '.md': _read_text,
    '.sparse_npz': _read_sparse_npz,
}
"""Reader of each supported extension (as ``Path.suffix``, case-sensitive like ONE)."""


def _stat_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        raise ALFFileNotFound(f'File not found: "{path}"', value=path) from None
    except OSError as ex:
        raise ALFFileError(f'Cannot access "{path}": {ex}', value=path) from ex


def load_file_content(fil: StrPath | None, mmap: bool = False, allow_pickle: bool = False) -> Any:
    """Return the content of a dataset file, parsed according to its extension.

    Parameters
    ----------
    fil
        The file to read.  None or an empty string returns None, as in ONE.
    mmap
        Memory-map ``.npy`` files (read-only) instead of reading them into memory.
    allow_pickle
        Allow object arrays in ``.npy``/``.npz`` files.  Unpickling runs code from the file,
        so only enable it for trusted data.

    Returns
    -------
    Any
        numpy array (``.npy``; dict of arrays for multi-array ``.npz``), polars DataFrame
        (parquet and text tables, a Series for a single text column), parsed JSON/YAML, list of
        records (``.jsonable``), ``str`` (``.txt``, ``.md``), None for an empty file, and the
        path itself for any other extension.

    Raises
    ------
    ALFFileNotFound
        The file does not exist (also a FileNotFoundError).
    ALFFileError
        The file cannot be read as the format its extension names.
    """
    if not fil:
        return None
    path = Path(fil)
    return _read(path, READERS.get(path.suffix), mmap, allow_pickle)


def _read(path: Path, reader: Reader | None, mmap: bool, allow_pickle: bool) -> Any:
    """Run a reader on a file, turning parser errors into ALFFileError naming the file."""
    if _stat_size(path) == 0:
        return None
    if reader is None:
        return path
    try:
        return reader(path, mmap, allow_pickle)
    except FileNotFoundError:
        raise ALFFileNotFound(f'File not found: "{path}"', value=path) from None
    except _READ_ERRORS as ex:
        raise ALFFileError(f'Cannot read "{path}" as {path.suffix[1:]}: {ex}', value=path) from ex


def _read_parquet_table(path: Path, mmap: bool, allow_pickle: bool) -> pl.DataFrame:
    table, index_columns = read_parquet(path)
    return table.drop(index_columns)


def load_table_content(fil: StrPath) -> Any:
    """Read the ``table`` attribute of an object: like :func:`load_file_content`, except that
    a parquet table loses every pandas index column, as ONE's ``AlfBunch.from_df`` ignores the
    index.
    """
    path = Path(fil)
    reader = _read_parquet_table if path.suffix in _PARQUET else READERS.get(path.suffix)
    return _read(path, reader, False, False)


def read_flat_binary(
    path: Path, dtype: Any, n_columns: int | None = None, mmap: bool = False
) -> npt.NDArray[Any]:
    """Read a flat binary file of one dtype, as described by its ALF metadata file.

    Parameters
    ----------
    path
        The ``.bin`` file.
    dtype
        numpy dtype name of the samples (the metadata's ``dtype`` key).
    n_columns
        Number of interleaved columns (the length of the metadata's ``columns`` list); the
        result is 2-D with that many columns.  None reads a vector.
    mmap
        Memory-map the file (read-only) instead of reading it into memory.

    Raises
    ------
    ALFFileError
        The dtype is invalid or the file size is not a whole number of rows.
    """
    try:
        dt = np.dtype(dtype)
        row_bytes = dt.itemsize * (n_columns or 1)
        size = _stat_size(path)
        if row_bytes == 0 or size % row_bytes:
            raise ValueError(f'{size} bytes is not a whole number of {row_bytes}-byte rows')
        shape = (size // row_bytes, n_columns) if n_columns else (size // row_bytes,)
        if mmap:
            return np.memmap(path, dtype=dt, mode='r', shape=shape)
        return np.fromfile(path, dtype=dt).reshape(shape)
    except (TypeError, ValueError, OSError) as ex:
        if isinstance(ex, ALFFileError):
            raise
        raise ALFFileError(f'Cannot read "{path}" as {dtype} binary: {ex}', value=path) from ex
