"""An organisation as the rules see it: its id, its type and its sector."""

from dataclasses import dataclass

from schemas.codes import OrganisationType, Sector
from schemas.directory import OrganisationRegisteredV1, OrganisationUpdatedV1
from schemas.ids import OrganisationId


@dataclass(frozen=True)
class Organisation:
    """What route matching and consent coverage need to know about an organisation."""

    organisation_id: OrganisationId
    type: OrganisationType
    sector: Sector

    @classmethod
    def from_event(cls, event: OrganisationRegisteredV1 | OrganisationUpdatedV1) -> "Organisation":
        """The organisation as a directory event describes it."""
        return cls(organisation_id=event.organisation_id, type=event.type, sector=event.sector)
