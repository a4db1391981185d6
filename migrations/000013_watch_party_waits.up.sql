-- A party can wait for its members' players: after a play, a next, or when a member's stream is
-- buffering, it stays in 'waiting' and starts by itself once every present member is ready, or at
-- wait_deadline at the latest, so one stalled player never holds the others for ever.
ALTER TABLE watch_parties
    ADD COLUMN play_when_ready boolean NOT NULL DEFAULT false,
    ADD COLUMN wait_deadline timestamptz,
    ADD CONSTRAINT watch_parties_wait_has_deadline
        CHECK (NOT play_when_ready OR (state = 'waiting' AND wait_deadline IS NOT NULL));
-- Every replica looks for lapsed waits twice a second; only waiting parties are in this index.
CREATE INDEX watch_parties_wait_deadline ON watch_parties (wait_deadline) WHERE play_when_ready;

-- Commands (play, pause, seek, next) are counted per member in a fixed window, so one member
-- cannot flood everyone's players; the count lives here so every replica applies the same limit.
ALTER TABLE watch_party_members
    ADD COLUMN command_window_start timestamptz,
    ADD COLUMN commands_in_window int NOT NULL DEFAULT 0 CHECK (commands_in_window >= 0);

-- Every change to a party bumps its version, under the row lock that orders changes: events
-- published by different replicas may arrive out of order, and subscribers keep only the newest
-- state by comparing versions.
ALTER TABLE watch_parties ADD COLUMN version bigint NOT NULL DEFAULT 0;
CREATE FUNCTION revenge_bump_party_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END;
$$;
CREATE TRIGGER watch_parties_version BEFORE UPDATE ON watch_parties
    FOR EACH ROW EXECUTE FUNCTION revenge_bump_party_version();
