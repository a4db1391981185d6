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

import structlog
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import get_object_definition

from gateway.fast_execution import NOT_NOW, OWNER, PLAIN_ATTRIBUTE, SYNC_RESOLVER, TRY_NOW, now

if TYPE_CHECKING:
    from gateway.composition import _Subgraph

__all__ = ["DEFINITION_BACKREF", "EntityConverter", "with_schema"]

log = structlog.get_logger("revenge.entities")

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
class _Prefetcher:
    """``subgraph``'s ``prefetch_references`` for its entity: loads what its fields need for a
    whole list of objects at once."""

    subgraph: _Subgraph
    entity: _Entity
    hook: Callable[..., Awaitable[None]]


class _Reference(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that knows its memo key, so one bound method forgets any entry."""

    __slots__ = ("key",)
    key: tuple[int, str]


@dataclass(eq=False)
class _Memo:
    entries: dict[tuple[int, str], tuple[Any, asyncio.Future[Any]]] = field(default_factory=dict)
    # (id of a list field's first node, target type) -> the prefetchers its selection wants
    wanted: dict[tuple[int, str], list[_Prefetcher]] = field(default_factory=dict)

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
        owners: Mapping[tuple[str, str], str],
    ) -> None:
        # Strawberry class -> (subgraph names that produce it, GraphQL type names it maps to)
        self.class_subgraphs = class_subgraphs
        self.class_type_names = class_type_names
        self.merged = merged
        self.sources = sources
        self.entities: dict[tuple[str, str], _Entity] = {}
        self.memos: dict[int, _Memo] = {}
        self.plans: dict[tuple[int, type], _Plan] = {}
        # (type name, field name) -> the subgraph that owns the field
        self.owners = owners
        self.prefetchers: dict[str, list[_Prefetcher]] = {}

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
        entity = self.entities[(name, subgraph.name)] = _Entity(
            subgraph, origin, key_selections, resolve_reference, wants_info
        )
        hook = getattr(origin, "prefetch_references", None)
        if hook is not None:
            self.prefetchers.setdefault(name, []).append(_Prefetcher(subgraph, entity, hook))

    def entity_aware(
        self, type_name: str, owner: _Subgraph, resolvers: dict[str, Callable[..., Any]]
    ) -> Callable[..., Any]:
        """The resolver of a field ``owner`` owns, for objects any subgraph produced."""
        class_subgraphs = self.class_subgraphs
        owner_name = owner.name
        owner_resolver = resolvers[owner_name]
        convert_and_resolve = self._converting(type_name, owner, owner_resolver)
        convert_now = self._converting_now(type_name, owner, owner_resolver)

        def own_resolver(obj: Any) -> Callable[..., Any] | None:
            """The resolver that answers for ``obj`` as it is, or None: convert it first."""
            producers = class_subgraphs.get(type(obj))
            if producers is None or owner_name in producers:
                return owner_resolver
            for producer in producers:  # a key or @shareable field the producer resolves itself
                if producer in resolvers:
                    return resolvers[producer]
            return None

        def resolve(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            direct = own_resolver(obj)
            if direct is not None:
                return direct(obj, info, **kwargs)
            return convert_and_resolve(obj, info, kwargs)

        def try_now(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            direct = own_resolver(obj)
            if direct is not None:
                return now(direct(obj, info, **kwargs))
            return convert_now(obj, info, kwargs)

        attribute = getattr(owner_resolver, PLAIN_ATTRIBUTE, None)
        if attribute is not None:
            # The fast executor reads it straight off objects the owner produced; any other
            # object takes this resolver (and its conversion).
            setattr(resolve, PLAIN_ATTRIBUTE, attribute)
            setattr(resolve, OWNER, (class_subgraphs, owner_name))
        elif _may_answer_now(owner_resolver):
            setattr(resolve, TRY_NOW, try_now)
        return resolve

    def _converting_now(
        self, type_name: str, owner: _Subgraph, resolver: Callable[..., Any]
    ) -> Callable[[Any, GraphQLResolveInfo[Any], dict[str, Any]], Any]:
        """``_converting`` for the fast executor: the answer when the conversion and the
        resolver both answer at once, else ``NOT_NOW`` with nothing started or remembered."""
        key_name = owner.name

        def run(obj: Any, info: GraphQLResolveInfo[Any], kwargs: dict[str, Any]) -> Any:
            entity = self.entities.get((type_name, key_name))
            if entity is None:
                return NOT_NOW
            memo = self.memos.get(id(info.context))
            if memo is not None:
                entry = memo.entries.get((id(obj), key_name))
                if entry is not None and _deref(entry[0]) is obj:
                    done = entry[1]
                    if not done.done() or done.cancelled() or done.exception() is not None:
                        return NOT_NOW
                    converted = done.result()
                    return None if converted is None else now(resolver(converted, info, **kwargs))
            converted = now(self._reference(entity, obj, info))
            if converted is NOT_NOW or converted is None:
                return converted
            return now(resolver(converted, info, **kwargs))

        return run

    def _converting(
        self, type_name: str, owner: _Subgraph, resolver: Callable[..., Any]
    ) -> Callable[[Any, GraphQLResolveInfo[Any], dict[str, Any]], Any]:
        """Convert ``obj`` into ``owner``'s entity (once per request and object: the memo), then
        run ``resolver`` on it. Synchronous when the owner's ``resolve_reference`` answers at
        once (a prefetched list): this runs for every item of a list, and each awaitable costs
        the executor a coroutine and a task."""
        memos = self.memos
        key_name = owner.name

        def finish(converted: Any, info: GraphQLResolveInfo[Any], kwargs: dict[str, Any]) -> Any:
            return None if converted is None else resolver(converted, info, **kwargs)

        async def later(
            converted: Awaitable[Any],
            info: GraphQLResolveInfo[Any],
            kwargs: dict[str, Any],
            future: asyncio.Future[Any] | None,
            memo: _Memo | None,
            key: tuple[int, str],
        ) -> Any:
            try:
                value = await converted
            except BaseException as error:
                if memo is not None and future is not None:
                    memo.entries.pop(key, None)
                    if isinstance(error, Exception):
                        future.set_exception(error)
                        future.exception()  # retrieved: waiters re-raise it, logged once
                    else:
                        future.cancel()
                raise
            if future is not None:
                future.set_result(value)
            result = finish(value, info, kwargs)
            return await result if inspect.isawaitable(result) else result

        async def waiting(
            future: asyncio.Future[Any], info: GraphQLResolveInfo[Any], kwargs: dict[str, Any]
        ) -> Any:
            result = finish(await asyncio.shield(future), info, kwargs)
            return await result if inspect.isawaitable(result) else result

        def run(obj: Any, info: GraphQLResolveInfo[Any], kwargs: dict[str, Any]) -> Any:
            entity = self.entities.get((type_name, key_name))
            if entity is None:
                raise GraphQLError(
                    f"{type_name} is not an entity in subgraph {key_name!r},"
                    " so it cannot resolve fields of objects other subgraphs produced"
                )
            memo = _memo_for(memos, info.context)
            key = (id(obj), key_name)
            if memo is not None:
                entry = memo.entries.get(key)
                if entry is not None and _deref(entry[0]) is obj:
                    done = entry[1]
                    if done.done() and not done.cancelled() and done.exception() is None:
                        return finish(done.result(), info, kwargs)
                    return waiting(done, info, kwargs)
            converted = self._reference(entity, obj, info)
            if not inspect.isawaitable(converted):
                # Answered at once (a prefetched list): nothing to share with the object's other
                # fields, which convert it again as cheaply.
                return finish(converted, info, kwargs)
            future: asyncio.Future[Any] | None = None
            if memo is not None:
                future = asyncio.get_running_loop().create_future()
                memo.entries[key] = (memo.reference(obj, key), future)
            return later(converted, info, kwargs, future, memo, key)

        return run

    def _reference(self, entity: _Entity, obj: Any, info: GraphQLResolveInfo[Any]) -> Any:
        """The owner's object for ``obj``: now, or an awaitable of it."""
        representation = self._representation(entity, obj)
        strawberry_info = self._strawberry_info(entity, info)
        if entity.resolve_reference is None:
            from strawberry.types.arguments import convert_argument

            strawberry_schema = entity.subgraph.strawberry_schema
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
        return entity.resolve_reference(**kwargs)

    def _strawberry_info(self, entity: _Entity, info: GraphQLResolveInfo[Any]) -> Any:
        return entity.subgraph.strawberry_schema.config.info_class(
            _raw_info=with_schema(info, entity.subgraph.schema), _field=None
        )

    # --- prefetching a list's entities ---------------------------------------------------

    def prefetching(
        self, target: str, through: str | None, inner: Callable[..., Any]
    ) -> Callable[..., Any]:
        """``inner`` (a list field's resolver) followed, when its selection asks for fields of
        ``target`` that another subgraph owns, by that subgraph's ``prefetch_references`` for
        the whole list (the items, or each item's ``through`` field: a connection's edges),
        like a router's one ``_entities`` call per list. Without a prefetcher, ``inner``."""
        prefetchers = self.prefetchers.get(target)
        if not prefetchers:
            return inner

        def resolve(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            result = inner(obj, info, **kwargs)
            wanted = self._wanted(target, prefetchers, info, through)
            if not wanted:
                return result
            return self._prefetched(result, wanted, info, through)

        def try_now(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            if self._wanted(target, prefetchers, info, through):
                return NOT_NOW
            return now(inner(obj, info, **kwargs))

        if _may_answer_now(inner):
            setattr(resolve, TRY_NOW, try_now)
        return resolve

    def _wanted(
        self,
        target: str,
        prefetchers: list[_Prefetcher],
        info: GraphQLResolveInfo[Any],
        through: str | None,
    ) -> list[_Prefetcher]:
        memo = _memo_for(self.memos, info.context)
        key = (id(info.field_nodes[0]), target)
        if memo is not None and key in memo.wanted:
            return memo.wanted[key]
        owners = {self.owners.get((target, name)) for name in _selected(info, through)}
        wanted = [p for p in prefetchers if p.subgraph.name in owners]
        if memo is not None:
            memo.wanted[key] = wanted
        return wanted

    async def _prefetched(
        self,
        result: Any,
        wanted: list[_Prefetcher],
        info: GraphQLResolveInfo[Any],
        through: str | None,
    ) -> Any:
        value = await result if inspect.isawaitable(result) else result
        if value is None or isinstance(value, str | bytes | Mapping):
            return value
        value = list(value)
        objects = value if through is None else [getattr(item, through, None) for item in value]
        for prefetcher in wanted:
            name = prefetcher.subgraph.name
            representations = []
            for obj in objects:
                producers = self.class_subgraphs.get(type(obj))
                if obj is None or producers is None or name in producers:
                    continue  # the subgraph's own objects need no conversion
                try:
                    representations.append(self._representation(prefetcher.entity, obj))
                except GraphQLError:
                    continue  # its field reports that when it runs
            if not representations:
                continue
            try:
                await prefetcher.hook(
                    info=self._strawberry_info(prefetcher.entity, info),
                    representations=representations,
                )
            except Exception as error:  # the items' own resolution reports it, if it recurs
                log.debug("entity prefetch failed", subgraph=name, error=type(error).__name__)
        return value

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


def _may_answer_now(resolver: Callable[..., Any]) -> bool:
    """A plain read or a synchronous resolver (an async one never answers at once)."""
    return bool(getattr(resolver, SYNC_RESOLVER, False) or getattr(resolver, PLAIN_ATTRIBUTE, None))


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


def with_schema(info: GraphQLResolveInfo[Any], schema: Any) -> GraphQLResolveInfo[Any]:
    """``info._replace(schema=schema)`` without namedtuple's generic (slower) path."""
    values = list(info)
    values[_SCHEMA_INDEX] = schema
    return tuple.__new__(type(info), values)


def _selected(info: GraphQLResolveInfo[Any], through: str | None) -> set[str]:
    """The names of the fields selected on the list's items (or on their ``through`` field),
    through fragments; each fragment is walked once per level, so the cost is linear in the
    document."""
    fragments = info.fragments

    def walk(selection_set: SelectionSetNode | None, out: list[FieldNode], seen: set[str]) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                out.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, out, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    walk(fragments[name].selection_set, out, seen)

    fields: list[FieldNode] = []
    seen: set[str] = set()
    for node in info.field_nodes:
        walk(node.selection_set, fields, seen)
    if through is not None:
        inner: list[FieldNode] = []
        seen = set()
        for node in fields:
            if node.name.value == through:
                walk(node.selection_set, inner, seen)
        fields = inner
    return {node.name.value for node in fields}
