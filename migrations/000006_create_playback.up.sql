-- Playback: what each profile has watched (user_data) and the sessions that play files now.

CREATE TABLE user_data (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    -- The resume position; 0 means "start from the beginning" (not resumable).
    position_ms bigint NOT NULL DEFAULT 0 CHECK (position_ms >= 0),
    is_played boolean NOT NULL DEFAULT false,
    play_count int NOT NULL DEFAULT 0 CHECK (play_count >= 0),
    last_played_at timestamptz,
    is_favorite boolean NOT NULL DEFAULT false,
    rating double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (profile_id, item_id)
);
CREATE INDEX user_data_item ON user_data (item_id);
CREATE INDEX user_data_user ON user_data (user_id);
-- Continue watching: a profile's resumable items, most recent first.
CREATE INDEX user_data_resumable ON user_data (profile_id, last_played_at DESC)
    WHERE position_ms > 0 AND NOT is_played;

CREATE TABLE playback_sessions (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    file_id uuid NOT NULL REFERENCES media_files (id) ON DELETE CASCADE,
    method text NOT NULL CHECK (method IN ('DIRECT_PLAY', 'REMUX', 'TRANSCODE')),
    position_ms bigint NOT NULL DEFAULT 0 CHECK (position_ms >= 0),
    is_paused boolean NOT NULL DEFAULT false,
    -- Set once the session crossed the played threshold, so it counts one play only.
    is_scrobbled boolean NOT NULL DEFAULT false,
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX playback_sessions_user ON playback_sessions (user_id, created_at DESC);
CREATE INDEX playback_sessions_active ON playback_sessions (last_heartbeat_at)
    WHERE stopped_at IS NULL;
CREATE INDEX playback_sessions_item ON playback_sessions (item_id);
CREATE INDEX playback_sessions_file ON playback_sessions (file_id);
CREATE INDEX playback_sessions_profile ON playback_sessions (profile_id);

CREATE TRIGGER user_data_touch BEFORE UPDATE ON user_data
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER playback_sessions_touch BEFORE UPDATE ON playback_sessions
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
