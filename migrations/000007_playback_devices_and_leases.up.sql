-- Playback, second step: the device a session plays on (one live session per device), how much
-- the player has buffered, and the device profiles clients store for their devices.

ALTER TABLE playback_sessions
    ADD COLUMN device_id text CHECK (length(device_id) BETWEEN 1 AND 200),
    ADD COLUMN device_profile_name text,
    ADD COLUMN audio_stream int,
    ADD COLUMN subtitle_stream int,
    ADD COLUMN buffered_ms bigint CHECK (buffered_ms >= 0),
    -- Why a session ended: 'stopped' by its client, 'replaced' by a newer session on the same
    -- device, 'expired' when its lease lapsed without heartbeats.
    ADD COLUMN stop_reason text CHECK (stop_reason IN ('stopped', 'replaced', 'expired'));

-- Stream limits count a user's (and a profile's) live sessions.
CREATE INDEX playback_sessions_live_user ON playback_sessions (user_id, profile_id)
    WHERE stopped_at IS NULL;

CREATE TABLE device_profiles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id text NOT NULL CHECK (length(device_id) BETWEEN 1 AND 200),
    -- The validated DeviceProfileInput, snake_case keys, as profile_from_dict reads it.
    profile jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device_id)
);

CREATE TRIGGER device_profiles_touch BEFORE UPDATE ON device_profiles
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
