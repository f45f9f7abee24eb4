"""Every event type of the contract, and `parse`, which turns an envelope's data into its
model."""

from collections.abc import Iterable

from pydantic import ValidationError

from schemas.access import PersonalDataAccessedV1
from schemas.audit import AuditCheckpointV1
from schemas.deadlines import DeadlineApproachingV1, DeadlineMetV1, DeadlineMissedV1
from schemas.directory import (
    AgreementAmendedV1,
    AgreementRegisteredV1,
    AgreementTerminatedV1,
    OrganisationRegisteredV1,
    OrganisationUpdatedV1,
)
from schemas.envelope import CloudEvent, EventData
from schemas.errors import DuplicateEventType, SchemaViolation, UnknownEventType
from schemas.inbound import PupilLeftSchoolV1
from schemas.notifications import (
    NotificationDeadLetteredV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
)
from schemas.person import (
    ConsentExpiredV1,
    ConsentGivenV1,
    ConsentWithdrawnV1,
    SubjectErasedV1,
    SubjectRegisteredV1,
    SubjectRestrictedV1,
    SubjectRestrictionLiftedV1,
)
from schemas.referrals import (
    ReferralAcceptedV1,
    ReferralAssignedV1,
    ReferralCancelledV1,
    ReferralCompletedV1,
    ReferralContactRecordedV1,
    ReferralFollowUpRecordedV1,
    ReferralReceivedV1,
    ReferralRedirectedV1,
    ReferralRejectedV1,
    ReferralStartedV1,
    ReferralSubmittedV1,
    ReferralWithdrawnV1,
)

MODELS: tuple[type[EventData], ...] = (
    OrganisationRegisteredV1,
    OrganisationUpdatedV1,
    AgreementRegisteredV1,
    AgreementAmendedV1,
    AgreementTerminatedV1,
    SubjectRegisteredV1,
    SubjectRestrictedV1,
    SubjectRestrictionLiftedV1,
    SubjectErasedV1,
    ConsentGivenV1,
    ConsentWithdrawnV1,
    ConsentExpiredV1,
    ReferralSubmittedV1,
    ReferralReceivedV1,
    ReferralAcceptedV1,
    ReferralRejectedV1,
    ReferralRedirectedV1,
    ReferralWithdrawnV1,
    ReferralStartedV1,
    ReferralContactRecordedV1,
    ReferralFollowUpRecordedV1,
    ReferralCompletedV1,
    ReferralCancelledV1,
    ReferralAssignedV1,
    DeadlineApproachingV1,
    DeadlineMissedV1,
    DeadlineMetV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationDeadLetteredV1,
    PersonalDataAccessedV1,
    AuditCheckpointV1,
    PupilLeftSchoolV1,
)


def by_type(models: Iterable[type[EventData]]) -> dict[str, type[EventData]]:
    """Index models by their `ce_type`, refusing two models with one type."""
    index: dict[str, type[EventData]] = {}
    for model in models:
        if model.ce_type in index:
            raise DuplicateEventType(
                f"{model.__name__} and {index[model.ce_type].__name__} are both {model.ce_type}"
            )
        index[model.ce_type] = model
    return index


EVENT_TYPES: dict[str, type[EventData]] = by_type(MODELS)


def parse(event: CloudEvent) -> EventData:
    """The event's data as the model of its type, or `UnknownEventType`/`SchemaViolation`."""
    model = EVENT_TYPES.get(event.type)
    if model is None:
        raise UnknownEventType(event.type)
    try:
        return model.model_validate(event.data)
    except ValidationError as error:
        # `from None`: pydantic's error repeats the input, which may hold an identity number.
        raise SchemaViolation(event.type, error) from None
