"""What allows a referral to share a person's data: a covering consent, a statutory basis, or
both; never neither."""

import datetime as dt
from dataclasses import dataclass

from schemas.codes import Purpose
from schemas.ids import ConsentId
from schemas.referrals import StatutoryBasis
from services.referral.domain.consents import Consent
from services.referral.domain.errors import NoLegalBasis
from services.referral.domain.organisations import Organisation
from services.referral.domain.subjects import Subject


@dataclass(frozen=True)
class LegalBasis:
    """The consent and/or the provision a referral rests on."""

    consent_id: ConsentId | None
    statutory_basis: StatutoryBasis | None


def establish_legal_basis(
    *,
    consent: Consent | None,
    statutory_basis: StatutoryBasis | None,
    subject: Subject,
    recipient: Organisation,
    purpose: Purpose,
    guardian_consent_below_age: int,
    at: dt.datetime,
) -> LegalBasis:
    """The legal basis for sharing with the recipient, or an error saying what is missing.

    A consent that is named must cover the referral, even when a statutory basis is given too:
    naming a consent that does not cover it is a mistake to show, not to pass over."""
    if consent is None and statutory_basis is None:
        raise NoLegalBasis()
    if consent is not None:
        consent.check_covers(
            subject=subject,
            recipient=recipient,
            purpose=purpose,
            guardian_consent_below_age=guardian_consent_below_age,
            at=at,
        )
    return LegalBasis(
        consent_id=None if consent is None else consent.consent_id,
        statutory_basis=statutory_basis,
    )
