"""Who did something: an opaque user id with the organisation and role they acted in, never a
name."""

from pydantic import BaseModel, ConfigDict, Field

from schemas.codes import Role
from schemas.ids import ActorId, OrganisationId


class Actor(BaseModel):
    """The identified user behind a change, by id only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    actor_id: ActorId = Field(
        description="the user's opaque id from the identity provider; their name stays there"
    )
    organisation_id: OrganisationId = Field(description="the organisation the user acted for")
    role: Role = Field(description="the role the user acted in")
