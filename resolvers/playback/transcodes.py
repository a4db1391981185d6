"""Transcode sessions in the database: the ladder a session offers, and who encodes what.

A TRANSCODE playback session gets a ``transcode_sessions`` row (its variants, segment plan, audio
stream, encoder). Each variant a player asks for gets a ``transcode_encoders`` row naming the
current *run*: the worker making its segments (``worker_id``, ``worker_address``), where it
stands, and a heartbeat. A gateway that needs a segment and finds no live run starts a new one
(a new ``run_id``, status ``queued``) and defers a job; the worker that takes the job claims the
run, and a job whose run was replaced leaves at once. The gateway finds a live run's worker
in the session → worker map first (``infra.keyvalue``: Redis when configured, else this process's
memory), refreshed by every supervisor heartbeat, and asks PostgreSQL only on a miss. The
encoder's lease is the playback session's own: a run goes on while its session has heartbeats
(``last_heartbeat_at`` within the lease) and has not stopped.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
import orjson

from infra.keyvalue import KeyValue
from media.hls.variants import SegmentPlan, Variant

__all__ = [
    "RUN_STALE_SECONDS",
    "EncoderRun",
    "RunAddress",
    "TranscodeSession",
    "cached_address",
    "claim_run",
    "create_transcode",
    "encoder_run",
    "finish_run",
    "forget_address",
    "heartbeat_run",
    "publish_address",
    "request_run",
    "subtitle_streams",
    "transcode_session",
]

# A running encoder's supervisor beats every half second; silence this long means it died.
RUN_STALE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class TranscodeSession:
    session_id: uuid.UUID
    user_id: uuid.UUID
    file_id: uuid.UUID
    source_path: str
    variants: tuple[Variant, ...]
    plan: SegmentPlan
    audio_stream: int | None
    encoder: str
    encoder_kind: str
    encoder_options: dict[str, str]
    is_stopped: bool
    burn_subtitle_stream: int | None = None
    profile_id: uuid.UUID | None = None  # the profile that started the playback session

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


@dataclass(frozen=True, slots=True)
class EncoderRun:
    session_id: uuid.UUID
    variant: str
    run_id: uuid.UUID
    status: str
    requested_segment: int
    start_segment: int | None
    segment: int | None
    segments_ready: int
    frames: int
    speed: float | None
    worker_id: str | None
    worker_address: str | None
    is_alive: bool  # queued recently, or running with a fresh heartbeat
    failure_code: str | None
    failure_message: str | None


async def create_transcode(
    conn: asyncpg.Connection,
    session_id: uuid.UUID,
    file_id: uuid.UUID,
    variants: list[Variant],
    plan: SegmentPlan,
    audio_stream: int | None,
    encoder: tuple[str, str, dict[str, str]],
    burn_subtitle_stream: int | None = None,
) -> None:
    name, kind, options = encoder
    await conn.execute(
        "INSERT INTO transcode_sessions (session_id, file_id, variants, segment_starts, "
        "segment_durations, audio_stream, encoder, encoder_kind, encoder_options, "
        "burn_subtitle_stream) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        session_id,
        file_id,
        [asdict(variant) for variant in variants],
        list(plan.starts),
        list(plan.durations),
        audio_stream,
        name,
        kind,
        options,
        burn_subtitle_stream,
    )


async def transcode_session(pool: asyncpg.Pool, session_id: uuid.UUID) -> TranscodeSession | None:
    row = await pool.fetchrow(
        "SELECT t.*, s.user_id, s.profile_id, s.stopped_at, f.raw_path "
        "FROM transcode_sessions AS t "
        "JOIN playback_sessions AS s ON s.id = t.session_id "
        "JOIN media_files AS f ON f.id = t.file_id WHERE t.session_id = $1",
        session_id,
    )
    if row is None:
        return None
    return TranscodeSession(
        session_id=session_id,
        user_id=row["user_id"],
        file_id=row["file_id"],
        source_path=os.fsdecode(bytes(row["raw_path"])),
        variants=tuple(Variant(**variant) for variant in row["variants"]),
        plan=SegmentPlan(
            starts=tuple(row["segment_starts"]), durations=tuple(row["segment_durations"])
        ),
        audio_stream=row["audio_stream"],
        encoder=row["encoder"],
        encoder_kind=row["encoder_kind"],
        encoder_options=dict(row["encoder_options"]),
        is_stopped=row["stopped_at"] is not None,
        burn_subtitle_stream=row["burn_subtitle_stream"],
        profile_id=row["profile_id"],
    )


_RUN_COLUMNS = (
    "session_id, variant, run_id, status, requested_segment, start_segment, segment, "
    "segments_ready, frames, speed, worker_id, worker_address, failure_code, failure_message, "
    "(status = 'queued' AND updated_at > now() - make_interval(secs => 30)) "
    "OR (status IN ('running', 'done') "
    "AND heartbeat_at > now() - make_interval(secs => $3)) AS is_alive"
)


def _run(row: Any) -> EncoderRun:
    return EncoderRun(**{key: row[key] for key in EncoderRun.__dataclass_fields__})


async def encoder_run(
    pool: asyncpg.Pool | asyncpg.Connection, session_id: uuid.UUID, variant: str
) -> EncoderRun | None:
    row = await pool.fetchrow(
        f"SELECT {_RUN_COLUMNS} FROM transcode_encoders WHERE session_id = $1 AND variant = $2",
        session_id,
        variant,
        RUN_STALE_SECONDS,
    )
    return _run(row) if row is not None else None


async def request_run(
    pool: asyncpg.Pool, session_id: uuid.UUID, variant: str, segment: int, lease_seconds: float
) -> tuple[EncoderRun | None, bool]:
    """The variant's live run, or a new queued one starting at ``segment``; the flag says the
    run is new (the caller defers its job). None: the playback session has ended (stopped, or
    no heartbeat for a lease), so no encoder starts for it."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || $2, 0))",
            session_id,
            variant,
        )
        current = await encoder_run(conn, session_id, variant)
        if current is not None and (current.is_alive or current.status == "failed"):
            return current, False  # a failed run stays failed: the source will not change
        live = await conn.fetchval(
            "SELECT stopped_at IS NULL AND last_heartbeat_at > now() - make_interval(secs => $2) "
            "FROM playback_sessions WHERE id = $1",
            session_id,
            lease_seconds,
        )
        if not live:
            return None, False
        row = await conn.fetchrow(
            "INSERT INTO transcode_encoders (session_id, variant, run_id, status, "
            "requested_segment) VALUES ($1, $2, $4, 'queued', $5) "
            "ON CONFLICT (session_id, variant) DO UPDATE SET run_id = EXCLUDED.run_id, "
            "status = 'queued', requested_segment = EXCLUDED.requested_segment, "
            "start_segment = NULL, segment = NULL, segments_ready = 0, frames = 0, speed = NULL, "
            "worker_id = NULL, worker_address = NULL, heartbeat_at = NULL, failure_code = NULL, "
            f"failure_message = NULL RETURNING {_RUN_COLUMNS}",
            session_id,
            variant,
            RUN_STALE_SECONDS,
            uuid.uuid4(),
            segment,
        )
        return _run(row), True


async def claim_run(
    pool: asyncpg.Pool,
    session_id: uuid.UUID,
    variant: str,
    run_id: uuid.UUID,
    worker_id: str,
    worker_address: str,
) -> int | None:
    """Take a queued run for this worker; its requested segment, or None when the run was
    replaced or already taken (the job then has nothing to do)."""
    segment: int | None = await pool.fetchval(
        "UPDATE transcode_encoders SET status = 'running', worker_id = $4, worker_address = $5, "
        "heartbeat_at = now() WHERE session_id = $1 AND variant = $2 AND run_id = $3 "
        "AND status = 'queued' RETURNING requested_segment",
        session_id,
        variant,
        run_id,
        worker_id,
        worker_address,
    )
    return segment


async def heartbeat_run(
    pool: asyncpg.Pool,
    run_id: uuid.UUID,
    *,
    status: str,
    start_segment: int | None,
    segment: int | None,
    segments_ready: int,
    frames: int,
    speed: float | None,
    lease_seconds: float,
) -> bool:
    """Record where the run stands; False when it should stop: replaced by another run, or its
    playback session stopped or went quiet for a whole lease."""
    alive: bool | None = await pool.fetchval(
        "UPDATE transcode_encoders AS e SET status = $2, start_segment = $3, segment = $4, "
        "segments_ready = $5, frames = $6, speed = $7, heartbeat_at = now() "
        "FROM playback_sessions AS s WHERE e.run_id = $1 AND s.id = e.session_id "
        "RETURNING s.stopped_at IS NULL "
        "AND s.last_heartbeat_at > now() - make_interval(secs => $8)",
        run_id,
        status,
        start_segment,
        segment,
        segments_ready,
        frames,
        speed,
        lease_seconds,
    )
    return bool(alive)


async def finish_run(
    pool: asyncpg.Pool,
    run_id: uuid.UUID,
    status: str,
    failure_code: str | None = None,
    failure_message: str | None = None,
) -> None:
    await pool.execute(
        "UPDATE transcode_encoders SET status = $2, failure_code = $3, failure_message = $4, "
        "heartbeat_at = now() WHERE run_id = $1",
        run_id,
        status,
        failure_code,
        failure_message,
    )


async def subtitle_streams(pool: asyncpg.Pool, file_id: uuid.UUID) -> list[asyncpg.Record]:
    """The file's subtitle streams, for the master playlist's renditions."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT stream_index, codec, language, title, is_default, is_forced FROM media_streams "
        "WHERE file_id = $1 AND type = 'subtitle' ORDER BY stream_index",
        file_id,
    )
    return rows


@dataclass(frozen=True, slots=True)
class RunAddress:
    """Where a live run's segments come from: the session → worker map's value."""

    run_id: uuid.UUID
    worker_id: str
    worker_address: str


def _address_key(session_id: uuid.UUID, variant: str) -> str:
    return f"transcode:{session_id}:{variant}"


async def publish_address(
    store: KeyValue, session_id: uuid.UUID, variant: str, address: RunAddress
) -> None:
    """Called with every supervisor heartbeat: the entry lives as long as a heartbeat counts,
    so a dead worker's entry is gone when its row goes stale."""
    value = orjson.dumps(
        {"run": str(address.run_id), "worker": address.worker_id, "at": address.worker_address}
    )
    await store.set(_address_key(session_id, variant), value, RUN_STALE_SECONDS)


async def forget_address(store: KeyValue, session_id: uuid.UUID, variant: str) -> None:
    await store.delete(_address_key(session_id, variant))


async def cached_address(store: KeyValue, session_id: uuid.UUID, variant: str) -> RunAddress | None:
    """The live run's worker without a database round trip; None: ask the database."""
    value = await store.get(_address_key(session_id, variant))
    if value is None:
        return None
    found = orjson.loads(value)
    return RunAddress(uuid.UUID(found["run"]), found["worker"], found["at"])
