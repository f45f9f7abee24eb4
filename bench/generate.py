"""Synthetic national data for Overgang, deterministic by seed: the 11 counties (2020-2023) with
their municipalities, upper secondary schools, follow-up service, NAV offices and career
centres; the county agreements between them; young people with synthetic identity numbers and
their consents; and referrals through every state over years of history, with believable
delays, rejections, redirections, consent withdrawals and outcomes.

Everything goes through the referral service's own use cases (services/referral/usecases):
its domain rules decide, and its store writes each change with its event into the outbox, so
the outbox relay and Kafka carry the events to the audit service as in real use. Nothing is
inserted behind the service's back. The use cases take a clock: the generator moves it through
the years (an event-driven simulation over every open case, in time order), so a decade of
history takes minutes. Bulk mode (`--batch N`) runs N use cases in one database transaction;
the code path is the same.

Same seed, same data: every random choice comes from `random.Random` seeded by the seed (and
the case's number), and the cases run in a fixed order. Only ids and keys are random (the
store makes them); the summary (counts per state, per step, events written) is the same.

`python -m bench.generate --referrals 10000 --seed 1` writes to the local stack's referral
database (`overgang stack up`); progress and rate go to stderr, the summary as JSON to stdout."""

import argparse
import asyncio
import datetime as dt
import heapq
import itertools
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from stdnum.no import fodselsnummer

from schemas.codes import OrganisationType, Purpose, Role, Sector
from schemas.directory import (
    AnOrganisation,
    LinkageLevel,
    OrganisationsOfType,
    Route,
    ServiceLevels,
    Situation,
    TargetGroup,
)
from schemas.ids import ActorId, ConsentId, OrganisationId, ReferralId, SubjectId
from schemas.person import CollectionMethod, ConsentGiver
from schemas.referrals import (
    ContactMethod,
    ContactResult,
    Outcome,
    RedirectionReason,
    RejectionReason,
    StatutoryBasis,
    WithdrawalReason,
)
from services.plumbing.auth import Principal
from services.plumbing.database import Connection
from services.plumbing.migrations import migrate, migrations_folder
from services.referral.crypto import StoreKeys
from services.referral.usecases import referrals as referral_cases
from services.referral.usecases.agreements import AgreementTerms, register_agreement
from services.referral.usecases.consents import ConsentTerms, give_consent, withdraw_consent
from services.referral.usecases.organisations import OrganisationDetails, register_organisation
from services.referral.usecases.subjects import PersonDetails, register_subject

OSLO = ZoneInfo("Europe/Oslo")
# Every actor id the generator makes up comes from this and the organisation's id.
NAMESPACE = uuid.UUID("0b7f3c0e-2a61-4f0e-9a4e-6c1d4b8e5a17")
# The history ends here unless told otherwise: a fixed day, so that a seed means the same data
# whenever it runs.
DEFAULT_UNTIL = dt.datetime(2026, 11, 30, 16, 0, tzinfo=OSLO)


@dataclass(frozen=True)
class County:
    number: str
    name: str
    municipalities: int
    population_thousands: int
    nav_offices: int
    career_centres: int


# The 11 counties of 2020-2023 (Statistics Norway): municipalities and population; NAV offices
# about one per one or two municipalities (Oslo: one per district); upper secondary schools
# about one per 14,000 inhabitants (computed below), some 400 in all.
COUNTIES = (
    County("03", "Oslo", 1, 693, 15, 1),
    County("11", "Rogaland", 23, 479, 17, 1),
    County("15", "Møre og Romsdal", 26, 265, 19, 1),
    County("18", "Nordland", 41, 241, 29, 1),
    County("30", "Viken", 51, 1241, 36, 3),
    County("34", "Innlandet", 46, 371, 33, 2),
    County("38", "Vestfold og Telemark", 23, 419, 17, 1),
    County("42", "Agder", 25, 307, 18, 1),
    County("46", "Vestland", 43, 636, 31, 1),
    County("50", "Trøndelag", 38, 468, 27, 1),
    County("54", "Troms og Finnmark", 39, 243, 28, 1),
)


def seeded(*parts: object) -> random.Random:
    """A random number generator for one part of the data, seeded by the seed and the part's
    name: what one part draws does not shift another's."""
    return random.Random("/".join(map(str, parts)))  # noqa: S311 - synthetic data, not secrets


def schools_in(county: County) -> int:
    return round(county.population_thousands / 14) + 2


SERVICE_LEVELS = ServiceLevels(
    acknowledge_within_working_days=2,
    decide_within_working_days=10,
    first_contact_within_working_days=5,
    follow_up_every_days=30,
)
CONSENT_PURPOSES = (
    Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
    Purpose.CAREER_GUIDANCE,
    Purpose.PRIOR_LEARNING_ASSESSMENT,
    Purpose.WORK_ORIENTED_MEASURE,
    Purpose.RETURN_TO_UPPER_SECONDARY,
)
CONSENT_SECTORS = (Sector.EDUCATION, Sector.WORK_WELFARE, Sector.CAREER_GUIDANCE)


@dataclass
class Office:
    """An organisation of the directory, as the generator knows it."""

    organisation_id: OrganisationId
    type: OrganisationType
    county: County
    municipalities: list[str]

    def principal(self, role: Role, number: int = 0) -> Principal:
        actor = uuid.uuid5(NAMESPACE, f"{self.organisation_id}/{role.value}/{number}")
        return Principal(
            actor_id=ActorId(actor), organisation_id=self.organisation_id, roles=frozenset({role})
        )


@dataclass
class CountyDirectory:
    county: County
    follow_up: Office
    schools: list[Office]
    nav_offices: list[Office]
    career_centres: list[Office]

    def nav_for(self, municipality: str) -> Office:
        serving = [o for o in self.nav_offices if municipality in o.municipalities]
        return serving[0] if serving else self.nav_offices[0]


def _oslo(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO)


def working_time(at: dt.datetime, rng: random.Random) -> dt.datetime:
    """`at`, or the next moment in office hours (weekdays 08-16, Oslo) after it."""
    local = at.astimezone(OSLO)
    day = local.date()
    if local.weekday() < 5 and 8 <= local.hour < 16:
        return local
    if local.hour >= 16 or local.weekday() >= 5:
        day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return _oslo(day, 8 + rng.randrange(0, 7), rng.randrange(0, 60))


def days(rng: random.Random, median: float, spread: float = 0.8) -> dt.timedelta:
    """A delay of about `median` days, log-normally spread (most quick, a long tail)."""
    return dt.timedelta(days=rng.lognormvariate(math.log(median), spread))


@cache
def _synthetic_numbers(birth: dt.date) -> tuple[str, ...]:
    """Every synthetic (Tenor series: month + 80) fødselsnummer of a birth date, with right check
    digits, in the individual-number range of its century."""
    day_part = f"{birth.day:02d}{birth.month + 80:02d}{birth.year % 100:02d}"
    first, last = (0, 499) if birth.year < 2000 else (500, 999)
    found = []
    for individual in range(first, last + 1):
        start = day_part + f"{individual:03d}"
        check1 = fodselsnummer.calc_check_digit1(start)
        check2 = fodselsnummer.calc_check_digit2(start + check1)
        if len(check1) == 1 and len(check2) == 1:
            found.append(start + check1 + check2)
    return tuple(found)


@dataclass
class Person:
    birth_date: dt.date
    identity_number: str
    county: County
    municipality: str
    subject_id: SubjectId | None = None

    def age_on(self, day: dt.date) -> int:
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday


@dataclass
class Handoff:
    """One referral of a case as it goes: who holds it, its version, its state."""

    sender: Office
    receiver: Office
    purpose: Purpose
    situation: Situation
    consent_id: ConsentId | None = None
    consent_by_guardian: bool = False
    referral_id: ReferralId | None = None
    version: int = 0
    status: str = "planned"


# What one step does: given the connection and the clock's time, act on the database.
Do = Callable[[Connection, dt.datetime], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """What to do when. A decision on a referral may start the case's next referral, which
    then goes on beside this one (`spawn`): each script stays in time order."""

    at: dt.datetime
    order: int
    do: Do
    spawn: Iterator["Step"] | None = None


# A script waiting in the simulation: its next step's time and order, the step, the script.
Pending = tuple[dt.datetime, int, Step, Iterator[Step]]


@dataclass
class Summary:
    organisations: Counter[str] = field(default_factory=Counter)
    agreements: int = 0
    subjects: int = 0
    consents: int = 0
    consents_withdrawn: int = 0
    referrals: int = 0
    steps: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    events: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "organisations": dict(sorted(self.organisations.items())),
            "agreements": self.agreements,
            "subjects": self.subjects,
            "consents": self.consents,
            "consents_withdrawn": self.consents_withdrawn,
            "referrals": self.referrals,
            "statuses": dict(sorted((k, v) for k, v in self.statuses.items() if v)),
            "steps": dict(sorted(self.steps.items())),
            "events": self.events,
        }


class Simulation:
    """The simulation: the directory first, then every case's steps in time order."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        keys: StoreKeys,
        *,
        seed: int,
        referrals: int,
        years: float,
        until: dt.datetime = DEFAULT_UNTIL,
        batch: int = 1,
        progress: bool = True,
        counties: frozenset[str] | None = None,
    ) -> None:
        self.connection = connection
        # None: every county, and the directory is written; else only these counties' cases,
        # on a directory written before (by a run over every county or `write_directory`).
        self.counties = counties
        self.keys = keys
        self.seed = seed
        self.target = referrals
        self.until = until
        self.since = until - dt.timedelta(days=365.25 * years)
        self.batch = batch
        self.progress = progress
        self.summary = Summary()
        self.directory: list[CountyDirectory] = []
        self._order = itertools.count()
        self._serials: Counter[tuple[dt.date, int]] = Counter()
        self._actions = 0
        self._now = self.since

    # The directory: organisations and agreements, registered by each county's administration.

    async def build_directory(self, *, write: bool = True) -> None:
        """The directory of every county: registered through the use cases, or (`write`
        False) the same directory, drawn with the same numbers, found by name in the database
        (where a run before registered it)."""
        rng = seeded(self.seed, "directory")
        at = self.since - dt.timedelta(days=30)
        registered: dict[str, OrganisationId] = {}
        if not write:
            registered = {
                row["name"]: OrganisationId(row["organisation_id"])
                for row in await self.connection.fetch(
                    "SELECT name, organisation_id FROM organisations"
                )
            }
        async with self.connection.transaction():
            for county in COUNTIES:
                self.directory.append(await self._county(county, rng, at, registered))

    async def _county(
        self,
        county: County,
        rng: random.Random,
        at: dt.datetime,
        registered: dict[str, OrganisationId],
    ) -> CountyDirectory:
        municipalities = [f"{county.number}{k + 1:02d}" for k in range(county.municipalities)]
        admin = Principal(
            actor_id=ActorId(uuid.uuid5(NAMESPACE, f"county/{county.number}/admin")),
            organisation_id=OrganisationId(uuid.uuid5(NAMESPACE, f"county/{county.number}")),
            roles=frozenset({Role.ADMIN}),
        )

        async def register(
            name: str, kind: OrganisationType, sector: Sector, serves: list[str]
        ) -> Office:
            if registered:
                if name not in registered:
                    raise RuntimeError(
                        f"the database has no organisation {name!r}: generate "
                        "the directory first, with the same seed"
                    )
                return Office(registered[name], kind, county, serves)
            entry = await register_organisation(
                self.connection,
                OrganisationDetails(
                    name=name,
                    type=kind,
                    sector=sector,
                    county_number=county.number,
                    municipality_numbers=serves,
                ),
                admin,
                clock=lambda: at,
            )
            self.summary.organisations[kind.value] += 1
            return Office(OrganisationId(entry.organisation_id), kind, county, serves)

        follow_up = await register(
            f"Oppfølgingstjenesten {county.name} (synthetic)",
            OrganisationType.FOLLOW_UP_SERVICE,
            Sector.EDUCATION,
            municipalities,
        )
        schools = [
            await register(
                f"{county.name} videregående skole {n + 1} (synthetic)",
                OrganisationType.SCHOOL,
                Sector.EDUCATION,
                [rng.choice(municipalities)],
            )
            for n in range(schools_in(county))
        ]
        navs = []
        for n in range(county.nav_offices):
            # Oslo's district offices all serve the one municipality; elsewhere an office
            # serves one or more neighbouring municipalities.
            serves = (
                municipalities
                if len(municipalities) == 1
                else municipalities[n :: county.nav_offices]
            )
            navs.append(
                await register(
                    f"NAV {county.name} {n + 1} (synthetic)",
                    OrganisationType.NAV_OFFICE,
                    Sector.WORK_WELFARE,
                    serves,
                )
            )
        centres = [
            await register(
                f"Karrieresenteret {county.name} {n + 1} (synthetic)",
                OrganisationType.CAREER_CENTRE,
                Sector.CAREER_GUIDANCE,
                municipalities[n :: county.career_centres],
            )
            for n in range(county.career_centres)
        ]
        directory = CountyDirectory(county, follow_up, schools, navs, centres)
        if registered:
            return directory
        for terms in self._agreements(directory):
            await register_agreement(
                self.connection, terms, terms_signer(terms, admin), clock=lambda: at
            )
            self.summary.agreements += 1
        return directory

    def _agreements(self, d: CountyDirectory) -> list[AgreementTerms]:
        """The county's agreements, as the demo county's: schools to the follow-up service (on
        the Education Act), the follow-up service to NAV and the career centres, NAV and the
        career centres both ways, and NAV offices among themselves (a person who moves)."""

        def of_type(kind: OrganisationType) -> OrganisationsOfType:
            return OrganisationsOfType(organisation_type=kind)

        def one(office: Office) -> AnOrganisation:
            return AnOrganisation(organisation_id=office.organisation_id)

        young = [15, 24]
        nav, centre = OrganisationType.NAV_OFFICE, OrganisationType.CAREER_CENTRE
        plain: list[tuple[list[Office], list[Route], list[TargetGroup]]] = [
            (
                [d.follow_up, *d.schools],
                [
                    Route(
                        from_organisation=of_type(OrganisationType.SCHOOL),
                        to_organisation=one(d.follow_up),
                        purposes=[
                            Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
                            Purpose.RETURN_TO_UPPER_SECONDARY,
                        ],
                    )
                ],
                [
                    TargetGroup(
                        min_age=young[0],
                        max_age=young[1],
                        situations=[
                            Situation.LEFT_UPPER_SECONDARY,
                            Situation.AT_RISK_OF_LEAVING_UPPER_SECONDARY,
                        ],
                    )
                ],
            ),
            (
                [d.follow_up, *d.nav_offices, *d.career_centres],
                [
                    Route(
                        from_organisation=one(d.follow_up),
                        to_organisation=of_type(nav),
                        purposes=[
                            Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
                            Purpose.WORK_ORIENTED_MEASURE,
                        ],
                    ),
                    Route(
                        from_organisation=one(d.follow_up),
                        to_organisation=of_type(centre),
                        purposes=[Purpose.CAREER_GUIDANCE, Purpose.PRIOR_LEARNING_ASSESSMENT],
                    ),
                ],
                [
                    TargetGroup(
                        min_age=young[0],
                        max_age=young[1],
                        situations=[
                            Situation.OUTSIDE_SCHOOL_AND_WORK,
                            Situation.LEFT_UPPER_SECONDARY,
                            Situation.UNEMPLOYED,
                            Situation.NEEDS_CAREER_GUIDANCE,
                        ],
                    )
                ],
            ),
            (
                [*d.nav_offices, *d.career_centres],
                [
                    Route(
                        from_organisation=of_type(nav),
                        to_organisation=of_type(centre),
                        purposes=[
                            Purpose.CAREER_GUIDANCE,
                            Purpose.PRIOR_LEARNING_ASSESSMENT,
                            Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
                        ],
                    ),
                    Route(
                        from_organisation=of_type(centre),
                        to_organisation=of_type(nav),
                        purposes=[Purpose.WORK_ORIENTED_MEASURE],
                    ),
                    Route(
                        from_organisation=of_type(nav),
                        to_organisation=of_type(nav),
                        purposes=[
                            Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK,
                            Purpose.WORK_ORIENTED_MEASURE,
                        ],
                    ),
                ],
                [
                    TargetGroup(
                        min_age=16,
                        max_age=67,
                        situations=[
                            Situation.OUTSIDE_SCHOOL_AND_WORK,
                            Situation.UNEMPLOYED,
                            Situation.NEEDS_CAREER_GUIDANCE,
                            Situation.LEFT_UPPER_SECONDARY,
                            Situation.WITHOUT_UPPER_SECONDARY_QUALIFICATION,
                        ],
                    )
                ],
            ),
        ]
        return [
            AgreementTerms(
                county_number=d.county.number,
                valid_from=(self.since - dt.timedelta(days=30)).date(),
                valid_until=None,
                parties=[office.organisation_id for office in parties],
                linkage_level=LinkageLevel.COOPERATION,
                lead_organisation_id=None,
                routes=routes,
                target_groups=groups,
                guardian_consent_below_age=18,
                service_levels=SERVICE_LEVELS,
            )
            for parties, routes, groups in plain
        ]

    # The cases: one person each, one to four referrals, started in time order.

    def _case_sizes(self) -> list[int]:
        """How many referrals each case will have (planned; the last steps of the newest cases
        lie beyond the end of the history and stay open)."""
        rng = seeded(self.seed, "sizes")
        sizes: list[int] = []
        total = 0
        while total < self.target:
            size = min(rng.choices((1, 2, 3, 4), weights=(45, 35, 15, 5))[0], self.target - total)
            sizes.append(size)
            total += size
        return sizes

    def _start_of(self, case: int, cases: int) -> dt.datetime:
        # More cases each year as the counties take the system into use: the share of cases
        # started by time t grows as t^1.5 over the history. The newest are still open when
        # the history ends, as on any working day.
        span = (self.until - self.since).total_seconds()
        share = ((case + 0.5) / cases) ** (1 / 1.5)
        return self.since + dt.timedelta(seconds=span * share)

    async def run(self) -> Summary:
        """Build the directory, then every case; the summary of what was written."""
        events_before = await self._events()
        self._began = time.perf_counter()
        self._last_report = self._began
        await self.build_directory(write=self.counties is None)
        sizes = self._case_sizes()
        weights = [c.population_thousands for c in COUNTIES]
        pending: list[Pending] = []
        cases = iter(enumerate(sizes))
        upcoming = next(cases, None)
        transaction: Any = None
        in_batch = 0
        while pending or upcoming is not None:
            if upcoming is not None:
                number, size = upcoming
                start = self._start_of(number, len(sizes))
                if not pending or start <= pending[0][0]:
                    rng = seeded(self.seed, "case", number)
                    directory = self.directory[rng.choices(range(len(COUNTIES)), weights)[0]]
                    # A case's county is its own draw: a run of some counties writes the very
                    # cases a run of all would write there.
                    if self.counties is None or directory.county.number in self.counties:
                        self._push(pending, self._case(rng, directory, size, start))
                    upcoming = next(cases, None)
                    continue
            _, _, step, script = heapq.heappop(pending)
            if step.at > self.until:
                continue  # the case is still open when the history ends
            # The history is written in time order, as it happened (the audit log's order).
            if step.at < self._now:
                raise RuntimeError(f"a step at {step.at} after one at {self._now}")
            self._now = step.at
            if transaction is None and self.batch > 1:
                transaction = self.connection.transaction()
                await transaction.start()
            await step.do(self.connection, step.at)
            self._actions += 1
            in_batch += 1
            if transaction is not None and in_batch >= self.batch:
                await transaction.commit()
                transaction, in_batch = None, 0
            self._push(pending, script)
            if step.spawn is not None:
                self._push(pending, step.spawn)
            self._report(step.at)
        if transaction is not None:
            await transaction.commit()
        self.summary.events = await self._events() - events_before
        self._report(self.until, final=True)
        return self.summary

    def _push(self, pending: list[Pending], script: Iterator[Step]) -> None:
        step = next(script, None)
        if step is not None:
            heapq.heappush(pending, (step.at, step.order, step, script))

    async def _events(self) -> int:
        count: int = await self.connection.fetchval("SELECT count(*) FROM outbox")
        return count

    def _report(self, at: dt.datetime, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not self.progress or (not final and now - self._last_report < 2.0):
            return
        self._last_report = now
        elapsed = max(now - self._began, 1e-9)
        print(
            f"generate: {self.summary.referrals}/{self.target} referrals, {self._actions} use "
            f"cases, {self._actions / elapsed:.0f} use cases/s, "
            f"{self.summary.referrals / elapsed:.0f} referrals/s, at {at.date()}"
            + (f", done in {elapsed:.1f} s" if final else ""),
            file=sys.stderr,
            flush=True,
        )

    def rates(self) -> dict[str, float]:
        elapsed = max(time.perf_counter() - self._began, 1e-9)
        return {
            "seconds": round(elapsed, 1),
            "use_cases": self._actions,
            "use_cases_per_s": round(self._actions / elapsed, 1),
            "referrals_per_s": round(self.summary.referrals / elapsed, 1),
        }

    def _step(self, at: dt.datetime, do: Do, spawn: Iterator[Step] | None = None) -> Step:
        return Step(at, next(self._order), do, spawn)

    # One case, as a script of timed steps. Each step is a closure over the case's state; the
    # script decides with the case's own random numbers alone, never with what the database
    # says, so that the same seed takes the same path.

    def _case(
        self, rng: random.Random, d: CountyDirectory, size: int, start: dt.datetime
    ) -> Iterator[Step]:
        at = working_time(start, rng)
        person = self._person(rng, d, at.date())
        yield self._step(at, self._register(person))
        if rng.random() < 0.55 and person.age_on(at.date()) <= 20:
            # A school reports a pupil who left or is about to: to the follow-up service, on
            # the Education Act, without consent.
            first = Handoff(
                rng.choice(d.schools),
                d.follow_up,
                rng.choice(
                    [Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK, Purpose.RETURN_TO_UPPER_SECONDARY]
                ),
                rng.choice(
                    [Situation.LEFT_UPPER_SECONDARY, Situation.AT_RISK_OF_LEAVING_UPPER_SECONDARY]
                ),
            )
        else:
            first = self._onward(rng, d, person, d.follow_up)
        yield from self._referral(rng, d, person, first, at, size - 1)

    def _next_referral(
        self,
        rng: random.Random,
        d: CountyDirectory,
        person: Person,
        h: Handoff,
        at: dt.datetime,
        remaining: int,
        *,
        taken: bool,
    ) -> Iterator[Step] | None:
        """The case's next referral, once this one is decided: from whoever took the person
        on (or, when they did not, from the one who sent them), somewhere else."""
        if remaining <= 0:
            return None
        onward_from = h.receiver if taken else h.sender
        if onward_from.type == OrganisationType.SCHOOL:
            onward_from = d.follow_up
        handoff = self._onward(rng, d, person, onward_from)
        return self._referral(rng, d, person, handoff, at, remaining - 1)

    def _person(self, rng: random.Random, d: CountyDirectory, day: dt.date) -> Person:
        age = rng.choices(range(16, 22), weights=(22, 24, 20, 14, 11, 9))[0]
        birth = day - dt.timedelta(days=365 * age + rng.randrange(30, 330))
        # Each county draws from its own share of a day's numbers, so that counties generated
        # apart (bench/scale.py runs them in parallel) never give two people one number.
        share = COUNTIES.index(d.county)
        while True:
            numbers = _synthetic_numbers(birth)[share :: len(COUNTIES)]
            serial = self._serials[birth, share]
            if serial < len(numbers):
                self._serials[birth, share] += 1
                break
            birth -= dt.timedelta(days=1)
        return Person(birth, numbers[serial], d.county, rng.choice(d.follow_up.municipalities))

    def _onward(
        self, rng: random.Random, d: CountyDirectory, person: Person, sender: Office
    ) -> Handoff:
        if sender.type == OrganisationType.NAV_OFFICE:
            return Handoff(
                sender,
                rng.choice(d.career_centres),
                rng.choice([Purpose.PRIOR_LEARNING_ASSESSMENT, Purpose.CAREER_GUIDANCE]),
                rng.choice(
                    [
                        Situation.WITHOUT_UPPER_SECONDARY_QUALIFICATION,
                        Situation.NEEDS_CAREER_GUIDANCE,
                    ]
                ),
            )
        if sender.type == OrganisationType.CAREER_CENTRE:
            return Handoff(
                sender,
                d.nav_for(person.municipality),
                Purpose.WORK_ORIENTED_MEASURE,
                Situation.UNEMPLOYED,
            )
        if rng.random() < 0.75:
            return Handoff(
                sender,
                d.nav_for(person.municipality),
                rng.choice(
                    [Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK, Purpose.WORK_ORIENTED_MEASURE]
                ),
                rng.choice([Situation.OUTSIDE_SCHOOL_AND_WORK, Situation.UNEMPLOYED]),
            )
        return Handoff(
            sender,
            rng.choice(d.career_centres),
            rng.choice([Purpose.CAREER_GUIDANCE, Purpose.PRIOR_LEARNING_ASSESSMENT]),
            Situation.NEEDS_CAREER_GUIDANCE,
        )

    def _referral(
        self,
        rng: random.Random,
        d: CountyDirectory,
        person: Person,
        h: Handoff,
        at: dt.datetime,
        remaining: int,
    ) -> Iterator[Step]:
        """The steps of one referral, filed a little after `at`; its decision (withdrawn,
        rejected or accepted) starts the case's next one, if `remaining`."""

        def later(median: float, spread: float = 0.8) -> dt.datetime:
            nonlocal at
            at = working_time(at + days(rng, median, spread), rng) + dt.timedelta(minutes=1)
            return at

        def step(do: Do) -> Step:
            return self._step(at, do)

        def decision(do: Do, *, taken: bool) -> Step:
            later_on = working_time(at + days(rng, 2, 1.0), rng)
            spawn = self._next_referral(rng, d, person, h, later_on, remaining, taken=taken)
            return self._step(at, do, spawn)

        at = working_time(at + days(rng, 2, 1.0), rng)

        counsellor = rng.randrange(4)
        if h.sender.type != OrganisationType.SCHOOL:
            h.consent_by_guardian = person.age_on(at.date()) < 18
            yield step(self._consent(person, h))
            at += dt.timedelta(minutes=rng.randrange(2, 30))
        yield step(self._file(person, h))
        roll = rng.random()
        if roll < 0.03:
            later(1.5)
            yield decision(
                self._act(h, h.sender, Role.FILER, self._withdraw(rng), "withdrawn"), taken=False
            )
            return
        later(1.2)
        yield step(self._act(h, h.receiver, Role.COUNSELLOR, referral_cases.Receive(), "received"))
        if (
            roll < 0.09
            and h.receiver.type == OrganisationType.NAV_OFFICE
            and h.consent_id is not None
            and not h.consent_by_guardian
        ):
            # Sent on: to the office where the person lives now, or to a career centre.
            moved = rng.random() < 0.6 and len(d.nav_offices) > 1
            to = rng.choice([o for o in d.nav_offices if o is not h.receiver]) if moved else None
            if to is None and h.purpose == Purpose.FOLLOW_UP_OUTSIDE_SCHOOL_AND_WORK:
                to = rng.choice(d.career_centres)
            if to is not None:
                later(2)
                redirection = (
                    RedirectionReason.SUBJECT_MOVED
                    if moved
                    else RedirectionReason.BETTER_PLACED_ELSEWHERE
                )
                yield step(
                    self._act(
                        h,
                        h.receiver,
                        Role.COUNSELLOR,
                        referral_cases.Redirect(
                            to.organisation_id, redirection, consent_id=h.consent_id
                        ),
                        "redirected",
                    )
                )
                h.receiver = to
                later(1.2)
                yield step(
                    self._act(h, h.receiver, Role.COUNSELLOR, referral_cases.Receive(), "received")
                )
        if 0.09 <= roll < 0.18:
            later(4)
            reason = rng.choices(list(RejectionReason), weights=(30, 20, 10, 20, 15, 5))[0]
            yield decision(
                self._act(
                    h, h.receiver, Role.COUNSELLOR, referral_cases.Reject(reason), "rejected"
                ),
                taken=False,
            )
            return
        later(4)
        yield decision(
            self._act(h, h.receiver, Role.COUNSELLOR, referral_cases.Accept(), "accepted"),
            taken=True,
        )
        if rng.random() < 0.7:
            at += dt.timedelta(minutes=rng.randrange(5, 90))
            assign = referral_cases.Assign(
                h.receiver.principal(Role.COUNSELLOR, counsellor).actor_id, Role.COUNSELLOR
            )
            yield step(self._act(h, h.receiver, Role.COORDINATOR, assign, "assigned"))
        reached = False
        for _ in range(rng.choice((1, 1, 2, 3))):
            later(3)
            reached = rng.random() < 0.7
            result = ContactResult.REACHED if reached else ContactResult.NOT_REACHED
            method = rng.choice(list(ContactMethod))
            yield step(
                self._act(
                    h,
                    h.receiver,
                    Role.COUNSELLOR,
                    referral_cases.RecordContact(method, result),
                    "contact_recorded",
                    counsellor,
                )
            )
            if reached:
                break
        # Work starts once the person is reached; one never reached is closed as no contact,
        # and only a case in progress can be completed.
        later(3 if reached else 10)
        yield step(self._act(h, h.receiver, Role.COUNSELLOR, referral_cases.Start(), "started"))
        if reached:
            for _ in range(rng.choice((0, 1, 2, 2, 3, 4, 6))):
                later(30, 0.25)
                yield step(
                    self._act(
                        h,
                        h.receiver,
                        Role.COUNSELLOR,
                        referral_cases.RecordFollowUp(rng.choice(list(ContactMethod))),
                        "follow_up_recorded",
                        counsellor,
                    )
                )
        if h.consent_id is not None and not h.consent_by_guardian and rng.random() < 0.02:
            later(10)
            yield step(self._withdraw_consent(person, h))
            return
        later(40 if reached else 20, 0.6)
        outcome = (
            rng.choices(
                [Outcome.EDUCATION, Outcome.EMPLOYMENT, Outcome.TRAINING, Outcome.OTHER_SERVICE,
                 Outcome.MOVED, Outcome.DECLINED],
                weights=(30, 27, 15, 12, 6, 10),
            )[0]
            if reached
            else Outcome.NO_CONTACT
        )  # fmt: skip
        yield step(
            self._act(h, h.receiver, Role.COUNSELLOR, referral_cases.Complete(outcome), "completed")
        )

    # The use cases, as steps.

    def _register(self, person: Person) -> Do:
        async def do(connection: Connection, at: dt.datetime) -> None:
            registrar = self._directory_of(person).follow_up.principal(Role.FILER)
            registration = await register_subject(
                connection,
                PersonDetails(person.identity_number, person.birth_date),
                registrar,
                keys=self.keys,
                allow_synthetic=True,
                clock=lambda: at,
            )
            person.subject_id = registration.subject_id
            self.summary.subjects += 1
            self.summary.steps["subject_registered"] += 1

        return do

    def _directory_of(self, person: Person) -> CountyDirectory:
        return next(d for d in self.directory if d.county is person.county)

    def _consent(self, person: Person, h: Handoff) -> Do:
        async def do(connection: Connection, at: dt.datetime) -> None:
            assert person.subject_id is not None
            consent = await give_consent(
                connection,
                person.subject_id,
                ConsentTerms(
                    given_by=ConsentGiver.GUARDIAN
                    if h.consent_by_guardian
                    else ConsentGiver.PERSON,
                    purposes=CONSENT_PURPOSES,
                    recipient_organisation_ids=(),
                    recipient_sectors=CONSENT_SECTORS,
                    expires_at=at + dt.timedelta(days=730),
                    collection_method=CollectionMethod.DIGITAL_ID_PORTEN,
                ),
                h.sender.principal(Role.FILER),
                clock=lambda: at,
            )
            h.consent_id = consent.consent_id
            self.summary.consents += 1
            self.summary.steps["consent_given"] += 1

        return do

    def _withdraw_consent(self, person: Person, h: Handoff) -> Do:
        async def do(connection: Connection, at: dt.datetime) -> None:
            assert h.consent_id is not None
            withdrawal = await withdraw_consent(
                connection,
                h.consent_id,
                ConsentGiver.PERSON,
                h.sender.principal(Role.FILER),
                keys=self.keys,
                clock=lambda: at,
            )
            self.summary.consents_withdrawn += 1
            self.summary.steps["consent_withdrawn"] += 1
            if h.referral_id in withdrawal.cancelled:
                self._moved(h, "cancelled")
                h.version += 1

        return do

    def _file(self, person: Person, h: Handoff) -> Do:
        async def do(connection: Connection, at: dt.datetime) -> None:
            assert person.subject_id is not None
            referral = await referral_cases.file_referral(
                connection,
                referral_cases.Filing(
                    subject_id=person.subject_id,
                    to_organisation_id=h.receiver.organisation_id,
                    purpose=h.purpose,
                    situation=h.situation,
                    consent_id=h.consent_id,
                    statutory_basis=(
                        StatutoryBasis.EDUCATION_ACT_FOLLOW_UP_SERVICE
                        if h.consent_id is None
                        else None
                    ),
                ),
                h.sender.principal(Role.FILER),
                keys=self.keys,
                clock=lambda: at,
            )
            h.referral_id, h.version = referral.referral_id, referral.version
            self.summary.referrals += 1
            self.summary.steps["submitted"] += 1
            self._moved(h, "submitted")

        return do

    def _act(
        self,
        h: Handoff,
        office: Office,
        role: Role,
        command: referral_cases.Command,
        what: str,
        number: int = 0,
    ) -> Do:
        async def do(connection: Connection, at: dt.datetime) -> None:
            assert h.referral_id is not None
            referral = await referral_cases.act(
                connection,
                h.referral_id,
                office.principal(role, number),
                command,
                expected_version=h.version,
                keys=self.keys,
                clock=lambda: at,
            )
            h.version = referral.version
            self.summary.steps[what] += 1
            self._moved(h, referral.status.value)

        return do

    def _moved(self, h: Handoff, status: str) -> None:
        if h.status != "planned":
            self.summary.statuses[h.status] -= 1
        h.status = status
        self.summary.statuses[status] += 1

    @staticmethod
    def _withdraw(rng: random.Random) -> referral_cases.Withdraw:
        return referral_cases.Withdraw(
            rng.choice(
                [
                    WithdrawalReason.FILED_IN_ERROR,
                    WithdrawalReason.NO_LONGER_NEEDED,
                    WithdrawalReason.SUBJECT_DECLINED,
                ]
            )
        )


def terms_signer(terms: AgreementTerms, admin: Principal) -> Principal:
    """The county administration records each agreement as an administrator of its first
    party (only a party may record an agreement)."""
    return Principal(
        actor_id=admin.actor_id, organisation_id=terms.parties[0], roles=frozenset({Role.ADMIN})
    )


async def generate(
    database_url: str,
    keys: StoreKeys,
    *,
    seed: int,
    referrals: int,
    years: float = 10,
    until: dt.datetime = DEFAULT_UNTIL,
    batch: int = 500,
    progress: bool = True,
    counties: frozenset[str] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Generate into the referral database at `database_url` (migrated); the summary (the same
    for the same seed and sizes) and the rates. With `counties`, only their cases, on the
    directory a run before wrote."""
    connection = await asyncpg.connect(database_url)
    try:
        generator = Simulation(
            connection,
            keys,
            seed=seed,
            referrals=referrals,
            years=years,
            until=until,
            batch=batch,
            progress=progress,
            counties=counties,
        )
        summary = await generator.run()
        return summary.as_dict(), generator.rates()
    finally:
        await connection.close()


# What a run split by county has generated: the directory, then each county, all or nothing.
GENERATED_COUNTIES = """CREATE TABLE IF NOT EXISTS generated_counties (
    county_number text        PRIMARY KEY,
    summary       jsonb       NOT NULL,
    rate          jsonb       NOT NULL,
    generated_at  timestamptz NOT NULL DEFAULT clock_timestamp())"""
DIRECTORY = "directory"


async def generate_directory(
    database_url: str,
    keys: StoreKeys,
    *,
    seed: int,
    years: float = 10,
    until: dt.datetime = DEFAULT_UNTIL,
    topic_prefix: str = "",
) -> None:
    """The start of a run split by county: the directory (organisations and agreements) as a
    run over every county writes it, its events on `topic_prefix`'s topics, recorded in
    `generated_counties` as `directory`; what `generate_county` adds counties to. Nothing
    when it is there."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(GENERATED_COUNTIES)
        async with connection.transaction():
            if await connection.fetchval(
                "SELECT true FROM generated_counties WHERE county_number = $1", DIRECTORY
            ):
                return
            simulation = Simulation(
                connection, keys, seed=seed, referrals=0, years=years, until=until
            )
            await simulation.build_directory()
            simulation.summary.events = await simulation._events()
            await connection.execute("UPDATE outbox SET topic = $1 || topic", topic_prefix)
            await connection.execute(
                "INSERT INTO generated_counties (county_number, summary, rate)"
                " VALUES ($1, $2::jsonb, '{}')",
                DIRECTORY,
                json.dumps(simulation.summary.as_dict()),
            )
    finally:
        await connection.close()


def schema_url(database_url: str, schema: str) -> str:
    """The URL whose connections use `schema`."""
    separator = "&" if "?" in database_url else "?"
    return f"{database_url}{separator}search_path={schema}"


# What the use cases write for a county's cases, in the order their foreign keys need.
CASE_TABLES = (
    "subjects",
    "consents",
    "referrals",
    "referral_history",
    "referral_contacts",
    "referral_follow_ups",
)
DIRECTORY_TABLES = ("organisations", "agreement_versions")
OUTBOX_COLUMNS = "event_id, topic, partition_key, headers, value, enqueued_at, sent_at"


async def generate_county(
    database_url: str,
    schema: str,
    keys: StoreKeys,
    *,
    seed: int,
    referrals: int,
    county: str,
    years: float = 10,
    until: dt.datetime = DEFAULT_UNTIL,
    batch: int = 500,
    progress: bool = True,
    topic_prefix: str = "",
) -> tuple[dict[str, Any], dict[str, float]]:
    """One county's cases of a run of `referrals`, added to the referral schema `schema` (which
    holds the run's directory and a `generated_counties` table): all of the county or none.

    The county is generated through the use cases into a staging schema of its own, with a copy
    of the directory, and then its rows and outbox events are moved into `schema` in one
    transaction that also records the county as generated. A run stopped part way leaves only
    its staging schema, which the next run for the county drops first. So counties can be
    generated in parallel (they share no people), and a long run can be resumed."""
    staging = f"{schema}_county_{county}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{staging}" CASCADE')
        await admin.execute(f'CREATE SCHEMA "{staging}"')
        staged = await asyncpg.connect(schema_url(database_url, staging))
        try:
            await migrate(staged, migrations_folder("services.referral"))
        finally:
            await staged.close()
        for table in DIRECTORY_TABLES:
            await admin.execute(
                f'INSERT INTO "{staging}".{table} SELECT * FROM "{schema}".{table}'  # noqa: S608
            )
        summary, rates = await generate(
            schema_url(database_url, staging),
            keys,
            seed=seed,
            referrals=referrals,
            years=years,
            until=until,
            batch=batch,
            progress=progress,
            counties=frozenset({county}),
        )
        async with admin.transaction():
            for table in CASE_TABLES:
                await admin.execute(
                    f'INSERT INTO "{schema}".{table} SELECT * FROM "{staging}".{table}'  # noqa: S608
                )
            # New positions in the run's outbox, in the county's own order, on the run's
            # topics (`topic_prefix`: a benchmark's own, so no other run's records mix in).
            await admin.execute(
                f"""INSERT INTO "{schema}".outbox ({OUTBOX_COLUMNS})
                    SELECT event_id, $1 || topic, partition_key, headers, value, enqueued_at,
                           sent_at
                    FROM "{staging}".outbox ORDER BY position""",  # noqa: S608
                topic_prefix,
            )
            await admin.execute(
                f'INSERT INTO "{schema}".generated_counties (county_number, summary, rate)'  # noqa: S608
                " VALUES ($1, $2::jsonb, $3::jsonb)",
                county,
                json.dumps(summary),
                json.dumps(rates),
            )
        await admin.execute(f'DROP SCHEMA "{staging}" CASCADE')
        return summary, rates
    finally:
        await admin.close()


def load_keys(path: Path) -> StoreKeys:
    """A run's store keys from its key file (hex; synthetic data only)."""
    written = json.loads(path.read_text())
    return StoreKeys(
        master_key=bytes.fromhex(written["master_key"]),
        index_key=bytes.fromhex(written["index_key"]),
    )


def main(argv: list[str] | None = None) -> None:
    from deploy.local.cli.common import config, database_url
    from services.referral.app import ReferralSettings

    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--referrals", type=int, default=10_000, help="how many referrals")
    parser.add_argument("--seed", type=int, default=1, help="the same seed, the same data")
    parser.add_argument("--years", type=float, default=10, help="how many years of history")
    parser.add_argument(
        "--batch", type=int, default=500, help="use cases per transaction (1: each its own)"
    )
    parser.add_argument("--database-url", help="the referral database (default: the stack's)")
    parser.add_argument(
        "--county",
        help="only this county's cases (its number), added to --schema's directory through a "
        "staging schema: all of the county or none (bench/scale.py runs counties so)",
    )
    parser.add_argument("--schema", help="with --county: the run's referral schema")
    parser.add_argument(
        "--topic-prefix", default="", help="with --county: put before each event's topic"
    )
    parser.add_argument(
        "--keys-file", type=Path, help="the store keys (JSON, hex); default: the service's"
    )
    arguments = parser.parse_args(argv)
    url = database_url(arguments.database_url, config(), "referral")
    keys = (
        load_keys(arguments.keys_file) if arguments.keys_file else ReferralSettings().store_keys()
    )
    if arguments.county is not None:
        if not arguments.schema:
            parser.error("--county needs --schema")
        run = generate_county(
            url,
            arguments.schema,
            keys,
            seed=arguments.seed,
            referrals=arguments.referrals,
            county=arguments.county,
            years=arguments.years,
            batch=arguments.batch,
            topic_prefix=arguments.topic_prefix,
        )
    else:
        run = generate(
            url,
            keys,
            seed=arguments.seed,
            referrals=arguments.referrals,
            years=arguments.years,
            batch=arguments.batch,
        )
    summary, rates = asyncio.run(run)
    print(json.dumps({"summary": summary, "rate": rates}, indent=2))


if __name__ == "__main__":
    main()
