-- The library grid: a library's browsable items in title order, without scanning and sorting
-- the whole library (the grid does not filter by kind, so media_items_library_kind cannot serve).
CREATE INDEX media_items_library_grid ON media_items (library_id, sort_title, id)
    WHERE NOT is_missing AND extra_type IS NULL;
