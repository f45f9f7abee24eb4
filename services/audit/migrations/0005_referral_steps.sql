-- The handoff statistics, kept up to date by the consumer instead of recomputed from the whole
-- log for every request (services/audit/domain/handoffs.py says what is kept and measured).

-- One row per referral step (every step, counted or not: a period's groups are those of the
-- organisations and routes that took any step in it), with the times measured on it. Ids of
-- the referral and of organisations, codes and times only: nothing about the person. The consumer writes a batch's new steps, and measures again the earlier steps of
-- their referrals (a step logged late may come before them), in the log append's
-- transaction.
CREATE TABLE referral_steps (
    sequence                 bigint           PRIMARY KEY,  -- its row in audit_log
    referral_id              uuid             NOT NULL,
    step                     text             NOT NULL CHECK (step IN (
        'submitted', 'received', 'accepted', 'rejected', 'redirected', 'withdrawn', 'started',
        'contact_recorded', 'follow_up_recorded', 'completed', 'cancelled', 'assigned')),
    occurred_at              timestamptz      NOT NULL,
    -- The organisation the step counts for (a redirect: the one that sent it on).
    receiver_organisation_id uuid             NOT NULL,
    sender_organisation_id   uuid             NOT NULL,
    -- The reason of a rejection, redirection, withdrawal or cancellation; a completion's
    -- outcome; a contact's result (whether it reached the person).
    code                     text,
    receive_hours            double precision,
    decide_hours             double precision,
    contact_hours            double precision
);
-- The statistics read a county's organisations' steps in a period.
CREATE INDEX referral_steps_by_receiver ON referral_steps (receiver_organisation_id, occurred_at);
-- The consumer reads the earlier steps of the referrals a batch touches.
CREATE INDEX referral_steps_by_referral ON referral_steps (referral_id);

-- From the log so far: the measuring as the statistics did it before, in SQL (referral events
-- that were logged with their payload and not dead-lettered).
WITH steps AS (
    SELECT l.sequence, split_part(l.type, '.', 4) AS step,
           convert_from(l.payload, 'UTF8')::jsonb -> 'data' AS data
    FROM audit_log l
    WHERE l.type LIKE 'no.overgang.referral.%' AND l.payload IS NOT NULL
      AND l.dead_letter IS NULL
),
fields AS (
    SELECT sequence, step,
           (data ->> 'referral_id')::uuid AS referral_id,
           (data ->> 'from_organisation_id')::uuid AS sender,
           CASE WHEN step = 'redirected'
                THEN (data ->> 'redirected_from_organisation_id')::uuid
                ELSE (data ->> 'to_organisation_id')::uuid END AS receiver,
           (data ->> 'occurred_at')::timestamptz AS at,
           CASE step WHEN 'completed' THEN data ->> 'outcome'
                     WHEN 'contact_recorded' THEN data ->> 'result'
                     ELSE data ->> 'reason' END AS code
    FROM steps
),
timed AS (
    SELECT f.*,
           max(at) FILTER (WHERE step IN ('submitted', 'redirected')) OVER earlier AS arrived_at,
           max(at) FILTER (WHERE step = 'received') OVER earlier AS received_at,
           max(at) FILTER (WHERE step = 'accepted') OVER earlier AS accepted_at,
           count(*) FILTER (WHERE step = 'contact_recorded' AND code = 'reached')
               OVER earlier AS reached_so_far
    FROM fields f
    WINDOW earlier AS (PARTITION BY referral_id ORDER BY at, sequence
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
INSERT INTO referral_steps (sequence, referral_id, step, occurred_at, receiver_organisation_id,
                            sender_organisation_id, code, receive_hours, decide_hours,
                            contact_hours)
SELECT sequence, referral_id, step, at, receiver, sender, code,
       CASE WHEN step = 'received' AND arrived_at IS NOT NULL
            THEN extract(epoch FROM at - arrived_at)::float8 / 3600 END,
       CASE WHEN step IN ('accepted', 'rejected') AND received_at >= arrived_at
            THEN extract(epoch FROM at - received_at)::float8 / 3600 END,
       CASE WHEN step = 'contact_recorded' AND code = 'reached' AND reached_so_far = 1
                 AND accepted_at IS NOT NULL
            THEN extract(epoch FROM at - accepted_at)::float8 / 3600 END
FROM timed;

-- The organisation that filed each referral (named by its submitted and redirected events,
-- like the agreement version), for the deadlines' routes.
ALTER TABLE deadline_referrals ADD COLUMN sender_organisation_id uuid;
UPDATE deadline_referrals r
SET sender_organisation_id = filed.sender
FROM (
    SELECT DISTINCT ON (referral_id) referral_id, sender
    FROM (
        SELECT l.sequence, (d.data ->> 'referral_id')::uuid AS referral_id,
               (d.data ->> 'from_organisation_id')::uuid AS sender
        FROM audit_log l,
             LATERAL (SELECT convert_from(l.payload, 'UTF8')::jsonb -> 'data' AS data) d
        WHERE l.type IN ('no.overgang.referral.submitted.v1', 'no.overgang.referral.redirected.v1')
          AND l.payload IS NOT NULL AND l.dead_letter IS NULL
    ) named
    ORDER BY referral_id, sequence DESC
) filed
WHERE filed.referral_id = r.referral_id;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'overgang_audit_app') THEN
        GRANT SELECT, INSERT, UPDATE ON referral_steps TO overgang_audit_app;
    END IF;
END $$;
