"""The web front in a real browser, against the running system: a counsellor of NAV signs in,
finds a new referral on the worklist, opens it (recorded as an access), acknowledges and
accepts it, and records a contact; a page left open while a colleague acted says so; another
organisation cannot open the referral by its address; the pages read in English too; and
axe-core finds nothing serious or critical on any of them."""

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from schemas.codes import Role
from tests.browser.conftest import screenshot, serious_violations
from tests.e2e.handoffs import a_person, consent, ok, refer, register
from tests.system import System, until

pytestmark = pytest.mark.e2e


def new_referral(system: System) -> dict[str, Any]:
    """A person the follow-up service refers to NAV Bergenhus, with their consent."""
    with system.client("referral", "follow_up", Role.COORDINATOR, Role.FILER) as follow_up:
        subject = register(follow_up)
        consent_id = consent(follow_up, subject)
        return refer(follow_up, subject, system.organisations["nav_bergenhus"], consent_id)


def at_the_provider(page: Page, system: System) -> None:
    """The page is the dev OIDC provider's sign-in page, where the web front sent it."""
    expect(page).to_have_url(re.compile(rf"^{re.escape(system.url('dev-oidc'))}/authorize\?"))


def sign_in(page: Page, system: System, organisation: str, *roles: str) -> None:
    """As a person does: the web front sends them to the OIDC provider (the dev provider:
    pick an organisation and roles), which sends them back signed in."""
    page.goto(f"{system.url('web')}/")
    at_the_provider(page, system)
    page.get_by_label("Virksomhet").select_option(value=str(system.organisations[organisation]))
    for role in roles:
        page.get_by_label(role, exact=True).check()
    page.get_by_role("button", name="Logg inn").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(system.url('web'))}/"))


def assert_accessible(page: Page) -> None:
    assert serious_violations(page) == []


def test_a_counsellor_takes_a_referral_on_through_the_pages(system: System, page: Page) -> None:
    referral = new_referral(system)
    sign_in(page, system, "nav_bergenhus", "Veileder", "Koordinator")

    expect(page.get_by_role("heading", name="Arbeidsliste")).to_be_visible()
    row = page.locator(f'a[href="/referrals/{referral["referral_id"]}"]')
    expect(row).to_be_visible()
    assert_accessible(page)
    screenshot(page, "worklist")

    row.click()
    expect(page.locator("#status")).to_have_text("Sendt")
    assert_accessible(page)
    screenshot(page, "referral-submitted")
    page.get_by_role("button", name="Bekreft mottak").click()
    expect(page.locator("#message")).to_have_text("Lagret.")
    expect(page.locator("#status")).to_have_text("Mottatt")
    page.get_by_role("button", name="Ta imot").click()
    expect(page.locator("#status")).to_have_text("Tatt imot")
    page.locator("#assign-assignee_role").select_option("counsellor")
    page.get_by_role("button", name="Tildel").click()  # to myself: my id is filled in
    expect(page.locator("#assigned")).to_have_text("deg (Veileder)")
    page.get_by_label("Måte").select_option("phone")
    page.get_by_label("Resultat").select_option("reached")
    page.get_by_role("button", name="Registrer kontakt").click()
    expect(page.get_by_text("Telefon: Nådd")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "referral-accepted")
    page.get_by_role("button", name="Start oppfølging").click()
    expect(page.locator("#status")).to_have_text("Under oppfølging")
    page.locator("#record_follow_up-method").select_option("meeting")
    page.get_by_role("button", name="Registrer oppfølging").click()
    expect(page.locator("#message")).to_have_text("Lagret.")
    page.get_by_label("Utfall").select_option("employment")
    page.get_by_role("button", name="Avslutt").click()
    expect(page.locator("#status")).to_have_text("Avsluttet")

    with system.client("referral", "nav_bergenhus", Role.COUNSELLOR) as nav:
        now = ok(nav.get(f"/v1/referrals/{referral['referral_id']}"))
    assert (now["status"], now["outcome"]) == ("completed", "employment")
    assert [(c["method"], c["result"]) for c in now["contacts"]] == [("phone", "reached")]
    assert [f["method"] for f in now["follow_ups"]] == ["meeting"]


def test_a_page_left_open_while_a_colleague_acted_says_so(system: System, browser: Browser) -> None:
    referral = new_referral(system)
    address = f"{system.url('web')}/referrals/{referral['referral_id']}"
    mine, colleagues = browser.new_context(), browser.new_context()
    try:
        me, colleague = mine.new_page(), colleagues.new_page()
        for page in (me, colleague):
            sign_in(page, system, "nav_bergenhus", "Veileder")
            page.goto(address)
        colleague.get_by_role("button", name="Bekreft mottak").click()
        expect(colleague.locator("#status")).to_have_text("Mottatt")

        me.get_by_role("button", name="Bekreft mottak").click()

        expect(me.locator("#message")).to_contain_text("Noen andre har endret henvisningen")
        expect(me.locator("#status")).to_have_text("Mottatt")  # as it is now
        assert_accessible(me)
        screenshot(me, "referral-stale")
    finally:
        mine.close()
        colleagues.close()


def test_another_organisation_cannot_open_the_referral_by_its_address(
    system: System, page: Page
) -> None:
    referral = new_referral(system)
    sign_in(page, system, "nav_voss", "Veileder")

    response = page.goto(f"{system.url('web')}/referrals/{referral['referral_id']}")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("alert")).to_have_text(
        "Fant ikke henvisningen, eller din virksomhet har ikke tilgang til den."
    )
    expect(page.locator("body")).not_to_contain_text(str(referral["subject_id"]))
    assert_accessible(page)


def test_the_pages_read_in_english_and_sign_out_ends_the_session(
    system: System, page: Page
) -> None:
    sign_in(page, system, "nav_bergenhus", "Veileder")
    page.get_by_role("button", name="English").click()

    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "signed-out")
    page.goto(f"{system.url('web')}/")
    at_the_provider(page, system)  # signed out: the pages send to the sign-in again
    assert_accessible(page)
    screenshot(page, "dev-oidc-sign-in")


def test_the_provider_sends_back_only_to_the_web_fronts_registered_address(
    system: System, page: Page
) -> None:
    page.goto(f"{system.url('web')}/sign-in")
    at_the_provider(page, system)
    elsewhere = page.url.replace(
        "redirect_uri=http", "redirect_uri=https%3A%2F%2Fevil.test%2F%3Fhttp", 1
    )

    response = page.goto(elsewhere)

    assert response is not None
    assert response.status == 400
    assert page.url == elsewhere  # not sent on anywhere


def test_a_callback_this_browser_did_not_start_is_refused(system: System, browser: Browser) -> None:
    """Another person's sign-in (a link to the callback with their code) does not sign this
    browser in: the state is not this session's."""
    theirs, mine = browser.new_context(), browser.new_context()
    try:
        other = theirs.new_page()
        callbacks: list[str] = []
        other.on(
            "request",
            lambda request: (
                callbacks.append(request.url) if "/auth/callback" in request.url else None
            ),
        )
        other.route("**/auth/callback*", lambda route: route.abort())  # the code stays unused
        other.goto(f"{system.url('web')}/")
        other.get_by_label("Virksomhet").select_option(
            value=str(system.organisations["nav_bergenhus"])
        )
        other.get_by_label("Koordinator", exact=True).check()
        other.get_by_role("button", name="Logg inn").click()
        until(lambda: callbacks, timeout_s=10, what="the provider's redirect to the callback")

        me = mine.new_page()
        me.goto(f"{system.url('web')}/sign-in")  # a sign-in of my own under way
        at_the_provider(me, system)
        response = me.goto(callbacks[0])

        assert response is not None
        assert response.status == 400
        expect(me.get_by_role("alert")).to_contain_text("Innloggingen kunne ikke fullføres")
        assert_accessible(me)
        me.goto(f"{system.url('web')}/")
        at_the_provider(me, system)  # still not signed in
    finally:
        theirs.close()
        mine.close()


def test_a_form_without_the_sessions_token_is_refused(system: System) -> None:
    with httpx.Client(base_url=system.url("web"), timeout=10) as client:
        client.get("/signed-out")  # a session, but no token sent back
        answer = client.post("/language", data={"language": "en", "back": "/"})

    assert answer.status_code == 403
    assert "Logg inn og prøv igjen" in answer.text


def test_the_session_cookie_is_httponly_and_samesite(system: System) -> None:
    with httpx.Client(base_url=system.url("web"), timeout=10) as client:
        started = client.get("/sign-in")  # the sign-in under way is kept in the session

    assert started.status_code == 303
    assert started.headers["location"].startswith(f"{system.url('dev-oidc')}/authorize?")
    cookie = started.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


def test_a_filer_refers_a_person_with_their_consent_to_an_allowed_recipient(
    system: System, page: Page
) -> None:
    number, birth = a_person()
    wrong = number[:10] + str((int(number[10]) + 1) % 10)
    sign_in(page, system, "follow_up", "Henviser")
    page.get_by_role("link", name="Ny henvisning").click()
    expect(page.get_by_role("heading", name="Ny henvisning")).to_be_visible()
    with system.client("referral", "follow_up", Role.FILER) as follow_up:
        allowed = ok(follow_up.get("/v1/agreements/recipients"))["items"]
    offered = page.locator("#recipient option").evaluate_all("options => options.map(o => o.value)")
    assert sorted(offered) == sorted(item["organisation_id"] for item in allowed)
    assert str(system.organisations["school"]) not in offered

    # A wrong check digit is said as it is typed, and again by the service on submit.
    page.get_by_label("Fødselsnummer").fill(wrong)
    expect(page.locator("#identity_number-hint")).to_contain_text("Kontrollsifrene stemmer ikke")
    page.get_by_label("Fødselsdato").fill(birth.isoformat())
    page.get_by_label("Til", exact=True).select_option(str(system.organisations["nav_bergenhus"]))
    page.get_by_role("button", name="Send henvisningen").click()
    expect(page.locator("#identity_number-error")).to_contain_text("Kontrollsifrene stemmer ikke")
    expect(page.get_by_label("Fødselsnummer")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    screenshot(page, "new-referral-wrong-number")

    page.get_by_label("Fødselsnummer").fill(number)
    expect(page.locator("#identity_number-hint")).to_have_text("")
    page.get_by_role("button", name="Send henvisningen").click()

    expect(page.locator("#message")).to_have_text("Lagret.")
    expect(page.locator("#status")).to_have_text("Sendt")
    referral_id = page.url.split("/referrals/")[1].split("?")[0]
    with system.client("referral", "nav_bergenhus", Role.COUNSELLOR) as nav:
        filed = ok(nav.get(f"/v1/referrals/{referral_id}"))
    assert filed["from_organisation_id"] == str(system.organisations["follow_up"])
    assert filed["consent_id"] is not None


def test_an_auditor_sees_deadlines_statistics_a_timeline_the_access_log_and_the_chain(
    system: System, page: Page
) -> None:
    referral = new_referral(system)
    with system.client("referral", "nav_bergenhus", Role.COUNSELLOR) as nav:
        ok(nav.get(f"/v1/referrals/{referral['referral_id']}"))  # a read, to be logged
    sign_in(page, system, "follow_up", "Revisor")

    expect(page.get_by_role("heading", name="Frister")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "audit-deadlines")

    page.get_by_role("link", name="Statistikk").click()
    expect(page.get_by_role("heading", name="Tall")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Hele fylket"))).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "audit-statistics")
    with page.expect_download() as download:
        page.get_by_role("link", name="Last ned som CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    assert Path(download.value.path()).read_text().startswith("period,")

    subject = referral["subject_id"]
    page.goto(f"{system.url('web')}/audit/timeline?subject_id={subject}")
    expect(page.locator(".timeline li").first).to_be_visible(timeout=20_000)
    assert_accessible(page)
    screenshot(page, "audit-timeline")

    page.goto(f"{system.url('web')}/audit/access?subject_id={subject}")
    expect(page.get_by_role("cell", name="NAV Bergenhus (demo)").first).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Kontroll av loggen").click()
    page.get_by_role("button", name="Kontroller nå").click()
    expect(page.locator("#verification")).to_contain_text("Kjeden er hel.")
    assert_accessible(page)
    screenshot(page, "audit-verify")


def test_a_counsellor_may_not_open_the_auditors_pages(system: System, page: Page) -> None:
    sign_in(page, system, "nav_bergenhus", "Veileder")

    response = page.goto(f"{system.url('web')}/audit/statistics")

    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("alert")).to_have_text("Du har ikke en rolle som kan gjøre dette.")


def test_a_counsellor_sends_a_referral_on_to_an_organisation_the_agreements_allow(
    system: System, page: Page
) -> None:
    referral = new_referral(system)
    sign_in(page, system, "nav_bergenhus", "Veileder")
    page.goto(f"{system.url('web')}/referrals/{referral['referral_id']}")
    page.get_by_role("button", name="Bekreft mottak").click()  # sent on once received

    page.get_by_label("Til", exact=True).select_option(str(system.organisations["career_centre"]))
    page.locator("#redirect-redirect_reason").select_option("better_placed_elsewhere")
    page.get_by_role("button", name="Send videre").click()

    expect(page.locator("#message")).to_have_text("Lagret.")
    expect(page.locator("#status")).to_have_text("Videresendt")
    expect(page.get_by_text("Ingen handlinger er mulige")).to_be_visible()  # not ours now
    with system.client("referral", "career_centre", Role.COUNSELLOR) as centre:
        now = ok(centre.get(f"/v1/referrals/{referral['referral_id']}"))
    assert now["to_organisation_id"] == str(system.organisations["career_centre"])


def test_the_pages_fit_a_phone_screen(system: System, browser: Browser) -> None:
    referral = new_referral(system)
    phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = phone.new_page()
        sign_in(page, system, "nav_bergenhus", "Veileder")
        for path, name in (
            ("/", "phone-worklist"),
            (f"/referrals/{referral['referral_id']}", "phone-referral"),
        ):
            page.goto(f"{system.url('web')}{path}")
            # Nothing wider than the screen: no sideways scrolling to reach a button.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert_accessible(page)
            screenshot(page, name)
    finally:
        phone.close()
