"""What notifications say, and which e-mail addresses subscriptions may use."""

import uuid

import pytest

from services.notifier.domain.errors import InvalidAddress
from services.notifier.domain.messages import email_message, plain_words, referral_in
from services.notifier.domain.routing import NOTIFIED_TYPES
from services.notifier.domain.subscriptions import mailbox_address


@pytest.mark.parametrize("event_type", sorted(NOTIFIED_TYPES - {"no.overgang.audit.checkpoint.v1"}))
def test_every_notified_type_has_words_of_its_own_in_both_languages(event_type: str) -> None:
    words = plain_words(event_type)
    assert not words.nb.startswith("Noe nytt")
    assert not words.en.startswith("Something new")


def test_a_type_without_words_is_said_by_its_noun_and_verb() -> None:
    words = plain_words("no.overgang.referral.reopened.v2")
    assert words.en == "Something new: referral reopened"


def test_the_mail_names_the_referral_at_most_and_where_to_look() -> None:
    referral = uuid.uuid4()
    mail = email_message(
        "no.overgang.referral.accepted.v1",
        referral_id=referral,
        base_url="https://overgang.example/",
    )
    assert f"https://overgang.example/v1/referrals/{referral}" in mail.text
    assert "En henvisning er godtatt." in mail.text
    assert "A referral was accepted." in mail.text
    assert "\n" not in mail.subject

    general = email_message(
        "no.overgang.consent.given.v1", referral_id=None, base_url="https://o.example"
    )
    assert "https://o.example\n" in general.text
    assert "Henvisning:" not in general.text


def test_the_referral_is_taken_from_the_stored_data_only_when_it_is_an_id() -> None:
    referral = uuid.uuid4()
    assert referral_in({"referral_id": str(referral)}) == referral
    assert referral_in({"referral_id": "Ola Nordmann"}) is None
    assert referral_in({"subject_id": str(referral)}) is None


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("post@NAV-Bergenhus.no", "post@nav-bergenhus.no"),
        ("oppfolging.vest+varsel@vestlandfylke.no", "oppfolging.vest+varsel@vestlandfylke.no"),
    ],
)
def test_plain_mailbox_addresses_are_taken(address: str, kept: str) -> None:
    assert mailbox_address(address) == kept


@pytest.mark.parametrize(
    "address",
    [
        "post",
        "@nav.no",
        "post@",
        "post@no",
        "post@nav..no",
        "post@-nav.no",
        "post@127.0.0.1",
        "po st@nav.no",
        '"post"@nav.no',
        "post.@nav.no",
        "post@nav.no\r\nBcc: x@y.no",
        "a" * 65 + "@nav.no",
        "post@" + "a" * 250 + ".no",
    ],
)
def test_anything_else_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddress) as refused:
        mailbox_address(address)
    assert address not in str(refused.value)
