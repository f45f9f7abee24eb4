"""Steps of a handoff through the public APIs of a running system, for the end-to-end and
fault-injection tests."""

import datetime as dt
import secrets
import uuid
from typing import Any

import httpx

from deploy.local.demo import identity_number

CONSENT_TO_NAV = {
    "given_by": "person",
    "purposes": ["follow_up_outside_school_and_work"],
    "recipient_sectors": ["work_welfare", "career_guidance"],
    "expires_at": "2030-12-31T23:00:00Z",
    "collection_method": "digital_id_porten",
}


def a_person() -> tuple[str, dt.date]:
    """A synthetic identity number (NAV's series) and birth date nobody else in the session
    is likely to have: a young person of 18 to 22."""
    birth = dt.date(2004, 1, 1) + dt.timedelta(days=secrets.randbelow(4 * 365))
    return identity_number(birth, serial=secrets.randbelow(100), nav_series=True), birth


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The response's body, when it has the status expected (else the problem, in full)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def register(filer: httpx.Client) -> uuid.UUID:
    number, birth = a_person()
    body = ok(
        filer.post(
            "/v1/subjects", json={"identity_number": number, "birth_date": birth.isoformat()}
        ),
        201,
    )
    return uuid.UUID(body["subject_id"])


def consent(filer: httpx.Client, subject: uuid.UUID) -> uuid.UUID:
    body = ok(filer.post(f"/v1/subjects/{subject}/consents", json=CONSENT_TO_NAV), 201)
    return uuid.UUID(body["consent_id"])


def refer(
    filer: httpx.Client,
    subject: uuid.UUID,
    to: uuid.UUID,
    consent_id: uuid.UUID,
    *,
    key: str | None = None,
) -> dict[str, Any]:
    """File a referral (with an Idempotency-Key when given)."""
    return ok(
        filer.post(
            "/v1/referrals",
            json={
                "subject_id": str(subject),
                "to_organisation_id": str(to),
                "purpose": "follow_up_outside_school_and_work",
                "situation": "outside_school_and_work",
                "consent_id": str(consent_id),
            },
            headers={} if key is None else {"Idempotency-Key": key},
        ),
        201,
    )


def act(
    client: httpx.Client, referral: dict[str, Any], step: str, body: Any = None
) -> dict[str, Any]:
    """Take a step on the version of the referral given; the referral afterwards."""
    response = client.post(
        f"/v1/referrals/{referral['referral_id']}/{step}",
        headers={"If-Match": f'"{referral["version"]}"'},
        json=body,
    )
    return ok(response, 201 if step in ("contacts", "follow-ups") else 200)


def received_referral(
    filer: httpx.Client, receiver: httpx.Client, to: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID, dict[str, Any]]:
    """A new person, their consent, and a referral of them that `receiver` (of organisation
    `to`) has acknowledged: the subject, the consent and the referral."""
    subject = register(filer)
    consent_id = consent(filer, subject)
    referral = act(receiver, refer(filer, subject, to, consent_id), "receive")
    return subject, consent_id, referral


def worklist(client: httpx.Client, box: str, *statuses: str) -> dict[str, dict[str, Any]]:
    """Every referral of the caller's organisation in `box` (received or sent), in these
    statuses (all, if none), by id: every page of the worklist."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"box": box, "status": list(statuses), "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = ok(client.get("/v1/referrals", params=params))
        found |= {item["referral_id"]: item for item in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            return found
