"""The referral domain's errors: one base, and one error per rule, each saying which rule and
why. No message ever carries an identity number, a name or free text about a person."""

from dataclasses import dataclass
from enum import StrEnum

from schemas.codes import Role
from schemas.ids import AgreementId, ConsentId
from services.referral.domain.status import ReferralAction, ReferralStatus


class ReferralDomainError(Exception):
    """A rule of the referral domain refused what was asked; nothing was changed."""


class IllegalTransition(ReferralDomainError):
    """The action is not possible from the referral's current status."""

    def __init__(self, *, status: ReferralStatus, action: ReferralAction) -> None:
        self.status = status
        self.action = action
        super().__init__(f"cannot {action.phrase} a referral that is {status.value}")


class StaleVersion(ReferralDomainError):
    """The caller acted on an older version of the referral than the current one."""

    def __init__(self, *, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the referral is at version {actual}, not {expected}: reload it and try again"
        )


class NotAllowed(ReferralDomainError):
    """The actor's organisation or role may not take this action."""

    def __init__(self, *, action: ReferralAction, role: Role, why: str) -> None:
        self.action = action
        self.role = role
        super().__init__(f"a {role.value} may not {action.phrase} this referral: {why}")


class RouteRefusalCode(StrEnum):
    """Why one agreement does not allow a referral."""

    NO_AGREEMENT = "no_agreement"
    SAME_ORGANISATION = "same_organisation"
    NOT_IN_FORCE = "not_in_force"
    INFORMATION_ONLY = "information_only"
    NO_ROUTE = "no_route"
    PURPOSE_NOT_ALLOWED = "purpose_not_allowed"
    AGE_OUTSIDE_TARGET_GROUPS = "age_outside_target_groups"
    SITUATION_OUTSIDE_TARGET_GROUPS = "situation_outside_target_groups"


@dataclass(frozen=True)
class RouteRefusal:
    """Why one agreement (or none at all) does not allow a referral, for people and machines."""

    code: RouteRefusalCode
    why: str
    agreement_id: AgreementId | None = None
    agreement_version: int | None = None

    def __str__(self) -> str:
        if self.agreement_id is None:
            return self.why
        return f"agreement {self.agreement_id} (version {self.agreement_version}): {self.why}"


class NoAgreementRoute(ReferralDomainError):
    """No valid agreement has a route for this referral; each refusal says why."""

    def __init__(self, refusals: tuple[RouteRefusal, ...]) -> None:
        if not refusals:
            raise ValueError("a refused route needs at least one reason")
        self.refusals = refusals
        super().__init__(
            "no valid agreement allows this referral: " + "; ".join(map(str, refusals))
        )


class NoLegalBasis(ReferralDomainError):
    """A referral needs a covering consent or a statutory basis, and has neither."""

    def __init__(self) -> None:
        super().__init__(
            "no legal basis to share: there is no consent that covers the recipient and "
            "purpose, and no statutory basis was given"
        )


class ConsentRefusalReason(StrEnum):
    """Why a consent does not cover a referral."""

    ANOTHER_PERSON = "another_person"
    RECIPIENT_NOT_COVERED = "recipient_not_covered"
    PURPOSE_NOT_COVERED = "purpose_not_covered"
    NOT_YET_GIVEN = "not_yet_given"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    GUARDIAN_FOR_PERSON_OF_AGE = "guardian_for_person_of_age"


_CONSENT_REFUSALS = {
    ConsentRefusalReason.ANOTHER_PERSON: "it was given for another person",
    ConsentRefusalReason.RECIPIENT_NOT_COVERED: (
        "it covers neither the receiving organisation nor its sector"
    ),
    ConsentRefusalReason.PURPOSE_NOT_COVERED: "it does not cover the purpose",
    ConsentRefusalReason.NOT_YET_GIVEN: "it was not yet given at that time",
    ConsentRefusalReason.EXPIRED: "it has expired",
    ConsentRefusalReason.WITHDRAWN: "it has been withdrawn",
    ConsentRefusalReason.GUARDIAN_FOR_PERSON_OF_AGE: (
        "it was given by a guardian, but the person is now old enough under the agreement "
        "to consent themselves"
    ),
}


class ConsentDoesNotCover(ReferralDomainError):
    """The consent named for a referral does not cover it."""

    def __init__(self, *, consent_id: ConsentId, reason: ConsentRefusalReason) -> None:
        self.consent_id = consent_id
        self.reason = reason
        super().__init__(
            f"consent {consent_id} does not cover this referral: {_CONSENT_REFUSALS[reason]}"
        )


class GuardianConsentRequired(ReferralDomainError):
    """The person was under the agreement's guardian-consent age, so a guardian must consent."""

    def __init__(self, *, consent_id: ConsentId, below_age: int) -> None:
        self.consent_id = consent_id
        self.below_age = below_age
        super().__init__(
            f"consent {consent_id} was given by the person, but the agreement requires a "
            f"guardian's consent for a person under {below_age}"
        )


class ConsentAlreadyWithdrawn(ReferralDomainError):
    """A consent can be withdrawn once."""

    def __init__(self, consent_id: ConsentId) -> None:
        self.consent_id = consent_id
        super().__init__(f"consent {consent_id} has already been withdrawn")


class InvalidConsent(ReferralDomainError):
    """A consent must name a recipient and a purpose, and expire after it is given."""

    def __init__(self, why: str) -> None:
        super().__init__(f"not a valid consent: {why}")


class IdentityNumberProblem(StrEnum):
    """What is wrong with an identity number, without saying what the number is."""

    NOT_DIGITS = "not_digits"
    WRONG_LENGTH = "wrong_length"
    WRONG_CHECK_DIGIT = "wrong_check_digit"
    NOT_A_DATE = "not_a_date"
    NOT_A_NATIONAL_IDENTITY_NUMBER = "not_a_national_identity_number"
    SYNTHETIC_NOT_ALLOWED = "synthetic_not_allowed"


_IDENTITY_PROBLEMS = {
    IdentityNumberProblem.NOT_DIGITS: "it must be digits only (spaces and hyphens are ignored)",
    IdentityNumberProblem.WRONG_LENGTH: "it must have 11 digits",
    IdentityNumberProblem.WRONG_CHECK_DIGIT: "a check digit is wrong",
    IdentityNumberProblem.NOT_A_DATE: "its first six digits are not a date",
    IdentityNumberProblem.NOT_A_NATIONAL_IDENTITY_NUMBER: (
        "it is a help number (FH or H number), not a fødselsnummer or D-number"
    ),
    IdentityNumberProblem.SYNTHETIC_NOT_ALLOWED: (
        "it is a synthetic test number, and synthetic numbers are not accepted here"
    ),
}


class InvalidIdentityNumber(ReferralDomainError):
    """Not a valid fødselsnummer or D-number; the message never repeats the number."""

    def __init__(self, problem: IdentityNumberProblem) -> None:
        self.problem = problem
        super().__init__(f"not a valid national identity number: {_IDENTITY_PROBLEMS[problem]}")


class RedirectToCurrentReceiver(ReferralDomainError):
    """A referral is redirected to another organisation than the one it is addressed to."""

    def __init__(self) -> None:
        super().__init__("the referral is already addressed to that organisation")


class InvalidAssignee(ReferralDomainError):
    """A referral is assigned to a counsellor or coordinator of the receiving organisation."""

    def __init__(self, why: str) -> None:
        super().__init__(f"cannot assign the referral: {why}")


class NoteTooLong(ReferralDomainError):
    """A free-text note is bounded, so that it stays a note."""

    def __init__(self, *, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(f"the note has {length} characters; at most {limit} are allowed")
