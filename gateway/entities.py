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


class _Reference(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that knows its memo key, so one bound method forgets any entry."""

    __slots__ = ("key",)
    key: tuple[int, str]


@dataclass(eq=False)
class _Memo:
    entries: dict[tuple[int, str], tuple[Any, asyncio.Future[Any]]] = field(default_factory=dict)

    def reference(self, obj: Any, key: tuple[int, str]) -> Any:
        """A weak reference to ``obj`` that drops its entry when ``obj`` goes (``obj`` itself
        when it takes no weak references)."""
        try:
            reference = _Reference(obj, self._forget)
        except TypeError:
            return obj
        reference.key = key
        return reference

    def _forget(self, reference: _Reference) -> None:
        self.entries.pop(reference.key, None)


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
        self.plans: dict[tuple[int, type], _Plan] = {}

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
        convert_and_resolve = self._converting(type_name, owner, owner_resolver)

        def resolve(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            producers = class_subgraphs.get(type(obj))
            if producers is None or owner_name in producers:
                return owner_resolver(obj, info, **kwargs)
            for producer in producers:  # a key or @shareable field the producer resolves itself
                if producer in resolvers:
                    return resolvers[producer](obj, info, **kwargs)
            return convert_and_resolve(obj, info, kwargs)

        return resolve

    def _converting(
        self, type_name: str, owner: _Subgraph, resolver: Callable[..., Any]
    ) -> Callable[[Any, GraphQLResolveInfo[Any], dict[str, Any]], Awaitable[Any]]:
        """Convert ``obj`` into ``owner``'s entity (once per request and object: the memo), then
        run ``resolver`` on it; one coroutine per field, as this runs for every item of a list."""
        memos = self.memos
        key_name = owner.name

        async def run(obj: Any, info: GraphQLResolveInfo[Any], kwargs: dict[str, Any]) -> Any:
            entity = self.entities.get((type_name, key_name))
            if entity is None:
                raise GraphQLError(
                    f"{type_name} is not an entity in subgraph {key_name!r},"
                    " so it cannot resolve fields of objects other subgraphs produced"
                )
            memo = _memo_for(memos, info.context)
            if memo is None:
                converted = await self._reference(entity, obj, info)
            else:
                key = (id(obj), key_name)
                entry = memo.entries.get(key)
                if entry is not None and _deref(entry[0]) is obj:
                    converted = await asyncio.shield(entry[1])
                else:
                    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                    memo.entries[key] = (memo.reference(obj, key), future)
                    try:
                        converted = await self._reference(entity, obj, info)
                    except BaseException as error:
                        memo.entries.pop(key, None)
                        if isinstance(error, Exception):
                            future.set_exception(error)
                            future.exception()  # retrieved: waiters re-raise it, logged once
                        else:
                            future.cancel()
                        raise
                    future.set_result(converted)
            if converted is None:
                return None
            result = resolver(converted, info, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return run

    async def _reference(self, entity: _Entity, obj: Any, info: GraphQLResolveInfo[Any]) -> Any:
        representation = self._representation(entity, obj)
        strawberry_schema = entity.subgraph.strawberry_schema
        strawberry_info = strawberry_schema.config.info_class(
            _raw_info=_with_schema(info, entity.subgraph.schema), _field=None
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


# A compiled key selection for one Python class: (field name, attribute, serializer of a leaf or
# None, the nested selection set or None), in the selection's order.
_Plan = list[tuple[str, str, Callable[[Any], Any] | None, SelectionSetNode | None]]


def _select(
    obj: Any, selection_set: SelectionSetNode, converter: EntityConverter
) -> dict[str, Any]:
    plan = converter.plans.get((id(selection_set), type(obj)))
    if plan is None:
        plan = converter.plans[(id(selection_set), type(obj))] = _plan(
            type(obj), selection_set, converter
        )
    result: dict[str, Any] = {}
    for name, attribute, serialize, nested in plan:
        value = getattr(obj, attribute)
        if value is None:
            result[name] = None
        elif nested is not None:
            result[name] = _select(value, nested, converter)
        elif serialize is not None:
            result[name] = serialize(value)
        else:
            result[name] = value
    return result


def _plan(cls: type, selection_set: SelectionSetNode, converter: EntityConverter) -> _Plan:
    """What ``_select`` reads from an object of ``cls``, worked out once per class and key (the
    selections are the composition's own, alive as long as it is)."""
    definition = get_object_definition(cls, strict=True)
    type_name = next(iter(converter.class_type_names[cls]))
    merged_type = converter.merged[type_name]
    python_names = {
        name: field_.extensions[DEFINITION_BACKREF].python_name
        for subgraph, own in converter.sources[type_name]
        for name, field_ in _fields(own).items()
        if (own.extensions or {}).get(DEFINITION_BACKREF) is definition
        and DEFINITION_BACKREF in field_.extensions
    }
    plan: _Plan = []
    for node in selection_set.selections:
        assert isinstance(node, FieldNode)
        name = node.name.value
        field_type = get_named_type(merged_type.fields[name].type)  # type: ignore[attr-defined]
        serialize = field_type.serialize if is_leaf_type(field_type) else None
        plan.append((name, python_names[name], serialize, node.selection_set))
    return plan


def _fields(type_: Any) -> dict[str, Any]:
    return dict(type_.fields)


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


def _deref(reference: Any) -> Any:
    return reference() if isinstance(reference, weakref.ref) else reference


_SCHEMA_INDEX = GraphQLResolveInfo._fields.index("schema")


def _with_schema(info: GraphQLResolveInfo[Any], schema: Any) -> GraphQLResolveInfo[Any]:
    """``info._replace(schema=schema)`` without namedtuple's generic (slower) path."""
    values = list(info)
    values[_SCHEMA_INDEX] = schema
    return tuple.__new__(type(info), values)
