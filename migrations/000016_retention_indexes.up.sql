-- What the hourly retention job (resolvers/user/retention.py) deletes by: old webhook events
-- (their deliveries and attempts go with them, found by event id) and old APQ documents.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX persisted_queries_created ON persisted_queries (created_at);
