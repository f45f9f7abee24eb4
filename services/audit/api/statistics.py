"""`/v1/audit/stats`: handoff statistics of the caller's county for the quality framework,
per route, per receiving organisation and for the county, as JSON or CSV (one row per group
and measure); optionally beside the period of equal length before it."""

import csv
import datetime as dt
import io
import uuid
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.audit.api.deps import Auditor, Pool, only_query
from services.audit.api.exports import ExportFormat, Format
from services.audit.domain.statistics import (
    Figures,
    GroupKey,
    Level,
    Period,
    figures_fields,
    measures,
    parse_route,
)
from services.audit.usecases.statistics import PeriodFigures, Statistics, read_statistics

router = APIRouter(prefix="/v1/audit", tags=["statistics"])
STATISTICS_QUERY = ("from", "to", "organisation_id", "route", "compare", "format")
CSV_COLUMNS = (
    "period",
    "from",
    "to",
    "level",
    "route",
    "organisation_id",
    "measure",
    "code",
    "value",
)


class Compare(StrEnum):
    PREVIOUS = "previous"  # the period of equal length just before


class SpreadRead(BaseModel):
    median: float | None = Field(description="hours; null with no times")
    p90: float | None = Field(description="90th percentile, hours; null with no times")
    count: int = Field(description="how many times were measured")


class FiguresRead(BaseModel):
    """One group's figures in one period."""

    filed: int = Field(description="referrals filed")
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int] = Field(description="rejections by reason code")
    redirected: int = Field(description="referrals this receiver sent on")
    completed: int
    completed_by_outcome: dict[str, int] = Field(description="completions by outcome code")
    hours_to_receive: SpreadRead = Field(description="from reaching the receiver to receipt")
    hours_to_decide: SpreadRead = Field(description="from receipt to acceptance or rejection")
    hours_to_first_contact: SpreadRead = Field(
        description="from acceptance to the first contact that reached the person"
    )
    deadlines_due: int = Field(description="deadlines due in the period (not closed before)")
    deadlines_met_in_time: int = Field(description="of those, met in time, never missed")
    share_in_time: float | None = Field(description="met in time over due; null when none due")


class GroupRead(BaseModel):
    level: Level = Field(description="county, route or organisation")
    route: str | None = Field(description="sender type->receiver type, on route groups")
    organisation_id: uuid.UUID | None = Field(description="the receiver, on organisation groups")
    figures: FiguresRead
    previous: FiguresRead | None = Field(description="the previous period's, when compared")


class PeriodRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: dt.date = Field(alias="from", description="the first day (Oslo), inclusive")
    to: dt.date = Field(description="the last day (Oslo), inclusive")


class StatisticsRead(BaseModel):
    county_number: str
    period: PeriodRead
    previous_period: PeriodRead | None
    groups: list[GroupRead] = Field(description="the county first, then routes, organisations")


def _period(period: Period) -> PeriodRead:
    return PeriodRead(from_=period.first, to=period.last)


def _keys(current: PeriodFigures, previous: PeriodFigures | None) -> list[GroupKey]:
    """Every group of either period, county first (a group missing from one has zeros)."""
    keys = list(current.groups)
    if previous is not None:
        keys += [key for key in previous.groups if key not in current.groups]
    return sorted(keys, key=GroupKey.sort_key)


def _groups(current: PeriodFigures, previous: PeriodFigures | None) -> list[GroupRead]:
    return [
        GroupRead(
            level=key.level,
            route=key.route,
            organisation_id=key.organisation_id,
            figures=FiguresRead.model_validate(figures_fields(current.groups.get(key, Figures()))),
            previous=None
            if previous is None
            else FiguresRead.model_validate(figures_fields(previous.groups.get(key, Figures()))),
        )
        for key in _keys(current, previous)
    ]


def _read(statistics: Statistics) -> StatisticsRead:
    return StatisticsRead(
        county_number=statistics.county_number,
        period=_period(statistics.current.period),
        previous_period=None
        if statistics.previous is None
        else _period(statistics.previous.period),
        groups=_groups(statistics.current, statistics.previous),
    )


def _csv(statistics: Statistics) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    periods = [("current", statistics.current)]
    if statistics.previous is not None:
        periods.append(("previous", statistics.previous))
    for name, figures in periods:
        for key in _keys(statistics.current, statistics.previous):
            for measure, code, value in measures(figures.groups.get(key, Figures())):
                writer.writerow(
                    [
                        name,
                        figures.period.first.isoformat(),
                        figures.period.last.isoformat(),
                        key.level.value,
                        key.route or "",
                        "" if key.organisation_id is None else str(key.organisation_id),
                        measure,
                        code,
                        "" if value is None else value,
                    ]
                )
    return buffer.getvalue()


@router.get(
    "/stats",
    dependencies=[Depends(only_query(*STATISTICS_QUERY))],
    summary="handoff statistics",
    response_class=JSONResponse,
    responses={200: {"model": StatisticsRead, "content": {"text/csv": {}}}},
)
async def handoff_statistics(
    pool: Pool,
    caller: Auditor,
    format_: Format,
    from_: Annotated[dt.date, Query(alias="from", description="the first day, inclusive")],
    to: Annotated[dt.date, Query(description="the last day, inclusive (at most five years)")],
    organisation_id: Annotated[
        uuid.UUID | None, Query(description="only referrals this organisation received")
    ] = None,
    route: Annotated[
        str | None,
        Query(
            max_length=100,
            description="only this route: sender type->receiver type, e.g. school->nav_office",
        ),
    ] = None,
    compare: Annotated[
        Compare | None, Query(description="previous: add the period of equal length before")
    ] = None,
) -> Response:
    """Referrals filed, accepted, rejected by reason, redirected and completed by outcome;
    median and 90th percentile hours to receive, decide and first contact; the share of
    deadlines met in time. Per route and receiving organisation of your county, and its total."""
    period = Period.of(from_, to)
    statistics = await read_statistics(
        pool,
        caller,
        period=period,
        organisation_id=organisation_id,
        route=None if route is None else parse_route(route),
        compare_previous=compare is Compare.PREVIOUS,
    )
    if format_ is ExportFormat.CSV:
        return Response(
            _csv(statistics),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="stats-{from_}-{to}.csv"'},
        )
    return JSONResponse(_read(statistics).model_dump(mode="json", by_alias=True))
