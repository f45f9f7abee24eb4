"""`/v1/subjects`: register a person by identity number and get their subject_id."""

import datetime as dt

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.ids import SubjectId
from services.plumbing.database import Connection
from services.referral.api.deps import AllowSynthetic, IdempotencyKey, Keys, Pool, Registrar
from services.referral.api.idempotency import once
from services.referral.usecases import subjects
from services.referral.usecases.subjects import PersonDetails

router = APIRouter(prefix="/v1/subjects", tags=["subjects"])


class SubjectCreate(BaseModel):
    """A person to register; everything but the subject_id is stored encrypted."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    identity_number: str = Field(
        min_length=1,
        max_length=32,
        repr=False,
        description="fødselsnummer or D-number, 11 digits (spaces and hyphens ignored)",
    )
    birth_date: dt.date = Field(repr=False, description="the person's date of birth")
    name: str | None = Field(None, max_length=200, repr=False, description="the person's name")
    contact: str | None = Field(
        None, max_length=320, repr=False, description="how to reach the person"
    )


class SubjectRead(BaseModel):
    """The person's id in Overgang; nothing else about them."""

    subject_id: SubjectId


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubjectRead,
    summary="Register a person (201), or find them when registered already (200)",
    responses={200: {"model": SubjectRead, "description": "the person was registered already"}},
)
async def register(
    body: SubjectCreate,
    request: Request,
    principal: Registrar,
    pool: Pool,
    keys: Keys,
    allow_synthetic: AllowSynthetic,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    person = PersonDetails(
        identity_number=body.identity_number,
        birth_date=body.birth_date,
        name=body.name,
        contact=body.contact,
    )

    async def act(connection: Connection) -> tuple[int, BaseModel]:
        registration = await subjects.register_subject(
            connection, person, principal, keys=keys, allow_synthetic=allow_synthetic
        )
        code = status.HTTP_201_CREATED if registration.created else status.HTTP_200_OK
        return code, SubjectRead(subject_id=registration.subject_id)

    return await once(request, pool, principal, idempotency_key, body, keys, act)
