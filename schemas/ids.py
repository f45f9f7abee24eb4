"""Identifiers: our own random ids, and the numbers public registers give organisations and
places. None of them identifies a person outside the referral store."""

import uuid
from typing import Annotated, NewType

from pydantic import AfterValidator, Field
from stdnum.no import orgnr

SubjectId = NewType("SubjectId", uuid.UUID)
OrganisationId = NewType("OrganisationId", uuid.UUID)
AgreementId = NewType("AgreementId", uuid.UUID)
ConsentId = NewType("ConsentId", uuid.UUID)
ReferralId = NewType("ReferralId", uuid.UUID)
ActorId = NewType("ActorId", uuid.UUID)
ContactId = NewType("ContactId", uuid.UUID)
FollowUpId = NewType("FollowUpId", uuid.UUID)
SubscriptionId = NewType("SubscriptionId", uuid.UUID)
DeliveryId = NewType("DeliveryId", uuid.UUID)
AccessId = NewType("AccessId", uuid.UUID)
EventId = NewType("EventId", uuid.UUID)

# `[0-9]`, never `\d`: in Python and in pydantic's Rust regex `\d` also matches other scripts'
# digits, while JSON Schema (ECMA-262) means ASCII digits only.
CountyNumber = Annotated[
    str, Field(pattern=r"^[0-9]{2}$", description="Statistics Norway's two-digit county number")
]
MunicipalityNumber = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}$", description="Statistics Norway's four-digit municipality number"),
]


def _valid_organisation_number(number: str) -> str:
    if not orgnr.is_valid(number):
        raise ValueError("not a valid organisation number: its check digit is wrong")
    return number


OrganisationNumber = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{9}$",
        description="the nine-digit number in the Central Coordinating Register for Legal "
        "Entities (organisasjonsnummer), with a valid modulus 11 check digit",
    ),
    AfterValidator(_valid_organisation_number),
]
# The ce_type of another event, e.g. no.overgang.referral.accepted.v1.
EventType = Annotated[
    str,
    Field(
        max_length=100,
        pattern=r"^no\.overgang\.[a-z_]+\.[a-z_]+\.v[0-9]{1,3}$",
        description="a CloudEvents type of the Overgang contract",
    ),
]
