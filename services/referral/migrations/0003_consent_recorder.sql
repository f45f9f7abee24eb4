-- The organisation that recorded a consent sees it (and can withdraw it) before it files a
-- referral on it. Consents recorded before this migration keep NULL: their recorder was only
-- on their event, which the outbox does not keep.
ALTER TABLE consents ADD COLUMN recorded_by_organisation_id uuid;
