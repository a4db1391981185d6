-- Events too large for a NOTIFY payload (PostgreSQL refuses 8000 bytes or more): the event bus
-- (infra/bus_postgres.py) stores the encoded event here and notifies its id. Every listening
-- process may read a row, so none deletes it on reading; rows older than a minute are deleted.
CREATE TABLE bus_payloads (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bus_payloads_created ON bus_payloads (created_at);
