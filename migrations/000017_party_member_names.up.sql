-- The name members of a watch party see for each other: the member's profile name when they
-- joined (kept with the membership, so party state travels on the bus without a lookup).
ALTER TABLE watch_party_members ADD COLUMN display_name text NOT NULL DEFAULT '';
UPDATE watch_party_members AS m SET display_name = p.name FROM profiles AS p WHERE p.id = m.profile_id;
