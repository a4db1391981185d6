-- State that every gateway process must see when `revenge serve` runs several processes without
-- Redis. Lockouts and connection places are soft state: UNLOGGED (no WAL; a crash empties them,
-- which forgets some lockouts and frees some places, never more).

-- Failures and lockouts per key (infra/ratelimit.py PostgresLimiter), times in epoch seconds
-- from the caller's clock, as the Redis limiter stores them.
CREATE UNLOGGED TABLE failure_limits (
    key text PRIMARY KEY,
    failures int NOT NULL DEFAULT 0,
    window_start double precision NOT NULL DEFAULT 0,
    locked_until double precision NOT NULL DEFAULT 0,
    level int NOT NULL DEFAULT 0,
    last_failure double precision NOT NULL DEFAULT 0,
    expires_at double precision NOT NULL DEFAULT 0
);
CREATE INDEX failure_limits_expires_at ON failure_limits (expires_at);

-- Counted places for long-lived connections (infra/connection_slots.py PostgresConnectionSlots):
-- a holder renews its place; a process that dies leaves it until expires_at.
CREATE UNLOGGED TABLE connection_slots (
    key text NOT NULL,
    token uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (key, token)
);
CREATE INDEX connection_slots_expires_at ON connection_slots (expires_at);

-- The client's time of the newest heartbeat applied to a session: reports of one session may
-- reach different processes, and the newest by this time wins, whichever process flushes last.
ALTER TABLE playback_sessions ADD COLUMN reported_at timestamptz;
