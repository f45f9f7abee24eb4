-- A referral's free-text notes are about the person: keep them, like the identity number,
-- encrypted under the person's data key, so that destroying the key (erasure) leaves none
-- readable. No deployment held notes before this migration; refuse rather than lose any.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM referral_history WHERE note IS NOT NULL) THEN
        RAISE EXCEPTION 'referral_history holds plaintext notes: encrypt them before migrating';
    END IF;
END
$$;
ALTER TABLE referral_history DROP COLUMN note;
-- AES-256-GCM under the person's data key, associated data the subject_id (see crypto.py).
ALTER TABLE referral_history ADD COLUMN sealed_note bytea;
