-- Events received over HTTP (POST /v1/events), once each by their CloudEvents id and source:
-- a resend gets the first answer, and the event is put on its topic once. The event itself
-- is not kept (it may hold an identity number): only a keyed hash of it, to tell a resend
-- from another event under the same id and source.
CREATE TABLE inbound_receipts (
    source text NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    fingerprint bytea NOT NULL,
    sent_by_organisation_id uuid NOT NULL,
    topic text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (source, event_id)
);
