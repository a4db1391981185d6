DROP INDEX IF EXISTS media_items_library_grid;
