"""Helpers editing the JSON fields of Alyx records (``json``, ``extended_qc``, ...).

Same semantics as ONE-api's ``AlyxClient.json_field_*``: write replaces a field, update merges
a dict into it, remove_key drops one key, delete sets the field to null; each returns the field
as the server answers after the change.  Unlike ONE-api, the current value is always read afresh
(bypassing the REST cache): merging into a stale cached copy would silently drop changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from one_async.exceptions import InvalidArgument

if TYPE_CHECKING:
    from one_async.alyx.client import AsyncAlyxClient

__all__ = ['json_field_delete', 'json_field_remove_key', 'json_field_update', 'json_field_write']

_logger = logging.getLogger('one_async.alyx')


async def _check(client: AsyncAlyxClient, endpoint: str, field_name: str | None) -> None:
    (await client.schema()).actions(endpoint)  # raises AlyxEndpointError listing endpoints
    if not field_name or not isinstance(field_name, str):
        raise InvalidArgument(f'field_name must be a non-empty string, got {field_name!r}')


async def _read(client: AsyncAlyxClient, endpoint: str, uuid: str | UUID, field: str) -> Any:
    record = await client.rest(endpoint, 'read', id=uuid, no_cache=True)
    if field not in record:
        raise InvalidArgument(f'Record {uuid} of "{endpoint}" has no field {field!r}', value=field)
    return record[field]


async def json_field_write(
    client: AsyncAlyxClient, endpoint: str, uuid: str | UUID, field_name: str, data: Any
) -> Any:
    """Replace ``field_name`` of the record with ``data``; returns the field as written."""
    await _check(client, endpoint, field_name)
    answer = await client.rest(endpoint, 'partial_update', id=uuid, data={field_name: data})
    return answer[field_name]


async def json_field_update(
    client: AsyncAlyxClient,
    endpoint: str,
    uuid: str | UUID,
    field_name: str = 'json',
    data: Mapping[str, Any] | None = None,
) -> Any:
    """Merge ``data`` into the dict held by ``field_name`` (keys of ``data`` win).

    A null field counts as an empty dict.  When the field holds something other than a dict,
    nothing is written and the current content is returned (with a warning in the log), as
    ONE-api does.
    """
    await _check(client, endpoint, field_name)
    current = await _read(client, endpoint, uuid, field_name)
    if current is None:
        current = {}
    if not isinstance(current, dict):
        _logger.warning('JSON field %s does not hold a dict; not updated', field_name)
        return current
    current.update(data or {})
    answer = await client.rest(endpoint, 'partial_update', id=uuid, data={field_name: current})
    return answer[field_name]


async def json_field_remove_key(
    client: AsyncAlyxClient,
    endpoint: str,
    uuid: str | UUID,
    field_name: str = 'json',
    key: str | None = None,
) -> Any:
    """Remove ``key`` from the dict held by ``field_name``; returns the field's new content.

    A null field gives None; a text field gives None (logged); a missing key leaves the field
    unchanged and returns it (logged), as ONE-api does.
    """
    await _check(client, endpoint, field_name)
    current = await _read(client, endpoint, uuid, field_name)
    if current is None:
        return None
    if isinstance(current, str):
        _logger.warning('Cannot remove key %s: JSON field %s holds text', key, field_name)
        return None
    if not isinstance(current, dict) or current.get(key) is None:
        _logger.warning('Key %s not found in field %s of %s', key, field_name, endpoint)
        return current
    current.pop(key)
    return await json_field_write(client, endpoint, uuid, field_name, current)


async def json_field_delete(
    client: AsyncAlyxClient, endpoint: str, uuid: str | UUID, field_name: str
) -> Any:
    """Set ``field_name`` to null; returns its new value (None)."""
    await _check(client, endpoint, field_name)
    answer = await client.rest(endpoint, 'partial_update', id=uuid, data={field_name: None})
    return answer[field_name]
