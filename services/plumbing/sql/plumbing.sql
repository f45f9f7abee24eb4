-- Tables the shared plumbing keeps in every service's database. Idempotent.

-- Transactional outbox: events written in the same transaction as the state change they
-- describe; the relay publishes them and marks them sent.
CREATE TABLE IF NOT EXISTS outbox (
    position      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    partition_key text        NOT NULL,
    headers       jsonb       NOT NULL,
    value         bytea       NOT NULL,
    enqueued_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at       timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (position) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Writes one event to the outbox. The transaction-scoped lock on the partition key makes
-- transactions that write the same key take their positions in commit order, so a relay that
-- reads by position can never see a key's later event before its earlier one.
CREATE OR REPLACE FUNCTION outbox_enqueue(
    p_event_id uuid, p_topic text, p_key text, p_headers jsonb, p_value bytea
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_topic || '/' || p_key, 0));
    INSERT INTO outbox (event_id, topic, partition_key, headers, value)
    VALUES (p_event_id, p_topic, p_key, p_headers, p_value);
    PERFORM pg_notify('outbox', '');
END $$;

-- Idempotent inbox: one row per (consumer group, event) handled, written in the same
-- transaction as the handler's effect, so a redelivered event has no second effect.
CREATE TABLE IF NOT EXISTS inbox (
    consumer_group text        NOT NULL,
    event_id       uuid        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('handled', 'dead_lettered')),
    handled_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer_group, event_id)
);
