"""Demo data for a local stack, loaded through the referral service's HTTP API with dev tokens:
one county (46 Vestland) with a school, its follow-up service, two NAV offices and a career
centre; their agreements; people with synthetic identity numbers and their consents; and
referrals in every state a counsellor meets (submitted, received, accepted, in progress with
contacts, completed, rejected, redirected, withdrawn).

With a `DemoWebhook`, NAV Bergenhus (demo) also gets a webhook subscription in the notifier,
made before any referral is filed so that their events reach it, pointing at the demo
webhook receiver; its signing secret goes to a file only we can read, where the receiver
finds it.

Loading is idempotent: every creating request carries a fixed Idempotency-Key from a fixed
actor (so a second load gets the first responses back), people are found again by their
identity number, and each referral's remaining steps are read from its history. Loading twice
creates nothing the second time.

The service must accept synthetic identity numbers (OVERGANG_ALLOW_SYNTHETIC_IDENTITY_NUMBERS):
real-looking numbers could belong to real people."""

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings.kafka import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from stdnum.no import fodselsnummer

from deploy.local.dev_issuer import issue
from schemas.codes import Role
from schemas.inbound import LeftSchoolReason, PupilLeftSchoolV1
from schemas.topics import INBOUND_SCHOOL

# Every id the demo makes up itself is derived from this, so that each load uses the same ones.
NAMESPACE = uuid.UUID("5b0c8a43-7d0e-4c4f-9f43-0f5e6f2d0a46")
# Part of every Idempotency-Key: change it when the demo's requests change, or the service
# refuses the old keys with other bodies.
EDITION = "demo-v1"
CONSENTS_PATH = "/v1/subjects/{subject_id}/consents"
# Fixed, like every body the demo sends: a body that changed would reuse its key.
CONSENTS_EXPIRE = "2035-12-31T23:00:00Z"


class DemoError(Exception):
    """The service refused a demo request; the message says which and why (no personal data)."""


def demo_id(name: str) -> uuid.UUID:
    """A fixed id for something the demo names."""
    return uuid.uuid5(NAMESPACE, name)


def identity_number(
    birth: dt.date, *, serial: int = 0, synthetic: bool = True, nav_series: bool = False
) -> str:
    """A fødselsnummer with right check digits for a birth date: a synthetic test number
    (Skatteetaten's Tenor series, month + 80; NAV's, month + 40, with `nav_series`) unless
    `synthetic` is false. `serial` picks another individual number for the same day."""
    month = birth.month + ((40 if nav_series else 80) if synthetic else 0)
    day_part = f"{birth.day:02d}{month:02d}{birth.year % 100:02d}"
    found = -1
    for individual in range(500, 1000):
        first = fodselsnummer.calc_check_digit1(day_part + f"{individual:03d}")
        second = fodselsnummer.calc_check_digit2(day_part + f"{individual:03d}" + first)
        if len(first) == 1 and len(second) == 1:
            found += 1
            if found == serial:
                return day_part + f"{individual:03d}" + first + second
    raise ValueError(f"no individual number left for serial {serial}")


@dataclass
class Api:
    """The referral API through any httpx client (a live service, or a TestClient), as fixed
    dev-issuer actors: one per organisation and role, so Idempotency-Keys are theirs again."""

    client: httpx.Client
    issuer_dir: Path
    created: Counter[str] = field(default_factory=Counter)

    def actor(self, organisation: uuid.UUID, role: Role) -> uuid.UUID:
        return demo_id(f"actor/{organisation}/{role.value}")

    def headers(self, organisation: uuid.UUID, role: Role, **extra: str) -> dict[str, str]:
        token = issue(
            self.issuer_dir,
            organisation=organisation,
            roles=[role],
            actor=self.actor(organisation, role),
        )
        return {"Authorization": f"Bearer {token}", **extra}

    def post(
        self,
        path: str,
        body: dict[str, Any] | None,
        *,
        organisation: uuid.UUID,
        role: Role,
        key: str | None = None,
        if_match: str | None = None,
        what: str,
    ) -> httpx.Response:
        extra = {} if key is None else {"Idempotency-Key": f"{EDITION}/{key}"}
        if if_match is not None:
            extra["If-Match"] = if_match
        response = self.client.post(
            path, json=body, headers=self.headers(organisation, role, **extra)
        )
        _check(response, what)
        if response.status_code == 201 and "Idempotent-Replayed" not in response.headers:
            self.created[what] += 1
        return response

    def get(self, path: str, *, organisation: uuid.UUID, role: Role, what: str) -> httpx.Response:
        response = self.client.get(path, headers=self.headers(organisation, role))
        _check(response, what)
        return response


def _check(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    try:
        problem = response.json()
        why = f"{problem.get('title')}: {problem.get('detail')} ({problem.get('type')})"
    except ValueError:
        why = response.reason_phrase
    raise DemoError(f"{what}: {response.status_code} {why}")


# The county and what is in it.
COUNTY = "46"  # Vestland
_ORGANISATIONS: dict[str, dict[str, Any]] = {
    "school": {
        "name": "Bergen katedralskole (demo)",
        "type": "school",
        "sector": "education",
        "municipality_numbers": ["4601"],
    },
    "follow_up": {
        "name": "Oppfølgingstenesta i Vestland (demo)",
        "type": "follow_up_service",
        "sector": "education",
        "municipality_numbers": ["4601", "4621", "4627"],
    },
    "nav_bergenhus": {
        "name": "NAV Bergenhus (demo)",
        "type": "nav_office",
        "sector": "work_welfare",
        "municipality_numbers": ["4601"],
    },
    "nav_voss": {
        "name": "NAV Voss (demo)",
        "type": "nav_office",
        "sector": "work_welfare",
        "municipality_numbers": ["4621"],
    },
    "career_centre": {
        "name": "Karriere Vestland (demo)",
        "type": "career_centre",
        "sector": "career_guidance",
        "municipality_numbers": ["4601", "4621", "4627"],
    },
}
# Who registers the organisations in the directory: an administrator of the county.
DIRECTORY_ADMIN = demo_id("county-directory-administration")

_SERVICE_LEVELS = {
    "acknowledge_within_working_days": 2,
    "decide_within_working_days": 10,
    "first_contact_within_working_days": 5,
    "follow_up_every_days": 30,
}


def _one(organisation: uuid.UUID) -> dict[str, str]:
    return {"organisation_id": str(organisation)}


def _of_type(kind: str) -> dict[str, str]:
    return {"organisation_type": kind}


def _agreements(ids: dict[str, uuid.UUID]) -> dict[str, dict[str, Any]]:
    common = {"county_number": COUNTY, "valid_from": "2026-01-01", "linkage_level": "cooperation"}
    return {
        "school_to_follow_up": {
            **common,
            "parties": [str(ids["school"]), str(ids["follow_up"])],
            "routes": [
                {
                    "from_organisation": _one(ids["school"]),
                    "to_organisation": _one(ids["follow_up"]),
                    "purposes": ["follow_up_outside_school_and_work", "return_to_upper_secondary"],
                }
            ],
            "target_groups": [
                {
                    "min_age": 15,
                    "max_age": 24,
                    "situations": ["left_upper_secondary", "at_risk_of_leaving_upper_secondary"],
                }
            ],
            "service_levels": _SERVICE_LEVELS,
        },
        "follow_up_to_nav_and_career_centre": {
            **common,
            "parties": [str(ids[name]) for name in ("follow_up", "nav_bergenhus", "nav_voss")]
            + [str(ids["career_centre"])],
            "routes": [
                {
                    "from_organisation": _one(ids["follow_up"]),
                    "to_organisation": _of_type("nav_office"),
                    "purposes": ["follow_up_outside_school_and_work", "work_oriented_measure"],
                },
                {
                    "from_organisation": _one(ids["follow_up"]),
                    "to_organisation": _one(ids["career_centre"]),
                    "purposes": ["career_guidance", "prior_learning_assessment"],
                },
            ],
            "target_groups": [
                {
                    "min_age": 15,
                    "max_age": 24,
                    "situations": [
                        "outside_school_and_work",
                        "left_upper_secondary",
                        "unemployed",
                        "needs_career_guidance",
                    ],
                }
            ],
            "service_levels": _SERVICE_LEVELS,
        },
        "nav_and_career_centre": {
            **common,
            "parties": [str(ids[name]) for name in ("nav_bergenhus", "nav_voss", "career_centre")],
            "routes": [
                {
                    "from_organisation": _of_type("nav_office"),
                    "to_organisation": _of_type("career_centre"),
                    "purposes": [
                        "career_guidance",
                        "prior_learning_assessment",
                        "follow_up_outside_school_and_work",
                    ],
                },
                {
                    "from_organisation": _of_type("career_centre"),
                    "to_organisation": _of_type("nav_office"),
                    "purposes": ["work_oriented_measure"],
                },
            ],
            "target_groups": [
                {
                    "min_age": 16,
                    "max_age": 67,
                    "situations": [
                        "outside_school_and_work",
                        "unemployed",
                        "needs_career_guidance",
                        "without_upper_secondary_qualification",
                    ],
                }
            ],
            "service_levels": _SERVICE_LEVELS,
        },
    }


# The people: made-up names, synthetic numbers, all of age (so they consent themselves), each
# with a consent to share with the county's education, NAV and career guidance.
_PEOPLE = [
    ("Ola Demo Fjell", dt.date(2006, 3, 14)),
    ("Kari Demo Strand", dt.date(2005, 11, 2)),
    ("Nora Demo Li", dt.date(2007, 6, 21)),
    ("Jonas Demo Vik", dt.date(2004, 1, 30)),
    ("Ingrid Demo Dal", dt.date(2006, 9, 9)),
    ("Emil Demo Berg", dt.date(2005, 5, 17)),
    ("Sara Demo Haug", dt.date(2007, 2, 3)),
    ("Lars Demo Moe", dt.date(2003, 8, 12)),
    ("Mari Demo Aas", dt.date(2000, 12, 24)),
]


@dataclass(frozen=True)
class Step:
    """One action on a referral: its path segment, body, and who at which end takes it."""

    action: str
    body: dict[str, Any] | None = None
    by: Role = Role.COUNSELLOR
    at_sender: bool = False


RECEIVE, ACCEPT, START = Step("receive"), Step("accept"), Step("start")


@dataclass(frozen=True)
class DemoReferral:
    key: str
    person: int
    sender: str
    receiver: str
    purpose: str
    situation: str
    steps: tuple[Step, ...]
    expected_status: str


def _referrals() -> list[DemoReferral]:
    contact = Step(
        "contacts",
        {"method": "phone", "result": "not_reached", "note": "Ringte, ikke svar."},
    )
    met = Step("contacts", {"method": "meeting", "result": "reached", "note": "Første møte."})
    assign = Step("assign", None, by=Role.COORDINATOR)  # body filled in with the counsellor
    return [
        DemoReferral("submitted", 0, "school", "follow_up", "return_to_upper_secondary",
                     "left_upper_secondary", (), "submitted"),
        DemoReferral("received", 1, "school", "follow_up", "follow_up_outside_school_and_work",
                     "at_risk_of_leaving_upper_secondary", (RECEIVE,), "received"),
        DemoReferral("accepted", 2, "follow_up", "nav_bergenhus", "work_oriented_measure",
                     "unemployed", (RECEIVE, ACCEPT, assign), "accepted"),
        DemoReferral("in-progress", 3, "follow_up", "nav_bergenhus",
                     "follow_up_outside_school_and_work", "outside_school_and_work",
                     (RECEIVE, ACCEPT, assign, contact, START, met,
                      Step("follow-ups", {"method": "video", "note": "Oppfølging etter møtet."})),
                     "in_progress"),
        DemoReferral("completed", 4, "follow_up", "career_centre", "career_guidance",
                     "needs_career_guidance",
                     (RECEIVE, ACCEPT, met, START,
                      Step("complete", {"outcome": "education", "note": "Søkt skoleplass."})),
                     "completed"),
        DemoReferral("rejected", 5, "follow_up", "nav_voss", "work_oriented_measure",
                     "unemployed",
                     (RECEIVE, Step("reject", {"reason": "outside_mandate"})), "rejected"),
        DemoReferral("redirected", 6, "follow_up", "nav_voss",
                     "follow_up_outside_school_and_work", "outside_school_and_work",
                     (RECEIVE, Step("redirect", {"to": "career_centre",
                                                 "reason": "better_placed_elsewhere"})),
                     "redirected"),
        DemoReferral("withdrawn", 7, "school", "follow_up", "return_to_upper_secondary",
                     "left_upper_secondary",
                     (Step("withdraw", {"reason": "filed_in_error"}, by=Role.FILER,
                           at_sender=True),),
                     "withdrawn"),
        DemoReferral("nav-to-career-centre", 8, "nav_bergenhus", "career_centre",
                     "prior_learning_assessment", "without_upper_secondary_qualification",
                     (RECEIVE, ACCEPT, START,
                      Step("contacts", {"method": "video", "result": "reached"})),
                     "in_progress"),
    ]  # fmt: skip


@dataclass(frozen=True)
class DemoWebhook:
    """Where the demo subscription goes: the notifier's API, the receiver's URL, the file the
    receiver reads the secret from, and the receiver's log (to tell people where to watch)."""

    notifier: httpx.Client
    url: str
    secret_file: Path
    log_file: Path


# The organisation whose referrals' events the demo receiver gets, and which events.
WEBHOOK_ORGANISATION = "nav_bergenhus"
WEBHOOK_EVENT_TYPES = [
    f"no.overgang.referral.{what}.v1"
    for what in (
        "submitted",
        "received",
        "accepted",
        "rejected",
        "redirected",
        "withdrawn",
        "started",
        "contact_recorded",
        "follow_up_recorded",
        "completed",
        "cancelled",
        "assigned",
    )
] + [f"no.overgang.deadline.{what}.v1" for what in ("approaching", "missed", "met")]


@dataclass(frozen=True)
class DemoSubscription:
    subscription_id: uuid.UUID
    organisation: str
    url: str
    log_file: Path


@dataclass
class DemoData:
    """What the demo consists of once loaded, and how much of it this load created."""

    organisations: dict[str, uuid.UUID]
    agreements: dict[str, uuid.UUID]
    subjects: list[uuid.UUID]
    consents: list[uuid.UUID]
    referrals: dict[str, dict[str, Any]]
    created: Counter[str]
    webhook: DemoSubscription | None = None

    def statuses(self) -> Counter[str]:
        return Counter(str(referral["status"]) for referral in self.referrals.values())


def load(client: httpx.Client, issuer_dir: Path, *, webhook: DemoWebhook | None = None) -> DemoData:
    """Load the demo into the referral service `client` talks to (its base URL set), with
    tokens from the dev issuer in `issuer_dir`, and with `webhook` the demo subscription;
    what exists already is left as it is."""
    api = Api(client, issuer_dir)
    organisations = {
        name: uuid.UUID(
            api.post(
                "/v1/organisations",
                {**body, "county_number": COUNTY},
                organisation=DIRECTORY_ADMIN,
                role=Role.ADMIN,
                key=f"organisation/{name}",
                what=f"organisation {name}",
            ).json()["organisation_id"]
        )
        for name, body in _ORGANISATIONS.items()
    }
    subscription = None
    if webhook is not None:
        subscription = _subscribe(
            Api(webhook.notifier, issuer_dir, api.created), webhook, organisations
        )
    agreements = {
        name: uuid.UUID(
            api.post(
                "/v1/agreements",
                body,
                organisation=uuid.UUID(body["parties"][0]),
                role=Role.ADMIN,
                key=f"agreement/{name}",
                what=f"agreement {name}",
            ).json()["agreement_id"]
        )
        for name, body in _agreements(organisations).items()
    }
    registrar = organisations["follow_up"]
    subjects = [
        uuid.UUID(
            api.post(
                "/v1/subjects",
                {
                    "identity_number": identity_number(birth, serial=serial),
                    "birth_date": birth.isoformat(),
                    "name": name,
                },
                organisation=registrar,
                role=Role.FILER,
                key=f"subject/{serial}",
                what=f"subject {serial}",
            ).json()["subject_id"]
        )
        for serial, (name, birth) in enumerate(_PEOPLE)
    ]
    consents = [
        uuid.UUID(
            api.post(
                CONSENTS_PATH.format(subject_id=subject),
                {
                    "given_by": "person",
                    "purposes": [
                        "follow_up_outside_school_and_work",
                        "career_guidance",
                        "prior_learning_assessment",
                        "work_oriented_measure",
                        "return_to_upper_secondary",
                    ],
                    "recipient_sectors": ["education", "work_welfare", "career_guidance"],
                    "expires_at": CONSENTS_EXPIRE,
                    "collection_method": "digital_id_porten",
                },
                organisation=registrar,
                role=Role.FILER,
                key=f"consent/{serial}",
                what=f"consent {serial}",
            ).json()["consent_id"]
        )
        for serial, subject in enumerate(subjects)
    ]
    referrals = {
        demo.key: _file_and_advance(api, demo, organisations, subjects, consents)
        for demo in _referrals()
    }
    return DemoData(
        organisations, agreements, subjects, consents, referrals, api.created, subscription
    )


def _subscribe(
    notifier: Api, webhook: DemoWebhook, organisations: dict[str, uuid.UUID]
) -> DemoSubscription:
    """The demo organisation's webhook subscription to the receiver (once), and its secret
    written where the receiver reads it. A replay by Idempotency-Key shows the secret again."""
    created = notifier.post(
        "/v1/subscriptions",
        {"url": webhook.url, "event_types": WEBHOOK_EVENT_TYPES},
        organisation=organisations[WEBHOOK_ORGANISATION],
        role=Role.ADMIN,
        key="subscription/demo-webhook-receiver",
        what="demo webhook subscription",
    ).json()
    secret = created.get("secret")
    if secret is None:
        raise DemoError("demo webhook subscription: it was deleted; its secret is gone")
    webhook.secret_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = webhook.secret_file.with_suffix(".tmp")
    temporary.touch(mode=0o600)
    temporary.chmod(0o600)
    temporary.write_text(secret + "\n")
    temporary.replace(webhook.secret_file)
    return DemoSubscription(
        subscription_id=uuid.UUID(created["subscription_id"]),
        organisation=WEBHOOK_ORGANISATION,
        url=webhook.url,
        log_file=webhook.log_file,
    )


def _file_and_advance(
    api: Api,
    demo: DemoReferral,
    organisations: dict[str, uuid.UUID],
    subjects: list[uuid.UUID],
    consents: list[uuid.UUID],
) -> dict[str, Any]:
    """File the referral (once), then take whichever of its steps its history lacks."""
    sender, receiver = organisations[demo.sender], organisations[demo.receiver]
    filed = api.post(
        "/v1/referrals",
        {
            "subject_id": str(subjects[demo.person]),
            "to_organisation_id": str(receiver),
            "purpose": demo.purpose,
            "situation": demo.situation,
            "consent_id": str(consents[demo.person]),
        },
        organisation=sender,
        role=Role.FILER,
        key=f"referral/{demo.key}",
        what=f"referral {demo.key}",
    ).json()
    path = f"/v1/referrals/{filed['referral_id']}"
    history = api.get(
        f"{path}/history", organisation=sender, role=Role.FILER, what=f"referral {demo.key}"
    )
    done = len(history.json()["items"]) - 1  # the first entry is the filing
    tag = history.headers["ETag"]
    for step in demo.steps[done:]:
        body = _step_body(api, step, demo, organisations, consents, receiver)
        response = api.post(
            f"{path}/{step.action}",
            body,
            organisation=sender if step.at_sender else receiver,
            role=step.by,
            if_match=tag,
            what=f"referral {demo.key}: {step.action}",
        )
        tag = response.headers["ETag"]
    current: dict[str, Any] = api.get(
        path, organisation=sender, role=Role.FILER, what=f"referral {demo.key}"
    ).json()
    return current


def _step_body(
    api: Api,
    step: Step,
    demo: DemoReferral,
    organisations: dict[str, uuid.UUID],
    consents: list[uuid.UUID],
    receiver: uuid.UUID,
) -> dict[str, Any] | None:
    if step.action == "assign":
        return {
            "assignee_id": str(api.actor(receiver, Role.COUNSELLOR)),
            "assignee_role": "counsellor",
        }
    if step.action == "redirect":
        assert step.body is not None
        return {
            "to_organisation_id": str(organisations[step.body["to"]]),
            "reason": step.body["reason"],
            "consent_id": str(consents[demo.person]),
        }
    return step.body


def _where(name: str, url: str) -> str:
    if name == "web":
        return f"  {name:<10} the web front: {url}/ (sign in as any demo organisation)"
    if name == "dev-oidc":
        return f"  {name:<10} the development OIDC provider the web front signs in with: {url}"
    return f"  {name:<10} API docs: {url}/docs"


def where_to_look(referral_url: str, services: dict[str, str], data: DemoData) -> list[str]:
    """Lines that tell a developer where the demo is and how to call it."""
    lines = [f"demo data: {len(data.referrals)} referrals in county {COUNTY} (Vestland)"]
    lines += [
        _where(name, url)
        for name, url in services.items()
        if data.webhook is None or url != data.webhook.url
    ]
    for name, organisation in data.organisations.items():
        lines.append(f"  {name:<14} {organisation}")
    follow_up = data.organisations["follow_up"]
    lines.append(
        f"  a token: uv run overgang token --org {follow_up} --role coordinator --role filer"
    )
    lines.append(
        f'  e.g. curl -H "Authorization: Bearer $(uv run overgang token --org {follow_up}'
        f' --role filer)" "{referral_url}/v1/referrals?box=sent"'
    )
    if data.webhook is not None:
        lines.append(
            f"  webhooks: {data.webhook.organisation}'s events go to the demo receiver at "
            f"{data.webhook.url}, which verifies each and logs one line per delivery;"
        )
        lines.append(f"    watch it: tail -f {data.webhook.log_file}")
    return lines


# What the demo's school administration system calls itself (its CloudEvents `source`).
SCHOOL_SYSTEM = "/demo/vestland/school-administration-system"


async def report_school_leaver(
    bootstrap: str,
    *,
    school: uuid.UUID,
    birth: dt.date,
    serial: int,
    left_at: dt.date,
    topic: str = INBOUND_SCHOOL.name,
) -> uuid.UUID:
    """Publish what a school administration system sends when a pupil leaves upper secondary
    school, as such a system would: through the plain CloudEvents SDK (Kafka binary binding),
    not Overgang's own code, on the inbound topic. The pupil has a synthetic identity number.
    Returns the event's id."""
    event_id = uuid.uuid4()
    data = {
        "school_organisation_id": str(school),
        "national_identity_number": identity_number(birth, serial=serial, nav_series=True),
        "birth_date": birth.isoformat(),
        "left_at": left_at.isoformat(),
        "reason": LeftSchoolReason.DROPPED_OUT.value,
    }
    attributes = {
        "specversion": "1.0",
        "type": PupilLeftSchoolV1.ce_type,
        "source": SCHOOL_SYSTEM,
        "id": str(event_id),
        "time": dt.datetime.now(dt.UTC),
        "datacontenttype": "application/json",
    }
    message = to_binary(SdkCloudEvent(attributes, data), JSONFormat())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            message.value,
            key=str(event_id).encode(),
            headers=list(message.headers.items()),
        )
    finally:
        await producer.stop()
    return event_id
