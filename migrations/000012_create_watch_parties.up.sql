-- Watch parties: people who watch the same item together. The party row holds the shared
-- playback state (what plays, where, since when); members report where their players are and
-- whether they are ready; chat messages stay with the party.

CREATE TABLE watch_parties (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    host_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    host_profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    -- The item playing now; the queue holds the items that come after it, in order.
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    queue uuid[] NOT NULL DEFAULT ARRAY[]::uuid[],
    -- Short and unguessable (10 characters of a 32-character alphabet); joining needs it.
    invite_code text NOT NULL UNIQUE CHECK (length(invite_code) BETWEEN 6 AND 32),
    code_expires_at timestamptz NOT NULL,
    -- Who may play, pause, seek and skip: the host only, the host and co-hosts, or everyone.
    control text NOT NULL DEFAULT 'host' CHECK (control IN ('host', 'hosts', 'everyone')),
    state text NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'playing', 'paused', 'ended')),
    -- The position at state_changed_at (server time); while playing, clients add the time since.
    position_ms bigint NOT NULL DEFAULT 0 CHECK (position_ms >= 0),
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX watch_parties_host ON watch_parties (host_user_id, host_profile_id);
CREATE INDEX watch_parties_item ON watch_parties (item_id);

CREATE TABLE watch_party_members (
    party_id uuid NOT NULL REFERENCES watch_parties (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('host', 'cohost', 'member')),
    is_ready boolean NOT NULL DEFAULT false,
    position_ms bigint NOT NULL DEFAULT 0 CHECK (position_ms >= 0),
    -- The member's round trip to the server as its client last measured it: a scheduled start
    -- leaves room for the slowest member.
    latency_ms int CHECK (latency_ms BETWEEN 0 AND 60000),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    joined_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the member left; a member who joins again clears it.
    left_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (party_id, user_id, profile_id)
);
-- One present host per party.
CREATE UNIQUE INDEX watch_party_members_one_host ON watch_party_members (party_id)
    WHERE role = 'host' AND left_at IS NULL;
CREATE INDEX watch_party_members_viewer ON watch_party_members (user_id, profile_id);
CREATE INDEX watch_party_members_profile ON watch_party_members (profile_id);

CREATE TABLE watch_party_messages (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    party_id uuid NOT NULL REFERENCES watch_parties (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    profile_id uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- History pages and the per-member rate limit both read a party's newest messages.
CREATE INDEX watch_party_messages_recent ON watch_party_messages (party_id, created_at DESC);
CREATE INDEX watch_party_messages_user ON watch_party_messages (user_id);
CREATE INDEX watch_party_messages_profile ON watch_party_messages (profile_id);

CREATE TRIGGER watch_parties_touch BEFORE UPDATE ON watch_parties
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER watch_party_members_touch BEFORE UPDATE ON watch_party_members
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER watch_party_messages_touch BEFORE UPDATE ON watch_party_messages
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
