DROP INDEX IF EXISTS api_keys_client;
ALTER TABLE api_keys
    DROP CONSTRAINT IF EXISTS api_keys_persisted_only_has_client,
    DROP COLUMN IF EXISTS persisted_only,
    DROP COLUMN IF EXISTS client_id;
DROP TABLE IF EXISTS api_client_documents;
DROP TABLE IF EXISTS api_clients;
DROP TABLE IF EXISTS persisted_queries;
