ALTER TABLE transcode_sessions DROP COLUMN burn_subtitle_stream;
