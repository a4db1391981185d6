DROP TABLE IF EXISTS watch_party_messages;
DROP TABLE IF EXISTS watch_party_members;
DROP TABLE IF EXISTS watch_parties;
