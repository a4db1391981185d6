-- Transcoding: what a TRANSCODE session offers (its ladder and segment plan), and one encoder
-- run per variant that a worker makes segments with.

CREATE TABLE transcode_sessions (
    session_id uuid PRIMARY KEY REFERENCES playback_sessions (id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES media_files (id) ON DELETE CASCADE,
    -- The ladder (media.hls.variants.Variant as objects), best first.
    variants jsonb NOT NULL,
    segment_starts double precision[] NOT NULL,
    segment_durations double precision[] NOT NULL,
    audio_stream int,
    encoder text NOT NULL,
    encoder_kind text NOT NULL,
    encoder_options jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transcode_sessions_file ON transcode_sessions (file_id);

CREATE TABLE transcode_encoders (
    session_id uuid NOT NULL REFERENCES transcode_sessions (session_id) ON DELETE CASCADE,
    variant text NOT NULL,
    -- Each (re)start by a gateway is a new run; a job whose run is no longer current leaves.
    run_id uuid NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'stopped')),
    requested_segment int NOT NULL CHECK (requested_segment >= 0),
    start_segment int,
    segment int,
    segments_ready int NOT NULL DEFAULT 0,
    frames bigint NOT NULL DEFAULT 0,
    speed double precision,
    worker_id text,
    -- Where the worker serves its segments (a gateway replica proxies to it).
    worker_address text,
    heartbeat_at timestamptz,
    failure_code text,
    failure_message text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, variant)
);
CREATE INDEX transcode_encoders_worker ON transcode_encoders (worker_id)
    WHERE status IN ('queued', 'running', 'done');

CREATE TRIGGER transcode_sessions_touch BEFORE UPDATE ON transcode_sessions
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER transcode_encoders_touch BEFORE UPDATE ON transcode_encoders
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
