-- The referral service's own tables. Personal data (identity number, birth date, name,
-- contact) is only ever stored encrypted under the person's data key (see crypto.py); events
-- and every other table refer to the person by the random subject_id alone.

CREATE TABLE organisations (
    organisation_id      uuid        PRIMARY KEY,
    name                 text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type                 text        NOT NULL,
    sector               text        NOT NULL,
    organisation_number  text        UNIQUE CHECK (organisation_number ~ '^[0-9]{9}$'),
    county_number        text        NOT NULL CHECK (county_number ~ '^[0-9]{2}$'),
    municipality_numbers text[]      NOT NULL DEFAULT '{}',
    updated_at           timestamptz NOT NULL
);

-- One row per version: an amendment replaces the whole agreement, and a referral names the
-- version it was filed under, so old versions stay as they were. Routes, target groups and
-- service levels are jsonb in the shape of the event contract (schemas.directory): they are
-- always read and matched whole, in the domain, never queried piecemeal in SQL.
CREATE TABLE agreement_versions (
    agreement_id               uuid        NOT NULL,
    version                    integer     NOT NULL CHECK (version >= 1),
    county_number              text        NOT NULL CHECK (county_number ~ '^[0-9]{2}$'),
    valid_from                 date        NOT NULL,
    valid_until                date,
    parties                    uuid[]      NOT NULL,
    linkage_level              text        NOT NULL,
    lead_organisation_id       uuid,
    routes                     jsonb       NOT NULL,
    target_groups              jsonb       NOT NULL,
    service_levels             jsonb       NOT NULL,
    guardian_consent_below_age integer     NOT NULL CHECK (guardian_consent_below_age BETWEEN 0 AND 18),
    recorded_at                timestamptz NOT NULL,
    PRIMARY KEY (agreement_id, version),
    CHECK (valid_until IS NULL OR valid_until >= valid_from)
);
-- "Agreements a party signed": the candidates for route matching.
CREATE INDEX agreement_versions_parties ON agreement_versions USING gin (parties);

-- A person. The identity number, birth date, name and contact are AES-256-GCM ciphertexts
-- under the person's own data key (associated data: the subject_id); the data key is stored
-- only wrapped by the master key. Erasure sets wrapped_key (and the blind index) to NULL:
-- the ciphertexts that remain, here and in backups, can no longer be read.
CREATE TABLE subjects (
    subject_id         uuid        PRIMARY KEY,
    -- HMAC-SHA256 of the normalised number under the index key: finds the person again.
    blind_index        bytea       UNIQUE,
    wrapped_key        bytea,
    identity_number    bytea       NOT NULL,
    birth_date         bytea       NOT NULL,
    name               bytea,
    contact            bytea,
    registered_at      timestamptz NOT NULL,
    restricted_at      timestamptz,
    restriction_ground text,
    erased_at          timestamptz,
    CHECK ((erased_at IS NULL) = (wrapped_key IS NOT NULL)),
    CHECK (erased_at IS NULL OR blind_index IS NULL)
);

CREATE TABLE consents (
    consent_id                 uuid        PRIMARY KEY,
    subject_id                 uuid        NOT NULL REFERENCES subjects,
    given_by                   text        NOT NULL,
    purposes                   text[]      NOT NULL CHECK (cardinality(purposes) >= 1),
    recipient_organisation_ids uuid[]      NOT NULL,
    recipient_sectors          text[]      NOT NULL,
    given_at                   timestamptz NOT NULL,
    expires_at                 timestamptz NOT NULL CHECK (expires_at > given_at),
    collection_method          text        NOT NULL,
    withdrawn_at               timestamptz,
    withdrawn_by               text,
    CHECK (cardinality(recipient_organisation_ids) + cardinality(recipient_sectors) >= 1),
    CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL))
);
CREATE INDEX consents_subject ON consents (subject_id, given_at);

CREATE TABLE referrals (
    referral_id          uuid        PRIMARY KEY,
    subject_id           uuid        NOT NULL REFERENCES subjects,
    from_organisation_id uuid        NOT NULL REFERENCES organisations,
    to_organisation_id   uuid        NOT NULL REFERENCES organisations,
    purpose              text        NOT NULL,
    situation            text        NOT NULL,
    agreement_id         uuid        NOT NULL,
    agreement_version    integer     NOT NULL,
    consent_id           uuid        REFERENCES consents,
    statutory_basis      text,
    status               text        NOT NULL,
    version              integer     NOT NULL CHECK (version >= 1),
    submitted_at         timestamptz NOT NULL,
    addressed_at         timestamptz NOT NULL,
    received_at          timestamptz,
    accepted_at          timestamptz,
    started_at           timestamptz,
    closed_at            timestamptz,
    assigned_counsellor  uuid,
    assigned_role        text,
    rejection_reason     text,
    withdrawal_reason    text,
    cancellation_reason  text,
    outcome              text,
    -- Set by the audit service's deadline events (a later change); the worklists filter on it.
    overdue_since        timestamptz,
    FOREIGN KEY (agreement_id, agreement_version) REFERENCES agreement_versions,
    -- Never neither (DESIGN.md, Consent).
    CHECK (consent_id IS NOT NULL OR statutory_basis IS NOT NULL)
);
-- Worklists, keyset-paginated on (time, referral_id): received by the current receiver and
-- status, in the order they arrived there; sent by the sender; by counsellor; per person.
CREATE INDEX referrals_received ON referrals (to_organisation_id, status, addressed_at, referral_id);
CREATE INDEX referrals_received_all ON referrals (to_organisation_id, addressed_at, referral_id);
CREATE INDEX referrals_sent ON referrals (from_organisation_id, submitted_at, referral_id);
CREATE INDEX referrals_counsellor ON referrals (assigned_counsellor, addressed_at, referral_id)
    WHERE assigned_counsellor IS NOT NULL;
CREATE INDEX referrals_subject ON referrals (subject_id);
CREATE INDEX referrals_consent ON referrals (consent_id) WHERE consent_id IS NOT NULL;

-- Every step of a referral: the version it produced, its event (no personal data) and the
-- free-text note given with it. The note stays here, never in an event.
CREATE TABLE referral_history (
    referral_id uuid        NOT NULL REFERENCES referrals,
    version     integer     NOT NULL,
    event_type  text        NOT NULL,
    event       jsonb       NOT NULL,
    note        text        CHECK (length(note) <= 4000),
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (referral_id, version)
);

CREATE TABLE referral_contacts (
    contact_id  uuid        PRIMARY KEY,
    referral_id uuid        NOT NULL REFERENCES referrals,
    method      text        NOT NULL,
    result      text        NOT NULL,
    recorded_at timestamptz NOT NULL,
    recorded_by uuid        NOT NULL
);
CREATE INDEX referral_contacts_referral ON referral_contacts (referral_id, recorded_at);

CREATE TABLE referral_follow_ups (
    follow_up_id uuid        PRIMARY KEY,
    referral_id  uuid        NOT NULL REFERENCES referrals,
    method       text        NOT NULL,
    recorded_at  timestamptz NOT NULL,
    recorded_by  uuid        NOT NULL
);
CREATE INDEX referral_follow_ups_referral ON referral_follow_ups (referral_id, recorded_at);

-- Idempotency-Key on creating POSTs: a retry with the same key and body gets the first
-- response; the same key with another body is refused. Keys are per organisation and user.
CREATE TABLE idempotency_keys (
    organisation_id uuid        NOT NULL,
    principal       text        NOT NULL,
    key             text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash    bytea       NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
