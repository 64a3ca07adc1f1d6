"""The method table of ``docs/guides/migrating.md``: all of ONE-api 2.9.0's API, real twins.

The seed API is ONE-api 2.9.0's ``one/api.py`` (classes ``One`` and ``OneAlyx``).  It is read
with :mod:`ast` from the installed ONE-api 2.9.0 (a pinned test dependency; the same source as
the specification text, whose indentation was lost when it was copied from the HTML source
view, so that text does not parse).  Every public method, property and attribute of the two
classes must have a row in the page's table; every twin the table names (``one.x``,
``await aone.x(...)``, ``ONE.x``, ``one_async.x`` ...) must exist in one_async.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import one_async
from one_async import AsyncAlyxClient, AsyncOne, CacheWarning, One
from one_async.sync.alyx import AlyxClient

PAGE = Path(__file__).resolve().parents[2] / 'docs' / 'guides' / 'migrating.md'
TABLE_HEADING = '## Method by method'
SEED_CLASSES = ('One', 'OneAlyx')
CODE = re.compile(r'`([^`]+)`')
TWIN = re.compile(
    r'^(?P<await>await\s+)?(?P<owner>one_async|ONE|One|AsyncOne|one|aone)'
    r'(?:\.(?P<name>\w+))?(?:\(.*\))?(?:\.(?P<chained>\w+)\(.*\))?$'
)
CLIENTS = {'one': AlyxClient, 'aone': AsyncAlyxClient}
"""The classes of ``one.alyx`` and ``aone.alyx``, for chained calls (``one.alyx.rest(...)``)."""


@dataclass(frozen=True)
class Member:
    """A public member of a seed class: its name and kind."""

    cls: str
    name: str
    kind: str  # 'method', 'property', 'staticmethod', 'attribute'


def seed_source() -> str:
    """The source of ONE-api 2.9.0's ``one/api.py``, without importing it."""
    assert importlib.metadata.version('ONE-api') == '2.9.0'
    spec = importlib.util.find_spec('one.api')
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).read_text(encoding='utf-8')


def _decorators(node: ast.FunctionDef) -> set[str]:
    return {ast.unparse(d) for d in node.decorator_list}


def _self_attributes(init: ast.FunctionDef) -> set[str]:
    """Public names assigned as ``self.x = ...`` in a constructor."""
    names = set()
    for node in ast.walk(init):
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == 'self'
                and not target.attr.startswith('_')
            ):
                names.add(target.attr)
    return names


def _exported(module: ast.Module) -> set[str]:
    """The names in the module's ``__all__``."""
    for node in module.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == '__all__' for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def seed_members(source: str) -> list[Member]:
    """Public methods, properties and attributes of the seed classes, and the exported
    functions of the module (``ONE``), in source order."""
    module = ast.parse(source)
    exported = _exported(module)
    members: list[Member] = []
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name in exported:
            members.append(Member('module', node.name, 'function'))
        if not isinstance(node, ast.ClassDef) or node.name not in SEED_CLASSES:
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                decorators = _decorators(item)
                if item.name == '__init__':
                    for name in sorted(_self_attributes(item)):
                        members.append(Member(node.name, name, 'attribute'))
                elif not item.name.startswith('_'):
                    kind = (
                        'property'
                        if 'property' in decorators
                        else 'staticmethod'
                        if 'staticmethod' in decorators
                        else 'method'
                    )
                    members.append(Member(node.name, item.name, kind))
            elif isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name) and not target.id.startswith('_'):
                        members.append(Member(node.name, target.id, 'attribute'))
    return members


def table_rows(text: str) -> list[list[str]]:
    """The cells of the rows of the page's method table (header and rule excluded)."""
    start = text.index(TABLE_HEADING)
    end = text.find('\n## ', start + len(TABLE_HEADING))
    section = text[start : end if end >= 0 else None]
    rows = []
    for line in section.splitlines():
        if not line.startswith('|'):
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if set(cells[0]) <= {'-', ':', ' '} or cells[0].startswith('ONE-api'):
            continue
        rows.append(cells)
    return rows


def seed_name(cell: str) -> str:
    """The member a row's first cell names: its first code span, up to a parenthesis."""
    found = CODE.search(cell)
    assert found, f'no member named in {cell!r}'
    return found[1].split('(')[0].removeprefix('one.').strip()


@pytest.fixture(scope='module')
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A sync ``One`` and an ``AsyncOne`` on an empty cache folder, for attribute look-ups."""
    folder = tmp_path_factory.mktemp('cache')
    with pytest.warns(CacheWarning):  # an empty folder has no tables: said, then empty ones
        sync = One(cache_dir=folder)
    yield sync, AsyncOne(cache_dir=folder)
    sync.close()


def resolves(code: str, sync: One, aone: AsyncOne) -> bool:
    """Whether a twin named in the table exists in one_async.

    ``one.x`` is looked up on :class:`One` then on a sync session (attributes passed through to
    the async session), ``aone.x`` on :class:`AsyncOne` then on a session; what is awaited
    (``await aone.x(...)``, ``await one_async.x(...)``) must be a coroutine function; a chained
    call is only understood on ``alyx``.
    """
    match = TWIN.match(code)
    if match is None:
        return False
    owner, name, chained = match['owner'], match['name'], match['chained']
    objects: dict[str, Any] = {
        'one_async': one_async,
        'ONE': one_async.ONE,
        'One': One,
        'AsyncOne': AsyncOne,
        'one': sync,
        'aone': aone,
    }
    if name is None:
        return chained is None and callable(objects[owner])
    if chained is not None:
        return name == 'alyx' and owner in CLIENTS and hasattr(CLIENTS[owner], chained)
    if match['await']:
        owner_object = AsyncOne if owner == 'aone' else objects[owner]
        return inspect.iscoroutinefunction(getattr(owner_object, name, None))
    classes = {'one': One, 'aone': AsyncOne}
    if owner in classes and hasattr(classes[owner], name):
        return True
    return hasattr(objects[owner], name)


def test_the_seed_is_read() -> None:
    members = seed_members(seed_source())
    names = {(m.cls, m.name, m.kind) for m in members}
    assert ('One', 'search', 'method') in names
    assert ('OneAlyx', 'alyx', 'property') in names
    assert ('One', 'setup', 'staticmethod') in names
    assert ('One', 'wildcards', 'attribute') in names
    assert ('module', 'ONE', 'function') in names
    assert not any(m.name.startswith('_') for m in members)


def test_every_seed_member_has_a_row() -> None:
    rows = table_rows(PAGE.read_text(encoding='utf-8'))
    named = {seed_name(row[0]) for row in rows}
    missing = sorted({m.name for m in seed_members(seed_source())} - named)
    assert missing == [], f'members of ONE-api 2.9.0 missing from the table: {missing}'


def test_every_twin_exists(sessions: Any) -> None:
    sync, aone = sessions
    rows = table_rows(PAGE.read_text(encoding='utf-8'))
    assert rows
    unknown = []
    for row in rows:
        assert len(row) == 4, f'a row needs 4 cells: {row}'
        for cell in row[1:3]:
            for code in CODE.findall(cell):
                if not resolves(code, sync, aone):
                    unknown.append(code)
    assert unknown == [], f'the table names what one_async lacks: {unknown}'


def seed_methods(source: str) -> dict[str, ast.FunctionDef]:
    """The public (non-static) methods of the seed, OneAlyx's definition where it overrides."""
    methods: dict[str, ast.FunctionDef] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name in SEED_CLASSES:
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef)
                    and not item.name.startswith('_')
                    and not _decorators(item) & {'property', 'staticmethod'}
                ):
                    methods[item.name] = item
    return methods


def _default(node: ast.expr | None) -> Any:
    """A default value of the seed (``QC.FAIL`` is one_async's ``QC.FAIL``)."""
    if node is None:
        return inspect.Parameter.empty
    try:
        return ast.literal_eval(node)
    except ValueError:
        return eval(ast.unparse(node), {'QC': one_async.QC})  # names like QC.FAIL only


def seed_parameters(method: ast.FunctionDef) -> list[tuple[str, Any]]:
    """``(name, default)`` of each parameter after ``self``; ``*args``/``**kwargs`` starred."""
    args = method.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    found = [(a.arg, _default(d)) for a, d in zip(positional, defaults, strict=True)][1:]
    if args.vararg:
        found.append(('*' + args.vararg.arg, inspect.Parameter.empty))
    found += [(a.arg, _default(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg:
        found.append(('**' + args.kwarg.arg, inspect.Parameter.empty))
    return found


def our_parameters(method: Any) -> list[tuple[str, Any]]:
    """The same for a method of :class:`AsyncOne`."""
    stars = {inspect.Parameter.VAR_POSITIONAL: '*', inspect.Parameter.VAR_KEYWORD: '**'}
    return [
        (stars.get(p.kind, '') + p.name, p.default)
        for p in list(inspect.signature(method).parameters.values())[1:]
    ]


def test_arguments_and_defaults_are_the_seeds() -> None:
    """The page says names, arguments and defaults are ONE's: every method, in order."""
    differ = {
        name: (seed_parameters(method), our_parameters(getattr(AsyncOne, name)))
        for name, method in seed_methods(seed_source()).items()
        if seed_parameters(method) != our_parameters(getattr(AsyncOne, name))
    }
    assert differ == {}


def test_the_twin_check_can_fail(sessions: Any) -> None:
    sync, aone = sessions
    assert resolves('one.search(...)', sync, aone)
    assert resolves('await aone.load_object(...)', sync, aone)
    assert resolves('one.alyx.rest(...)', sync, aone)
    assert resolves('ONE.cache_clear()', sync, aone)
    assert resolves('One.setup(...)', sync, aone)
    assert not resolves('one.setup_everything(...)', sync, aone)
    assert not resolves('await aone.offline', sync, aone)
    assert resolves('aone.alyx.rest(...)', sync, aone)
    assert resolves('await one_async.abuild_cache(...)', sync, aone)
    assert not resolves('await one_async.build_cache(...)', sync, aone)
    assert not resolves("'remote'", sync, aone)
    assert not resolves('one.cache_dir.rest(...)', sync, aone)
    assert not resolves('await aone.cache_dir', sync, aone)
