ALTER TABLE watch_party_members DROP COLUMN IF EXISTS display_name;
