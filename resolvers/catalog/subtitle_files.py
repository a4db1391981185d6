"""Which subtitle track a subtitle route serves, and the signed URL that opens it.

The route first proves the caller may see the media file (``stream_files.stream_file``); this
module then names the track by (file id, stream index). An embedded track is read from the media
file itself; a sidecar the scanner found (``is_external``, indexes from 1000 up) is read from
``external_path``, a path chosen by the scanner, never by a client.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from infra.signing import StreamSigner

__all__ = ["SubtitleTrack", "subtitle_path", "subtitle_track"]


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    file_id: uuid.UUID
    stream_index: int
    codec: str | None
    language: str | None
    title: str | None
    is_default: bool
    is_forced: bool
    is_external: bool
    external_path: str | None


async def subtitle_track(
    pool: asyncpg.Pool, file_id: uuid.UUID, stream_index: int
) -> SubtitleTrack | None:
    """The subtitle stream ``stream_index`` of the file, or None when there is no such subtitle
    (visibility is the caller's check, made on the file before this)."""
    row = await pool.fetchrow(
        "SELECT codec, language, title, is_default, is_forced, is_external, external_path "
        "FROM media_streams WHERE file_id = $1 AND stream_index = $2 AND type = 'subtitle' "
        "ORDER BY is_external LIMIT 1",
        file_id,
        stream_index,
    )
    if row is None:
        return None
    return SubtitleTrack(
        file_id=file_id,
        stream_index=stream_index,
        codec=row["codec"],
        language=row["language"],
        title=row["title"],
        is_default=row["is_default"],
        is_forced=row["is_forced"],
        is_external=row["is_external"],
        external_path=row["external_path"],
    )


def subtitle_path(
    signer: StreamSigner,
    file_id: uuid.UUID,
    stream_index: int,
    user_id: str,
    expires_at: int,
    *,
    webvtt: bool,
) -> str:
    """``/subtitles/{file_id}/{stream_index}[.vtt]?exp=…&uid=…&sig=…``.

    The signature is the file's stream signature: a player holding a signed stream URL for a file
    may read that file's subtitles, and no other file's."""
    suffix = ".vtt" if webvtt else ""
    query = signer.sign_stream(file_id, user_id, expires_at)
    return f"/subtitles/{file_id}/{stream_index}{suffix}?{query}"
