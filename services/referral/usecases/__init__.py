"""The referral service's use cases: thin verbs per aggregate, called by the API and the
consumers alike. Each loads, calls the domain, and saves state and outbox in one transaction;
ids and `now` are made here, never in the domain."""
