"""The exception tree of one_async.

Every error the library raises derives from :class:`OneError`.  The ALF errors keep the names
ONE-api uses (``one.alf.exceptions``) so that code migrating from ONE catches the same classes;
errors about bad arguments also derive from :class:`ValueError` or :class:`TypeError`, as ONE's
do, so that ``except ValueError`` keeps working.

Each error carries the offending value in ``.value`` and names it in its message.  Secrets
(passwords, tokens) are never part of a message.

Tree::

    OneError
    ├── ALFError                      (ONE-compatible: message + class explanation)
    │   ├── AlyxSubjectNotFound
    │   ├── ALFObjectNotFound
    │   ├── ALFMultipleObjectsFound
    │   ├── ALFMultipleCollectionsFound
    │   ├── ALFMultipleRevisionsFound
    │   ├── ALFInvalid                (also ValueError: a malformed ALF name or path)
    │   └── ALFFileError              (a file that cannot be read as its extension says)
    │       └── ALFFileNotFound       (also FileNotFoundError: a dataset file is missing)
    ├── InvalidArgument               (also ValueError: bad eid, date, QC, search key ...)
    │   └── InvalidPattern            (also re.error: a regular expression that does not compile)
    ├── ArgumentTypeError             (also TypeError: an argument of a type the call cannot use)
    ├── CacheError
    │   ├── CacheTableError           (a table that cannot be read or written)
    │   └── CacheLockError            (the inter-process lock could not be taken)
    ├── AlyxError
    │   ├── AlyxAuthError             (login refused, token rejected after one retry)
    │   ├── AlyxHTTPError             (status + URL, credentials stripped)
    │   ├── AlyxConnectionError       (server unreachable after retries)
    │   └── AlyxEndpointError         (also ValueError: unknown endpoint, action or filter)
    ├── LocalModeError                (the call needs a server but the session is local)
    │   └── NoServerError             (also AttributeError: a session without server has no alyx)
    ├── ConfigError                   (also ValueError: a config file or ONE_* variable unusable)
    ├── SyncCallError                 (also RuntimeError: a sync call that cannot run here)
    └── TransferError
        ├── DownloadError             (one file could not be fetched)
        ├── IntegrityError            (size or md5 mismatch)
        └── UnsafePathError           (also ValueError: a target outside the cache directory)
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

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
    'AlyxAuthError',
    'AlyxConnectionError',
    'AlyxEndpointError',
    'AlyxError',
    'AlyxHTTPError',
    'AlyxSubjectNotFound',
    'ArgumentTypeError',
    'CacheError',
    'CacheLockError',
    'CacheTableError',
    'CacheWarning',
    'ConfigError',
    'DownloadError',
    'IntegrityError',
    'InvalidArgument',
    'InvalidPattern',
    'LocalModeError',
    'NoServerError',
    'OneError',
    'OneWarning',
    'SyncCallError',
    'TransferError',
    'UnsafePathError',
]

_UNSET: Any = object()


class OneError(Exception):
    """Base class of every error raised by one_async.

    Parameters
    ----------
    *args
        A message (one ``str``) or several items, which are quoted and joined as ONE does.
    value
        The offending value, kept on the instance as ``.value``.
    terse
        When true the class's general ``explanation`` is left out of ``str(error)``.
    """

    explanation: ClassVar[str] = ''

    def __init__(self, *args: object, value: Any = _UNSET, terse: bool = False) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            message = args[0]
        elif args:
            message = '"' + '", "'.join(map(str, args)) + '"'
        else:
            message = ''
        super().__init__(message)
        self.message = message
        self.terse = terse
        self.value = None if value is _UNSET else value

    def __str__(self) -> str:
        if not self.explanation or self.terse:
            return self.message
        if not self.message:
            return self.explanation
        return f'{self.message}\n{self.explanation}'


class OneWarning(UserWarning):
    """Base class of the warnings one_async emits."""


class ALFWarning(OneWarning):
    """A recoverable ALF problem, e.g. a file that does not follow the specification."""


class CacheWarning(OneWarning):
    """A recoverable cache-table problem, e.g. a table file that is skipped or no tables."""


# --- ALF ------------------------------------------------------------------------------------


class ALFError(OneError):
    """Base class of the ALF errors, named as in ONE-api's ``one.alf.exceptions``."""


class AlyxSubjectNotFound(ALFError):
    """The subject was not found."""

    explanation = 'The subject was not found in the Alyx database.'


class ALFObjectNotFound(ALFError):
    """No dataset matched the requested object or filters."""

    explanation = (
        'The ALF object was not found.  Check the object name and namespace: the file '
        '"_ibl_trials.intervals.npy" is found with object="trials", namespace="ibl".'
    )


class ALFMultipleObjectsFound(ALFError):
    """The filters matched datasets of more than one object."""

    explanation = (
        'Dataset files of more than one object were found.  ALF names have the pattern '
        '(_namespace_)object.attribute(_timescale).extension.'
    )


class ALFMultipleCollectionsFound(ALFError):
    """The filters matched datasets in more than one collection."""

    explanation = (
        'The matching datasets belong to more than one collection; pass collection= to '
        'choose one (e.g. "alf/probe00").'
    )


class ALFMultipleRevisionsFound(ALFError):
    """The filters matched datasets in more than one revision and none is the default."""

    explanation = (
        'The matching datasets belong to more than one revision and no default revision '
        'is set; pass revision= to choose one.'
    )


class ALFInvalid(ALFError, ValueError):
    """A name or path does not follow the ALF specification."""


class ALFFileError(ALFError):
    """A file could not be read as the format its extension names."""


class ALFFileNotFound(ALFFileError, FileNotFoundError):
    """A dataset file does not exist (also a FileNotFoundError, which ONE raises here)."""


# --- arguments -------------------------------------------------------------------------------


class InvalidArgument(OneError, ValueError):
    """An argument has a value the call cannot use (names the argument and the value)."""


class InvalidPattern(InvalidArgument, re.error):
    """A search or filter pattern that is not a valid regular expression.

    Also a :class:`re.error`, which ONE-api lets escape from pandas in this case, so that
    ``except re.error`` keeps working; ``.pattern`` is the offending pattern.
    """

    def __init__(self, message: str, *, value: Any = _UNSET) -> None:
        super().__init__(message, value=value)
        self.msg = message
        self.pattern = None if value is _UNSET else value
        self.pos = None


class ArgumentTypeError(OneError, TypeError):
    """An argument is of a type the call cannot use (where ONE-api raises TypeError)."""


# --- cache -----------------------------------------------------------------------------------


class CacheError(OneError):
    """Base class of cache-table errors."""


class CacheTableError(CacheError):
    """A cache table could not be read, validated or written."""


class CacheLockError(CacheError):
    """The inter-process lock of the cache directory could not be taken in time."""


# --- Alyx ------------------------------------------------------------------------------------


class AlyxError(OneError):
    """Base class of the errors of the Alyx REST client."""


class AlyxAuthError(AlyxError):
    """Alyx refused the credentials, or the token stayed invalid after one re-login."""


class AlyxHTTPError(AlyxError):
    """Alyx answered with an error status.

    ``status_code`` is the HTTP status, ``url`` the request URL without credentials and
    ``detail`` the server's explanation when it gave one.
    """

    def __init__(self, message: str, *, status_code: int, url: str, detail: Any = None) -> None:
        super().__init__(message, value=url)
        self.status_code = status_code
        self.url = url
        self.detail = detail


class AlyxConnectionError(AlyxError):
    """The server could not be reached (after the allowed retries)."""


class AlyxEndpointError(AlyxError, ValueError):
    """An endpoint, action or filter that the server's API description does not list."""


class LocalModeError(OneError):
    """The call needs the Alyx server but the session is in local mode or offline."""


class NoServerError(LocalModeError, AttributeError):
    """The session has no Alyx server, so no Alyx client: as for ONE-api's local ``One``,
    ``hasattr(one, 'alyx')`` is false and ``getattr(one, 'alyx', None)`` is None."""


# --- configuration and sync facade ----------------------------------------------------------


class ConfigError(OneError, ValueError):
    """A configuration file, ONE-api parameter file or ``ONE_*`` variable cannot be used."""


class SyncCallError(OneError, RuntimeError):
    """A sync call that cannot run: from the session's own event loop thread (it would
    deadlock), after ``close()``, or in a process forked after the session was created."""


# --- transfer --------------------------------------------------------------------------------


class TransferError(OneError):
    """Base class of download and upload errors."""


class DownloadError(TransferError):
    """A file could not be downloaded (after the allowed retries)."""


class IntegrityError(TransferError):
    """A downloaded or local file does not have the expected size or md5."""


class UnsafePathError(TransferError, ValueError):
    """A target path would fall outside the cache directory."""
