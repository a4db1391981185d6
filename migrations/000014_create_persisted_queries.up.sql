-- Automatic persisted queries: documents any caller registered by their SHA-256 (lowercase hex of
-- the UTF-8 text), so later requests send only the hash. Content-addressed, so a row never changes.
CREATE TABLE persisted_queries (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    document text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER persisted_queries_touch BEFORE UPDATE ON persisted_queries
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();

-- Third-party apps and the operations (trusted documents) an administrator registered for them.
CREATE TABLE api_clients (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER api_clients_touch BEFORE UPDATE ON api_clients
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();

CREATE TABLE api_client_documents (
    client_id uuid NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    operation_name text,
    operation_type text NOT NULL CHECK (operation_type IN ('query', 'mutation', 'subscription')),
    document text NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, sha256)
);
CREATE TRIGGER api_client_documents_touch BEFORE UPDATE ON api_client_documents
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();

-- A key may belong to a client; a "persisted only" key runs that client's documents and nothing else.
ALTER TABLE api_keys
    ADD COLUMN client_id uuid REFERENCES api_clients (id) ON DELETE CASCADE,
    ADD COLUMN persisted_only boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT api_keys_persisted_only_has_client
        CHECK (NOT persisted_only OR client_id IS NOT NULL);
CREATE INDEX api_keys_client ON api_keys (client_id) WHERE client_id IS NOT NULL;
