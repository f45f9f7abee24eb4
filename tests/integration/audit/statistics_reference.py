"""The handoff statistics as they were computed before the consumer kept the referral steps:
every referral event of the log parsed from its payload and measured with window functions,
and each deadline's sender looked up in the log (services/audit/store/statistics.py at
c20737b, verbatim). The statistics read from the kept steps must say exactly what this says."""

import uuid
from typing import Any

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

_REFERRAL = "no.overgang.referral."

# $1 county, $2 start, $3 end (exclusive), $4 receiving organisation or NULL, $5 route or NULL.
# A step belongs to its receiver (a redirect to the organisation that sent it on); each time
# is measured from the latest earlier step it runs from, among the referral's own steps.
_STEPS = """
WITH county AS (
    SELECT coalesce(array_agg(organisation_id), '{}') AS organisations
    FROM directory_organisations WHERE county_number = $1
),
referral_events AS (
    SELECT l.sequence, split_part(l.type, '.', 4) AS step,
           convert_from(l.payload, 'UTF8')::jsonb -> 'data' AS data
    FROM audit_log l, county c
    WHERE l.type LIKE 'no.overgang.referral.%' AND l.payload IS NOT NULL AND l.dead_letter IS NULL
      AND l.organisation_ids && c.organisations
),
steps AS (
    SELECT sequence, step,
           (data ->> 'referral_id')::uuid AS referral_id,
           (data ->> 'from_organisation_id')::uuid AS sender,
           CASE WHEN step = 'redirected'
                THEN (data ->> 'redirected_from_organisation_id')::uuid
                ELSE (data ->> 'to_organisation_id')::uuid END AS receiver,
           (data ->> 'occurred_at')::timestamptz AS at,
           data ->> 'reason' AS reason,
           data ->> 'outcome' AS outcome,
           data ->> 'result' AS result
    FROM referral_events
),
timed AS (
    SELECT s.*,
           max(at) FILTER (WHERE step IN ('submitted', 'redirected')) OVER earlier AS arrived_at,
           max(at) FILTER (WHERE step = 'received') OVER earlier AS received_at,
           max(at) FILTER (WHERE step = 'accepted') OVER earlier AS accepted_at,
           count(*) FILTER (WHERE step = 'contact_recorded' AND result = 'reached')
               OVER earlier AS reached_so_far
    FROM steps s
    WINDOW earlier AS (PARTITION BY referral_id ORDER BY at, sequence
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
measured AS (
    SELECT t.step, t.receiver, t.reason, t.outcome,
           coalesce(sd.type, 'unknown') || '->' || rd.type AS route,
           CASE WHEN t.step = 'received' AND t.arrived_at IS NOT NULL
                THEN extract(epoch FROM t.at - t.arrived_at)::float8 / 3600 END
               AS receive_hours,
           CASE WHEN t.step IN ('accepted', 'rejected') AND t.received_at >= t.arrived_at
                THEN extract(epoch FROM t.at - t.received_at)::float8 / 3600 END
               AS decide_hours,
           CASE WHEN t.step = 'contact_recorded' AND t.result = 'reached'
                     AND t.reached_so_far = 1 AND t.accepted_at IS NOT NULL
                THEN extract(epoch FROM t.at - t.accepted_at)::float8 / 3600 END
               AS contact_hours
    FROM timed t
    JOIN directory_organisations rd
      ON rd.organisation_id = t.receiver AND rd.county_number = $1
    LEFT JOIN directory_organisations sd ON sd.organisation_id = t.sender
    WHERE t.at >= $2 AND t.at < $3 AND ($4::uuid IS NULL OR t.receiver = $4)
),
chosen AS (
    SELECT * FROM measured WHERE $5::text IS NULL OR route = $5
)
"""

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
FROM (SELECT route, receiver, step,
             CASE step WHEN 'rejected' THEN reason ELSE outcome END AS code
      FROM chosen WHERE step IN ('rejected', 'completed')) coded
WHERE code IS NOT NULL
GROUP BY GROUPING SETS ((route, step, code), (receiver, step, code), (step, code))"""  # noqa: S608 (fixed fragments)

# A deadline's route: its receiver's type, and the type of the organisation that filed the
# referral (any of its submitted or redirected events names it as from_organisation_id).
_DEADLINE_TALLIES = f"""
WITH due AS (
    SELECT d.organisation_id AS receiver,
           coalesce(sd.type, 'unknown') || '->' || rd.type AS route,
           d.met_at IS NOT NULL AND d.met_at <= d.due_at AND d.missed_raised_at IS NULL
               AS in_time
    FROM deadlines d
    JOIN directory_organisations rd
      ON rd.organisation_id = d.organisation_id AND rd.county_number = $1
    LEFT JOIN LATERAL (
        SELECT (convert_from(l.payload, 'UTF8')::jsonb #>> '{{data,from_organisation_id}}')::uuid
                   AS sender
        FROM audit_log l
        WHERE l.subject_id = d.subject_id
          AND l.type IN ('{_REFERRAL}submitted.v1', '{_REFERRAL}redirected.v1')
          AND l.payload IS NOT NULL AND l.dead_letter IS NULL
          AND convert_from(l.payload, 'UTF8')::jsonb #>> '{{data,referral_id}}'
              = d.referral_id::text
        ORDER BY l.sequence DESC
        LIMIT 1
    ) filed ON true
    LEFT JOIN directory_organisations sd ON sd.organisation_id = filed.sender
    WHERE d.due_at >= $2 AND d.due_at < $3
      AND NOT (d.closed_at IS NOT NULL AND d.closed_at < d.due_at)
      AND ($4::uuid IS NULL OR d.organisation_id = $4)
)
SELECT {_LEVEL}, count(*) AS due, count(*) FILTER (WHERE in_time) AS met_in_time
FROM due
WHERE $5::text IS NULL OR route = $5
GROUP BY {_SETS}"""  # noqa: S608 (fixed fragments)


def _key(row: Any) -> GroupKey:
    return GroupKey(Level(row["level"]), row["route"], row["organisation_id"])


def _spread_of(row: Any, name: str) -> Spread:
    return Spread(row[f"{name}_median"], row[f"{name}_p90"], row[f"{name}_count"])


async def tallies(
    connection: Connection,
    *,
    county_number: str,
    period: Period,
    organisation_id: uuid.UUID | None,
    route: str | None,
) -> tuple[list[StepTally], list[CodeTally], list[DeadlineTally]]:
    """The step, code and deadline tallies, as the store's three functions give them."""
    arguments = (county_number, period.starts_at, period.ends_at, organisation_id, route)
    steps = [
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
        for row in await connection.fetch(_STEP_TALLIES, *arguments)
    ]
    codes = [
        CodeTally(_key(row), row["step"], row["code"], row["count"])
        for row in await connection.fetch(_CODE_TALLIES, *arguments)
    ]
    deadlines = [
        DeadlineTally(_key(row), row["due"], row["met_in_time"])
        for row in await connection.fetch(_DEADLINE_TALLIES, *arguments)
    ]
    return steps, codes, deadlines
