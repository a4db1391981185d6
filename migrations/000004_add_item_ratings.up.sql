-- What parental limits filter on: an item's own rating rank (from its official rating, computed
-- by the application's rank table), the rank it is judged by (its own, else its series' or
-- parent's), and its tags.
ALTER TABLE media_items
    ADD COLUMN rating_rank int,
    ADD COLUMN effective_rating_rank int,
    ADD COLUMN tags text[] NOT NULL DEFAULT ARRAY[]::text[];
CREATE INDEX media_items_library_rating ON media_items (library_id, effective_rating_rank);
