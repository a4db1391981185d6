DROP INDEX IF EXISTS persisted_queries_created;
DROP INDEX IF EXISTS webhook_deliveries_event;
