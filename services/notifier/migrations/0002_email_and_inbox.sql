-- The in-app inbox: one notification per (event, organisation it was routed to), whether or
-- not the organisation has subscriptions, read by anyone of that organisation. Ids, codes and
-- times only: the referral an event is about at most, never anything about the person.
-- The id is derived from the event and the organisation, so a redelivered record adds nothing.
CREATE TABLE inbox_notifications (
    notification_id uuid        PRIMARY KEY,
    organisation_id uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 200),
    referral_id     uuid,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    read_at         timestamptz,
    read_by         uuid,
    UNIQUE (organisation_id, event_id),
    CHECK ((read_at IS NULL) = (read_by IS NULL))
);
-- An organisation's inbox in its order: unread first, then newest first; and its unread part.
CREATE INDEX inbox_notifications_listed
    ON inbox_notifications (organisation_id, (read_at IS NOT NULL), received_at DESC,
                            notification_id DESC);
CREATE INDEX inbox_notifications_unread
    ON inbox_notifications (organisation_id, received_at DESC, notification_id DESC)
    WHERE read_at IS NULL;
