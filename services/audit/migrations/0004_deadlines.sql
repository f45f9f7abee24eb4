-- Deadlines of referrals (services/audit/domain/deadlines.py says the rules): what each step
-- of a referral opened, met or closed, and which of approaching, missed and met was raised.

-- The service levels of every agreement version (directory_agreements keeps the latest only;
-- a referral stays under the version it was filed or redirected under).
CREATE TABLE directory_agreement_versions (
    agreement_id   uuid    NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    service_levels jsonb   NOT NULL,
    PRIMARY KEY (agreement_id, version)
);
INSERT INTO directory_agreement_versions (agreement_id, version, service_levels)
SELECT agreement_id, version, service_levels FROM directory_agreements;

-- The agreement version each referral is under (only its submitted and redirected events
-- name it).
CREATE TABLE deadline_referrals (
    referral_id       uuid    PRIMARY KEY,
    agreement_id      uuid    NOT NULL,
    agreement_version integer NOT NULL CHECK (agreement_version >= 1)
);

-- One row per occurrence of a deadline: (referral, kind, occurrence) is unique, and each of
-- its notices is raised by setting its *_raised_at column from NULL, in the transaction that
-- writes the notice's event to the outbox, with the row locked: a row raises each notice
-- once, however many audit instances and scanners run, and across restarts.
CREATE TABLE deadlines (
    deadline_id           uuid        PRIMARY KEY,
    referral_id           uuid        NOT NULL,
    kind                  text        NOT NULL
        CHECK (kind IN ('acknowledge', 'decide', 'first_contact', 'follow_up')),
    occurrence            integer     NOT NULL CHECK (occurrence >= 1),
    subject_id            uuid        NOT NULL,
    organisation_id       uuid        NOT NULL,
    agreement_id          uuid        NOT NULL,
    agreement_version     integer     NOT NULL,
    starts_at             timestamptz NOT NULL,
    -- NULL while the agreement version's service levels are not known (the directory and
    -- person topics are not in order with each other).
    due_at                timestamptz,
    met_at                timestamptz,
    closed_at             timestamptz,
    approaching_raised_at timestamptz,
    missed_raised_at      timestamptz,
    met_raised_at         timestamptz,
    UNIQUE (referral_id, kind, occurrence),
    CHECK (met_at IS NULL OR closed_at IS NULL),
    CHECK (met_raised_at IS NULL OR met_at IS NOT NULL)
);
-- What the scanner watches: due, unmet, unclosed, not yet missed.
CREATE INDEX deadlines_watched ON deadlines (due_at)
    WHERE due_at IS NOT NULL AND met_at IS NULL AND closed_at IS NULL
      AND missed_raised_at IS NULL;
-- Waiting for their agreement version's service levels.
CREATE INDEX deadlines_pending ON deadlines (agreement_id, agreement_version)
    WHERE due_at IS NULL;
-- `/v1/audit/deadlines`, by organisation, in due order.
CREATE INDEX deadlines_by_organisation ON deadlines (organisation_id, due_at, deadline_id);
CREATE INDEX deadlines_by_due ON deadlines (due_at, deadline_id);

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'overgang_audit_app') THEN
        GRANT SELECT, INSERT ON directory_agreement_versions TO overgang_audit_app;
        GRANT SELECT, INSERT, UPDATE ON deadline_referrals, deadlines TO overgang_audit_app;
    END IF;
END $$;
