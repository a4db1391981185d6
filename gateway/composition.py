"""In-process composition of Strawberry federation subgraphs into one executable schema.

What a federation router does across the network, done inside one process: the
subgraphs' graphql-core schemas are merged type by type, every field keeps the
resolver of the subgraph that owns it, and when such a field runs on an object that
another subgraph produced, the owner's ``resolve_reference`` first turns the key
fields into the owner's own object (a router's ``_entities`` fetch, minus the hop).

Merge rules (strict where federation is lenient, so surprises fail at start-up):

* object types: fields are the union of the subgraphs' fields; the same field in two
  subgraphs is allowed only when it is a ``@key`` field or ``@shareable`` in each of
  them, and root fields (``Query``/``Mutation``/``Subscription``) never repeat;
* fields defined twice must have the same type; ``@external`` fields define nothing;
* interfaces and unions: fields and members are merged; the merged ``resolve_type``
  maps a Strawberry instance to its type name, otherwise it asks the subgraph's own
  ``resolve_type`` with the subgraph's own abstract type and keeps only the *name*;
* input types and enums defined by several subgraphs must be identical; arguments
  are converted back into each owner's own enum members;
* federation plumbing (``_service``, ``_entities``, ``_Any``, ``_Entity``,
  ``_FieldSet``, ``link__*``, ``@key``/``@link``…) never reaches the public schema.

Converting an object into the owning subgraph's type when a request runs, and the
per-request memo of those conversions, live in ``gateway.entities``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    OperationDefinitionNode,
    SelectionSetNode,
    default_field_resolver,
    get_named_type,
    is_specified_directive,
    parse,
    print_ast,
    print_schema,
    specified_directives,
    validate_schema,
)
from strawberry.federation.schema_directives import External, Key, Shareable
from strawberry.types.cast import get_strawberry_type_cast

from gateway.entities import DEFINITION_BACKREF, EntityConverter, with_schema
from gateway.fast_execution import PLAIN_ATTRIBUTE, SYNC_RESOLVER

__all__ = ["ComposedSchema", "CompositionError", "compose"]

ROOT_NAMES = ("Query", "Mutation", "Subscription")
PLUMBING_TYPES = frozenset(
    {"_Any", "_Entity", "_Service", "_FieldSet", "FieldSet", "Policy", "Scope"}
)
PLUMBING_PREFIXES = ("link__", "federation__", "__")
PLUMBING_ROOT_FIELDS = frozenset({"_service", "_entities"})
FEDERATION_DIRECTIVES = frozenset(
    {
        "authenticated", "composeDirective", "context", "cost", "extends", "external",
        "fromContext", "inaccessible", "interfaceObject", "key", "link", "listSize",
        "override", "policy", "provides", "requires", "requiresScopes", "shareable", "tag",
    }
)  # fmt: skip


class CompositionError(Exception):
    """The subgraphs cannot be merged; the message names the type, field and subgraphs."""


@dataclass(eq=False)
class _Subgraph:
    name: str
    strawberry_schema: Any
    schema: GraphQLSchema
    root_names: dict[str, str]  # subgraph root type name -> Query/Mutation/Subscription


@dataclass(eq=False)
class _FieldSource:
    """One subgraph's definition of one field."""

    subgraph: _Subgraph
    field: GraphQLField
    type_name: str  # the subgraph's own name of the parent type


class ComposedSchema:
    """The merged, executable schema plus which subgraph owns each field."""

    def __init__(self, schema: GraphQLSchema, owners: dict[tuple[str, str], str]) -> None:
        self.schema = schema
        self._owners = owners
        self._sdl: str | None = None

    def sdl(self) -> str:
        """The public schema, printed with types and fields sorted so it diffs cleanly."""
        if self._sdl is None:
            self._sdl = _sorted_sdl(self.schema)
        return self._sdl

    def owner(self, type_name: str, field_name: str) -> str:
        """The subgraph whose resolver runs ``type_name.field_name`` (the first that defines it)."""
        try:
            return self._owners[(type_name, field_name)]
        except KeyError:
            raise KeyError(f"{type_name}.{field_name} is not in the composed schema") from None


def compose(subgraphs: Iterable[tuple[str, Any]]) -> ComposedSchema:
    """Merge ``(name, strawberry.federation.Schema)`` pairs into one executable schema."""
    return _Composer([_load(name, schema) for name, schema in subgraphs]).build()


def _load(name: str, strawberry_schema: Any) -> _Subgraph:
    schema: GraphQLSchema = (
        strawberry_schema._schema
    )  # Strawberry keeps its graphql-core schema here
    roots = {}
    for root_name, root in zip(
        ROOT_NAMES, (schema.query_type, schema.mutation_type, schema.subscription_type), strict=True
    ):
        if root is not None:
            roots[root.name] = root_name
    return _Subgraph(name, strawberry_schema, schema, roots)


def _is_plumbing(name: str) -> bool:
    return name in PLUMBING_TYPES or name.startswith(PLUMBING_PREFIXES)


def _directives(definition: Any) -> list[Any]:
    return list(getattr(definition, "directives", None) or ())


def _strawberry(extensions: Mapping[str, Any] | None) -> Any:
    return (extensions or {}).get(DEFINITION_BACKREF)


def _key_field_names(type_: GraphQLNamedType) -> set[str]:
    names: set[str] = set()
    for directive in _directives(_strawberry(type_.extensions)):
        if isinstance(directive, Key):
            names.update(
                node.name.value
                for node in _parse_field_set(str(directive.fields)).selections
                if isinstance(node, FieldNode)
            )
    return names


def _parse_field_set(fields: str) -> SelectionSetNode:
    operation = parse("{" + fields + "}", no_location=True).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.selection_set


class _Composer:
    def __init__(self, subgraphs: Sequence[_Subgraph]) -> None:
        names = [subgraph.name for subgraph in subgraphs]
        if len(set(names)) != len(names):
            raise CompositionError(f"subgraph names must be unique, got {names}")
        self.subgraphs = subgraphs
        self.sources: dict[str, list[tuple[_Subgraph, GraphQLNamedType]]] = {}
        self.merged: dict[str, GraphQLNamedType] = {}
        self.owners: dict[tuple[str, str], str] = {}
        # Strawberry class -> (subgraph names that produce it, GraphQL type names it maps to)
        self.class_subgraphs: dict[type, frozenset[str]] = {}
        self.class_type_names: dict[type, set[str]] = {}
        self.entities = EntityConverter(
            self.class_subgraphs, self.class_type_names, self.merged, self.sources, self.owners
        )
        self.fields: dict[str, dict[str, GraphQLField]] = {}

    # --- collecting ------------------------------------------------------------------

    def build(self) -> ComposedSchema:
        for subgraph in self.subgraphs:
            for name, type_ in subgraph.schema.type_map.items():
                if _is_plumbing(name):
                    continue
                self.sources.setdefault(subgraph.root_names.get(name, name), []).append(
                    (subgraph, type_)
                )
                self._register_class(subgraph, type_)
        for name, sources in self.sources.items():
            kinds = {type(type_) for _, type_ in sources}
            if len(kinds) > 1:
                described = ", ".join(f"{s.name}: {type(t).__name__}" for s, t in sources)
                raise CompositionError(
                    f"type {name} has different kinds in subgraphs ({described})"
                )
            self.merged[name] = self._merge_type(name, sources)
        for name, named in self.merged.items():  # every type exists now: merge the fields
            if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                self.fields[name] = self._merge_fields(
                    name, self.sources[name], isinstance(named, GraphQLInterfaceType)
                )
        directives: dict[str, Any] = {}
        for subgraph in self.subgraphs:
            for directive in subgraph.schema.directives:
                if is_specified_directive(directive) or directive.name in directives:
                    continue
                if directive.name not in FEDERATION_DIRECTIVES and not _is_plumbing(directive.name):
                    directives[directive.name] = directive
        roots = [self.merged.get(name) for name in ROOT_NAMES]
        schema = GraphQLSchema(
            query=roots[0],  # type: ignore[arg-type]
            mutation=roots[1],  # type: ignore[arg-type]
            subscription=roots[2],  # type: ignore[arg-type]
            types=[t for n, t in self.merged.items() if n not in ROOT_NAMES],
            directives=[*specified_directives, *directives.values()],
        )
        errors = validate_schema(schema)
        if errors:
            raise CompositionError("; ".join(error.message for error in errors))
        return ComposedSchema(schema, self.owners)

    def _register_class(self, subgraph: _Subgraph, type_: GraphQLNamedType) -> None:
        definition = _strawberry(type_.extensions)
        origin = getattr(definition, "origin", None)
        if not isinstance(type_, GraphQLObjectType) or not isinstance(origin, type):
            return
        self.class_subgraphs[origin] = self.class_subgraphs.get(origin, frozenset()) | {
            subgraph.name
        }
        self.class_type_names.setdefault(origin, set()).add(
            subgraph.root_names.get(type_.name, type_.name)
        )

    # --- type references ---------------------------------------------------------------

    def ref(self, type_: GraphQLType) -> Any:
        if isinstance(type_, GraphQLNonNull):
            return GraphQLNonNull(self.ref(type_.of_type))
        if isinstance(type_, GraphQLList):
            return GraphQLList(self.ref(type_.of_type))
        assert isinstance(type_, GraphQLNamedType)
        return self.merged[type_.name]

    # --- merging by kind ---------------------------------------------------------------

    def _merge_type(
        self, name: str, sources: list[tuple[_Subgraph, GraphQLNamedType]]
    ) -> GraphQLNamedType:
        first = sources[0][1]
        description = next((t.description for _, t in sources if t.description), None)
        if isinstance(first, GraphQLScalarType):
            return first
        if isinstance(first, GraphQLEnumType):
            self._require_identical(name, sources, lambda t: sorted(t.values))
            return first if len(sources) == 1 else _SharedEnumType(first)
        if isinstance(first, GraphQLInputObjectType):
            self._require_identical(
                name,
                sources,
                lambda t: sorted((n, str(f.type)) for n, f in t.fields.items()),
            )
            return GraphQLInputObjectType(
                name,
                fields=lambda: {n: self._input_field(f) for n, f in first.fields.items()},
                description=description,
                out_type=first.out_type,
                extensions=first.extensions,
                is_one_of=first.is_one_of,
            )
        if isinstance(first, GraphQLUnionType):
            return GraphQLUnionType(
                name,
                types=lambda: self._union_members(sources),
                resolve_type=self._type_resolver(sources),
                description=description,
            )
        if isinstance(first, GraphQLInterfaceType):
            return GraphQLInterfaceType(
                name,
                fields=lambda: self.fields[name],
                interfaces=lambda: self._interfaces(sources),
                resolve_type=self._type_resolver(sources),
                description=description,
            )
        assert isinstance(first, GraphQLObjectType)
        for subgraph, type_ in sources:
            self._register_entity(name, subgraph, type_)  # type: ignore[arg-type]
        return GraphQLObjectType(
            name,
            fields=lambda: self.fields[name],
            interfaces=lambda: self._interfaces(sources),
            is_type_of=self._is_type_of(name, sources),
            description=description,
        )

    def _require_identical(
        self, name: str, sources: list[tuple[_Subgraph, Any]], shape: Callable[[Any], Any]
    ) -> None:
        first_subgraph, first = sources[0]
        for subgraph, type_ in sources[1:]:
            if shape(type_) != shape(first):
                raise CompositionError(
                    f"{name} differs between subgraphs {first_subgraph.name!r} and"
                    f" {subgraph.name!r};"
                    " input types and enums shared by subgraphs must be identical"
                )

    def _input_field(self, input_field: Any) -> Any:
        merged = copy(input_field)
        merged.type = self.ref(input_field.type)
        return merged

    def _union_members(self, sources: list[tuple[_Subgraph, Any]]) -> list[Any]:
        names = dict.fromkeys(member.name for _, union in sources for member in union.types)
        return [self.merged[name] for name in names]

    def _interfaces(self, sources: list[tuple[_Subgraph, Any]]) -> list[Any]:
        names = dict.fromkeys(
            interface.name for _, type_ in sources for interface in type_.interfaces
        )
        return [self.merged[name] for name in names]

    # --- fields ------------------------------------------------------------------------

    def _merge_fields(
        self, type_name: str, sources: list[tuple[_Subgraph, Any]], is_interface: bool
    ) -> dict[str, GraphQLField]:
        by_name: dict[str, list[_FieldSource]] = {}
        for subgraph, type_ in sources:
            for field_name, field_ in type_.fields.items():
                if type_name == "Query" and field_name in PLUMBING_ROOT_FIELDS:
                    continue
                if any(
                    isinstance(d, External) for d in _directives(_strawberry(field_.extensions))
                ):
                    continue
                by_name.setdefault(field_name, []).append(
                    _FieldSource(subgraph, field_, type_.name)
                )
        for subgraph, type_ in sources:  # an @external-only field still belongs to the type
            for field_name, field_ in type_.fields.items():
                if field_name not in by_name and not (
                    type_name == "Query" and field_name in PLUMBING_ROOT_FIELDS
                ):
                    by_name[field_name] = [_FieldSource(subgraph, field_, type_.name)]
        fields = {}
        for field_name, definers in by_name.items():
            if is_interface:
                fields[field_name] = self._field(type_name, definers[:1], plain=True)
                continue
            self._check_field(type_name, field_name, definers, sources)
            self.owners[(type_name, field_name)] = definers[0].subgraph.name
            fields[field_name] = self._field(type_name, definers, only_owner=len(sources) == 1)
        return fields

    def _check_field(
        self,
        type_name: str,
        field_name: str,
        definers: list[_FieldSource],
        sources: list[tuple[_Subgraph, Any]],
    ) -> None:
        if len(definers) < 2:
            return
        names = " and ".join(repr(d.subgraph.name) for d in definers)
        if type_name in ROOT_NAMES:
            raise CompositionError(
                f"root field {type_name}.{field_name} is defined by subgraphs {names}"
            )
        types = {str(d.field.type) for d in definers}
        if len(types) > 1:
            raise CompositionError(
                f"{type_name}.{field_name} has different types in subgraphs {names}:"
                f" {sorted(types)}"
            )
        parents = {subgraph.name: type_ for subgraph, type_ in sources}
        for definer in definers:
            parent = parents[definer.subgraph.name]
            shareable = (
                field_name in _key_field_names(parent)
                or any(
                    isinstance(d, Shareable)
                    for d in _directives(_strawberry(definer.field.extensions))
                )
                or any(
                    isinstance(d, Shareable) for d in _directives(_strawberry(parent.extensions))
                )
            )
            if not shareable:
                raise CompositionError(
                    f"{type_name}.{field_name} is defined by subgraphs {names} but is"
                    f" neither a @key field nor @shareable in {definer.subgraph.name!r}"
                )

    def _field(
        self,
        type_name: str,
        definers: list[_FieldSource],
        plain: bool = False,
        only_owner: bool = False,
    ) -> GraphQLField:
        owner = definers[0]
        merged = copy(owner.field)
        merged.type = self.ref(owner.field.type)
        merged.args = {name: self._argument(arg) for name, arg in (owner.field.args or {}).items()}
        merged.extensions = {}
        if plain:
            return merged
        resolvers = {d.subgraph.name: self._bound_resolver(d, merged.args) for d in definers}
        if type_name in ROOT_NAMES or only_owner:
            # Only the owner produces objects of a type no other subgraph defines.
            merged.resolve = self._prefetching(owner.field, resolvers[owner.subgraph.name])
            if owner.field.subscribe is not None:
                merged.subscribe = self._bound_resolver(owner, merged.args, subscribe=True)
            return merged
        merged.resolve = self.entities.entity_aware(type_name, owner.subgraph, resolvers)
        return merged

    def _prefetching(self, field: GraphQLField, resolve: Callable[..., Any]) -> Callable[..., Any]:
        """A list of entities (or a connection's edges of them, through ``node``) that another
        subgraph extends loads that subgraph's data for the whole list at once
        (``EntityConverter.prefetching``)."""
        type_ = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if not isinstance(type_, GraphQLList) or field.subscribe is not None:
            return resolve
        item = get_named_type(type_)
        through = None
        if isinstance(item, GraphQLObjectType) and "node" in item.fields:
            node = get_named_type(item.fields["node"].type)
            if isinstance(node, GraphQLObjectType) and len(self.sources.get(node.name, [])) > 1:
                item, through = node, "node"
        if not isinstance(item, GraphQLObjectType) or len(self.sources.get(item.name, [])) < 2:
            return resolve
        return self.entities.prefetching(item.name, through, resolve)

    def _argument(self, argument: GraphQLArgument) -> GraphQLArgument:
        merged = copy(argument)
        merged.type = self.ref(argument.type)
        return merged

    def _bound_resolver(
        self,
        source: _FieldSource,
        merged_args: Mapping[str, GraphQLArgument],
        *,
        subscribe: bool = False,
    ) -> Callable[..., Any]:
        """The subgraph's own resolver; it sees its own schema in ``info`` and its own enums."""
        resolve = (
            source.field.subscribe if subscribe else source.field.resolve
        ) or default_field_resolver
        subgraph_schema = source.subgraph.schema
        converters = {
            name: converter
            for name, arg in (source.field.args or {}).items()
            if (converter := self._arg_converter(arg.type, merged_args[name].type)) is not None
        }
        attribute = None if subscribe or converters else _plain_attribute(source.field)
        if attribute is not None:
            # A Strawberry field without resolver, permissions or extensions reads an
            # attribute; reading it directly skips the per-field wrapper (a grid page has
            # thousands of these).
            def read(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
                return getattr(obj, attribute)

            setattr(read, PLAIN_ATTRIBUTE, attribute)
            return read
        if getattr(resolve, "_is_default", False) and not converters:
            return resolve
        direct = None if subscribe or converters else _direct_call(source)
        if direct is not None:
            setattr(direct, SYNC_RESOLVER, True)
            return direct

        def resolver(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
            for name, converter in converters.items():
                if name in kwargs:
                    kwargs[name] = converter(kwargs[name])
            return resolve(obj, with_schema(info, subgraph_schema), **kwargs)

        definition = _strawberry(source.field.extensions)
        if not subscribe and definition is not None and not getattr(definition, "is_async", True):
            setattr(resolver, SYNC_RESOLVER, True)  # the fast executor may call it inline
        return resolver

    def _arg_converter(self, own: GraphQLType, merged: GraphQLType) -> Callable[[Any], Any] | None:
        """Turn values coerced by the merged types into the subgraph's own (only enums differ)."""
        if isinstance(own, GraphQLNonNull):
            return self._arg_converter(own.of_type, merged.of_type)  # type: ignore[attr-defined]
        if isinstance(own, GraphQLList):
            inner = self._arg_converter(own.of_type, merged.of_type)  # type: ignore[attr-defined]
            if inner is None:
                return None
            return lambda value: None if value is None else [inner(item) for item in value]
        if isinstance(own, GraphQLEnumType):
            if get_named_type(merged) is own:
                return None
            return lambda value: _own_enum_value(own, value)
        if isinstance(own, GraphQLInputObjectType):
            merged_fields = _fields(self.merged[own.name])
            converters = {
                name: converter
                for name, own_field in own.fields.items()
                if (converter := self._arg_converter(own_field.type, merged_fields[name].type))
                is not None
            }
            if not converters:
                return None

            def convert_input(value: Any) -> Any:
                if not isinstance(value, dict):
                    return value
                return {
                    name: converters[name](item) if name in converters else item
                    for name, item in value.items()
                }

            return convert_input
        return None

    # --- entities ----------------------------------------------------------------------

    def _register_entity(self, name: str, subgraph: _Subgraph, type_: GraphQLObjectType) -> None:
        definition = _strawberry(type_.extensions)
        keys = [d for d in _directives(definition) if isinstance(d, Key)]
        if not keys or definition is None:
            return
        self.entities.register(
            name,
            subgraph,
            definition.origin,
            [_parse_field_set(str(key.fields)) for key in keys if key.resolvable is not False],
        )

    # --- abstract types ----------------------------------------------------------------

    def _type_resolver(self, sources: list[tuple[_Subgraph, Any]]) -> Callable[..., Any]:
        class_type_names = self.class_type_names

        def resolve_type(value: Any, info: GraphQLResolveInfo[Any], abstract_type: Any) -> Any:
            cast = get_strawberry_type_cast(value)
            names = class_type_names.get(cast if cast is not None else type(value))
            if names is not None and len(names) == 1:
                return next(iter(names))
            for subgraph, own_abstract in sources:
                own_resolve = own_abstract.resolve_type
                if own_resolve is None:
                    continue
                try:
                    result = own_resolve(value, with_schema(info, subgraph.schema), own_abstract)
                except Exception:  # another subgraph may know the value
                    continue
                if result is not None:
                    return result if isinstance(result, str) else result.name
            return None

        return resolve_type

    def _is_type_of(
        self, name: str, sources: list[tuple[_Subgraph, Any]]
    ) -> Callable[..., bool] | None:
        checks = [
            (subgraph, type_.is_type_of)
            for subgraph, type_ in sources
            if type_.is_type_of is not None
        ]
        if not checks:
            return None
        class_type_names = self.class_type_names

        def is_type_of(value: Any, info: GraphQLResolveInfo[Any]) -> bool:
            if name in class_type_names.get(type(value), ()):
                return True
            return any(
                check(value, with_schema(info, subgraph.schema)) for subgraph, check in checks
            )

        return is_type_of


class _SharedEnumType(GraphQLEnumType):
    """An enum several subgraphs define: serializes any of their members by value."""

    def __init__(self, first: GraphQLEnumType) -> None:
        super().__init__(
            first.name,
            values=first.values,
            description=first.description,
            extensions=first.extensions,
        )
        self._first = first

    def serialize(self, output_value: Any) -> Any:
        return self.coerce_output_value(output_value)

    def coerce_output_value(self, output_value: Any) -> Any:
        raw = output_value.value if isinstance(output_value, Enum) else output_value
        for name, value in self.values.items():
            if value.value == raw:
                return name
        return self._first.coerce_output_value(output_value)

    def parse_value(self, input_value: Any, hide_suggestions: bool = False) -> Any:
        return self._first.parse_value(input_value, hide_suggestions)

    def coerce_input_value(self, input_value: Any, hide_suggestions: bool = False) -> Any:
        return self._first.coerce_input_value(input_value, hide_suggestions)

    def parse_literal(
        self, value_node: Any, _variables: Any = None, hide_suggestions: bool = False
    ) -> Any:
        return self._first.parse_literal(value_node, _variables, hide_suggestions)

    def coerce_input_literal(self, value_node: Any, hide_suggestions: bool = False) -> Any:
        return self._first.coerce_input_literal(value_node, hide_suggestions)


def _sorted_sdl(schema: GraphQLSchema) -> str:
    """``print_schema`` with everything sorted by name.

    ``lexicographic_sort_schema`` would rebuild Strawberry's enum types as plain ones
    that cannot print Python enum defaults, so the printed document is sorted instead.
    """
    document = parse(print_schema(schema), no_location=True)

    def name(node: Any) -> str:
        return node.name.value if getattr(node, "name", None) is not None else ""

    def sort(node: Any) -> Any:
        changes = {
            attribute: tuple(sorted((sort(child) for child in children), key=name))
            for attribute in ("fields", "arguments", "interfaces", "types", "values")
            if (children := getattr(node, attribute, None))
        }
        return dataclasses.replace(node, **changes) if changes else node

    kinds = {"schema_definition": 0, "directive_definition": 1}
    definitions = sorted(
        (sort(d) for d in document.definitions), key=lambda d: (kinds.get(d.kind, 2), name(d))
    )
    return print_ast(dataclasses.replace(document, definitions=tuple(definitions))) + "\n"


def _direct_call(source: _FieldSource) -> Callable[..., Any] | None:
    """Call a simple synchronous Strawberry resolver (``self`` and ``info`` at most) without
    Strawberry's per-call wrapper; None when the field needs that wrapper (arguments,
    permissions, extensions, async, other reserved parameters, union results)."""
    definition = _strawberry(source.field.extensions)
    resolver = getattr(definition, "base_resolver", None)
    if (
        resolver is None
        or getattr(definition, "is_async", True)
        or getattr(definition, "arguments", True)
        or getattr(definition, "permission_classes", True)
        or getattr(definition, "extensions", True)
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or isinstance(get_named_type(source.field.type), GraphQLUnionType)
    ):
        return None
    func = resolver.wrapped_func
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    takes_self = resolver.self_parameter is not None
    info_class = source.subgraph.strawberry_schema.config.info_class
    subgraph_schema = source.subgraph.schema

    def call(obj: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        call_kwargs = {}
        if info_name is not None:
            call_kwargs[info_name] = info_class(
                _raw_info=with_schema(info, subgraph_schema), _field=definition
            )
        return func(obj, **call_kwargs) if takes_self else func(**call_kwargs)

    return call


def _plain_attribute(field: GraphQLField) -> str | None:
    """The Python attribute behind a Strawberry field that only reads one, else None."""
    definition = _strawberry(field.extensions)
    if definition is None or field.args:
        return None
    if (
        getattr(definition, "base_resolver", True) is not None
        or getattr(definition, "permission_classes", True)
        or getattr(definition, "extensions", True)
    ):
        return None
    name = getattr(definition, "python_name", None)
    return name if isinstance(name, str) else None


def _fields(type_: Any) -> dict[str, Any]:
    return dict(type_.fields)


def _own_enum_value(own: GraphQLEnumType, value: Any) -> Any:
    if value is None:
        return None
    raw = value.value if isinstance(value, Enum) else value
    wrapped = getattr(own, "wrapped_cls", None)
    return wrapped(raw) if wrapped is not None else raw
