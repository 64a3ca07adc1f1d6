"""Experiment identifiers: eid strings from UUIDs, paths, URLs, references and records.

The parsing part of ONE-api 2.9.0's ``ConversionMixin``: ``to_eid``, ``path2eid``, ``ref2eid``
and the static reference helpers (``is_exp_ref``, ``ref2dict``, ``dict2ref``, ``path2ref``).
Like ONE, every method also takes a list (or tuple, or other non-string iterable) and then
returns a list.  Where ONE fails an ``assert`` (a reference matching no or several sessions,
a dict without the keys it needs) a typed error is raised instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any, Final
from uuid import UUID

import polars as pl

from one_async.alf.bunch import AlfBunch
from one_async.alf.path import get_session_path
from one_async.alf.spec import is_session_path, is_uuid_string
from one_async.exceptions import (
    ALFMultipleObjectsFound,
    ALFObjectNotFound,
    ArgumentTypeError,
    InvalidArgument,
)

from .search import SearchMixin

__all__ = ['IdentifiersMixin', 'is_listlike']

_EXP_REF: Final = re.compile(r'\d{4}(-\d{2}){2}_(\d{1,3})_\w+')
_PATH_REF: Final = re.compile(
    r'(?P<subject>[\w-]+)([\\/])(?P<date>\d{4}-\d{2}-\d{2})(\2)(?P<sequence>\d{1,3})'
)
_PADDED_PAIR: Final = re.compile(r'^0\d$')

SessionKey = tuple[str, date, int]


def is_listlike(value: Any) -> bool:
    """True for the inputs ONE's converters iterate over (not str, bytes, mappings, tables)."""
    return isinstance(value, Iterable) and not isinstance(
        value, (str, bytes, Mapping, pl.DataFrame, pl.Series)
    )


def _parse_ref(ref: dict[str, Any]) -> dict[str, Any]:
    """ONE's ``parse_values``: date to ``datetime.date``, sequence to int."""
    if ref:
        value = ref.get('date')
        try:
            if isinstance(value, str):
                ref['date'] = (
                    date.fromisoformat(value)
                    if len(value) == 10
                    else datetime.fromisoformat(value).date()
                )
            ref['sequence'] = int(ref['sequence'])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(
                f'Invalid experiment reference {ref!r}: {exc}', value=ref
            ) from None
    return ref


class IdentifiersMixin(SearchMixin):
    """Conversions from any experiment identifier to an eid string."""

    _session_keys: tuple[pl.DataFrame, dict[SessionKey, list[str]]] | None = None

    # --- references (static, no tables) -------------------------------------------------------

    @staticmethod
    def is_exp_ref(ref: Any) -> bool | list[bool]:
        """True if ``ref`` is an experiment reference (``'yyyy-mm-dd_n_subject'`` or a dict
        with subject, date and sequence); a list of answers for a list or tuple."""
        if isinstance(ref, (list, tuple)):
            return [bool(IdentifiersMixin.is_exp_ref(x)) for x in ref]
        if isinstance(ref, Mapping):
            if not {'subject', 'date', 'sequence'}.issubset(ref):
                return False
            ref = '{date}_{sequence}_{subject}'.format(**ref)
        elif not isinstance(ref, str):
            return False
        return _EXP_REF.match(ref) is not None

    @staticmethod
    def ref2dict(ref: Any, parse: bool = True) -> Any:
        """An experiment reference as a dict with keys date, sequence and subject.

        ``'2018-07-13_1_flowers'`` gives ``{'date': date(2018, 7, 13), 'sequence': 1,
        'subject': 'flowers'}``; without ``parse`` the values stay strings.  A dict is copied;
        a list or tuple gives a list.  The dicts are :class:`~one_async.alf.bunch.AlfBunch`
        (``ref.subject`` works, as with ONE's ``Bunch``).

        Raises
        ------
        InvalidArgument
            (``parse``) The date or sequence do not parse.
        """
        if isinstance(ref, (list, tuple)):
            return [IdentifiersMixin.ref2dict(x, parse=parse) for x in ref]
        if isinstance(ref, Mapping):
            out = dict(ref)
        elif isinstance(ref, str):
            out = dict(zip(('date', 'sequence', 'subject'), ref.split('_', 2), strict=False))
        else:
            raise ArgumentTypeError(f'Invalid experiment reference {ref!r}', value=ref)
        return AlfBunch(_parse_ref(out) if parse else out)

    @staticmethod
    def dict2ref(ref_dict: Any) -> Any:
        """A reference dict (or session record) as a string ``'yyyy-mm-dd_n_subject'``.

        ``number`` stands for ``sequence`` and ``start_time`` for ``date``.  Parsed values
        (a date, an int) give ``'2018-07-13_1_flowers'``, string ones are used as they are.
        None for an empty dict; a list for a list or tuple.

        Raises
        ------
        InvalidArgument
            A key is missing or a value does not format.
        """
        if isinstance(ref_dict, (list, tuple)):
            return [IdentifiersMixin.dict2ref(x) for x in ref_dict]
        if not ref_dict:
            return None
        ref = dict(ref_dict)
        if 'sequence' not in ref and 'number' in ref:
            ref['sequence'] = ref.pop('number')
        if 'date' not in ref and 'start_time' in ref:
            start = ref['start_time']
            ref['date'] = start[:10] if isinstance(start, str) else start.date()
        parsed = any(not isinstance(v, str) for v in ref.values())
        template = (
            '{date:%Y-%m-%d}_{sequence:d}_{subject:s}'
            if parsed
            else '{date:s}_{sequence:s}_{subject:s}'
        )
        try:
            return template.format(**ref)
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidArgument(
                f'Cannot make a reference of {ref_dict!r}: {exc}', value=ref_dict
            ) from None

    @staticmethod
    def path2ref(path_str: Any, as_dict: bool = True, parse: bool = True) -> Any:
        """The experiment reference of a session path (which need not exist).

        Returns a dict with attribute access (an :class:`~one_async.alf.bunch.AlfBunch` of
        subject, date, sequence; parsed unless ``parse`` is false), or the
        string ``'yyyy-mm-dd_nnn_subject'``; None when the path has no session.  A list or
        tuple gives a list.
        """
        if isinstance(path_str, (list, tuple)):
            return [IdentifiersMixin.path2ref(x, as_dict, parse) for x in path_str]
        match = _PATH_REF.search(str(path_str))
        if not match or _PADDED_PAIR.match(match.groups()[-1]):
            return None
        ref = match.groupdict()
        if not as_dict:
            return '{date:s}_{sequence:s}_{subject:s}'.format(**ref)
        return AlfBunch(_parse_ref(ref) if parse else ref)

    # --- to eid -------------------------------------------------------------------------------

    async def to_eid(self, id: Any = None, cache_dir: str | Path | None = None) -> Any:
        """The eid string of any experiment identifier (a list of them for a list).

        Accepts an eid string or :class:`uuid.UUID`, a URL ending with one, a session path
        (str or pathlib; the session is looked up by subject, date and number), an experiment
        reference (str or dict) or a session record dict (lab, subject, number, date or
        start_time).  Like ONE, an eid string is not looked up in the tables.

        Returns
        -------
        str, None or list
            None when a path or record names no session of the tables.

        Raises
        ------
        InvalidArgument
            Not an experiment identifier; a reference matching no (or several) sessions
            raises :class:`~one_async.exceptions.ALFObjectNotFound`
            (:class:`~one_async.exceptions.ALFMultipleObjectsFound`).
        """
        if is_listlike(id):
            return [await self._to_eid(x, cache_dir) for x in id]
        return await self._to_eid(id, cache_dir)

    async def _to_eid(self, id: Any, cache_dir: str | Path | None) -> str | None:
        if id is None:
            return None
        if isinstance(id, UUID):
            return str(id)
        if isinstance(id, str) and is_uuid_string(id):
            return id
        if self.is_exp_ref(id):
            eid = await self.ref2eid(id)
            assert isinstance(eid, str)
            return eid
        if isinstance(id, Mapping):
            id = self._record_path(id, cache_dir)
        if isinstance(id, PurePath):
            return await self._path2eid(id)
        if isinstance(id, str):
            if is_session_path(id) or get_session_path(id):
                return await self._path2eid(id)
            candidate = id[-36:] if len(id) > 36 else id
            if not is_uuid_string(candidate):
                raise InvalidArgument(f'Invalid experiment ID "{id}"', value=id)
            return candidate
        raise InvalidArgument(f'Unrecognized experiment ID {id!r}', value=id)

    def _record_path(self, record: Mapping[str, Any], cache_dir: str | Path | None) -> Path:
        missing = {'subject', 'number', 'lab'} - set(record)
        if missing:
            raise InvalidArgument(
                f'A session record needs lab, subject and number; missing {sorted(missing)}',
                value=dict(record),
            )
        try:
            day = record.get('date') or str(record['start_time'])[:10]
            number = f'{int(record["number"]):03d}'
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidArgument(f'Invalid session record: {exc}', value=dict(record)) from None
        root = Path(cache_dir or self.cache_dir)
        return root.joinpath(record['lab'], 'Subjects', record['subject'], str(day), number)

    async def path2eid(self, path_obj: Any) -> Any:
        """The eid of the session a path belongs to (None if none); a list for a list.

        The session is found by subject, date and number, as in ONE.

        Raises
        ------
        ALFMultipleObjectsFound
            Several sessions have that subject, date and number.
        """
        if is_listlike(path_obj):
            return [await self._path2eid(p) for p in path_obj]
        return await self._path2eid(path_obj)

    async def _path2eid(self, path: Any) -> str | None:
        session_path = get_session_path(path)
        if session_path is None:
            return None
        tables = await self._query()
        sessions = await self._sessions(tables)
        if sessions.height == 0:
            return None
        subject, day, number = session_path.parts[-3:]
        try:
            key = (subject, date.fromisoformat(day), int(number))
        except ValueError:
            raise InvalidArgument(f'Invalid session path "{session_path}"', value=path) from None
        found = self._sessions_by_key(sessions).get(key, [])
        if len(found) > 1:
            raise ALFMultipleObjectsFound(
                f'Several sessions match {session_path}: {found}', value=found
            )
        return found[0] if found else None

    def _sessions_by_key(self, sessions: pl.DataFrame) -> dict[SessionKey, list[str]]:
        """Session IDs by (subject, date, number), built once per sessions table."""
        cached = self._session_keys
        if cached is not None and cached[0] is sessions:
            return cached[1]
        keys: dict[SessionKey, list[str]] = {}
        rows = sessions.select('subject', 'date', pl.col('number').cast(pl.Int64), 'id')
        for subject, day, number, eid in rows.iter_rows():
            keys.setdefault((subject, day, number), []).append(eid)
        self._session_keys = (sessions, keys)
        return keys

    async def ref2eid(self, ref: Any) -> Any:
        """The eid of an experiment reference (str or dict); a list for a list.

        The session is searched as ONE does: ``search(subject=..., date_range=...,
        number=...)`` (so the subject is a pattern).

        Raises
        ------
        ALFObjectNotFound, ALFMultipleObjectsFound
            No session, or several, match (ONE fails an assertion).
        """
        if isinstance(ref, (list, tuple)):
            return [await self.ref2eid(x) for x in ref]
        parts = self.ref2dict(ref, parse=False)
        try:
            subject, day, sequence = parts['subject'], parts['date'], parts['sequence']
        except KeyError:
            raise InvalidArgument(f'Invalid experiment reference {ref!r}', value=ref) from None
        found: Any = await self.search(subject=subject, date_range=str(day), number=sequence)
        if not isinstance(found, list):  # remote mode: a lazy PaginatedList of eids
            found = await found.to_list()
        if not found:
            raise ALFObjectNotFound(f'No session matches {ref!r}', value=ref)
        if len(found) > 1:
            raise ALFMultipleObjectsFound(f'Several sessions match {ref!r}: {found}', value=ref)
        return found[0]
