"""A graphql-core executor that compiles synchronous sub-trees of a query.

A library grid page resolves thousands of fields below one list field, nearly all of them a
scalar read straight off an object (``title``, ``codec``, ``width``) or a list read from a
loader the page already primed. graphql-core runs each field through its general machinery:
resolve info, resolver call, awaitable checks and type dispatch, about 10 µs a field here.

This executor compiles a field whose type is an object or a list of objects into nested
closures, once per request and selection: leaf reads become ``getattr`` plus the scalar's
``serialize``, resolver fields are called with a real ``GraphQLResolveInfo``, and the result
dictionaries are built directly. The compiled path only handles the plain case. The moment
anything else happens — a resolver returns an awaitable or raises, a non-null field is null, a
scalar rejects a value, an abstract type or ``@defer`` appears — it gives up on that field and
graphql-core executes it from scratch, so errors, null propagation and asynchronous resolvers
behave exactly as the specification says. Resolvers are reads, so running one twice after a
give-up is harmless; a test compares both executors on the same documents.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    get_named_type,
)
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined

__all__ = ["NOT_NOW", "OWNER", "PLAIN_ATTRIBUTE", "SYNC_RESOLVER", "TRY_NOW", "FastExecutor", "now"]

# Marks the composition puts on resolvers: a plain attribute read (the attribute's name), and a
# subgraph's own synchronous resolver. Only marked resolvers run on the compiled path; others
# (async resolvers, cross-subgraph entity conversion) always take graphql-core's. ``OWNER`` on a
# plain read of an entity's field: (class -> producing subgraphs, the owning subgraph); the read
# holds only for objects the owner produced (or that no subgraph claims), any other object gives
# up to the entity-aware resolver, which converts it.
PLAIN_ATTRIBUTE = "_revenge_plain_attribute"
SYNC_RESOLVER = "_revenge_sync_resolver"
OWNER = "_revenge_owner"
# ``TRY_NOW`` on a resolver: a function with the resolver's signature that answers at once or
# returns ``NOT_NOW``, having started nothing (an entity field answered from a prefetched list,
# else converted the slow way). The compiled path calls it instead of the resolver.
TRY_NOW = "_revenge_try_now"
NOT_NOW: Any = object()


def now(value: Any) -> Any:
    """``value``, or ``NOT_NOW`` for an awaitable (a coroutine is closed unstarted)."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()
        return NOT_NOW
    return value


Complete = Callable[[Any, Path], Any]


class _GiveUp(Exception):
    """The compiled path cannot finish this field; graphql-core will.

    Raised as a fresh instance every time: one shared instance would gather every raise's
    frames in its ``__traceback__`` and keep each request's executor and results alive.
    """


class FastExecutor(ExecutorThrowingOnIncremental):
    """graphql-core's default executor (no @defer/@stream) plus compiled synchronous sub-trees."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[int, int], Complete | None] = {}
        self._completions: dict[tuple[int, int], Complete | None] = {}
        self._keep: list[Any] = []  # keys are ids: keep their objects alive for the request

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        if not self.middleware_manager and position_context is None:
            key = (id(parent_type), id(field_details_list))
            if key in self._plans:
                plan = self._plans[key]
            else:
                plan = self._plans[key] = self._compile_root(parent_type, field_details_list)
                self._keep.append((parent_type, field_details_list))
            if plan is not None:
                try:
                    return plan(source, path.prev)  # type: ignore[arg-type]
                except _GiveUp:
                    pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A value graphql-core resolved (an awaited resolver, a list's item) is completed on
        the compiled path when its sub-tree compiles: a list whose resolver had to wait (a
        prefetch) still completes its items without the general machinery."""
        inner = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
        if (
            isinstance(inner, GraphQLList | GraphQLObjectType)
            and position_context is None
            and not self.middleware_manager
            and not isinstance(result, Exception)
            and not self.is_awaitable(result)
        ):
            key = (id(return_type), id(field_details_list))
            if key in self._completions:
                complete = self._completions[key]
            else:
                try:
                    complete = self._type(return_type, field_details_list)
                except _GiveUp:
                    complete = None
                self._completions[key] = complete
                self._keep.append((return_type, field_details_list))
            if complete is not None:
                try:
                    return complete(result, path)
                except _GiveUp:
                    pass
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    # -- compiling -------------------------------------------------------------------------

    def _compile_root(
        self, parent_type: GraphQLObjectType, field_details_list: Any
    ) -> Complete | None:
        field_def = parent_type.fields.get(field_details_list[0].node.name.value)
        if field_def is None or parent_type.name in ("Query", "Mutation", "Subscription"):
            return None
        try:
            return self._field(parent_type, field_def, field_details_list)
        except _GiveUp:
            return None

    def _field(
        self, parent_type: GraphQLObjectType, field_def: GraphQLField, field_details_list: Any
    ) -> Complete:
        """Resolve and complete one field of ``parent_type`` on a source object."""
        complete = self._type(field_def.type, field_details_list)
        node = field_details_list[0].node
        key = node.alias.value if node.alias else node.name.value
        attribute = getattr(field_def.resolve, PLAIN_ATTRIBUTE, None)
        if attribute is not None and not field_def.args:
            owner = getattr(field_def.resolve, OWNER, None)
            if owner is not None:
                class_subgraphs, owner_name = owner

                def get(source: Any) -> Any:
                    producers = class_subgraphs.get(type(source))
                    if producers is not None and owner_name not in producers:
                        raise _GiveUp
                    return getattr(source, attribute)

            else:

                def get(source: Any) -> Any:
                    return getattr(source, attribute)

            if isinstance(get_named_type(field_def.type), GraphQLScalarType | GraphQLEnumType):

                def read_leaf(source: Any, path: Path) -> Any:
                    try:
                        value = get(source)
                    except Exception:
                        raise _GiveUp from None
                    return complete(value, path)  # a leaf never uses its path

                return read_leaf

            def read(source: Any, path: Path) -> Any:
                try:
                    value = get(source)
                except Exception:
                    raise _GiveUp from None
                return complete(value, path.add_key(key, parent_type.name))

            return read
        try:
            args = (
                get_argument_values(
                    field_def,
                    node,
                    self.variable_values,
                    field_details_list[0].fragment_variable_values,
                    self.hide_suggestions,
                )
                if field_def.args or node.arguments
                else {}
            )
        except Exception:
            raise _GiveUp from None
        resolve = getattr(field_def.resolve, TRY_NOW, None)
        if resolve is None:
            resolve = field_def.resolve
            if resolve is None or not getattr(resolve, SYNC_RESOLVER, False):
                raise _GiveUp
        nodes = [details.node for details in field_details_list]

        def call(source: Any, path: Path) -> Any:
            field_path = path.add_key(key, parent_type.name)
            info = self.build_resolve_info(field_def, nodes, parent_type, field_path)
            try:
                value = resolve(source, info, **args)
            except Exception:
                raise _GiveUp from None
            if value is NOT_NOW:
                raise _GiveUp
            if self.is_awaitable(value):
                if inspect.iscoroutine(value):
                    value.close()  # not started: a sync resolver deferring to a loader
                raise _GiveUp
            return complete(value, field_path)

        return call

    def _type(self, type_: GraphQLOutputType, field_details_list: Any) -> Complete:
        if isinstance(type_, GraphQLNonNull):
            inner = self._type(type_.of_type, field_details_list)

            def non_null(value: Any, path: Path) -> Any:
                if value is None:
                    raise _GiveUp
                completed = inner(value, path)
                if completed is None:
                    raise _GiveUp
                return completed

            return non_null
        if isinstance(type_, GraphQLList):
            item = self._type(type_.of_type, field_details_list)

            def list_of(value: Any, path: Path) -> Any:
                if value is None:
                    return None
                if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                    raise _GiveUp
                return [item(entry, path.add_key(index)) for index, entry in enumerate(value)]

            return list_of
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            serialize = type_.serialize

            def leaf(value: Any, path: Path) -> Any:
                if value is None:
                    return None
                try:
                    serialized = serialize(value)
                except Exception:
                    raise _GiveUp from None
                if serialized is None or serialized is Undefined:
                    raise _GiveUp
                return serialized

            return leaf
        if isinstance(type_, GraphQLObjectType) and type_.is_type_of is None:
            return self._object(type_, field_details_list)
        raise _GiveUp  # abstract types and checked object types take the regular path

    def _object(self, object_type: GraphQLObjectType, field_details_list: Any) -> Complete:
        state: dict[str, Any] = {}

        def compile_fields() -> list[tuple[str, Complete | None]]:
            grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
            if new_defer_usages:
                raise _GiveUp
            compiled: list[tuple[str, Complete | None]] = []
            for response_key, details in grouped.items():
                name = details[0].node.name.value
                if name == "__typename":
                    compiled.append((response_key, None))
                    continue
                field_def = object_type.fields.get(name)
                if field_def is None:
                    raise _GiveUp
                compiled.append((response_key, self._field(object_type, field_def, details)))
            return compiled

        def object_value(value: Any, path: Path) -> Any:
            if value is None:
                return None
            fields = state.get("fields")
            if fields is None:  # compiled on first use: types may refer to themselves
                if state.get("failed"):
                    raise _GiveUp
                try:
                    fields = state["fields"] = compile_fields()
                except _GiveUp:
                    state["failed"] = True
                    raise
            result: dict[str, Any] = {}
            for response_key, run in fields:
                result[response_key] = object_type.name if run is None else run(value, path)
            return result

        return object_value
