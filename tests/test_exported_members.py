"""The public surface: what ``__all__`` lists is exactly what the package exports."""

from __future__ import annotations

import one_async
import one_async.exceptions


def test_all_lists_every_public_member() -> None:
    public = {name for name in dir(one_async) if not name.startswith('_')}
    # Sub-packages are importable but not part of the flat namespace.
    modules = {name for name in public if type(getattr(one_async, name)).__name__ == 'module'}
    assert set(one_async.__all__) - {'__version__'} == public - modules


def test_exported_members_are_defined() -> None:
    for name in one_async.__all__:
        assert hasattr(one_async, name), name


def test_public_members_have_module_one_async() -> None:
    for name in one_async.__all__:
        member = getattr(one_async, name)
        module = getattr(member, '__module__', None)
        if module is not None:
            assert module.startswith('one_async'), (name, module)


def test_every_error_derives_from_one_error() -> None:
    for name in one_async.exceptions.__all__:
        obj = getattr(one_async.exceptions, name)
        base = one_async.OneWarning if issubclass(obj, Warning) else one_async.OneError
        assert issubclass(obj, base), name
