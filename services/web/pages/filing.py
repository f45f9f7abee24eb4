"""A filer refers a person: who they are (registered, or found again, by identity number),
their consent (for the purpose and the recipient chosen), and the referral, to one of the
organisations its agreements allow. Three calls to the referral service; what succeeded is
kept in the form, so that correcting a later step never repeats an earlier one, and each call
carries an Idempotency-Key derived from its body, so that a double submit is answered once."""

import datetime as dt
import hashlib
import json
import uuid
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from schemas.codes import Purpose
from schemas.directory import Situation
from schemas.person import CollectionMethod, ConsentGiver
from services.plumbing.working_days import oslo_date
from services.web.backend import ApiProblem, Backend
from services.web.pages.common import CsrfChecked, Person, Services, SignedIn, render
from services.web.pages.referrals import organisation_names

router = APIRouter()

_OSLO = ZoneInfo("Europe/Oslo")
_CHOICES = {
    "purpose": list(Purpose),
    "situation": list(Situation),
    "given_by": list(ConsentGiver),
    "collection_method": list(CollectionMethod),
}


async def _recipients(services: Backend, person: Person, request: Request) -> list[dict[str, Any]]:
    found = (await services.get("referral", "/v1/agreements/recipients", person.token)).body
    names = await organisation_names(services, person, request)
    return sorted(
        ({**item, "name": names.get(item["organisation_id"], item["organisation_id"])}
         for item in found["items"]),
        key=lambda item: item["name"],
    )  # fmt: skip


async def _form(
    request: Request,
    person: Person,
    services: Backend,
    values: dict[str, str],
    *,
    problem: ApiProblem | None = None,
    status_code: int = 200,
) -> Response:
    if not person.may("filer"):
        return render(request, "message.html", message="not_allowed", status_code=403)
    return render(
        request,
        "new_referral.html",
        recipients=await _recipients(services, person, request),
        choices=_CHOICES,
        values=values,
        problem=problem,
        status_code=status_code,
    )


@router.get("/referrals/new", response_class=HTMLResponse)
async def new_referral(request: Request, person: SignedIn, services: Services) -> Response:
    in_a_year = oslo_date(dt.datetime.now(dt.UTC)) + dt.timedelta(days=365)
    return await _form(request, person, services, {"expires_on": in_a_year.isoformat()})


@router.post("/referrals/new", dependencies=[CsrfChecked])
async def file_referral(
    request: Request,
    person: SignedIn,
    services: Services,
    identity_number: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    recipient: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    situation: Annotated[str, Form()] = "",
    given_by: Annotated[str, Form()] = "",
    collection_method: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
    subject_id: Annotated[str, Form()] = "",
    consent_id: Annotated[str, Form()] = "",
) -> Response:
    values = {key: value for key, value in locals().items() if isinstance(value, str)}
    try:
        if not subject_id:
            person_body = {"identity_number": identity_number, "birth_date": birth_date or None}
            if name.strip():
                person_body["name"] = name.strip()
            subject_id = values["subject_id"] = (
                await _create(services, person, "/v1/subjects", person_body)
            )["subject_id"]
        if not consent_id:
            consent_id = values["consent_id"] = (
                await _create(
                    services,
                    person,
                    f"/v1/subjects/{subject_id}/consents",
                    {
                        "given_by": given_by,
                        "purposes": [purpose],
                        "recipient_organisation_ids": [recipient],
                        "expires_at": _end_of_day(expires_on),
                        "collection_method": collection_method,
                    },
                )
            )["consent_id"]
        filed = await _create(
            services,
            person,
            "/v1/referrals",
            {
                "subject_id": subject_id,
                "to_organisation_id": recipient,
                "purpose": purpose,
                "situation": situation,
                "consent_id": consent_id,
            },
        )
    except ApiProblem as refused:
        if refused.status not in (400, 409, 422):
            raise
        return await _form(
            request, person, services, values, problem=refused, status_code=refused.status
        )
    return RedirectResponse(f"/referrals/{filed['referral_id']}?message=done", status_code=303)


async def _create(
    services: Backend, person: Person, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST with an Idempotency-Key of the caller, the path and the body: the same form sent
    twice is filed once."""
    digest = hashlib.sha256(
        json.dumps([person.token, path, body], sort_keys=True).encode()
    ).hexdigest()
    answer = await services.post(
        "referral", path, person.token, body, idempotency_key=str(uuid.UUID(digest[:32]))
    )
    created: dict[str, Any] = answer.body
    return created


def _end_of_day(day: str) -> str | None:
    """The end of a day in Norway, as the consent's expiry (None: not a date; the API says)."""
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        return None
    return dt.datetime.combine(date, dt.time(23, 59), tzinfo=_OSLO).isoformat()
