"""The seed's case end to end in a real browser (Chromium, driven by Playwright) against a live
server on the real PostgreSQL, with a real Celery worker. Screenshots of every step are saved
under test-artifacts/ (git-ignored)."""

import datetime
import json
import urllib.request

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from billing.ledger import ledger_verify
from billing.models import FINISHED, ApportionmentPeriod
from claims.models import Claim, ClaimState
from claims.tasks import close_publicity_windows
from office.demo_users import DEMO_PASSWORD
from tests.browser_operator import ARTIFACTS, CHROMIUM, Operator
from tests.claim_steps import pdf, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory
from tests.test_browser_desk import said

START = datetime.datetime(2030, 12, 7, 2, 0, tzinfo=datetime.UTC)  # 10:00 in Shanghai

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine: `apt-get install "
                                                 "chromium` (make test does it as root)"),
]  # fmt: skip


def api_dispute(base, member, case_id, reason):
    def post(path, data, token=None):
        request = urllib.request.Request(f"{base}{path}", json.dumps(data).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        if token:
            request.add_header("Authorization", f"Token {token}")
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())

    _, body = post("/api/auth/token/", {"username": member.user.username, "password": "pw"})
    return post(f"/api/cases/{case_id}/disputes/", {"reason": reason}, body["token"])


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_seed_case_from_submission_to_payment(
    browser, live_server, celery_worker, investigator, reviewer, finance, tmp_path, language
):
    plan = PlanFactory(management_fee_bp=800)
    MembershipFactory.create_batch(6, plan=plan)
    seed_case = ClaimFactory(membership=MembershipFactory(plan=plan), diagnosis="craniotomy")
    other_case = ClaimFactory(membership=MembershipFactory(plan=plan), diagnosis="fracture")
    objector = MembershipFactory(plan=plan).member
    report = tmp_path / "investigation-report.pdf"
    report.write_bytes(pdf().read())
    period = ApportionmentPeriod.objects.create(
        plan=plan, starts_at=START - datetime.timedelta(days=1),
        cutoff_at=START + datetime.timedelta(days=5),
    )  # fmt: skip

    with time_machine.travel(START, tick=True):
        # The investigator takes the seed's case, uploads the report, sends it to publicity.
        inv = Operator(
            browser, live_server, investigator.username, "investigator", language=language
        )
        inv.open(f"/admin/claims/claim/{seed_case.pk}/change/")
        inv.shot("submitted")
        inv.press("start_investigation", investigator=str(investigator.pk))
        inv.press("add_evidence", kind="investigation_report", file=str(report))
        assert "SHA-256" in inv.messages()
        inv.press("record_investigation", summary="Family interviewed, hospital visited.")
        inv.press("publicize")
        ends = timezone.localtime(Claim.objects.get(pk=seed_case.pk).publicity_ends_at)
        expected = said(language, "Publicized until %(ends)s (Shanghai time).",
                        ends=f"{ends:%Y-%m-%d %H:%M}")  # fmt: skip
        assert expected in inv.messages()
        inv.shot("publicized")
        assert Claim.objects.get(pk=seed_case.pk).state == ClaimState.PUBLICIZED

        # A member disputes the other case through the API.
        to_publicized(other_case, investigator=investigator, now=timezone.now())
        status, _ = api_dispute(live_server.url, objector, other_case.pk, "Dates differ.")
        assert status == 201

    after_window = START + datetime.timedelta(days=3, hours=1)
    with time_machine.travel(after_window, tick=True):
        # The worker closes the windows: one approved, one disputed.
        result = close_publicity_windows.delay(after_window.isoformat()).get(timeout=60)
        assert result == {"approved": 1, "disputed": 1, "held": 0, "failed": 0}

        # The reviewer resolves the dispute; the investigator was never offered approval.
        rev = Operator(browser, live_server, reviewer.username, "reviewer", language=language)
        rev.open(f"/admin/claims/claim/{other_case.pk}/change/")
        rev.shot("disputed")
        rev.press("approve", reason="Hospital confirmed the dates.")
        assert said(language, "Claim approved.") in rev.messages()
        rev.shot("approved")
        inv.open(f"/admin/claims/claim/{seed_case.pk}/change/")
        assert inv.page.locator("form[data-action='approve']").count() == 0

    with time_machine.travel(START + datetime.timedelta(days=6), tick=True):
        # Finance previews and runs the period, and watches it reach 100%.
        fin = Operator(browser, live_server, finance.username, "finance", language=language)
        fin.open(f"/admin/billing/apportionmentperiod/{period.pk}/change/")
        fin.page.click("input[name='_preview']")
        assert fin.page.locator("#period-preview").is_visible()
        fin.shot("preview")
        fin.open(f"/admin/billing/apportionmentperiod/{period.pk}/change/")
        fin.page.click("input[name='_run']")
        # Not wait_for_function: it evaluates a string, which the pages' CSP refuses.
        from playwright.sync_api import expect

        expect(fin.page.locator("#period-percent")).to_have_text("100%", timeout=60_000)
        fin.shot("posted")
        assert "✗" not in fin.page.locator("#period-panel").inner_text()

    period.refresh_from_db()
    assert period.status in ("posted", "paid")
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=30)
    while Claim.objects.filter(pk__in=[seed_case.pk, other_case.pk], state="paid").count() < 2:
        assert datetime.datetime.now() < deadline, "claims were not paid"
    assert ledger_verify() == []
    # A reviewer has no finance pages.
    response = rev.page.goto(
        f"{live_server.url}/admin/billing/apportionmentperiod/{period.pk}/change/"
    )
    assert response.status == 403

    # Anyone, logged out, reads the period's public report, in English and in Chinese: the
    # cases anonymised, and the signed Merkle root of the bills.
    period.refresh_from_db()
    assert len(period.merkle_root) == 64
    for language, heading in (("en", "Share per member"), ("zh-hans", "每人分摊")):
        context = browser.new_context(extra_http_headers={"Accept-Language": language})
        page = context.new_page()
        assert page.goto(f"{live_server.url}/public/periods/{period.pk}/").status == 200
        assert heading in page.content() and "admin" not in page.url
        assert page.locator("#merkle-root").inner_text() == period.merkle_root
        assert "craniotomy" in page.locator("table.cases").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"public-report-{language}.png"), full_page=True)
        assert page.goto(f"{live_server.url}/public/cases/").status == 200
        context.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_roles_reviewer_sees_no_finance_and_cannot_decide_what_they_investigated(
    browser, live_server, reviewer, investigator, tmp_path
):
    claim = ClaimFactory()
    with time_machine.travel(START, tick=True):
        rev = Operator(browser, live_server, reviewer.username, "roles-reviewer")
        rev.open("/admin/")
        assert rev.page.locator("a[href*='/admin/billing/']").count() == 0
        response = rev.page.goto(f"{live_server.url}/admin/billing/apportionmentperiod/")
        assert response.status == 403
        # The reviewer investigates this claim themselves...
        rev.open(f"/admin/claims/claim/{claim.pk}/change/")
        rev.press("start_investigation", investigator=str(reviewer.pk))
        rev.press("record_investigation", summary="I went myself.")
        rev.press("publicize")
    with time_machine.travel(START + datetime.timedelta(days=3, hours=1), tick=True):
        # ...so after the window, four eyes: no Approve or Reject for them.
        rev.open(f"/admin/claims/claim/{claim.pk}/change/")
        rev.shot("no-decision-on-own-investigation")
        actions = rev.page.locator("form[data-action]")
        names = {actions.nth(i).get_attribute("data-action") for i in range(actions.count())}
        assert not names & {"approve", "reject"}
        assert Claim.objects.get(pk=claim.pk).state == ClaimState.PUBLICIZED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_demo_office_shows_its_posted_periods_on_a_readable_dashboard(browser, live_server):
    """What a newcomer sees after `make run`: the demo's posted periods on the dashboard, in the
    periods list, and one posted period's page, reconciled."""
    call_command("seed_demo", "--members", "300", "--seed", "1")
    cache.delete("dashboard")  # figures cached a minute, maybe by an earlier test's page
    posted = list(ApportionmentPeriod.objects.filter(status__in=FINISHED).order_by("-cutoff_at"))
    assert len(posted) >= 2
    fin = Operator(browser, live_server, "finance", "demo", password=DEMO_PASSWORD, width=1400)
    fin.open("/admin/")
    last_periods = fin.page.locator("#last-periods table")
    for period in posted:
        assert str(period) in last_periods.inner_text()
    # Readable at 1400 px: no table header squeezed onto more than two lines.
    for header in fin.page.locator("#content th").all():
        assert header.bounding_box()["height"] < 48, header.inner_text()
    fin.shot("dashboard")
    fin.open("/admin/billing/apportionmentperiod/")
    listing = fin.page.locator("#result_list").inner_text()
    for period in posted:
        assert str(period) in listing
    fin.shot("periods")
    fin.open(f"/admin/billing/apportionmentperiod/{posted[0].pk}/change/")
    panel = fin.page.locator("#period-panel").inner_text()
    assert "✗" not in panel and "✓" in panel
    fin.shot("posted-period")
