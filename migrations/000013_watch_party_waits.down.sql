DROP TRIGGER watch_parties_version ON watch_parties;
DROP FUNCTION revenge_bump_party_version();
ALTER TABLE watch_parties DROP COLUMN version;
ALTER TABLE watch_party_members
    DROP COLUMN commands_in_window,
    DROP COLUMN command_window_start;
DROP INDEX watch_parties_wait_deadline;
ALTER TABLE watch_parties
    DROP CONSTRAINT watch_parties_wait_has_deadline,
    DROP COLUMN wait_deadline,
    DROP COLUMN play_when_ready;
