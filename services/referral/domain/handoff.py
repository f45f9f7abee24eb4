"""What every handoff of a person (a filing, a redirection) needs: an agreement route from the
sender to the receiver, and a legal basis for the receiver to get the person's data."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.codes import Purpose
from schemas.directory import Situation
from schemas.referrals import StatutoryBasis
from services.plumbing.working_days import oslo_date
from services.referral.domain.agreements import Agreement, find_route
from services.referral.domain.consents import Consent
from services.referral.domain.legal_basis import LegalBasis, establish_legal_basis
from services.referral.domain.organisations import Organisation
from services.referral.domain.subjects import Subject


@dataclass(frozen=True)
class Handoff:
    """The agreement that allows a handoff, and the legal basis it rests on."""

    agreement: Agreement
    basis: LegalBasis


def check_handoff(
    *,
    agreements: Iterable[Agreement],
    sender: Organisation,
    receiver: Organisation,
    purpose: Purpose,
    situation: Situation,
    subject: Subject,
    consent: Consent | None,
    statutory_basis: StatutoryBasis | None,
    now: dt.datetime,
) -> Handoff:
    """The route check (NoAgreementRoute) and then the legal basis check (NoLegalBasis,
    ConsentDoesNotCover, GuardianConsentRequired), on the Norwegian calendar day of `now` and
    with the person's age on that day."""
    today = oslo_date(now)
    match = find_route(
        agreements,
        sender=sender,
        receiver=receiver,
        purpose=purpose,
        age=subject.age_on(today),
        situation=situation,
        on=today,
    )
    basis = establish_legal_basis(
        consent=consent,
        statutory_basis=statutory_basis,
        subject=subject,
        recipient=receiver,
        purpose=purpose,
        guardian_consent_below_age=match.agreement.guardian_consent_below_age,
        at=now,
    )
    return Handoff(match.agreement, basis)
