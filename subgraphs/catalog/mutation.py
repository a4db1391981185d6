"""Catalog mutations: each returns its payload or a ``LibraryError``."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from infra.errors import NotFound
from loaders.context import Context
from resolvers.catalog.ids import parse_id
from resolvers.catalog.libraries import (
    LibraryProblem,
    create_library,
    delete_library,
    update_library,
)
from resolvers.catalog.scans import fetch_scan
from resolvers.user.audit import record_event
from subgraphs.catalog.errors import LibraryError, LibraryErrorCode
from subgraphs.catalog.inputs import CreateLibraryInput, UpdateLibraryInput
from subgraphs.catalog.permissions import require_admin
from subgraphs.catalog.types import Library, LibraryScan

__all__ = [
    "CreateLibraryPayload",
    "DeleteLibraryPayload",
    "Mutation",
    "ScanLibraryPayload",
    "UpdateLibraryPayload",
]

Info = strawberry.Info[Context, None]


@strawberry.type
class CreateLibraryPayload:
    library: Library


@strawberry.type
class UpdateLibraryPayload:
    library: Library


@strawberry.type
class DeleteLibraryPayload:
    deleted_id: strawberry.ID


@strawberry.type
class ScanLibraryPayload:
    scan: LibraryScan


CreateLibraryResult = Annotated[
    CreateLibraryPayload | LibraryError, strawberry.union("CreateLibraryResult")
]
UpdateLibraryResult = Annotated[
    UpdateLibraryPayload | LibraryError, strawberry.union("UpdateLibraryResult")
]
DeleteLibraryResult = Annotated[
    DeleteLibraryPayload | LibraryError, strawberry.union("DeleteLibraryResult")
]
ScanLibraryResult = Annotated[
    ScanLibraryPayload | LibraryError, strawberry.union("ScanLibraryResult")
]


async def _audit(info: Info, action: str, target: str) -> None:
    """Administrators' changes to libraries go on the audit trail."""
    principal = info.context.principal
    await record_event(
        info.context.pool,
        action=action,
        result="ok",
        actor_user_id=uuid.UUID(principal.user_id) if principal.user_id else None,
        target=target,
        client_address=info.context.client_address,
    )


def _server_folders(info: Info) -> list[str]:
    """The server's own data (database, transcodes, images): never a library's folder."""
    settings = info.context.settings
    return [settings.data_dir, str(settings.effective_scratch_dir)]


def _error(problem: LibraryProblem) -> LibraryError:
    return LibraryError(
        code=LibraryErrorCode(problem.code), message=problem.message, field=problem.field
    )


def _not_found() -> LibraryError:
    return LibraryError(
        code=LibraryErrorCode.NOT_FOUND, message="no library has this id", field="id"
    )


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_library(self, info: Info, input: CreateLibraryInput) -> CreateLibraryResult:
        await require_admin(info)
        try:
            row = await create_library(
                info.context.pool,
                input.name,
                input.kind.value,
                input.root_paths,
                reserved=_server_folders(info),
            )
        except LibraryProblem as problem:
            return _error(problem)
        await _audit(info, "library.create", f"library:{row['id']}")
        return CreateLibraryPayload(library=Library.from_row(row))

    @strawberry.mutation
    async def update_library(
        self, info: Info, id: strawberry.ID, input: UpdateLibraryInput
    ) -> UpdateLibraryResult:
        await require_admin(info)
        library_id = parse_id(id)
        try:
            row = await update_library(
                info.context.pool,
                library_id,
                name=input.name,
                root_paths=input.root_paths,
                reserved=_server_folders(info),
            )
        except LibraryProblem as problem:
            return _error(problem)
        await _audit(info, "library.update", f"library:{library_id}")
        return UpdateLibraryPayload(library=Library.from_row(row))

    @strawberry.mutation
    async def delete_library(self, info: Info, id: strawberry.ID) -> DeleteLibraryResult:
        await require_admin(info)
        library_id = parse_id(id)
        try:
            await delete_library(info.context.pool, info.context.services["scans"], library_id)
        except LibraryProblem as problem:
            return _error(problem)
        await _audit(info, "library.delete", f"library:{library_id}")
        return DeleteLibraryPayload(deleted_id=strawberry.ID(str(library_id)))

    @strawberry.mutation
    async def scan_library(
        self, info: Info, id: strawberry.ID, full: bool = False
    ) -> ScanLibraryResult:
        """Queue a scan of the library (full: re-probe every file)."""

        await require_admin(info)
        library_id = parse_id(id)
        try:
            scan_id = await info.context.services["scans"].start(library_id, full=full)
        except NotFound:
            return _not_found()
        row = await fetch_scan(info.context.pool, scan_id)
        if row is None:  # the scan finished and was pruned in between: unlikely, but honest
            return _not_found()
        await _audit(info, "library.scan", f"library:{library_id}")
        return ScanLibraryPayload(scan=LibraryScan.from_row(row))
