"""Loading and saving ALF objects: the files of one object read into one dict of attributes.

Mirrors the public API of ONE-api's ``one.alf.io`` (2.9.0, also 3.6.1) with the same names,
parameters and results, except where documented:

* tables are **polars** DataFrames where ONE returns pandas (``load_file_content`` of parquet and
  text tables, ``AlfBunch.to_df``, ``dataframe``);
* unreadable files raise :class:`~one_async.exceptions.ALFFileError` naming the file, missing
  ones :class:`~one_async.exceptions.ALFFileNotFound` (a FileNotFoundError); ONE's assertions
  become typed errors (:class:`~one_async.exceptions.ALFMultipleObjectsFound`,
  :class:`~one_async.exceptions.InvalidArgument`, :class:`~one_async.exceptions.ALFInvalid`);
* pickled ``.npy`` content needs ``allow_pickle=True``; ``.npy`` files may be memory-mapped;
* a ``.bin`` file with a metadata file giving its ``dtype`` is read as an array;
* results come in lexicographic file order, and each folder is scanned once per call.

Every blocking function has an async twin here or in its module: :func:`aload_object` and
:func:`aload_file_content` run in a worker thread and never block the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import anyio.to_thread
import numpy as np
import numpy.typing as npt
import polars as pl

from one_async.alf import spec
from one_async.alf.atomic import atomic_write
from one_async.alf.bunch import AlfBunch, check_dimensions, dataframe, shape_of
from one_async.alf.formats import (
    StrPath,
    ensure_flat,
    load_file_content,
    load_table_content,
    read_flat_binary,
)
from one_async.alf.listing import (
    FilterValue,
    filter_by,
    filter_names,
    find_variants,
    iter_datasets,
    iter_sessions,
    list_files,
    parse_name,
)
from one_async.alf.path import remove_uuid_string
from one_async.exceptions import (
    ALFFileError,
    ALFFileNotFound,
    ALFInvalid,
    ALFMultipleObjectsFound,
    ALFObjectNotFound,
    InvalidArgument,
)

__all__ = [
    'AlfBunch',
    'FilterValue',
    'aload_file_content',
    'aload_object',
    'check_dimensions',
    'dataframe',
    'exists',
    'filter_by',
    'find_metadata',
    'find_variants',
    'iter_datasets',
    'iter_sessions',
    'load_file_content',
    'load_object',
    'next_num_folder',
    'read_ts',
    'remove_empty_folders',
    'remove_uuid_file',
    'remove_uuid_recursive',
    'save_metadata',
    'save_object_npy',
    'ts2vec',
]

_logger = logging.getLogger(__name__)

_TABLE_KEY: Final = re.compile(r'^table([_.]|$)')
"""Attribute keys of a table whose columns are the object's attributes (``trials.table.pqt``)."""

_SPLIT_COLUMN: Final = re.compile(r'.+?_[01]$')


# --- time series ------------------------------------------------------------------------------


def ts2vec(ts: npt.NDArray[Any], n_samples: int) -> npt.NDArray[Any]:
    """Expand timestamps to one time per sample.

    Parameters
    ----------
    ts
        Either a vector of times (returned as is, a single column flattened), or a ``(k, 2)``
        array of (sample index, time) synchronisation points, interpolated linearly.
    n_samples
        Number of samples of the time series.

    Raises
    ------
    InvalidArgument
        ``ts`` has another shape.
    """
    if ts.ndim == 1:
        return ts
    if ts.ndim == 2 and ts.shape[1] == 1:
        return ts.reshape(-1)
    if ts.ndim > 2 or ts.shape[1] != 2:
        raise InvalidArgument(f'Timestamps shape should be (n, 2), not {ts.shape}', value=ts.shape)
    interpolated: npt.NDArray[Any] = np.interp(np.arange(n_samples), ts[:, 0], ts[:, 1])
    return interpolated


def read_ts(filename: StrPath) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Load the values of a time series attribute and one time per value.

    The times come from the object's ``times*`` attribute with the same extension in the same
    folder (e.g. ``_ibl_wheel.timestamps.npy`` for ``_ibl_wheel.position.npy``).

    Returns
    -------
    numpy.ndarray
        The times, one per sample (see :func:`ts2vec`).
    numpy.ndarray
        The values.

    Raises
    ------
    ALFInvalid
        The file name is not a valid ALF name.
    ALFFileNotFound
        There is not exactly one ``times*`` file for the object.
    """
    path = Path(filename)
    parts = parse_name(path.name)
    if parts is None:
        raise ALFInvalid(f'Invalid ALF dataset name: "{path.name}"', value=path)
    _, obj, _, _, _, ext = parts
    found, _ = filter_by(path.parent, object=obj, attribute='times*', extension=ext)
    if len(found) != 1:
        raise ALFFileNotFound(
            f'No time-scale for {path}: expected one "{obj}.times*.{ext}" file in '
            f'{path.parent}, found {found or "none"}',
            value=path,
        )
    times = np.asarray(load_file_content(path.parent / found[0]))
    values = np.asarray(load_file_content(path))
    return ts2vec(times, values.shape[0]), ensure_flat(values)


# --- metadata ---------------------------------------------------------------------------------


_META_MARK: Final = '.metadata'
_META_EXT: Final = '.json'


def _name_prefix(name: str) -> str:
    """The first two dot-parts of a dataset name (``_ns_obj.attr``), shared by its metadata."""
    return '.'.join(name.split('.')[:2])


def _is_metadata_of(candidate: str, prefix: str) -> bool:
    """Whether ``candidate`` matches ONE's metadata glob ``{prefix}*.metadata*.json``."""
    end = len(candidate) - len(_META_EXT)
    return (
        candidate.startswith(prefix)
        and candidate.endswith(_META_EXT)
        and _META_MARK in candidate[len(prefix) : end]
    )


def _is_metadata(name: str) -> bool:
    return _is_metadata_of(name, _name_prefix(name))


def _metadata_names(names: Sequence[str]) -> list[str]:
    """The names of a folder listing that can be metadata files (usually none)."""
    return [n for n in names if n.endswith(_META_EXT) and _META_MARK in n]


def find_metadata(file_alf: StrPath, names: Sequence[str] | None = None) -> Path | None:
    """Return the metadata file of a dataset, or None (ONE's ``_find_metadata``).

    The metadata of ``_ns_obj.attr.ext`` is ``_ns_obj.attr*.metadata*.json`` in the same folder;
    among several the first in lexicographic order is taken (ONE takes the first the file
    system lists).

    Parameters
    ----------
    file_alf
        The dataset path.
    names
        The file names of its folder, if already listed (avoids a directory scan).
    """
    path = Path(file_alf)
    prefix = _name_prefix(path.name)
    listing = list_files(path.parent) if names is None else names
    match = min((n for n in listing if _is_metadata_of(n, prefix)), default=None)
    return None if match is None else path.parent / match


_find_metadata = find_metadata  # ONE's private name


# --- listing an object ------------------------------------------------------------------------


def _ls(
    alfpath: StrPath, object: FilterValue = None, **kwargs: Any
) -> tuple[list[Path], list[tuple[str | None, ...]], list[str]]:
    """List the files of an object: paths, parts, and the folder's full listing.

    ``alfpath`` is a folder, or a dataset file whose object is then the one loaded.

    Raises
    ------
    ALFObjectNotFound
        No file matched (or the folder does not exist).
    """
    path = Path(alfpath)
    names: list[str] = []
    found: list[str] = []
    parts: list[tuple[str | None, ...]] = []
    if path.is_dir():
        names = list_files(path)
    elif path.exists():
        file_parts = parse_name(path.name)
        if file_parts is None:
            raise ALFInvalid(f'Invalid ALF dataset name: "{path.name}"', value=path)
        object = file_parts[1]
        path = path.parent
        names = list_files(path)
    if names:
        filters = kwargs if object is None else {**kwargs, 'object': object}
        found, parts = filter_names(names, **filters)
    if not found:
        what = f'object "{object}"' if object else 'ALF files'
        raise ALFObjectNotFound(f'No {what} found in {path}', value=object or path)
    return [path / f for f in found], parts, names


def exists(
    alfpath: StrPath,
    object: FilterValue,
    attributes: str | Sequence[str] | None = None,
    **kwargs: Any,
) -> bool:
    """Return True if the object, and all the given attributes, exist in the folder.

    Parameters
    ----------
    alfpath
        The folder (or one dataset file of it).
    object
        The object name or pattern.
    attributes
        Attribute names that must all be present.
    **kwargs
        Other filters (see :func:`filter_by`), including ``wildcards``.
    """
    try:
        _, parts, _ = _ls(alfpath, object, **kwargs)
    except (FileNotFoundError, ALFObjectNotFound):
        return False
    if not attributes:
        return True
    wanted = {attributes} if isinstance(attributes, str) else set(attributes)
    return wanted <= {p[2] for p in parts}


# --- loading ----------------------------------------------------------------------------------


def _attribute_keys(parts: Sequence[tuple[str | None, ...]], short_keys: bool) -> list[str]:
    keys = []
    for _, _, attribute, timescale, extra, _ in parts:
        key = f'{attribute}_{timescale}' if timescale else str(attribute)
        if not short_keys and extra:
            key = f'{key}.{extra}'
        keys.append(key)
    return keys


def _apply_metadata(out: AlfBunch, key: str, data_file: Path, meta_file: Path, mmap: bool) -> None:
    """Merge a dataset's metadata: split ``columns`` into attributes, keep the rest."""
    meta = load_file_content(meta_file)
    if not isinstance(meta, dict):
        raise ALFFileError(
            f'Metadata file "{meta_file}" does not hold a JSON object', value=meta_file
        )
    columns = meta.pop('columns', None)
    if columns is not None and not (
        isinstance(columns, list) and all(isinstance(c, str) for c in columns)
    ):
        raise ALFFileError(
            f'Metadata file "{meta_file}": "columns" must be a list of names, not {columns!r}',
            value=meta_file,
        )
    if data_file.suffix == '.bin' and 'dtype' in meta:
        n_columns = len(columns) if columns else None
        out[key] = read_flat_binary(data_file, meta['dtype'], n_columns, mmap=mmap)
    if columns is not None:
        data = out.pop(key)
        n = len(columns)
        if not isinstance(data, np.ndarray) or data.ndim < 2 or data.shape[1] < n:
            shape = shape_of(data)
            raise ALFFileError(
                f'Metadata "{meta_file}" names {n} columns but "{data_file}" holds '
                f'{type(data).__name__} of shape {shape}',
                value=data_file,
            )
        out.update({name: data[:, i] for i, name in enumerate(columns)})
    if meta:
        out[key + 'metadata'] = meta


def _rename_table_column(field: str, suffix: str) -> str:
    """Carry the table's timescale/extra parts onto a column: ``x_0`` -> ``x_clock_0``."""
    if _SPLIT_COLUMN.match(field):
        return field[:-2] + suffix + field[-2:]
    return field + suffix


def _merge_table(out: AlfBunch) -> None:
    """Replace the first ``table*`` attribute by one attribute per column, as ONE does."""
    table_key = next((k for k in out if _TABLE_KEY.match(k)), None)
    if table_key is None:
        return
    table = out[table_key]
    if isinstance(table, pl.Series):
        table = table.to_frame()
    if not isinstance(table, pl.DataFrame):
        return
    del out[table_key]
    suffix = table_key[len('table') :]
    table = table.rename({c: _rename_table_column(c, suffix) for c in table.columns})
    out.update(AlfBunch.from_df(table))


def _expand_timestamps(out: AlfBunch, status: int) -> None:
    """Interpolate (2, 2) ``timestamps`` to one time per sample of the other attributes."""
    timeseries = [k for k in out if 'timestamps' in k]
    if not timeseries or len(out) <= len(timeseries) or status != 0:
        return
    shapes = (shape_of(v) for k, v in out.items() if 'timestamps' not in k and 'meta' not in k)
    n_samples = next((s[0] for s in shapes if s is not None), None)
    if n_samples is None:
        return
    for key in timeseries:
        if isinstance(out[key], np.ndarray):
            out[key] = ts2vec(out[key], n_samples)


def load_object(
    alfpath: StrPath | Sequence[StrPath],
    object: FilterValue = None,
    short_keys: bool = False,
    *,
    mmap: bool = False,
    allow_pickle: bool = False,
    **kwargs: Any,
) -> AlfBunch:
    """Load all the attributes of an ALF object into an :class:`AlfBunch`.

    The files ``spikes.times.npy``, ``spikes.clusters.npy``, ... of the object ``spikes`` give
    the keys ``times``, ``clusters``, ...  Keys are ``attribute[_timescale][.extra]``
    (``short_keys`` leaves out the extra parts).  A metadata file
    ``obj.attr.metadata.json`` adds ``attrmetadata``, or splits a 2-D attribute into one
    attribute per name of its ``columns`` list.  A ``table`` attribute (e.g.
    ``trials.table.pqt``) becomes one attribute per column; ``x_0``/``x_1`` columns are joined
    into a 2-column ``x``.  Two-point ``timestamps`` are interpolated to one per sample.
    Inconsistent numbers of rows are logged as a warning, as in ONE.

    Parameters
    ----------
    alfpath
        A folder, one dataset file of the object, or a list of dataset files (e.g. from
        several revisions; ``object`` and the filters are then ignored, as in ONE).
    object
        The object name, pattern or list of them; required with a folder.
    short_keys
        Leave the extra parts out of the keys.
    mmap
        Memory-map ``.npy`` (and metadata-described ``.bin``) files.
    allow_pickle
        Allow object arrays in ``.npy`` files (runs code from the file: trusted data only).
    **kwargs
        Other filters (``namespace``, ``attribute``, ``timescale``, ``extra``, ``extension``,
        ``wildcards``), see :func:`filter_by`.

    Raises
    ------
    InvalidArgument
        A folder without ``object``.
    ALFObjectNotFound
        No file of the object matched.
    ALFMultipleObjectsFound
        The files belong to several objects, or two files give the same key (e.g. two
        namespaces): restrict with ``namespace=`` or other filters.
    ALFFileError
        A file cannot be read.

    Examples
    --------
    >>> spikes = load_object('/data/subject/2021-01-01/001/alf/probe00', 'spikes')
    >>> trials = load_object(session_path / 'alf', 'trials', namespace='ibl')
    """
    if isinstance(alfpath, (str, os.PathLike)):
        if object is None and Path(alfpath).is_dir():
            raise InvalidArgument(
                f'An object name is needed to load from the folder {alfpath}', value=alfpath
            )
        files, parts, names = _ls(alfpath, object, **kwargs)
        listings = {files[0].parent: _metadata_names(names)}
    else:
        files = [Path(f) for f in alfpath]
        if not files:
            raise ALFObjectNotFound('No ALF files given to load', value=alfpath)
        parsed = [parse_name(f.name) for f in files]
        invalid = [f for f, p in zip(files, parsed, strict=True) if p is None]
        if invalid:
            raise ALFInvalid(f'Invalid ALF dataset name: "{invalid[0]}"', value=invalid[0])
        parts = [p for p in parsed if p is not None]
        objects = sorted({str(p[1]) for p in parts})
        if len(objects) > 1:
            raise ALFMultipleObjectsFound(
                f'The files belong to several objects: {objects}', value=objects
            )
        object = objects[0]
        listings = {}
    keys = _attribute_keys(parts, short_keys)
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        where = sorted({str(f.parent) for f in files})
        raise ALFMultipleObjectsFound(
            f'Several files of object "{object}" give the attributes {duplicates} in '
            f'{", ".join(where)}; restrict with namespace= or other filters',
            value=duplicates,
        )

    out = AlfBunch()
    for file, key in zip(files, keys, strict=True):
        if _is_metadata(file.name):
            continue
        meta_names = listings.get(file.parent)
        if meta_names is None:
            meta_names = listings[file.parent] = _metadata_names(list_files(file.parent))
        if _TABLE_KEY.match(key):
            out[key] = load_table_content(file)
        else:
            out[key] = load_file_content(file, mmap=mmap, allow_pickle=allow_pickle)
        meta_file = find_metadata(file, meta_names)
        if meta_file is not None:
            _apply_metadata(out, key, file, meta_file, mmap)
    _merge_table(out)
    status = out.check_dimensions
    _expand_timestamps(out, status)
    if status != 0:
        sizes = '\n'.join(f'{s},\t{k}' for k, v in out.items() if (s := shape_of(v)) is not None)
        _logger.warning('Inconsistent dimensions for object: %s\n%s', object, sizes)
    return out


async def aload_object(
    alfpath: StrPath | Sequence[StrPath],
    object: FilterValue = None,
    short_keys: bool = False,
    *,
    mmap: bool = False,
    allow_pickle: bool = False,
    **kwargs: Any,
) -> AlfBunch:
    """Async :func:`load_object`: runs in a worker thread, never blocking the event loop.

    On cancellation the call returns at once; the worker finishes reading in the background
    and its result is discarded (reading has no side effects to undo).
    """
    call = partial(
        load_object, alfpath, object, short_keys, mmap=mmap, allow_pickle=allow_pickle, **kwargs
    )
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


async def aload_file_content(
    fil: StrPath | None, mmap: bool = False, allow_pickle: bool = False
) -> Any:
    """Async :func:`load_file_content`, in a worker thread (cancellable like aload_object)."""
    call = partial(load_file_content, fil, mmap, allow_pickle)
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


# --- saving -----------------------------------------------------------------------------------


def save_object_npy(
    alfpath: StrPath,
    dico: Mapping[str, Any],
    object: str,
    parts: str | Sequence[str] | None = None,
    namespace: str | None = None,
    timescale: str | Sequence[str] | None = None,
) -> list[Path]:
    """Save the attributes of an object as ``.npy`` files named by ALF, one per key.

    Each file is written atomically (temporary file, fsync, rename).

    Parameters
    ----------
    alfpath
        The folder to write in.
    dico
        Attribute name to array; arrays must agree on their number of rows.
    object
        The object name.
    parts
        Extra name parts.
    namespace, timescale
        Optional name parts.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    InvalidArgument
        The arrays do not agree on their number of rows.

    Examples
    --------
    >>> save_object_npy(folder, {'times': np.arange(5), 'amps': np.ones(5)}, 'spikes')
    """
    if check_dimensions(dico) != 0:
        sizes = {k: shape_of(v) for k, v in dico.items()}
        raise InvalidArgument(
            f'Dimensions are not consistent to save all arrays in ALF format: {sizes}',
            value=sizes,
        )
    folder = Path(alfpath)
    written = []
    for key, value in dico.items():
        name = spec.to_alf(
            object, key, 'npy', extra=parts, namespace=namespace, timescale=timescale
        )
        target = folder / name
        with atomic_write(target) as fp:
            np.save(fp, value)
        written.append(target)
    return written


def save_metadata(file_alf: StrPath, dico: Mapping[str, Any]) -> Path:
    """Write the metadata of a dataset as ``<name without extension>.metadata.json``.

    Reserved keys: ``columns`` (names of the columns of a 2-D attribute), ``row``, ``unit``,
    and ``dtype`` (of a flat ``.bin`` file).  Written atomically.

    Returns
    -------
    pathlib.Path
        The metadata file (as ONE 3.x).

    Raises
    ------
    ALFInvalid
        ``file_alf`` is not an ALF dataset name.
    """
    path = Path(file_alf)
    if parse_name(path.name) is None:
        raise ALFInvalid(f'Invalid ALF dataset name: "{path.name}"', value=path)
    target = path.parent / f'{path.stem}.metadata.json'
    with atomic_write(target) as fp:
        fp.write(json.dumps(dico, indent=1).encode())
    return target


# --- folders ----------------------------------------------------------------------------------


def remove_uuid_file(file_path: StrPath, dry: bool = False) -> Path:
    """(Deprecated, as in ONE) Rename a file to drop the UUID from its name; return the new path.

    Parameters
    ----------
    file_path
        A path whose last extra part may be a UUID.
    dry
        Only compute the new name, do not rename.
    """
    warnings.warn(
        'remove_uuid_file is deprecated, use one_async.alf.path.remove_uuid_string',
        DeprecationWarning,
        stacklevel=2,
    )
    return _remove_uuid_file(Path(file_path), dry)


def _remove_uuid_file(path: Path, dry: bool) -> Path:
    new_path = Path(remove_uuid_string(path))
    if new_path != path and not dry and path.exists():
        path.replace(new_path)
    return new_path


def remove_uuid_recursive(folder: StrPath, dry: bool = False) -> None:
    """(Deprecated, as in ONE) Drop the UUIDs from all file names under a folder.

    Each new name is logged at INFO level (ONE prints it).
    """
    warnings.warn(
        'remove_uuid_recursive is deprecated and will be removed', DeprecationWarning, stacklevel=2
    )
    for path in sorted(Path(folder).rglob('*.*')):
        _logger.info('%s', _remove_uuid_file(path, dry))


def next_num_folder(session_date_folder: StrPath) -> str:
    """Return the next session number (``'001'``...) for a subject's date folder.

    Raises
    ------
    InvalidArgument
        The folder already holds session 999.
    """
    folder = Path(session_date_folder)
    if not folder.exists():
        return '001'
    numbers = [
        int(p.name)
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith('.') and p.name.isdigit()
    ]
    following = max(numbers, default=0) + 1
    if following > 999:
        raise InvalidArgument(
            f'ALF session numbers stop at 999; {folder} already has {following - 1}',
            value=folder,
        )
    return f'{following:03d}'


def remove_empty_folders(folder: StrPath) -> None:
    """Remove every empty folder under ``folder`` (deepest first); ``folder`` itself stays."""
    for path in sorted((p for p in Path(folder).rglob('*') if p.is_dir()), reverse=True):
        try:
            path.rmdir()
        except OSError:
            continue
