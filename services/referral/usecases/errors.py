"""What a use case refuses beside the domain's and the store's own errors."""

from collections.abc import Iterable

from schemas.ids import OrganisationId, SubjectId


class UseCaseError(Exception):
    """A use case refused what was asked; nothing was changed."""


class NotPermitted(UseCaseError):
    """The caller's organisation may not do this (their role was checked at the door)."""


class UnknownOrganisations(UseCaseError):
    """Organisations named in the request are not in the directory."""

    def __init__(self, field: str, organisation_ids: Iterable[OrganisationId]) -> None:
        self.field = field
        self.organisation_ids = sorted(organisation_ids, key=str)
        listed = ", ".join(map(str, self.organisation_ids))
        super().__init__(f"not registered organisations: {listed}")


class OrganisationNumberTaken(UseCaseError):
    """Another organisation is registered under this organisation number."""

    def __init__(self) -> None:
        super().__init__("another organisation is registered under this organisation number")


class UnknownReference(UseCaseError):
    """An id in the request names nothing the caller can use (a body field, so 422, not 404)."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        super().__init__(f"{field}: {why}")


class ProcessingRestricted(UseCaseError):
    """Processing of the person's data is restricted (GDPR art. 18): nothing new may be done
    with it until the restriction is lifted; reading it for their rights still works."""

    def __init__(self, subject_id: SubjectId) -> None:
        self.subject_id = subject_id
        super().__init__(f"processing of subject {subject_id}'s data is restricted")
