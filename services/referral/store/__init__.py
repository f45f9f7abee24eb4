"""The referral service's PostgreSQL store: one repository per aggregate, explicit SQL, domain
objects in and out. Optimistic version checks and the outbox write happen here, in the
caller's transaction."""
