"""Cache table metadata: creation and load times, expiry, API version checks, ``cache_info``.

Every table file carries a JSON object under the parquet metadata key ``one_metadata``:
``date_created`` (``'YYYY-MM-DD HH:MM'``, local time, required: ONE skips a table without it),
``origin`` (a database or computer name, or a list of them), and optionally ``min_api_version``
(the oldest ONE that may read the tables), ``database_tags`` and ``date_modified``.  Alyx also
serves the same keys, plus per-table record counts, as ``cache_info.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from one_async import defaults
from one_async.exceptions import CacheTableError

__all__ = [
    'CacheMeta',
    'api_version_supported',
    'format_timestamp',
    'make_table_metadata',
    'parse_timestamp',
    'parse_version',
    'read_cache_info',
]

_VERSION = re.compile(r'^\s*v?(\d+(?:\.\d+)*)')


def parse_version(version: str | None) -> tuple[int, ...]:
    """Parse the leading release numbers of a version string (``'2.10.1rc1'`` -> ``(2, 10, 1)``).

    ``None`` or an empty string gives ``(0,)``, which sorts before every version.

    Raises
    ------
    CacheTableError
        The string does not start with a release number.
    """
    if not version:
        return (0,)
    match = _VERSION.match(str(version))
    if not match:
        raise CacheTableError(f'Invalid version "{version}"', value=version)
    numbers = [int(x) for x in match.group(1).split('.')]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()  # '2.10.0' == '2.10'
    return tuple(numbers)


def api_version_supported(
    min_api_version: str | None, api_version: str = defaults.ONE_API_COMPAT_VERSION
) -> bool:
    """True when tables requiring ``min_api_version`` may be read by ``api_version``.

    ``api_version`` defaults to the ONE-api release whose tables one_async reads
    (:data:`one_async.defaults.ONE_API_COMPAT_VERSION`).
    """
    return parse_version(min_api_version) <= parse_version(api_version)


def parse_timestamp(value: str) -> datetime:
    """Parse a ``date_created``/``date_modified`` value (ISO 8601, space or ``T`` separated).

    Raises
    ------
    CacheTableError
        The value is not an ISO 8601 date and time.
    """
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise CacheTableError(f'Invalid cache timestamp "{value}"', value=value) from None


def format_timestamp(value: datetime) -> str:
    """Format a time as ONE writes it in table metadata (``'YYYY-MM-DD HH:MM'``)."""
    return value.isoformat(sep=' ', timespec='minutes')


def make_table_metadata(
    origin: str | Iterable[str],
    *,
    date_created: datetime | None = None,
    min_api_version: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``one_metadata`` object of a new table.

    Parameters
    ----------
    origin
        Where the table comes from: a database name, a folder, or several of them.
    date_created
        Defaults to now.
    min_api_version
        Only written when given.
    **extra
        Other keys, e.g. ``database_tags``.
    """
    meta: dict[str, Any] = {
        'date_created': format_timestamp(date_created or datetime.now()),
        'origin': origin if isinstance(origin, str) else sorted(set(origin)),
    }
    if min_api_version is not None:
        meta['min_api_version'] = min_api_version
    meta.update(extra)
    return meta


@dataclass
class CacheMeta:
    """What is known about a set of loaded cache tables.

    Attributes
    ----------
    raw
        The ``one_metadata`` object of each loaded table, by table name.
    created_time
        The oldest ``date_created`` of the loaded tables (None without tables).
    loaded_time, modified_time, saved_time
        When the tables were read, last changed in memory, last written (None if never).
    expiry
        Age after which the tables count as stale.
    """

    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    created_time: datetime | None = None
    loaded_time: datetime | None = None
    modified_time: datetime | None = None
    saved_time: datetime | None = None
    expiry: timedelta = defaults.CACHE_EXPIRY

    @classmethod
    def from_raw(
        cls, raw: Mapping[str, Mapping[str, Any]], *, expiry: timedelta = defaults.CACHE_EXPIRY
    ) -> CacheMeta:
        """Metadata of freshly loaded tables (``created_time`` from their ``date_created``)."""
        created = [parse_timestamp(m['date_created']) for m in raw.values() if 'date_created' in m]
        return cls(
            raw={k: dict(v) for k, v in raw.items()},
            created_time=min(created) if created else None,
            loaded_time=datetime.now() if raw else None,
            expiry=expiry,
        )

    def expired(self, now: datetime | None = None) -> bool:
        """True without tables, or when the oldest table is older than :attr:`expiry`."""
        if self.created_time is None:
            return True
        return (now or datetime.now()) - self.created_time > self.expiry

    @property
    def min_api_version(self) -> str | None:
        """The highest ``min_api_version`` any loaded table requires (None if none does)."""
        versions = [m['min_api_version'] for m in self.raw.values() if m.get('min_api_version')]
        return max(versions, key=parse_version) if versions else None

    def api_version_supported(self, api_version: str = defaults.ONE_API_COMPAT_VERSION) -> bool:
        """True when every loaded table may be read by ``api_version``."""
        return api_version_supported(self.min_api_version, api_version)

    @property
    def origins(self) -> set[str]:
        """Every origin named by the loaded tables."""
        out: set[str] = set()
        for meta in self.raw.values():
            origin = meta.get('origin')
            if isinstance(origin, str) and origin:
                out.add(origin)
            elif isinstance(origin, (list, tuple, set)):
                out.update(str(o) for o in origin if o)
        return out

    @property
    def database_tags(self) -> set[str]:
        """Every Alyx dataset tag the loaded tables were restricted to."""
        out: set[str] = set()
        for meta in self.raw.values():
            tags = meta.get('database_tags')
            if isinstance(tags, str) and tags:
                out.add(tags)
            elif isinstance(tags, (list, tuple, set)):
                out.update(str(t) for t in tags if t)
        return out


def read_cache_info(path: str | Path) -> dict[str, Any]:
    """Read and check a ``cache_info.json`` file (as served by Alyx's ``/cache/info/``).

    Raises
    ------
    CacheTableError
        The file is not JSON, not an object, lacks ``date_created`` or has bad values.
    """
    path = Path(path)
    try:
        info = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CacheTableError(f'Cannot read cache info "{path}": {exc}', value=str(path)) from exc
    if not isinstance(info, dict) or 'date_created' not in info:
        raise CacheTableError(f'Cache info "{path}" lacks "date_created"', value=str(path))
    parse_timestamp(info['date_created'])
    parse_version(info.get('min_api_version'))
    return info
