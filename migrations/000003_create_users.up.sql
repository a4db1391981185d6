-- Accounts: users, their profiles, sign-in sessions with rotating refresh tokens, API keys,
-- and the audit trail.

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    name text NOT NULL,
    password_hash text NOT NULL,
    -- Casbin holds role membership; this copy lets a list of users show roles in one query.
    roles text[] NOT NULL DEFAULT ARRAY['user'],
    totp_secret text,
    totp_last_step bigint,
    recovery_code_hashes text[] NOT NULL DEFAULT ARRAY[]::text[],
    is_disabled boolean NOT NULL DEFAULT false,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_name_key ON users (lower(name));

CREATE TABLE profiles (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    avatar_url text,
    is_kids boolean NOT NULL DEFAULT false,
    max_rating text,
    allow_unrated boolean NOT NULL DEFAULT true,
    blocked_tags text[] NOT NULL DEFAULT ARRAY[]::text[],
    allowed_tags text[] NOT NULL DEFAULT ARRAY[]::text[],
    -- NULL: every library the account may read; otherwise only these.
    library_ids uuid[],
    audio_language text,
    subtitle_language text,
    pin_hash text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX profiles_name_key ON profiles (user_id, lower(name));

CREATE TABLE auth_sessions (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    profile_id uuid REFERENCES profiles (id) ON DELETE SET NULL,
    device text,
    client text,
    client_address text,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id, created_at DESC);

-- One row per refresh token ever issued in a session (the token family): a token is used once;
-- presenting a used one revokes the session.
CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    session_id uuid NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    key_prefix text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    scopes text[] NOT NULL,
    last_used_at timestamptz,
    expires_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE audit_events (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_name text,
    action text NOT NULL,
    target text,
    result text NOT NULL,
    client_address text,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_created ON audit_events (created_at DESC);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, created_at DESC);

CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER profiles_touch BEFORE UPDATE ON profiles
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER auth_sessions_touch BEFORE UPDATE ON auth_sessions
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER refresh_tokens_touch BEFORE UPDATE ON refresh_tokens
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER api_keys_touch BEFORE UPDATE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
