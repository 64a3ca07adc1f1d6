"""The in-memory database behind the local Alyx server.

:class:`AlyxStore` holds one polars table per Alyx model (see :mod:`.tables`) and the few record
operations the REST endpoints need: read one record, insert, update, delete with Alyx's cascades.
Frames are never modified in place: every change replaces a table, so a reader (the cache table
builder in a worker thread, say) always sees a consistent snapshot.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from .tables import JSON_COLUMNS, PRIMARY_KEYS, SCHEMAS, conform, empty

if TYPE_CHECKING:
    from ..generate import SyntheticData

__all__ = ['AlyxStore', 'relative_path']


def relative_path(
    subject: str, date: str, number: int, collection: str, revision: str, name: str
) -> str:
    """A file record's path in its repository: ``subject/date/NNN/collection/#rev#/name``."""
    parts = [subject, date, f'{int(number):03d}']
    if collection:
        parts.append(collection)
    if revision:
        parts.append(f'#{revision}#')
    parts.append(name)
    return '/'.join(parts)


def _encode_json(table: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Copy ``record`` with its JSON fields as JSON text."""
    out = dict(record)
    for key in JSON_COLUMNS & out.keys():
        value = out[key]
        out[key] = None if value is None else json.dumps(value)
    return out


class AlyxStore:
    """Polars tables of the Alyx models the local server exposes, and their relations.

    Parameters
    ----------
    tables
        Frames by table name (``sessions``, ``datasets``, ``file_records``, ``data_repositories``,
        ``insertions``, ``dataset_types``, ``revisions``); missing tables start empty, missing
        columns take their defaults (see :mod:`.tables`).
    seed
        Seeds the identifiers of records created through the API, so runs are reproducible.
    """

    def __init__(self, tables: Mapping[str, pl.DataFrame] | None = None, *, seed: int = 0) -> None:
        tables = dict(tables or {})
        unknown = set(tables) - set(SCHEMAS)
        if unknown:
            raise ValueError(f'unknown tables {sorted(unknown)}; expected some of {list(SCHEMAS)}')
        self._tables: dict[str, pl.DataFrame] = {
            name: conform(name, tables[name]) if name in tables else empty(name)
            for name in SCHEMAS
        }
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self.version = 0
        """Incremented by every change, so derived artefacts (cache tables) are rebuilt."""
        self.modified = datetime.now()
        """When the data last changed (creation time at first)."""

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls, records: Mapping[str, Iterable[Mapping[str, Any]]], *, seed: int = 0
    ) -> AlyxStore:
        """Build a store from plain records (dicts) by table name; JSON fields may be objects."""
        frames = {}
        for table, rows in records.items():
            if table not in SCHEMAS:
                raise ValueError(f'unknown table {table!r}; expected one of {list(SCHEMAS)}')
            encoded = [_encode_json(table, row) for row in rows]
            schema = SCHEMAS[table]
            if encoded:
                columns = {key for row in encoded for key in row}
                overrides = {k: v for k, v in schema.items() if k in columns}
                frame = pl.DataFrame(encoded, schema_overrides=overrides, strict=False)
            else:
                frame = empty(table)
            frames[table] = frame
        return cls(frames, seed=seed)

    @classmethod
    def from_alf_folder(cls, root: str | Path, *, seed: int = 0, **options: Any) -> AlyxStore:
        """Build a store describing the ALF tree under ``root`` (see :func:`.alf_folder.scan`)."""
        from .alf_folder import scan

        return cls.from_records(scan(Path(root), seed=seed, **options), seed=seed)

    @classmethod
    def from_generated(cls, data: SyntheticData, *, user: str = 'test_user') -> AlyxStore:
        """Build a store serving data of :func:`one_async.testing.generate.generate` (records,
        sizes and hashes as given: pass the result of ``write_files`` to serve real files)."""
        from .generated import generated_tables

        return cls(generated_tables(data, user=user), seed=data.seed)

    # --- reading -----------------------------------------------------------------------------

    def table(self, name: str) -> pl.DataFrame:
        """The current frame of table ``name`` (an immutable snapshot)."""
        return self._tables[name]

    def snapshot(self) -> tuple[int, dict[str, pl.DataFrame]]:
        """The version and a consistent copy of the table mapping."""
        with self._lock:
            return self.version, dict(self._tables)

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        """The record of ``table`` whose primary key is ``key``, or None."""
        frame = self._tables[table]
        rows = frame.filter(pl.col(PRIMARY_KEYS[table]) == key).head(1).to_dicts()
        return rows[0] if rows else None

    def new_id(self) -> str:
        """A fresh UUID4 string drawn from the store's seeded generator."""
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # --- changes -----------------------------------------------------------------------------

    def _touch(self) -> None:
        self.version += 1
        self.modified = datetime.now()

    def replace(self, table: str, frame: pl.DataFrame) -> None:
        """Replace a whole table (conformed to its schema)."""
        with self._lock:
            self._tables[table] = conform(table, frame)
            self._touch()

    def insert(self, table: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append one record; JSON fields may be given as objects.  Returns the stored record."""
        schema = SCHEMAS[table]
        row = _encode_json(table, record)
        frame = pl.DataFrame(
            [row], schema_overrides={k: v for k, v in schema.items() if k in row}, strict=False
        )
        with self._lock:
            self._tables[table] = pl.concat([self._tables[table], conform(table, frame)])
            self._touch()
        stored = self.get(table, str(record[PRIMARY_KEYS[table]]))
        assert stored is not None
        return stored

    def update(self, table: str, key: str, changes: Mapping[str, Any]) -> dict[str, Any] | None:
        """Change fields of one record (JSON fields as objects).  Returns it, None if absent."""
        pk = PRIMARY_KEYS[table]
        with self._lock:
            frame = self._tables[table]
            match = frame.select((pl.col(pk) == key).arg_true()).to_series()
            if match.is_empty():
                return None
            index = int(match[0])
            row = frame.row(index, named=True)
            row.update(_encode_json(table, changes))
            new = conform(table, pl.DataFrame([row], schema=SCHEMAS[table], strict=False))
            self._tables[table] = pl.concat([frame.head(index), new, frame.slice(index + 1)])
            self._touch()
        return self.get(table, str(row[pk]))

    def set_column(self, table: str, column: str, value: Any) -> None:
        """Set ``column`` to ``value`` in every record of ``table``."""
        with self._lock:
            frame = self._tables[table]
            dtype = SCHEMAS[table][column]
            self._tables[table] = frame.with_columns(pl.lit(value, dtype=dtype).alias(column))
            self._touch()

    def delete(self, table: str, key: str) -> bool:
        """Delete one record and what Alyx deletes with it.  False when it does not exist."""
        with self._lock:
            if self.get(table, key) is None:
                return False
            self._delete_many(table, [key])
            self._touch()
            return True

    def _delete_many(self, table: str, keys: list[str]) -> None:
        pk = PRIMARY_KEYS[table]
        tables = self._tables
        tables[table] = tables[table].filter(~pl.col(pk).is_in(keys))
        if table == 'sessions':
            owned = tables['datasets'].filter(pl.col('session').is_in(keys))['id'].to_list()
            insertions = tables['insertions'].filter(pl.col('session').is_in(keys))
            self._delete_many('datasets', owned)
            self._delete_many('insertions', insertions['id'].to_list())
        elif table == 'datasets':
            records = tables['file_records']
            tables['file_records'] = records.filter(~pl.col('dataset').is_in(keys))
        elif table == 'insertions':
            orphan = pl.col('probe_insertion').is_in(keys)
            tables['datasets'] = tables['datasets'].with_columns(
                pl.when(orphan)
                .then(None)
                .otherwise(pl.col('probe_insertion'))
                .alias('probe_insertion')
            )
        elif table == 'data_repositories':
            records = tables['file_records']
            tables['file_records'] = records.filter(~pl.col('data_repository').is_in(keys))

    def replace_values(self, table: str, column: str, old: Any, new: Any) -> None:
        """Replace ``old`` by ``new`` in ``column`` of ``table`` (a renamed referenced record)."""
        with self._lock:
            frame = self._tables[table]
            dtype = SCHEMAS[table][column]
            updated = (
                pl.when(pl.col(column) == old)
                .then(pl.lit(new, dtype=dtype))
                .otherwise(pl.col(column))
            )
            self._tables[table] = frame.with_columns(updated.alias(column))
            self._touch()

    # --- data server -------------------------------------------------------------------------

    def set_data_url(self, base_url: str | None) -> None:
        """Point the server repositories at a data server: ``data_url = base_url + globus_path``.

        Personal repositories (``globus_is_personal``) keep theirs (none, usually).  With
        ``None`` the server repositories have no data URL (nor have their file records).
        """
        with self._lock:
            repos = self._tables['data_repositories']
            if base_url is None:
                url = pl.lit(None, dtype=pl.String())
            else:
                base = base_url.rstrip('/')
                path = pl.col('globus_path').str.strip_chars('/')
                url = (
                    pl.when(path == '')
                    .then(pl.lit(base + '/'))
                    .otherwise(pl.concat_str(pl.lit(base + '/'), path, pl.lit('/')))
                )
            personal = pl.col('globus_is_personal').fill_null(False)
            url = pl.when(personal).then(pl.col('data_url')).otherwise(url)
            self._tables['data_repositories'] = repos.with_columns(url.alias('data_url'))
            self._touch()
