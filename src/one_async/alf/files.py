"""ALF path parsing under ONE-api 2.x's module name ``one.alf.files``.

ONE 3 renamed ``one.alf.files`` to ``one.alf.path``; this alias keeps 2.x imports working.  The
functions are those of :mod:`one_async.alf.path` and follow ONE 3.x where the versions differ
(e.g. :func:`get_session_path` returns the first session in the path, not the last).
"""

from __future__ import annotations

from one_async.alf.path import (
    add_uuid_string,
    filename_parts,
    folder_parts,
    full_path_parts,
    get_alf_path,
    get_session_path,
    padded_sequence,
    rel_path_parts,
    remove_uuid_string,
    session_path_parts,
    without_revision,
)

__all__ = [
    'add_uuid_string',
    'filename_parts',
    'folder_parts',
    'full_path_parts',
    'get_alf_path',
    'get_session_path',
    'padded_sequence',
    'rel_path_parts',
    'remove_uuid_string',
    'session_path_parts',
    'without_revision',
]
