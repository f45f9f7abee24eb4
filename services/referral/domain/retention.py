"""When a person's data may be erased: public bodies keep their case records for the archive
law's retention period (DESIGN.md, Security and privacy), so the key that makes them readable
is destroyed only once nothing about the person is still within it.

The rule: no referral of the person may be open, and the last one closed must have closed at
least `RETENTION_YEARS` calendar years ago. A person without referrals may be erased at once."""

import datetime as dt
from collections.abc import Iterable

from schemas.ids import SubjectId
from services.referral.domain.errors import ReferralDomainError
from services.referral.domain.referral import Referral

# The archive law's retention period for closed referrals (arkivlova with the archive
# regulations' disposal rules for these case files). TO BE CONFIRMED with the county
# archives; 5 years until then. It is a rule of the domain, not a setting: changing it
# changes what the law is taken to require.
RETENTION_YEARS = 5


class RetentionNotOver(ReferralDomainError):
    """The person's records are still within their retention period; their key stays."""

    def __init__(
        self, *, subject_id: SubjectId, open_referrals: int, until: dt.datetime | None
    ) -> None:
        self.subject_id = subject_id
        self.open_referrals = open_referrals
        self.until = until
        if open_referrals:
            plural = "" if open_referrals == 1 else "s"
            why = f"they have {open_referrals} open referral{plural}"
        else:
            assert until is not None
            why = (
                f"their last referral is kept for {RETENTION_YEARS} years after it closed, "
                f"until {until.isoformat()}"
            )
        super().__init__(f"subject {subject_id}'s data cannot be erased yet: {why}")


def years_after(instant: dt.datetime, years: int) -> dt.datetime:
    """The same moment `years` calendar years later; 29 February becomes 1 March."""
    try:
        return instant.replace(year=instant.year + years)
    except ValueError:
        return instant.replace(year=instant.year + years, month=3, day=1)


def retained_until(referrals: Iterable[Referral]) -> dt.datetime | None:
    """When the retention period of the person's closed referrals ends (None: none closed).
    Open referrals have no end yet; `check_erasable` refuses them first."""
    closed = [referral.closed_at for referral in referrals if referral.closed_at is not None]
    return None if not closed else years_after(max(closed), RETENTION_YEARS)


def check_erasable(subject_id: SubjectId, referrals: Iterable[Referral], at: dt.datetime) -> None:
    """Raise RetentionNotOver unless the person's data may be erased at the instant."""
    if at.tzinfo is None:
        raise ValueError("the instant must be aware")
    every = list(referrals)
    if any(referral.subject_id != subject_id for referral in every):
        raise ValueError("a referral of another person")
    open_referrals = sum(1 for referral in every if referral.is_open)
    until = retained_until(every)
    if open_referrals or (until is not None and at < until):
        raise RetentionNotOver(subject_id=subject_id, open_referrals=open_referrals, until=until)
