"""Consents: record one a person (or their guardian) gives, list a person's, and withdraw one,
which cancels every open referral that rests on it alone, in the same transaction.

Who may (filers and coordinators; the role is checked at the door):
- record: any organisation may record a consent the person gives it; the consent is the
  person's, not the organisation's. Its recipient organisations must be in the directory.
- see (list, withdraw): an organisation sees a person's consent when it recorded it, when
  the consent names it (by id, or by its sector), or when it holds a referral that rests on
  the consent (its sender, its receiver, or a receiver it was redirected away from). To
  every other organisation the consent does not exist (a list without it; NotFound on
  withdrawal), so that no organisation learns whom else a person agreed to share with.
  (Consents recorded before migration 0003 have no recorder kept.)
- listing is a read of the person's data and is recorded as an access event.

A person who is erased has no consents to show or give (SubjectErased); a person whose
processing is restricted may not be given a new consent (ProcessingRestricted), but may still
withdraw one: withdrawing only reduces what is done with their data."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.access import AccessPurpose, Resource
from schemas.codes import Purpose, Role, Sector
from schemas.ids import ConsentId, OrganisationId, ReferralId, SubjectId
from schemas.person import CollectionMethod, ConsentGiver
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.referral.crypto import StoreKeys
from services.referral.domain.consents import Consent, cancel_referrals_depending_on
from services.referral.domain.organisations import Organisation
from services.referral.store import consents as store
from services.referral.store import organisations, referrals, subjects
from services.referral.store.access import record_access
from services.referral.store.errors import NotFound
from services.referral.usecases.acting import Clock, actor_of, new_id, now
from services.referral.usecases.errors import ProcessingRestricted, UnknownOrganisations
from services.referral.usecases.referrals import holders

RECORDERS = (Role.FILER, Role.COORDINATOR)


@dataclass(frozen=True)
class ConsentTerms:
    """What the person agreed to, as the organisation recording it writes it down."""

    given_by: ConsentGiver
    purposes: Sequence[Purpose]
    recipient_organisation_ids: Sequence[OrganisationId]
    recipient_sectors: Sequence[Sector]
    expires_at: dt.datetime
    collection_method: CollectionMethod


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawn consent and the referrals its withdrawal cancelled."""

    consent: Consent
    cancelled: list[ReferralId]


async def give_consent(
    connection: Connection,
    subject_id: SubjectId,
    terms: ConsentTerms,
    principal: Principal,
    *,
    clock: Clock = now,
) -> Consent:
    """Record the person's consent (ConsentGivenV1). NotFound or SubjectErased for the person;
    ProcessingRestricted while their processing is restricted; InvalidConsent; and
    UnknownOrganisations for recipients not in the directory."""
    async with connection.transaction():
        if await subjects.restricted_since(connection, subject_id) is not None:
            raise ProcessingRestricted(subject_id)
        unknown = set()
        for organisation_id in terms.recipient_organisation_ids:
            try:
                await organisations.get(connection, organisation_id)
            except NotFound:
                unknown.add(organisation_id)
        if unknown:
            raise UnknownOrganisations("recipient_organisation_ids", unknown)
        at = clock()
        consent = Consent.give(
            consent_id=ConsentId(new_id()),
            subject_id=subject_id,
            given_by=terms.given_by,
            purposes=terms.purposes,
            recipient_organisation_ids=terms.recipient_organisation_ids,
            recipient_sectors=terms.recipient_sectors,
            expires_at=terms.expires_at,
            collection_method=terms.collection_method,
            actor=actor_of(principal, *RECORDERS),
            now=at,
        )
        await store.save(connection, consent, new_id=new_id, now=at)
    return consent


async def list_consents(
    connection: Connection, subject_id: SubjectId, principal: Principal, *, keys: StoreKeys
) -> list[Consent]:
    """The person's consents the caller's organisation sees, oldest first; recorded as an
    access. NotFound or SubjectErased for the person."""
    async with connection.transaction():
        await subjects.restricted_since(connection, subject_id)
        visible = await visible_consents(connection, subject_id, principal, keys)
        await record_access(
            connection,
            actor=actor_of(principal, *RECORDERS),
            subject_id=subject_id,
            purpose=AccessPurpose.CASE_HANDLING,
            resource=Resource.CONSENTS,
            now=now(),
            new_id=new_id,
        )
    return visible


async def withdraw_consent(
    connection: Connection,
    consent_id: ConsentId,
    withdrawn_by: ConsentGiver,
    principal: Principal,
    *,
    keys: StoreKeys,
    clock: Clock = now,
) -> Withdrawal:
    """Withdraw a consent the caller's organisation sees (ConsentWithdrawnV1), and cancel each
    open referral that rests on it alone (ReferralCancelledV1 each, reason consent_withdrawn),
    all in one transaction. NotFound; SubjectErased; ConsentAlreadyWithdrawn."""
    async with connection.transaction():
        consent = await store.get(connection, consent_id)
        await subjects.restricted_since(connection, consent.subject_id)
        if consent not in await visible_consents(
            connection, consent.subject_id, principal, keys, only=consent
        ):
            raise NotFound(f"no consent {consent_id}")
        at = clock()
        withdrawal = consent.withdraw(
            withdrawn_by=withdrawn_by, actor=actor_of(principal, *RECORDERS), now=at
        )
        # Locked until the end of this transaction, so that no action slips in between.
        dependent = await referrals.open_depending_on_consent(connection, consent_id, keys)
        versions = {referral.referral_id: referral.version for referral in dependent}
        cancelled = cancel_referrals_depending_on(withdrawal, dependent)
        # The withdrawal's event first, then each cancellation's: the order consumers see.
        await store.save(connection, consent, new_id=new_id, now=at)
        for referral in cancelled:
            await referrals.save(
                connection,
                referral,
                expected_version=versions[referral.referral_id],
                new_id=new_id,
                now=at,
                keys=keys,
            )
    return Withdrawal(consent, [referral.referral_id for referral in cancelled])


async def visible_consents(
    connection: Connection,
    subject_id: SubjectId,
    principal: Principal,
    keys: StoreKeys,
    *,
    only: Consent | None = None,
) -> list[Consent]:
    """The person's consents that the caller's organisation sees (see the module's rule)."""
    every = [only] if only is not None else await store.of_subject(connection, subject_id)
    if not every:
        return []
    own = await _own_organisation(connection, principal)
    held = {
        referral.consent_id
        for referral in await referrals.of_subject(connection, subject_id, keys)
        if referral.consent_id is not None and principal.organisation_id in holders(referral)
    }
    return [
        consent
        for consent in every
        if consent.recorded_by == principal.organisation_id
        or _names(consent, own)
        or consent.consent_id in held
    ]


def _names(consent: Consent, organisation: Organisation | None) -> bool:
    return organisation is not None and (
        organisation.organisation_id in consent.recipient_organisation_ids
        or organisation.sector in consent.recipient_sectors
    )


async def _own_organisation(connection: Connection, principal: Principal) -> Organisation | None:
    # A caller's organisation outside the directory has no sector a consent could name.
    try:
        return await organisations.get(connection, principal.organisation_id)
    except NotFound:
        return None
