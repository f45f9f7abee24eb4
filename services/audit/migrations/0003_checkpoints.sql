-- Checkpoints of the chain, and the indexes that `/v1/audit/events` needs. (The consent ledger
-- is read straight from the log: a person's consent and referral events, in order, by subject.)

-- The checkpoints this service published: the chain head at a moment, sent through the
-- outbox to the audit topic, outside this database. Kept here only so that one head is not
-- published twice (several instances, restarts); what proves the log is the copy on Kafka,
-- which nobody who can rewrite this database can rewrite with it.
CREATE TABLE audit_checkpoints (
    sequence     bigint      PRIMARY KEY CHECK (sequence >= 1),
    row_hash     bytea       NOT NULL CHECK (octet_length(row_hash) = 32),
    event_id     uuid        NOT NULL UNIQUE,
    published_at timestamptz NOT NULL
);

-- `/v1/audit/events`: by type, by organisation, in sequence order.
CREATE INDEX audit_log_type ON audit_log (type, sequence);
CREATE INDEX audit_log_organisations ON audit_log USING gin (organisation_ids);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'overgang_audit_app') THEN
        GRANT SELECT, INSERT ON audit_checkpoints TO overgang_audit_app;
    END IF;
END $$;
