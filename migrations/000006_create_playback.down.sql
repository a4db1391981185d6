DROP TABLE IF EXISTS playback_sessions;
DROP TABLE IF EXISTS user_data;
