-- The notifier's own tables: subscriptions, the events it notifies of, one delivery per
-- (event, subscription) with every attempt, and the little it remembers to route events
-- that do not name their organisations. No personal data: ids, codes, times and URLs.

-- An organisation's subscription. A webhook's signing secret is kept only encrypted
-- (AES-256-GCM under the service's secret key, the subscription id as associated data), is
-- shown once when the subscription is made and never again, and is wiped when it is deleted.
-- A deleted subscription is kept (deleted_at) so that its deliveries still say where they went.
CREATE TABLE subscriptions (
    subscription_id   uuid        PRIMARY KEY,
    organisation_id   uuid        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('webhook', 'email')),
    url               text        CHECK (length(url) BETWEEN 1 AND 2000),
    address           text        CHECK (length(address) BETWEEN 3 AND 320),
    event_types       text[]      NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 100),
    secret_ciphertext bytea,
    paused            boolean     NOT NULL DEFAULT false,
    created_by        uuid        NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    deleted_at        timestamptz,
    CHECK ((kind = 'webhook') = (url IS NOT NULL)),
    CHECK ((kind = 'email') = (address IS NOT NULL)),
    CHECK (kind <> 'webhook' OR (deleted_at IS NULL) = (secret_ciphertext IS NOT NULL))
);
-- "Who wants this event": live subscriptions of some organisations that name its type.
CREATE INDEX subscriptions_live ON subscriptions (organisation_id) WHERE deleted_at IS NULL;
CREATE INDEX subscriptions_listed ON subscriptions (organisation_id, created_at, subscription_id)
    WHERE deleted_at IS NULL;

-- Each event notified of, once, as the CloudEvent in structured JSON mode: exactly the bytes
-- every webhook of it carries (and signs).
CREATE TABLE notified_events (
    event_id    uuid        PRIMARY KEY,
    event_type  text        NOT NULL,
    body        text        NOT NULL,
    received_at timestamptz NOT NULL
);

-- One delivery per (event, subscription): the unique pair is what keeps a redelivered Kafka
-- record from making a second delivery (the delivery id, the webhook-id, is derived from it).
-- A pending delivery is claimed by a worker for a while (lease) while it is attempted.
CREATE TABLE deliveries (
    delivery_id     uuid        PRIMARY KEY,
    event_id        uuid        NOT NULL REFERENCES notified_events,
    subscription_id uuid        NOT NULL REFERENCES subscriptions,
    organisation_id uuid        NOT NULL,
    event_type      text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('webhook', 'email', 'inbox')),
    status          text        NOT NULL
        CHECK (status IN ('pending', 'delivered', 'dead_lettered', 'cancelled')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    round_attempts  integer     NOT NULL DEFAULT 0 CHECK (round_attempts >= 0),
    next_attempt_at timestamptz,
    lease_token     uuid,
    lease_until     timestamptz,
    last_failure    text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (event_id, subscription_id),
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_listed ON deliveries (organisation_id, created_at, delivery_id);
CREATE INDEX deliveries_of_subscription ON deliveries (subscription_id) WHERE status = 'pending';

-- Every attempt, as it ended.
CREATE TABLE delivery_attempts (
    delivery_id  uuid        NOT NULL REFERENCES deliveries,
    attempt      integer     NOT NULL CHECK (attempt >= 1),
    started_at   timestamptz NOT NULL,
    latency_ms   integer     NOT NULL CHECK (latency_ms >= 0),
    outcome      text        NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    status_code  integer     CHECK (status_code BETWEEN 100 AND 599),
    failure      text,
    error_class  text        CHECK (length(error_class) <= 100),
    PRIMARY KEY (delivery_id, attempt),
    CHECK ((outcome = 'failed') = (failure IS NOT NULL))
);

-- Routing memory (see domain/routing.py): a referral's current parties and whether it is
-- open, so that consent events (which name only the person) reach the organisations of the
-- person's referrals; deleted once the person's erasure has been routed.
CREATE TABLE referral_parties (
    referral_id   uuid        PRIMARY KEY,
    subject_id    uuid        NOT NULL,
    organisations uuid[]      NOT NULL,
    open          boolean     NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX referral_parties_subject ON referral_parties (subject_id);

-- An agreement's parties as of its last version, for its termination (which does not list them).
CREATE TABLE agreement_parties (
    agreement_id uuid        PRIMARY KEY,
    parties      uuid[]      NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Idempotency-Key on creating requests. A replayed subscription answer carries its secret
-- again; the stored body never holds it (see usecases/idempotency.py).
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
