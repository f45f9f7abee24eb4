-- The audit service's store: the append-only, hash-chained log of every event it consumed,
-- the directory it needs to scope auditors to their county, and the access log.

-- One row per event consumed, from every topic, dead-lettered records included. Rows are
-- only ever appended, in sequence order, each linked to the previous one by its hash
-- (services/audit/domain/chain.py says exactly what is hashed):
--   payload_hash = SHA-256 of payload (the event's RFC 8785 canonical bytes; for a record
--                  that cannot be decoded, or that may carry personal data, of its raw bytes,
--                  and then payload is NULL: the log is kept for years and is never erased);
--   row_hash     = SHA-256 of every other column of the row, previous_hash included.
CREATE TABLE audit_log (
    sequence         bigint      PRIMARY KEY CHECK (sequence >= 1),
    -- The event's CloudEvents id; for a dead-lettered record an id of its place on the
    -- dead-letter topic (the same event may be dead-lettered by several consumer groups).
    entry_id         uuid        NOT NULL UNIQUE,
    event_id         uuid,
    type             text,
    event_time       timestamptz,
    subject_id       uuid,
    organisation_ids uuid[]      NOT NULL,
    source_topic     text        NOT NULL,
    -- The dlq.* headers of a dead-lettered record (reason, error class, consumer group, ...).
    dead_letter      jsonb,
    payload          bytea,
    payload_hash     bytea       NOT NULL CHECK (octet_length(payload_hash) = 32),
    previous_hash    bytea       NOT NULL CHECK (octet_length(previous_hash) = 32),
    row_hash         bytea       NOT NULL CHECK (octet_length(row_hash) = 32),
    recorded_at      timestamptz NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, event_time, sequence)
    WHERE subject_id IS NOT NULL;

-- The end of the chain: the last sequence and its row hash. Appending locks this one row
-- (SELECT ... FOR UPDATE) in the appending transaction, so appends are serialised and the
-- chain never forks, however many audit instances run. row_hash is NULL until the first
-- row: the chain then starts from the genesis hash of services/audit/domain/chain.py.
CREATE TABLE audit_chain_head (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    sequence  bigint  NOT NULL CHECK (sequence >= 0),
    row_hash  bytea   CHECK (octet_length(row_hash) = 32)
);
INSERT INTO audit_chain_head (only_row, sequence, row_hash) VALUES (true, 0, NULL);

-- The log refuses to change. The trigger protects it from everyone, the table owner
-- included (who can only get past it by disabling it, which needs ALTER TABLE: that is what
-- the hash chain, and the checkpoints published outside the database, are for).
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Privileges. In production the migrations run as the schema's owner and the service runs as
-- a role of its own that cannot alter tables or disable triggers:
--   GRANT SELECT, INSERT ON audit_log TO overgang_audit_app;
--   GRANT SELECT, UPDATE ON audit_chain_head TO overgang_audit_app;
--   GRANT SELECT, INSERT, UPDATE ON directory_organisations, directory_agreements,
--       access_log, inbox TO overgang_audit_app;
--   GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO overgang_audit_app;  -- the relay prunes
-- Where that role exists, this migration grants exactly that; where it does not (a local
-- stack, tests), the service runs as the owner and the trigger is what protects the log.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- The directory, from the directory events: the county of each organisation (auditors see
-- their own county) and the agreements with their service levels (for deadlines).
CREATE TABLE directory_organisations (
    organisation_id uuid        PRIMARY KEY,
    type            text        NOT NULL,
    county_number   text        NOT NULL,
    occurred_at     timestamptz NOT NULL
);
CREATE INDEX directory_organisations_county ON directory_organisations (county_number);

CREATE TABLE directory_agreements (
    agreement_id   uuid        PRIMARY KEY,
    version        integer     NOT NULL,
    county_number  text        NOT NULL,
    parties        uuid[]      NOT NULL,
    valid_from     date        NOT NULL,
    valid_until    date,
    service_levels jsonb       NOT NULL,
    ends_on        date,
    occurred_at    timestamptz NOT NULL
);

-- Who read whose personal data, when and why: the access events, one row each.
CREATE TABLE access_log (
    access_id             uuid        PRIMARY KEY,
    sequence              bigint      NOT NULL REFERENCES audit_log (sequence),
    actor_id              uuid        NOT NULL,
    actor_organisation_id uuid        NOT NULL,
    actor_role            text        NOT NULL,
    subject_id            uuid        NOT NULL,
    purpose               text        NOT NULL,
    resource              text        NOT NULL,
    referral_id           uuid,
    occurred_at           timestamptz NOT NULL
);
CREATE INDEX access_log_time ON access_log (occurred_at DESC, access_id DESC);
CREATE INDEX access_log_subject ON access_log (subject_id, occurred_at DESC, access_id DESC);
CREATE INDEX access_log_actor ON access_log (actor_id, occurred_at DESC, access_id DESC);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'overgang_audit_app') THEN
        GRANT SELECT, INSERT ON audit_log TO overgang_audit_app;
        GRANT SELECT, UPDATE ON audit_chain_head TO overgang_audit_app;
        GRANT SELECT, INSERT, UPDATE
            ON directory_organisations, directory_agreements, access_log, inbox
            TO overgang_audit_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO overgang_audit_app;
    END IF;
END $$;
