"""The statistics' SQL: the referral steps the consumer keeps, with their times measured
(referral_steps, migration 0005), and the deadlines, summed per route, per receiving
organisation and for the county in one pass each (GROUPING SETS). The rules are
services/audit/domain/statistics.py's and handoffs.py's.

A period reads only its own steps (by receiver and time: the times were measured when the
steps were logged), so what a request costs grows with the period and the county, not with
the log. Routes are named from the directory as it is when asked."""

import uuid

import asyncpg

from services.audit.domain.statistics import (
    CodeTally,
    DeadlineTally,
    GroupKey,
    Level,
    Period,
    Spread,
    StepTally,
)
from services.plumbing.database import Connection

# $1 county, $2 start, $3 end (exclusive), $4 receiving organisation or NULL, $5 route or NULL.
# The county's organisations as an array, so that the rows are found through the index of
# (organisation, time) for the period only (a join with the directory has the planner scan
# every step of every period).
_COUNTY = "ARRAY(SELECT organisation_id FROM directory_organisations WHERE county_number = $1)"

# A step belongs to its receiver (a redirect to the organisation that sent it on).
_STEPS = f"""
WITH measured AS (
    SELECT s.step, s.receiver_organisation_id AS receiver, s.code,
           coalesce(sd.type, 'unknown') || '->' || rd.type AS route,
           s.receive_hours, s.decide_hours, s.contact_hours
    FROM referral_steps s
    JOIN directory_organisations rd ON rd.organisation_id = s.receiver_organisation_id
    LEFT JOIN directory_organisations sd ON sd.organisation_id = s.sender_organisation_id
    WHERE s.receiver_organisation_id = ANY ({_COUNTY})
      AND s.occurred_at >= $2 AND s.occurred_at < $3
      AND ($4::uuid IS NULL OR s.receiver_organisation_id = $4)
),
chosen AS (
    SELECT * FROM measured WHERE $5::text IS NULL OR route = $5
)
"""  # noqa: S608 (fixed fragments)

_LEVEL = """CASE GROUPING(route, receiver) WHEN 1 THEN 'route' WHEN 2 THEN 'organisation'
                ELSE 'county' END AS level,
            CASE WHEN GROUPING(route) = 0 THEN route END AS route,
            CASE WHEN GROUPING(receiver) = 0 THEN receiver END AS organisation_id"""
_SETS = "GROUPING SETS ((route), (receiver), ())"


def _spread(name: str) -> str:
    return f"""percentile_cont(0.5) WITHIN GROUP (ORDER BY {name}_hours) AS {name}_median,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY {name}_hours) AS {name}_p90,
               count({name}_hours) AS {name}_count"""


_STEP_TALLIES = f"""{_STEPS}
SELECT {_LEVEL},
       count(*) FILTER (WHERE step = 'submitted') AS filed,
       count(*) FILTER (WHERE step = 'accepted') AS accepted,
       count(*) FILTER (WHERE step = 'rejected') AS rejected,
       count(*) FILTER (WHERE step = 'redirected') AS redirected,
       count(*) FILTER (WHERE step = 'completed') AS completed,
       {_spread("receive")}, {_spread("decide")}, {_spread("contact")}
FROM chosen
GROUP BY {_SETS}"""  # noqa: S608 (fixed fragments)

_CODE_TALLIES = f"""{_STEPS}
SELECT {_LEVEL}, step, code, count(*) AS count
FROM chosen
WHERE step IN ('rejected', 'completed') AND code IS NOT NULL
GROUP BY GROUPING SETS ((route, step, code), (receiver, step, code), (step, code))"""  # noqa: S608 (fixed fragments)

# A deadline's route: its receiver's type, and the type of the organisation that filed the
# referral (as its latest submitted or redirected event named it).
_DEADLINE_TALLIES = f"""
WITH due AS (
    SELECT d.organisation_id AS receiver,
           coalesce(sd.type, 'unknown') || '->' || rd.type AS route,
           d.met_at IS NOT NULL AND d.met_at <= d.due_at AND d.missed_raised_at IS NULL
               AS in_time
    FROM deadlines d
    JOIN directory_organisations rd ON rd.organisation_id = d.organisation_id
    LEFT JOIN deadline_referrals r ON r.referral_id = d.referral_id
    LEFT JOIN directory_organisations sd ON sd.organisation_id = r.sender_organisation_id
    WHERE d.organisation_id = ANY ({_COUNTY})
      AND d.due_at >= $2 AND d.due_at < $3
      AND NOT (d.closed_at IS NOT NULL AND d.closed_at < d.due_at)
      AND ($4::uuid IS NULL OR d.organisation_id = $4)
)
SELECT {_LEVEL}, count(*) AS due, count(*) FILTER (WHERE in_time) AS met_in_time
FROM due
WHERE $5::text IS NULL OR route = $5
GROUP BY {_SETS}"""  # noqa: S608 (fixed fragments)


def _key(row: asyncpg.Record) -> GroupKey:
    return GroupKey(Level(row["level"]), row["route"], row["organisation_id"])


def _spread_of(row: asyncpg.Record, name: str) -> Spread:
    return Spread(row[f"{name}_median"], row[f"{name}_p90"], row[f"{name}_count"])


async def step_tallies(
    connection: Connection,
    *,
    county_number: str,
    period: Period,
    organisation_id: uuid.UUID | None,
    route: str | None,
) -> list[StepTally]:
    rows = await connection.fetch(
        _STEP_TALLIES, county_number, period.starts_at, period.ends_at, organisation_id, route
    )
    return [
        StepTally(
            key=_key(row),
            filed=row["filed"],
            accepted=row["accepted"],
            rejected=row["rejected"],
            redirected=row["redirected"],
            completed=row["completed"],
            to_receive=_spread_of(row, "receive"),
            to_decide=_spread_of(row, "decide"),
            to_first_contact=_spread_of(row, "contact"),
        )
        for row in rows
    ]


async def code_tallies(
    connection: Connection,
    *,
    county_number: str,
    period: Period,
    organisation_id: uuid.UUID | None,
    route: str | None,
) -> list[CodeTally]:
    rows = await connection.fetch(
        _CODE_TALLIES, county_number, period.starts_at, period.ends_at, organisation_id, route
    )
    return [CodeTally(_key(row), row["step"], row["code"], row["count"]) for row in rows]


async def deadline_tallies(
    connection: Connection,
    *,
    county_number: str,
    period: Period,
    organisation_id: uuid.UUID | None,
    route: str | None,
) -> list[DeadlineTally]:
    rows = await connection.fetch(
        _DEADLINE_TALLIES, county_number, period.starts_at, period.ends_at, organisation_id, route
    )
    return [DeadlineTally(_key(row), row["due"], row["met_in_time"]) for row in rows]
