"""A steady load of handoffs for the fault-injection tests: in a thread, at a fixed rate, the
follow-up service registers a young person, records their consent and refers them to NAV
Bergenhus. Each request carries an Idempotency-Key and is sent again, as any careful client
would, until it gets an answer: a service killed, a database restarting, a refused
connection. So every handoff begun is completed exactly once, whatever breaks."""

import datetime as dt
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from deploy.local.demo import identity_number
from schemas.codes import Role
from tests.e2e.handoffs import CONSENT_TO_NAV
from tests.system import System

# What a client sends again: no answer, or the service saying it cannot now.
RETRIED_STATUSES = {502, 503, 504}
RETRY_PAUSE_S = 0.2
GIVE_UP_S = 180.0


def people() -> Iterator[tuple[str, dt.date]]:
    """Synthetic identity numbers (NAV's series), each once, of people aged 23: in the
    agreements' target group, and apart from the younger people of the end-to-end tests."""
    first = dt.date.today() - dt.timedelta(days=23 * 366 + 320)  # 23 years old and some
    for serial, day in itertools.product(range(100), range(300)):
        birth = first + dt.timedelta(days=day)
        yield identity_number(birth, serial=serial, nav_series=True), birth


@dataclass(frozen=True)
class Handoff:
    subject_id: uuid.UUID
    referral_id: uuid.UUID
    filed_at: float  # time.time() when the referral's 201 arrived
    retries: int


@dataclass
class Load:
    system: System
    rate_per_s: float
    handoffs: list[Handoff] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _people: Iterator[tuple[str, dt.date]] = field(default_factory=people)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="handoff-load", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(GIVE_UP_S + 30)
        assert not self._thread.is_alive(), "the load did not stop"

    def filed_since(self, at: float) -> list[Handoff]:
        return [handoff for handoff in list(self.handoffs) if handoff.filed_at >= at]

    def _run(self) -> None:
        token = self.system.token("follow_up", Role.COORDINATOR, Role.FILER)
        nav = str(self.system.organisations["nav_bergenhus"])
        with httpx.Client(
            base_url=self.system.url("referral"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as client:
            began = time.monotonic()
            n = 0
            while not self._stop.is_set():
                pause = began + n / self.rate_per_s - time.monotonic()
                if pause > 0:
                    self._stop.wait(pause)
                n += 1
                try:
                    self.handoffs.append(self._hand_off(client, nav))
                except Exception as error:
                    self.errors.append(repr(error))
                    return

    def _hand_off(self, client: httpx.Client, nav: str) -> Handoff:
        number, birth = next(self._people)
        retries = 0

        def post(path: str, body: dict[str, Any], status: set[int]) -> dict[str, Any]:
            nonlocal retries
            key = str(uuid.uuid4())
            give_up = time.monotonic() + GIVE_UP_S
            while True:
                try:
                    response = client.post(path, json=body, headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code in status:
                    answer: dict[str, Any] = response.json()
                    return answer
                if response is not None and response.status_code not in RETRIED_STATUSES:
                    raise AssertionError(f"{path}: {response.status_code} {response.text}")
                if time.monotonic() > give_up:
                    raise AssertionError(f"{path}: no answer within {GIVE_UP_S:.0f} s")
                retries += 1
                time.sleep(RETRY_PAUSE_S)

        subject = post(
            "/v1/subjects",
            {"identity_number": number, "birth_date": birth.isoformat()},
            {200, 201},
        )["subject_id"]
        consent = post(f"/v1/subjects/{subject}/consents", CONSENT_TO_NAV, {201})["consent_id"]
        referral = post(
            "/v1/referrals",
            {
                "subject_id": subject,
                "to_organisation_id": nav,
                "purpose": "follow_up_outside_school_and_work",
                "situation": "outside_school_and_work",
                "consent_id": consent,
            },
            {201},
        )["referral_id"]
        return Handoff(uuid.UUID(subject), uuid.UUID(referral), time.time(), retries)
