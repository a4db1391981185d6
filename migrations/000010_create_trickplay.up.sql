-- Trickplay: which files have seek-thumbnail sheets on disk (<data dir>/trickplay/<file_id>/).
-- The sheets themselves are files; this row says what they were made from and how, so a
-- changed source (size/mtime) or changed options regenerate them.

CREATE TABLE trickplay (
    file_id uuid PRIMARY KEY REFERENCES media_files (id) ON DELETE CASCADE,
    interval_ms int NOT NULL CHECK (interval_ms > 0),
    -- One tile's size in pixels.
    width int NOT NULL CHECK (width > 0),
    height int NOT NULL CHECK (height > 0),
    columns int NOT NULL CHECK (columns > 0),
    rows int NOT NULL CHECK (rows > 0),
    sheet_count int NOT NULL CHECK (sheet_count >= 0),
    thumbnail_count int NOT NULL CHECK (thumbnail_count >= 0),
    -- The source file as it was when the sheets were made.
    source_size bigint NOT NULL,
    source_mtime_ns bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER trickplay_touch BEFORE UPDATE ON trickplay
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
