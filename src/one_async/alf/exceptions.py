"""The ALF errors under ONE-api's module name ``one.alf.exceptions``.

They are defined in :mod:`one_async.exceptions`, with every other error of the library.
"""

from __future__ import annotations

from one_async.exceptions import (
    ALFError,
    ALFFileError,
    ALFFileNotFound,
    ALFInvalid,
    ALFMultipleCollectionsFound,
    ALFMultipleObjectsFound,
    ALFMultipleRevisionsFound,
    ALFObjectNotFound,
    ALFWarning,
    AlyxSubjectNotFound,
)

__all__ = [
    'ALFError',
    'ALFFileError',
    'ALFFileNotFound',
    'ALFInvalid',
    'ALFMultipleCollectionsFound',
    'ALFMultipleObjectsFound',
    'ALFMultipleRevisionsFound',
    'ALFObjectNotFound',
    'ALFWarning',
    'AlyxSubjectNotFound',
]
