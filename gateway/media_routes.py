"""REST routes that send bytes: catalog images (streams arrive with playback)."""

from __future__ import annotations

import asyncio
import os
import uuid

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from resolvers.catalog.image_files import image_file_path

__all__ = ["media_routes", "problem"]


def problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


async def image(request: Request) -> Response:
    try:
        image_id = uuid.UUID(request.path_params["image_id"])
    except ValueError:
        return problem(400, "BAD_USER_INPUT", "image id is not valid")
    path = await image_file_path(request.app.state.database.pool, image_id)
    if path is None:
        return problem(404, "NOT_FOUND", "image not found")
    if not await asyncio.to_thread(os.path.isfile, path):
        return problem(404, "NOT_FOUND", "image file is missing")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


def media_routes() -> list[Route]:
    return [Route("/images/{image_id}", image, methods=["GET", "HEAD"])]
