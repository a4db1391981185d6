-- Catalog: libraries, items, files, streams, images, genres, people, scans.

CREATE FUNCTION revenge_uuid_v7() RETURNS uuid
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    millis bigint := floor(extract(epoch FROM clock_timestamp()) * 1000);
    bytes bytea := uuid_send(gen_random_uuid());
BEGIN
    -- 48-bit big-endian Unix time in milliseconds, then version 7 and the RFC 4122 variant.
    FOR i IN 0..5 LOOP
        bytes := set_byte(bytes, i, ((millis >> ((5 - i) * 8)) & 255)::int);
    END LOOP;
    bytes := set_byte(bytes, 6, (get_byte(bytes, 6) & 15) | 112);
    RETURN encode(bytes, 'hex')::uuid;
END
$$;

CREATE FUNCTION revenge_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE libraries (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('movies', 'tv', 'music')),
    root_paths text[] NOT NULL,
    last_scan_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX libraries_name_key ON libraries (lower(name));

CREATE TABLE media_items (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    library_id uuid NOT NULL REFERENCES libraries (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN (
        'movie', 'series', 'season', 'episode', 'artist', 'album', 'track',
        'audiobook', 'book', 'podcast', 'podcast_episode', 'photo', 'comic', 'video'
    )),
    -- What the scanner matches on for items that group others (series folder, season number,
    -- artist name, album); NULL for items whose identity is their files.
    identity_key text,
    parent_id uuid REFERENCES media_items (id) ON DELETE CASCADE,
    series_id uuid REFERENCES media_items (id) ON DELETE CASCADE,
    extra_type text,
    title text NOT NULL,
    sort_title text NOT NULL,
    original_title text,
    year int,
    premiere_date date,
    overview text,
    runtime_ms bigint,
    official_rating text,
    season_number int,
    episode_number int,
    episode_number_end int,
    track_number int,
    disc_number int,
    album_artist text,
    provider_ids jsonb NOT NULL DEFAULT '{}'::jsonb,
    search_vector tsvector NOT NULL DEFAULT ''::tsvector,
    is_missing boolean NOT NULL DEFAULT false,
    error text,
    date_added timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX media_items_identity_key ON media_items (library_id, kind, identity_key)
    WHERE identity_key IS NOT NULL;
CREATE INDEX media_items_library_kind ON media_items (library_id, kind, sort_title, id);
CREATE INDEX media_items_parent ON media_items (parent_id, sort_title, id);
CREATE INDEX media_items_series ON media_items (series_id);
CREATE INDEX media_items_date_added ON media_items (library_id, date_added DESC, id);
CREATE INDEX media_items_search ON media_items USING gin (search_vector);

CREATE TABLE media_files (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    library_id uuid NOT NULL REFERENCES libraries (id) ON DELETE CASCADE,
    -- Display path (undecodable bytes shown as U+FFFD); raw_path is the exact name on disk.
    path text NOT NULL,
    raw_path bytea NOT NULL,
    size bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    oshash text,
    container text,
    duration_ms bigint,
    bitrate bigint,
    part_number int,
    version_name text,
    probe_error text,
    is_missing boolean NOT NULL DEFAULT false,
    missing_since timestamptz,
    probed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX media_files_raw_path ON media_files (library_id, raw_path);
CREATE INDEX media_files_item ON media_files (item_id);
CREATE INDEX media_files_oshash ON media_files (library_id, oshash) WHERE oshash IS NOT NULL;

CREATE TABLE media_streams (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    file_id uuid NOT NULL REFERENCES media_files (id) ON DELETE CASCADE,
    stream_index int NOT NULL,
    type text NOT NULL,
    codec text,
    profile text,
    level int,
    bit_depth int,
    width int,
    height int,
    frame_rate double precision,
    hdr_type text,
    channels int,
    channel_layout text,
    language text,
    title text,
    bitrate bigint,
    is_default boolean NOT NULL DEFAULT false,
    is_forced boolean NOT NULL DEFAULT false,
    is_hearing_impaired boolean NOT NULL DEFAULT false,
    -- Subtitles found beside the media file are streams of that file too.
    is_external boolean NOT NULL DEFAULT false,
    external_path text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (file_id, stream_index)
);

CREATE TABLE media_images (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    type text NOT NULL,
    path text NOT NULL,
    raw_path bytea NOT NULL,
    width int,
    height int,
    blurhash text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (item_id, raw_path)
);

CREATE TABLE genres (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX genres_name_key ON genres (lower(name));

CREATE TABLE media_item_genres (
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    genre_id uuid NOT NULL REFERENCES genres (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, genre_id)
);
CREATE INDEX media_item_genres_genre ON media_item_genres (genre_id);

CREATE TABLE people (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX people_name_key ON people (lower(name));

CREATE TABLE media_item_people (
    item_id uuid NOT NULL REFERENCES media_items (id) ON DELETE CASCADE,
    person_id uuid NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    role text NOT NULL,
    character text,
    sort_order int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, person_id, role)
);
CREATE INDEX media_item_people_person ON media_item_people (person_id);

CREATE TABLE library_scans (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    library_id uuid NOT NULL REFERENCES libraries (id) ON DELETE CASCADE,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'interrupted')),
    files_seen int NOT NULL DEFAULT 0,
    files_new int NOT NULL DEFAULT 0,
    files_changed int NOT NULL DEFAULT 0,
    files_moved int NOT NULL DEFAULT 0,
    files_removed int NOT NULL DEFAULT 0,
    files_failed int NOT NULL DEFAULT 0,
    current_path text,
    error text,
    -- The scan queue: a process claims a queued scan, or a running one whose owner stopped
    -- sending heartbeats, and renews heartbeat_at while it works.
    full_rescan boolean NOT NULL DEFAULT false,
    worker_id text,
    heartbeat_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX library_scans_library ON library_scans (library_id, created_at DESC);
-- At most one active scan per library, whichever process started it.
CREATE UNIQUE INDEX library_scans_one_active ON library_scans (library_id)
    WHERE status IN ('queued', 'running');

CREATE TRIGGER libraries_touch BEFORE UPDATE ON libraries
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER media_items_touch BEFORE UPDATE ON media_items
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER media_files_touch BEFORE UPDATE ON media_files
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER media_streams_touch BEFORE UPDATE ON media_streams
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER media_images_touch BEFORE UPDATE ON media_images
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();
CREATE TRIGGER library_scans_touch BEFORE UPDATE ON library_scans
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();

-- Recomputes the full-text document of items: titles weigh most, then series/album and
-- people, then genres. 'simple' keeps names unstemmed; prefix matching happens at query time.
CREATE FUNCTION revenge_refresh_search(item_ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    UPDATE media_items AS i
    SET search_vector =
        setweight(to_tsvector('simple', coalesce(i.title, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(i.original_title, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(p.title, '') || ' '
            || coalesce(i.album_artist, '')), 'B')
        || setweight(to_tsvector('simple', coalesce((
            SELECT string_agg(pe.name, ' ')
            FROM media_item_people ip JOIN people pe ON pe.id = ip.person_id
            WHERE ip.item_id = i.id), '')), 'B')
        || setweight(to_tsvector('simple', coalesce((
            SELECT string_agg(g.name, ' ')
            FROM media_item_genres ig JOIN genres g ON g.id = ig.genre_id
            WHERE ig.item_id = i.id), '')), 'C')
    FROM media_items AS i2
    LEFT JOIN media_items AS p ON p.id = coalesce(i2.series_id, i2.parent_id)
    WHERE i.id = i2.id AND i.id = ANY(item_ids);
$$;
