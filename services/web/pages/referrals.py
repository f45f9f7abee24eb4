"""The worklist and a referral: read through the referral service's API with the person's
token (so every opening is recorded there as an access), and acted on with `If-Match`, so
that a page left open while someone else acted says so instead of overwriting."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from schemas.referrals import (
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    RejectionReason,
)
from services.web.backend import ApiProblem, Backend
from services.web.pages.common import CsrfChecked, Person, Services, SignedIn, render

router = APIRouter()

Box = Literal["received", "sent"]


@dataclass(frozen=True)
class Action:
    """A form on the referral page and the API call it makes: its fields are form names,
    sent under the API's name where `renamed` says so."""

    name: str
    path: str
    fields: tuple[str, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()
    coordinator: bool = False  # offered to coordinators only

    def body(self, form: dict[str, str]) -> dict[str, str] | None:
        if not self.fields:
            return None
        api_names = dict(self.renamed)
        return {api_names.get(name, name): form[name] for name in self.fields if name in form}


_REJECT = Action("reject", "reject", ("reason", "note"))
# Sent on under the consent (or the provision) the referral rests on: it must cover the new
# receiver, which the referral service checks.
_REDIRECT = Action(
    "redirect",
    "redirect",
    ("to_organisation_id", "redirect_reason", "note"),
    (("redirect_reason", "reason"),),
)
_CONTACT = Action("record_contact", "contacts", ("method", "result", "note"))
# A coordinator gives the referral to a counsellor (or takes it): by the user's id at the
# identity provider, which the form fills in with the coordinator's own.
_ASSIGN = Action("assign", "assign", ("assignee_id", "assignee_role"), coordinator=True)

# What may be done in each status, by the organisation it is with (the API decides; these
# are the forms offered).
ACTIONS: dict[str, tuple[Action, ...]] = {
    "submitted": (Action("receive", "receive"), _REJECT),
    "redirected": (Action("receive", "receive"), _REJECT),
    "received": (Action("accept", "accept"), _REJECT, _REDIRECT, _ASSIGN),
    "accepted": (Action("start", "start"), _CONTACT, _ASSIGN),
    "in_progress": (
        _CONTACT,
        _ASSIGN,
        Action("record_follow_up", "follow-ups", ("method", "note")),
        Action("complete", "complete", ("outcome", "note")),
    ),
}
CHOICES: dict[str, list[Any]] = {
    "reason": list(RejectionReason),
    "redirect_reason": list(RedirectionReason),
    "method": list(ContactMethod),
    "result": list(ContactResult),
    "outcome": list(Outcome),
    "assignee_role": ["counsellor", "coordinator"],
}


async def organisation_names(services: Backend, person: Person, request: Request) -> dict[str, str]:
    """Organisation id -> name, from the directory (kept for the app's life: names change
    seldom, and a stale one is only a label)."""
    cache: dict[str, str] = request.app.state.organisation_names
    if not cache:
        directory = await services.items(
            "referral", "/v1/organisations", person.token, {"limit": 200}, most=100_000
        )
        cache.update({entry["organisation_id"]: entry["name"] for entry in directory})
    return cache


@router.get("/", response_class=HTMLResponse)
async def worklist(
    request: Request, person: SignedIn, services: Services, box: Box | None = None
) -> Response:
    if not person.may("filer", "counsellor", "coordinator"):
        return RedirectResponse("/audit", status_code=303)  # an auditor's home
    chosen: Box = box or ("received" if person.may("counsellor", "coordinator") else "sent")
    items = await services.items(
        "referral", "/v1/referrals", person.token, {"box": chosen, "limit": 100}, most=500
    )
    # Overdue first (longest overdue on top), then the longest waiting: the earliest deadlines.
    items.sort(
        key=lambda item: (
            item["overdue_since"] is None,
            item["overdue_since"] or "",
            item["addressed_at"],
        )
    )
    return render(
        request,
        "worklist.html",
        box=chosen,
        referrals=items,
        names=await organisation_names(services, person, request),
    )


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
async def referral_page(
    request: Request, referral_id: uuid.UUID, person: SignedIn, services: Services
) -> Response:
    return await _show(request, referral_id, person, services)


async def _show(
    request: Request,
    referral_id: uuid.UUID,
    person: Person,
    services: Backend,
    *,
    message: str | None = None,
    problem: ApiProblem | None = None,
    status_code: int = 200,
) -> Response:
    try:
        answer = await services.get("referral", f"/v1/referrals/{referral_id}", person.token)
    except ApiProblem as refused:
        if refused.status in (403, 404):
            return render(request, "message.html", message="not_found", status_code=404)
        raise
    referral = answer.body
    mine = referral["to_organisation_id"] == person.organisation_id
    actions = tuple(
        action
        for action in (ACTIONS.get(referral["status"], ()) if mine else ())
        if not action.coordinator or person.may("coordinator")
    )
    names = await organisation_names(services, person, request)
    choices: dict[str, list[Any]] = dict(CHOICES)
    if _REDIRECT in actions:
        allowed = (await services.get("referral", "/v1/agreements/recipients", person.token)).body
        choices["to_organisation_id"] = [
            {"value": item["organisation_id"], "name": names.get(item["organisation_id"], "")}
            for item in allowed["items"]
            if referral["purpose"] in item["purposes"]
        ]
        if not choices["to_organisation_id"]:
            actions = tuple(action for action in actions if action != _REDIRECT)
    return render(
        request,
        "referral.html",
        referral=referral,
        etag=answer.etag,
        actions=actions,
        choices=choices,
        names=names,
        # After an action's redirect; nothing else from the address is shown.
        message=message or ("done" if request.query_params.get("message") == "done" else None),
        problem=problem,
        status_code=status_code,
    )


@router.post("/referrals/{referral_id}/{action}", dependencies=[CsrfChecked])
async def act(
    request: Request,
    referral_id: uuid.UUID,
    action: str,
    person: SignedIn,
    services: Services,
    etag: Annotated[str, Form()],
) -> Response:
    known = {found.name: found for actions in ACTIONS.values() for found in actions}
    if action not in known:
        return render(request, "message.html", message="not_found", status_code=404)
    form = await request.form()
    filled = {
        name: value for name, value in form.items() if isinstance(value, str) and value.strip()
    }
    chosen = known[action]
    body: dict[str, Any] | None = chosen.body(filled)
    if chosen == _REDIRECT and body is not None:
        current = (
            await services.get("referral", f"/v1/referrals/{referral_id}", person.token)
        ).body
        for basis in ("consent_id", "statutory_basis"):
            if current[basis] is not None:
                body[basis] = current[basis]
    try:
        await services.post(
            "referral",
            f"/v1/referrals/{referral_id}/{chosen.path}",
            person.token,
            body,
            if_match=etag,
        )
    except ApiProblem as refused:
        message = {412: "stale", 403: "not_allowed", 409: "conflict", 422: "invalid"}.get(
            refused.status
        )
        if refused.status == 404:
            return render(request, "message.html", message="not_found", status_code=404)
        if message is None:
            raise
        return await _show(
            request, referral_id, person, services, message=message, problem=refused,
            status_code=refused.status,
        )  # fmt: skip
    # Post, then redirect, then get: a reload does not act twice.
    return RedirectResponse(f"/referrals/{referral_id}?message=done", status_code=303)
