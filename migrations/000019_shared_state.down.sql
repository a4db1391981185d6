ALTER TABLE playback_sessions DROP COLUMN reported_at;
DROP TABLE connection_slots;
DROP TABLE failure_limits;
