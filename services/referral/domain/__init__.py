"""The referral service's rules, without I/O: the referral lifecycle, agreement routes, consent,
identity numbers and working-day deadlines. Time and new ids are always passed in."""
