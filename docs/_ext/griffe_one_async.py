"""Griffe extension of the documentation site (loaded by mkdocstrings, see mkdocs.yml).

- Sphinx roles in docstrings (``:class:`~one_async.api.AsyncOne```) are shown as inline code
  (``AsyncOne``): the docstrings keep the roles that IDEs and ``help()`` understand, the site
  shows them as Markdown does.
- Pydantic fields declared as ``name: type = Field(..., description='...')`` have no docstring
  for static analysis: their description becomes their docstring.
- The sync facade ``One`` declares its methods as ``search = sync_method(AsyncOne.search)``;
  static analysis sees attributes there.  Each becomes the method (or property) it is at run
  time: the async method's parameters, the sync return type, its summary and a link to the
  async method's full documentation.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

__all__ = ['OneAsyncDocs']

ROLE = re.compile(
    r':(?:py:)?(?:class|meth|func|attr|mod|data|exc|obj|const|ref|term):`(?P<tilde>~?)(?P<target>[^`]+)`'
)
ITERATORS = {'AsyncIterator', 'AsyncGenerator', 'AsyncIterable'}
FACADE_FACTORIES = {'sync_method', 'sync_property'}


def plain_roles(text: str) -> str:
    """``:role:`target``` as inline code; ``~`` keeps the last dotted part, as Sphinx does."""

    def shown(match: re.Match[str]) -> str:
        target = match['target']
        titled = re.fullmatch(r'(?P<title>.+?)\s*<(?P<ref>[^>]+)>', target)
        if titled:
            target = titled['title']
        elif match['tilde']:
            target = target.rsplit('.', 1)[-1]
        return f'`{target}`'

    return ROLE.sub(shown, text)


def summary(docstring: griffe.Docstring | None) -> str:
    """The first paragraph of a docstring."""
    if docstring is None:
        return ''
    return docstring.value.strip().split('\n\n', 1)[0]


def sync_returns(target: griffe.Function) -> str | griffe.Expr | None:
    """What the sync twin of ``target`` returns (mirrors ``one_async.sync.facade``)."""
    returns = target.returns
    if not isinstance(returns, griffe.ExprSubscript) or str(returns.left) not in ITERATORS:
        return returns
    item = returns.slice
    if isinstance(item, griffe.ExprTuple):
        item = item.elements[0]
    context = any('asynccontextmanager' in str(d.value) for d in target.decorators)
    return f'{"SyncContextManager" if context else "SyncIterator"}[{item}]'


def sync_member(
    attribute: griffe.Attribute, target: griffe.Object | griffe.Alias, owner: str
) -> griffe.Object:
    """The method or property of the facade that ``attribute`` declares."""
    final = target.final_target if isinstance(target, griffe.Alias) else target
    text = plain_roles(summary(target.docstring))
    kind = 'Property' if attribute.value.function.name == 'sync_property' else 'Method'
    name = owner.rsplit('.', 1)[-1]
    link = f'[`{name}.{attribute.name}`][{owner}.{attribute.name}]'
    blocking = f'Blocking twin of {link}' if kind == 'Method' else f'As {link}'
    docstring = griffe.Docstring(
        f'{text}\n\n{blocking}: same parameters and result.' if kind == 'Method' else text,
        parent=None,
    )
    common: dict[str, Any] = {
        'lineno': attribute.lineno,
        'endlineno': attribute.endlineno,
        'docstring': docstring,
        'parent': attribute.parent,
    }
    if kind == 'Method' and isinstance(final, griffe.Function):
        member: griffe.Object = griffe.Function(
            attribute.name,
            parameters=final.parameters,
            returns=sync_returns(final),
            **common,
        )
    else:
        member = griffe.Attribute(
            attribute.name, annotation=getattr(final, 'annotation', None), **common
        )
        member.labels.add('property')
    docstring.parent = member
    return member


def facade_attributes(cls: griffe.Class) -> list[griffe.Attribute]:
    """Attributes of ``cls`` declared with ``sync_method(...)`` or ``sync_property(...)``."""
    found = []
    for member in cls.members.values():
        if member.is_alias or not isinstance(member, griffe.Attribute):
            continue
        value = member.value
        if isinstance(value, griffe.ExprCall) and str(value.function) in FACADE_FACTORIES:
            found.append(member)
    return found


def field_description(attribute: griffe.Attribute) -> str | None:
    """The ``description=`` of a pydantic ``Field(...)`` declaration, or None."""
    value = attribute.value
    if not isinstance(value, griffe.ExprCall) or str(value.function) not in (
        'Field',
        'pydantic.Field',
    ):
        return None
    for argument in value.arguments:
        if isinstance(argument, griffe.ExprKeyword) and argument.name == 'description':
            try:
                text = ast.literal_eval(str(argument.value))
            except (ValueError, SyntaxError):
                return None
            return text if isinstance(text, str) else None
    return None


def walk(obj: griffe.Object) -> list[griffe.Object]:
    """``obj`` and every object defined under it (aliases left out)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found += walk(member)  # type: ignore[arg-type]
    return found


class OneAsyncDocs(griffe.Extension):
    """Plain roles in every docstring, pydantic field descriptions, the facade's methods."""

    def on_package(
        self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any
    ) -> None:
        if pkg.name != 'one_async':
            return
        objects = walk(pkg)
        for obj in objects:
            if obj.docstring is not None:
                obj.docstring.value = plain_roles(obj.docstring.value)
        for cls in objects:
            if not isinstance(cls, griffe.Class):
                continue
            for member in cls.members.values():
                if isinstance(member, griffe.Attribute) and member.docstring is None:
                    description = field_description(member)
                    if description:
                        member.docstring = griffe.Docstring(
                            plain_roles(description), parent=member
                        )
            for attribute in facade_attributes(cls):
                expr = attribute.value.arguments[0]
                path = getattr(expr, 'canonical_path', None)
                try:
                    target = loader.modules_collection[path]
                except (KeyError, TypeError, griffe.AliasResolutionError):
                    continue  # not a method of this package: left as it is
                # The async class as the reference renders it: exported by the package.
                owner = 'one_async.' + path.split('.')[-2]
                cls.set_member(attribute.name, sync_member(attribute, target, owner))
