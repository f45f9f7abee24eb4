"""Who acts: the verified caller as the actor recorded in events, and the clock and ids that
use cases hand to the domain and the store."""

import datetime as dt
import uuid
from collections.abc import Callable

from schemas.actors import Actor
from schemas.codes import Role
from services.plumbing.auth import Principal


def actor_of(principal: Principal, *roles: Role) -> Actor:
    """The caller, acting in the first of `roles` they hold (the role that let them in)."""
    for role in roles:
        if role in principal.roles:
            return Actor(
                actor_id=principal.actor_id, organisation_id=principal.organisation_id, role=role
            )
    raise ValueError("the caller holds none of the roles")


def now() -> dt.datetime:
    """The time of a change: aware, UTC."""
    return dt.datetime.now(dt.UTC)


# What the use cases that change things read the time from: the wall clock, or (for the data
# generator, which writes years of history in minutes) a clock the caller moves.
Clock = Callable[[], dt.datetime]


def new_id() -> uuid.UUID:
    """A fresh random id, for an entity or an event."""
    return uuid.uuid4()
