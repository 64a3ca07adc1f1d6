"""The ONE API, async: :class:`AsyncOne` searches, lists and loads datasets of a local cache.

Modules: :mod:`~one_async.api.session` (the class, construction, cache management),
:mod:`~one_async.api.search`, :mod:`~one_async.api.listing`, :mod:`~one_async.api.loading`,
:mod:`~one_async.api.converters` and :mod:`~one_async.api.identifiers` (its methods),
:mod:`~one_async.api.filters` (ONE's ``filter_datasets``), :mod:`~one_async.api.terms`
(argument parsing), :mod:`~one_async.api.present` (result shapes),
:mod:`~one_async.api.datasets_index` and :mod:`~one_async.api.filesystem` (query and file-check
machinery).
"""

from one_async.api.session import AsyncOne

__all__ = ['AsyncOne']
