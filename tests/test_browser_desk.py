"""Issue 20, each role's day at the claims desk, in a real browser (Chromium): the investigator
works *My work* and asks for documents, the member answers through the API, the supervisor
reassigns a late claim, the reviewer refuses a claim with a code, and the claimant's appeal is
decided by another reviewer. Screenshots go to test-artifacts/ (docs/images has copies)."""

import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from claims import services
from claims.models import Appeal, ClaimState, InfoRequest, InvestigationFirm, Investigator
from tests.browser_operator import CHROMIUM, Operator
from tests.claim_steps import pdf
from tests.factories import MembershipFactory, PlanFactory, UserFactory

START = datetime.datetime(2030, 12, 2, 2, 0, tzinfo=datetime.UTC)  # a Monday, 10:00 Shanghai

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]


def _staff(username, group):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _submit(membership, now, hospital="Xinhua Hospital"):
    return services.claim_submit(
        membership_id=membership.pk, by=membership.member.user, now=now,
        incident_kind="accident", incident_date=now.date() - datetime.timedelta(days=2),
        diagnosis_date=now.date() - datetime.timedelta(days=2), diagnosis="fracture",
        hospital=hospital, amount_requested_fen=2_000_000,
    )  # fmt: skip


def said(language: str, text: str, **facts) -> str:
    """What the page says in `language` for the catalogue's `text` (issue 25: each role's day
    runs in English and in Chinese)."""
    from django.utils import translation

    with translation.override(language):
        return translation.gettext(text) % facts if facts else translation.gettext(text)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_each_roles_day_at_the_claims_desk(browser, live_server, language):
    plan = PlanFactory()
    firm = InvestigationFirm.objects.create(name="Huatai Investigations", fee_per_case_fen=30_000)
    alice, bob = _staff("alice", "investigator"), _staff("bob", "investigator")
    for user in (alice, bob):
        Investigator.objects.create(user=user, firm=firm)
    rita, rob = _staff("rita", "reviewer"), _staff("rob", "reviewer")
    sue = _staff("sue", "supervisor")
    patient = MembershipFactory(plan=plan)
    with time_machine.travel(START, tick=False):
        asked = _submit(patient, START)  # alice (lowest id, nobody busy)
        late = _submit(MembershipFactory(plan=plan), START, hospital="Ruijin Hospital")  # bob
        refused = _submit(MembershipFactory(plan=plan), START, hospital="Huashan Hospital")
        services.claim_start_investigation(
            claim_id=refused.pk, investigator_id=alice.pk, by=alice, now=START
        )
    assert (asked.investigator, late.investigator, refused.investigator) == (alice, bob, alice)

    # Monday: the investigator works My work, starts the first claim and asks for documents.
    with time_machine.travel(START + datetime.timedelta(hours=1), tick=True):
        inv = Operator(
            browser, live_server, alice.username, "desk-investigator", width=1400, language=language
        )
        inv.open("/admin/claims/claim/?desk=mine")
        rows = inv.page.locator("#result_list tbody tr")
        assert rows.count() == 2
        inv.shot("my-work")
        inv.open(f"/admin/claims/claim/{asked.pk}/change/")
        inv.press("start_investigation", investigator=str(alice.pk))
        form = inv.page.locator("form[data-action='request_info']")
        form.locator("[name='documents']").select_option(["discharge_summary", "invoice"])
        form.locator("[name='deadline']").fill("2030-12-16")
        form.locator("[name='note']").fill("Every page of the summary, please.")
        form.locator("input[type=submit]").click()
        assert said(language, "Documents requested by %(deadline)s (Shanghai time).",
                    deadline="2030-12-17 00:00") in inv.messages()  # fmt: skip
        inv.shot("request-sent")
    request = InfoRequest.objects.get(claim=asked)

    # Wednesday: the member answers through the API; the claim's clock runs again.
    with time_machine.travel(START + datetime.timedelta(days=2), tick=False):
        api = APIClient()
        api.force_authenticate(patient.member.user)
        for kind in ("discharge_summary", "invoice"):
            response = api.post(f"/api/claims/{asked.pk}/evidence/",
                                {"kind": kind, "file": pdf(), "request": request.pk},
                                format="multipart")  # fmt: skip
            assert response.status_code == 201, response.content
        body = api.get(f"/api/claims/{asked.pk}/").json()
        assert body["requests"][0]["status"] == "answered"

    # Friday, the 6th: bob's claim has waited past its 2 working days; the supervisor moves it.
    with time_machine.travel(START + datetime.timedelta(days=4), tick=True):
        sup = Operator(
            browser, live_server, sue.username, "desk-supervisor", width=1400, language=language
        )
        sup.open("/admin/claims/claim/?desk=overdue")
        assert sup.page.locator("#result_list tbody tr").count() == 1
        assert sup.page.locator(".desk-late").count() == 1
        sup.shot("overdue")
        sup.page.locator(f"input[name='_selected_action'][value='{late.pk}']").check()
        sup.page.select_option("select[name='action']", "reassign_action")
        sup.page.click("button[name='index']")
        sup.page.select_option("select[name='investigator']", str(alice.pk))
        sup.page.select_option("select[name='reason_code']", "overdue")
        sup.page.fill("input[name='note']", "Bob is on leave this week.")
        sup.shot("reassign")
        sup.page.click("#reassign-form input[type=submit]")
        assert said(language, "%(n)d claim(s) reassigned.", n=1) in sup.messages()
        sup.open("/admin/claims/claim/desk-load/")
        sup.shot("load")
    late.refresh_from_db()
    assert late.investigator == alice

    # The reviewer refuses the third claim with a code from the catalogue.
    with time_machine.travel(START + datetime.timedelta(days=4, hours=1), tick=True):
        rev = Operator(
            browser, live_server, rita.username, "desk-reviewer", width=1400, language=language
        )
        rev.open(f"/admin/claims/claim/{refused.pk}/change/")
        rev.press("reject", refusal_code="not_covered_person",
                  reason="The fall happened before the membership began.")  # fmt: skip
        assert said(language, "Claim rejected.") in rev.messages()
        rev.shot("refused-with-code")
    refused.refresh_from_db()
    assert (refused.state, refused.reason.code) == (ClaimState.REJECTED, "not_covered_person")

    # The claimant appeals through the API; another reviewer upholds it in the browser.
    with time_machine.travel(START + datetime.timedelta(days=6), tick=True):
        api = APIClient()
        api.force_authenticate(refused.membership.member.user)
        response = api.post(f"/api/claims/{refused.pk}/appeal/",
                            {"reason": "The membership began in 2029; see my card."})  # fmt: skip
        assert response.status_code == 201, response.content
        rev.open(f"/admin/claims/claim/{refused.pk}/change/")
        assert rev.page.locator("form[data-action='uphold_appeal']").count() == 0  # refused it
        other = Operator(
            browser, live_server, rob.username, "desk-appeal", width=1400, language=language
        )
        other.open("/admin/claims/claim/?desk=appeals")
        assert other.page.locator("#result_list tbody tr").count() == 1
        other.open(f"/admin/claims/claim/{refused.pk}/change/")
        other.press("uphold_appeal", note="The card shows 2029.")
        assert said(language, "Appeal decided.") in other.messages()
        other.shot("appeal-upheld")
    refused.refresh_from_db()
    assert refused.state == ClaimState.INVESTIGATING and refused.reason.code == "appeal_upheld"
    assert Appeal.objects.get(claim=refused).decided_by == rob
