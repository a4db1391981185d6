DROP TABLE IF EXISTS transcode_encoders;
DROP TABLE IF EXISTS transcode_sessions;
