DROP INDEX IF EXISTS media_items_library_rating;
ALTER TABLE media_items
    DROP COLUMN IF EXISTS tags,
    DROP COLUMN IF EXISTS effective_rating_rank,
    DROP COLUMN IF EXISTS rating_rank;
