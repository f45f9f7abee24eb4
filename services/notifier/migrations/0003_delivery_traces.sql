-- The trace an event's handling belongs to (W3C trace context headers), so that each attempt
-- to deliver it continues that trace: from the HTTP request that caused the event, through
-- Kafka, to the webhook. Empty when nothing was traced.
ALTER TABLE notified_events ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'::jsonb;
