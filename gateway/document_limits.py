"""How big a request really is: a document's depth and expanded field count, a JSON value's nesting.

A fragment spread twice in a fragment spread twice … costs 2ⁿ fields once expanded, though the
text is a few hundred bytes. ``measure`` works out each fragment's depth and field count once
(fragments in dependency order, each selection set walked once with an explicit stack), so the
check is linear in the document's size whatever the expansion, and no recursion can overflow the
stack. Cycles and unknown fragments count as empty here; validation reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

__all__ = ["MAX_JSON_DEPTH", "DocumentSize", "json_depth_exceeds", "measure"]

# Arrays and objects nested deeper than this in a body or in variables are refused (400 / 4400):
# no client sends them, and deeper values would reach recursive code (coercion, serialization).
MAX_JSON_DEPTH = 64


@dataclass(frozen=True, slots=True)
class DocumentSize:
    """The deepest field nesting and the field count once every fragment spread is expanded,
    the largest over the document's operations."""

    depth: int
    fields: int


_EMPTY = DocumentSize(0, 0)


def measure(document: DocumentNode) -> DocumentSize:
    """``DocumentSize`` of ``document``, in time linear in its size."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sizes: dict[str, DocumentSize] = {}
    for name in _dependency_order(fragments):
        sizes[name] = _measure_selections(fragments[name].selection_set, sizes)
    depth = fields = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            size = _measure_selections(definition.selection_set, sizes)
            depth, fields = max(depth, size.depth), max(fields, size.fields)
    return DocumentSize(depth, fields)


def _measure_selections(
    selection_set: SelectionSetNode, sizes: dict[str, DocumentSize]
) -> DocumentSize:
    """A selection set's size, spreads read from ``sizes`` (missing: a cycle, or unknown)."""
    depth = fields = 0
    stack: list[tuple[SelectionSetNode, int]] = [(selection_set, 0)]
    while stack:
        current, level = stack.pop()
        for selection in current.selections:
            if isinstance(selection, FieldNode):
                fields += 1
                depth = max(depth, level + 1)
                if selection.selection_set is not None:
                    stack.append((selection.selection_set, level + 1))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, level))
            elif isinstance(selection, FragmentSpreadNode):
                size = sizes.get(selection.name.value, _EMPTY)
                fields += size.fields
                if size.fields:
                    depth = max(depth, level + size.depth)
    return DocumentSize(depth, fields)


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    names: list[str] = []
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                names.append(selection.name.value)
            elif isinstance(selection, FieldNode | InlineFragmentNode):
                if selection.selection_set is not None:
                    stack.append(selection.selection_set)
    return names


def _dependency_order(fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after the fragments it spreads (a cycle is broken where found)."""
    order: list[str] = []
    state: dict[str, bool] = {}  # name -> finished (False while its dependencies are pending)
    for root in fragments:
        if root in state:
            continue
        state[root] = False
        stack: list[tuple[str, list[str]]] = [(root, _spread_names(fragments[root].selection_set))]
        while stack:
            name, pending = stack[-1]
            while pending and (pending[-1] in state or pending[-1] not in fragments):
                pending.pop()
            if pending:
                child = pending.pop()
                state[child] = False
                stack.append((child, _spread_names(fragments[child].selection_set)))
            else:
                stack.pop()
                state[name] = True
                order.append(name)
    return order


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether lists and dicts in ``value`` nest more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        if level >= limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
