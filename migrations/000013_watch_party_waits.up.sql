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
