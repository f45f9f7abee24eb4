"""Overgang referral service: organisations, agreements, subjects, consents and the
referral lifecycle."""
