-- An image subtitle (PGS, VobSub) the client asked for is burnt into a transcode's video.
ALTER TABLE transcode_sessions ADD COLUMN burn_subtitle_stream int;
