"""The auditor's pages (roles auditor and admin, the county's figures only, as the audit
service decides): the deadline board, handoff statistics with charts and CSV, a person's
timeline, the access log, and the chain's verification."""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.plumbing.working_days import oslo_date
from services.web.backend import ApiProblem
from services.web.pages.common import (
    CsrfChecked,
    Person,
    Services,
    SignedIn,
    language,
    render,
)
from services.web.pages.referrals import organisation_names
from services.web.texts import label, words

router = APIRouter(prefix="/audit")


def _auditor(request: Request, person: Person) -> Response | None:
    """The page to show instead, when the person is no auditor or admin."""
    if person.may("auditor", "admin"):
        return None
    return render(request, "message.html", message="not_allowed", status_code=403)


@router.get("", response_class=HTMLResponse)
async def deadline_board(request: Request, person: SignedIn, services: Services) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    deadlines = await services.items(
        "audit", "/v1/audit/deadlines", person.token, {"limit": 100}, most=500
    )
    # Missed first, then the soonest due.
    deadlines.sort(key=lambda d: (d["state"] != "missed", d["due_at"]))
    return render(
        request,
        "audit_deadlines.html",
        deadlines=deadlines,
        names=await organisation_names(services, person, request),
    )


def _period(
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: Annotated[dt.date | None, Query()] = None,
) -> tuple[dt.date, dt.date]:
    """The period asked for; by default this year until today."""
    today = oslo_date(dt.datetime.now(dt.UTC))
    return from_ or today.replace(month=1, day=1), to or today


AskedPeriod = Annotated[tuple[dt.date, dt.date], Depends(_period)]


@router.get("/statistics", response_class=HTMLResponse)
async def statistics(
    request: Request, person: SignedIn, services: Services, period: AskedPeriod
) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    first, last = period
    params = {"from": first.isoformat(), "to": last.isoformat(), "compare": "previous"}
    try:
        figures = (await services.get("audit", "/v1/audit/stats", person.token, params)).body
    except ApiProblem as refused_period:
        if refused_period.status != 422:
            raise
        return render(
            request,
            "audit_statistics.html",
            groups=None,
            problem=refused_period,
            period=(first, last),
            status_code=422,
        )
    names = await organisation_names(services, person, request)
    groups = [{**group, "name": _group_name(group, names, request)} for group in figures["groups"]]
    parts = [group for group in groups if group["level"] != "county"]
    timed = [group for group in groups if group["figures"]["share_in_time"] is not None]
    return render(
        request,
        "audit_statistics.html",
        groups=groups,
        filed=Chart([(g["name"], g["figures"]["filed"]) for g in parts], ""),
        in_time=Chart([(g["name"], 100 * g["figures"]["share_in_time"]) for g in timed], " %"),
        problem=None,
        period=(first, last),
    )


@dataclass(frozen=True)
class Chart:
    """Horizontal bars: a label and a value each, drawn to the largest (or 100 %)."""

    bars: list[tuple[str, float]]
    unit: str

    @property
    def scale(self) -> float:
        return 100.0 if self.unit == " %" else max([1.0, *(value for _, value in self.bars)])


def _group_name(group: dict[str, Any], names: dict[str, str], request: Request) -> str:
    if group["level"] == "county":
        return str(words(language(request))["county_total"])
    if group["level"] == "route":
        sender, _, receiver = str(group["route"]).partition("->")
        chosen = language(request)
        return f"{label(chosen, sender)} → {label(chosen, receiver)}"
    return names.get(group["organisation_id"], str(group["organisation_id"]))


@router.get("/statistics.csv")
async def statistics_csv(
    request: Request, person: SignedIn, services: Services, period: AskedPeriod
) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    first, last = period
    params = {"from": first.isoformat(), "to": last.isoformat(), "format": "csv"}
    text, media_type = await services.get_text("audit", "/v1/audit/stats", person.token, params)
    return Response(
        text,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="overgang-{first}-{last}.csv"'},
    )


@router.get("/timeline", response_class=HTMLResponse)
async def timeline(
    request: Request,
    person: SignedIn,
    services: Services,
    subject_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    items = []
    if subject_id is not None:
        items = await services.items(
            "audit", f"/v1/audit/timelines/{subject_id}", person.token, {"limit": 100}
        )
    return render(
        request,
        "audit_timeline.html",
        subject_id=subject_id,
        items=items,
        names=await organisation_names(services, person, request),
    )


@router.get("/access", response_class=HTMLResponse)
async def access_log(
    request: Request,
    person: SignedIn,
    services: Services,
    subject_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    params: dict[str, Any] = {"limit": 100}
    if subject_id is not None:
        params["subject_id"] = str(subject_id)
    return render(
        request,
        "audit_access.html",
        subject_id=subject_id,
        items=await services.items("audit", "/v1/audit/access", person.token, params, most=200),
        names=await organisation_names(services, person, request),
    )


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request, person: SignedIn) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    return render(request, "audit_verify.html", result=None)


@router.post("/verify", dependencies=[CsrfChecked])
async def verify(request: Request, person: SignedIn, services: Services) -> Response:
    if (refused := _auditor(request, person)) is not None:
        return refused
    result = (await services.get("audit", "/v1/audit/verify", person.token)).body
    return render(request, "audit_verify.html", result=result)
