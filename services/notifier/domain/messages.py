"""What a notification says to people: the kind of news in plain words (bokmål and English),
and the short e-mail that tells a functional mailbox there is something new and where to look.

Made from the event's type and, for a referral's events, the referral's id, and nothing else:
never a name, an identity number or free text (an e-mail leaves our control for good)."""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.envelope import EventData


@dataclass(frozen=True)
class PlainWords:
    """One kind of news, said in Norwegian (bokmål) and in English."""

    nb: str
    en: str


_WORDS: dict[str, PlainWords] = {
    "no.overgang.organisation.registered.v1": PlainWords(
        "En organisasjon er registrert", "An organisation was registered"
    ),
    "no.overgang.organisation.updated.v1": PlainWords(
        "En organisasjon er endret", "An organisation was updated"
    ),
    "no.overgang.agreement.registered.v1": PlainWords(
        "En samarbeidsavtale er registrert", "A cooperation agreement was registered"
    ),
    "no.overgang.agreement.amended.v1": PlainWords(
        "En samarbeidsavtale er endret", "A cooperation agreement was amended"
    ),
    "no.overgang.agreement.terminated.v1": PlainWords(
        "En samarbeidsavtale er avsluttet", "A cooperation agreement was terminated"
    ),
    "no.overgang.subject.registered.v1": PlainWords(
        "En person er registrert", "A person was registered"
    ),
    "no.overgang.subject.restricted.v1": PlainWords(
        "Behandlingen av en persons opplysninger er begrenset",
        "Processing of a person's data was restricted",
    ),
    "no.overgang.subject.restriction_lifted.v1": PlainWords(
        "En begrensning av behandlingen er opphevet", "A restriction of processing was lifted"
    ),
    "no.overgang.subject.erased.v1": PlainWords(
        "En persons opplysninger er slettet", "A person's data was erased"
    ),
    "no.overgang.consent.given.v1": PlainWords("Et samtykke er gitt", "A consent was given"),
    "no.overgang.consent.withdrawn.v1": PlainWords(
        "Et samtykke er trukket tilbake", "A consent was withdrawn"
    ),
    "no.overgang.consent.expired.v1": PlainWords("Et samtykke er utløpt", "A consent has expired"),
    "no.overgang.referral.submitted.v1": PlainWords(
        "En ny henvisning er sendt", "A new referral was filed"
    ),
    "no.overgang.referral.received.v1": PlainWords(
        "En henvisning er mottatt", "A referral was received"
    ),
    "no.overgang.referral.accepted.v1": PlainWords(
        "En henvisning er godtatt", "A referral was accepted"
    ),
    "no.overgang.referral.rejected.v1": PlainWords(
        "En henvisning er avvist", "A referral was rejected"
    ),
    "no.overgang.referral.redirected.v1": PlainWords(
        "En henvisning er sendt videre", "A referral was redirected"
    ),
    "no.overgang.referral.withdrawn.v1": PlainWords(
        "En henvisning er trukket tilbake", "A referral was withdrawn"
    ),
    "no.overgang.referral.started.v1": PlainWords(
        "Arbeidet med en henvisning er startet", "Work on a referral began"
    ),
    "no.overgang.referral.contact_recorded.v1": PlainWords(
        "En kontakt er registrert på en henvisning", "A contact was recorded on a referral"
    ),
    "no.overgang.referral.follow_up_recorded.v1": PlainWords(
        "En oppfølging er registrert på en henvisning", "A follow-up was recorded on a referral"
    ),
    "no.overgang.referral.completed.v1": PlainWords(
        "En henvisning er fullført", "A referral was completed"
    ),
    "no.overgang.referral.cancelled.v1": PlainWords(
        "En henvisning er kansellert", "A referral was cancelled"
    ),
    "no.overgang.referral.assigned.v1": PlainWords(
        "En henvisning er tildelt en saksbehandler", "A referral was assigned to a counsellor"
    ),
    "no.overgang.deadline.approaching.v1": PlainWords(
        "En frist nærmer seg", "A deadline is approaching"
    ),
    "no.overgang.deadline.missed.v1": PlainWords("En frist er oversittet", "A deadline was missed"),
    "no.overgang.deadline.met.v1": PlainWords("En frist er overholdt", "A deadline was met"),
}

_TYPE = re.compile(r"^no\.overgang\.([a-z_]+)\.([a-z_]+)\.v[0-9]+$")


def plain_words(event_type: str) -> PlainWords:
    """The kind of news an event type brings; for a type without words of its own, its
    noun and verb (e.g. "something new: referral reopened")."""
    known = _WORDS.get(event_type)
    if known is not None:
        return known
    match = _TYPE.match(event_type)
    what = " ".join(p.replace("_", " ") for p in match.groups()) if match else "hendelse"
    return PlainWords(f"Noe nytt: {what}", f"Something new: {what}")


def referral_of(data: EventData) -> uuid.UUID | None:
    """The referral an event is about, if any: the most an e-mail may name."""
    found = getattr(data, "referral_id", None)
    return found if isinstance(found, uuid.UUID) else None


def referral_in(data: Mapping[str, Any]) -> uuid.UUID | None:
    """The referral named by a CloudEvent's `data` as stored, if any."""
    found = data.get("referral_id")
    if not isinstance(found, str):
        return None
    try:
        return uuid.UUID(found)
    except ValueError:
        return None


@dataclass(frozen=True)
class MailText:
    subject: str
    text: str


def email_message(event_type: str, *, referral_id: uuid.UUID | None, base_url: str) -> MailText:
    """The e-mail about one event: what kind of news, and where to look."""
    words = plain_words(event_type)
    base = base_url.rstrip("/")
    if referral_id is not None:
        where = f"{base}/v1/referrals/{referral_id}"
        reference_nb = f"Henvisning: {referral_id}\n"
        reference_en = f"Referral: {referral_id}\n"
    else:
        where = base
        reference_nb = reference_en = ""
    text = (
        "Det er noe nytt i Overgang for organisasjonen deres.\n"
        f"{words.nb}.\n"
        f"{reference_nb}"
        f"Logg inn for å se mer: {where}\n"
        "\n"
        "There is something new in Overgang for your organisation.\n"
        f"{words.en}.\n"
        f"{reference_en}"
        f"Sign in to see more: {where}\n"
        "\n"
        "Denne e-posten er sendt automatisk og inneholder ingen personopplysninger; "
        "svar ikke på den.\n"
        "This e-mail was sent automatically and holds no personal data; do not reply to it.\n"
    )
    return MailText(subject=f"Overgang: {words.nb} / {words.en}", text=text)
