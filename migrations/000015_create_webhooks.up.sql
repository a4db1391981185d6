-- Outbound webhooks (Standard Webhooks signing): endpoints an administrator registers, the
-- events they may receive, one delivery per (event, endpoint) and one log row per attempt.

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    url text NOT NULL CHECK (url ~* '^https?://'),
    -- whsec_<base64>: the receiver needs the same secret to verify, so it is kept, not hashed.
    secret text NOT NULL,
    -- After a rotation the old secret keeps signing (a second signature) until this time.
    previous_secret text,
    previous_secret_expires_at timestamptz,
    event_types text[] NOT NULL CHECK (cardinality(event_types) > 0),
    -- NULL: every user / every library; otherwise events about these only.
    user_ids uuid[],
    library_ids uuid[],
    is_enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    -- Deliveries that ended failed in a row; reset by a success.
    consecutive_failures int NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER webhook_endpoints_touch BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();

-- Every replica hears every bus event; the first to insert its id makes the deliveries.
CREATE TABLE webhook_events (
    id uuid PRIMARY KEY,
    type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    user_id uuid,
    library_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'skipped')),
    attempt_count int NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    -- A manual redelivery is a new delivery of the same event (same webhook-id header).
    redelivery_of uuid REFERENCES webhook_deliveries (id) ON DELETE SET NULL,
    is_test boolean NOT NULL DEFAULT false,
    -- A failed attempt's retry waits until then.
    next_attempt_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- One automatic delivery per (event, endpoint); redeliveries come on top.
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (event_id, endpoint_id)
    WHERE redelivery_of IS NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC);
-- An endpoint's queue: its pending deliveries in order.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, id)
    WHERE status = 'pending' AND NOT is_test;
CREATE TRIGGER webhook_deliveries_touch BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION revenge_touch_updated_at();

CREATE TABLE webhook_attempts (
    id uuid PRIMARY KEY DEFAULT revenge_uuid_v7(),
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt int NOT NULL CHECK (attempt >= 1),
    status_code int,
    duration_ms int NOT NULL CHECK (duration_ms >= 0),
    response_snippet text CHECK (length(response_snippet) <= 1024),
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (delivery_id, attempt)
);
