"""Run-time conversion of an object into the type of the subgraph that owns a field.

When a merged field runs on an object another subgraph produced, the object's key
fields are read and serialized as a router would send them, and the owning
subgraph's ``resolve_reference`` (or, without one, Strawberry's own argument
conversion) turns that representation into the owner's object, on which the owner's
resolver then runs — a router's ``_entities`` fetch, minus the hop. Which types are
entities, and with which keys, is decided by ``gateway.composition`` at start-up.

Per-request memo: entity conversions are memoised per *context object* (whatever the
app passes as ``context_value``) and per ``(object, owning subgraph)``. The memo lives
in a dictionary of the composed schema keyed by ``id(context)`` and is dropped by a
``weakref.finalize`` when the context is collected, so the protocol asked of the
context is only: *it supports weak references* (any ordinary class instance or
non-slotted dataclass does; a plain ``dict`` does not, in which case nothing is
memoised — still correct, just not deduplicated). Entries hold a weak reference to
the converted object, so a long subscription does not accumulate memo entries.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLResolveInfo,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import get_object_definition

if TYPE_CHECKING:
    from gateway.composition import _Subgraph

__all__ = ["DEFINITION_BACKREF", "EntityConverter"]

# Where Strawberry keeps its own definition in a graphql-core type's or field's extensions.
DEFINITION_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF


@dataclass(eq=False)
class _Entity:
    """What converting an object into ``subgraph``'s own type needs."""

    subgraph: _Subgraph
    origin: type
    key_selections: list[SelectionSetNode]
    resolve_reference: Callable[..., Any] | None
    wants_info: bool


@dataclass(eq=False)
class _Memo:
    entries: dict[tuple[int, str], tuple[Any, asyncio.Future[Any]]] = field(default_factory=dict)


class EntityConverter:
    """The entities of a composition and the resolvers that convert objects into them.

    The mappings are the composer's own, shared and filled in while it collects the
    subgraphs; they are only read when a request runs.
    """

    def __init__(
        self,
        class_subgraphs: Mapping[type, frozenset[str]],
        class_type_names: Mapping[type, set[str]],
        merged: Mapping[str, GraphQLNamedType],
        sources: Mapping[str, list[tuple[_Subgraph, GraphQLNamedType]]],
    ) -> None:
        # Strawberry class -> (subgraph names that produce it, GraphQL type names it maps to)
        self.class_subgraphs = class_subgraphs
        self.class_type_names = class_type_names
        self.merged = merged
        self.sources = sources
        self.entities: dict[tuple[str, str], _Entity] = {}
        self.memos: dict[int, _Memo] = {}

    def register(
        self,
        name: str,
        subgraph: _Subgraph,
        origin: type,
        key_selections: list[SelectionSetNode],
    ) -> None:
        """``origin`` is ``subgraph``'s entity for type ``name``, found by ``key_selections``."""
        resolve_reference = getattr(origin, "resolve_reference", None)
        wants_info = (
            resolve_reference is not None
            and "info" in inspect.signature(resolve_reference).parameters
        )
        self.entities[(name, subgraph.name)] = _Entity(
            subgraph, origin, key_selections, resolve_reference, wants_info
        )

    def entity_aware(
        self, type_name: str, owner: _Subgraph, resolvers: dict[str, Callable[..., Any]]
    ) -> Callable[..., Any]:
        """The resolver of a field ``owner`` owns, for objects any subgraph produced."""
        class_subgraphs = self.class_subgraphs
        owner_name = owner.name
        owner_resolver = resolvers[owner_name]
        convert = self._converter(type_name, owner)

        def resolve(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            producers = class_subgraphs.get(type(obj))
            if producers is None or owner_name in producers:
                return owner_resolver(obj, info, **kwargs)
            for producer in producers:  # a key or @shareable field the producer resolves itself
                if producer in resolvers:
                    return resolvers[producer](obj, info, **kwargs)
            return _resolve_converted(convert(obj, info), owner_resolver, info, kwargs)

        return resolve

    def _converter(
        self, type_name: str, owner: _Subgraph
    ) -> Callable[[Any, GraphQLResolveInfo[Any]], Awaitable[Any]]:
        memos = self.memos

        async def convert(obj: Any, info: GraphQLResolveInfo[Any]) -> Any:
            entity = self.entities.get((type_name, owner.name))
            if entity is None:
                raise GraphQLError(
                    f"{type_name} is not an entity in subgraph {owner.name!r},"
                    " so it cannot resolve fields of objects other subgraphs produced"
                )
            memo = _memo_for(memos, info.context)
            if memo is None:
                return await self._reference(entity, obj, info)
            key = (id(obj), owner.name)
            entry = memo.entries.get(key)
            if entry is not None and _deref(entry[0]) is obj:
                return await asyncio.shield(entry[1])
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            memo.entries[key] = (_weak(obj, memo.entries, key), future)
            try:
                result = await self._reference(entity, obj, info)
            except BaseException as error:
                memo.entries.pop(key, None)
                if isinstance(error, Exception):
                    future.set_exception(error)
                    future.exception()  # retrieved: waiters re-raise it, nobody logs it twice
                else:
                    future.cancel()
                raise
            future.set_result(result)
            return result

        return convert

    async def _reference(self, entity: _Entity, obj: Any, info: GraphQLResolveInfo[Any]) -> Any:
        representation = self._representation(entity, obj)
        strawberry_schema = entity.subgraph.strawberry_schema
        strawberry_info = strawberry_schema.config.info_class(
            _raw_info=info._replace(schema=entity.subgraph.schema), _field=None
        )
        if entity.resolve_reference is None:
            from strawberry.types.arguments import convert_argument

            return convert_argument(
                representation,
                type_=entity.origin,
                scalar_registry=strawberry_schema.schema_converter.scalar_registry,
                config=strawberry_schema.config,
                info=strawberry_info,
            )
        kwargs = dict(representation)
        if entity.wants_info:
            kwargs["info"] = strawberry_info
        result = entity.resolve_reference(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _representation(self, entity: _Entity, obj: Any) -> dict[str, Any]:
        """The key fields of ``obj`` as a router would send them (serialized leaf values)."""
        errors = []
        for selection in entity.key_selections:
            try:
                return _select(obj, selection, self)
            except (AttributeError, KeyError, TypeError) as error:
                errors.append(str(error))
        raise GraphQLError(
            f"cannot read the key fields of {type(obj).__name__}: {'; '.join(errors)}"
        )


def _select(
    obj: Any, selection_set: SelectionSetNode, converter: EntityConverter
) -> dict[str, Any]:
    definition = get_object_definition(obj, strict=True)
    type_name = next(iter(converter.class_type_names[type(obj)]))
    merged_type = converter.merged[type_name]
    python_names = {
        name: field_.extensions[DEFINITION_BACKREF].python_name
        for subgraph, own in converter.sources[type_name]
        for name, field_ in _fields(own).items()
        if (own.extensions or {}).get(DEFINITION_BACKREF) is definition
        and DEFINITION_BACKREF in field_.extensions
    }
    result: dict[str, Any] = {}
    for node in selection_set.selections:
        assert isinstance(node, FieldNode)
        name = node.name.value
        value = getattr(obj, python_names[name])
        field_type = get_named_type(merged_type.fields[name].type)  # type: ignore[attr-defined]
        if value is None:
            result[name] = None
        elif node.selection_set is not None:
            result[name] = _select(value, node.selection_set, converter)
        elif is_leaf_type(field_type):
            result[name] = field_type.serialize(value)
        else:
            result[name] = value
    return result


def _fields(type_: Any) -> dict[str, Any]:
    return dict(type_.fields)


async def _resolve_converted(
    converted: Awaitable[Any],
    resolver: Callable[..., Any],
    info: GraphQLResolveInfo[Any],
    kwargs: dict[str, Any],
) -> Any:
    entity = await converted
    if entity is None:
        return None
    result = resolver(entity, info, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _memo_for(memos: dict[int, _Memo], context: Any) -> _Memo | None:
    key = id(context)
    memo = memos.get(key)
    if memo is None:
        try:
            weakref.finalize(context, memos.pop, key, None)
        except TypeError:
            return None
        memo = memos[key] = _Memo()
    return memo


def _weak(obj: Any, entries: dict[Any, Any], key: Any) -> Any:
    try:
        return weakref.ref(obj, lambda _ref: entries.pop(key, None))
    except TypeError:
        return obj


def _deref(reference: Any) -> Any:
    return reference() if isinstance(reference, weakref.ref) else reference
