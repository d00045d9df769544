"""Issue 20, the claims desk: clocks across mainland China's holidays, automatic assignment and
reassignment, the desks, requests for information, the reasons catalogue and reopening."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from rest_framework.test import APIClient

from claims import clock, desk, requests, services
from claims.models import (
    Claim,
    ClaimAssignment,
    ClaimState,
    ClockTarget,
    InfoRequest,
    InvestigationFirm,
    Investigator,
    RequestStatus,
)
from mutual.core.errors import ServiceError
from notifications.models import Notice
from tests.claim_steps import pdf, to_investigating
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def at(month, day, hour=10):
    return datetime.datetime(2026, month, day, hour, tzinfo=SH)


def submit(membership, now):
    return services.claim_submit(
        membership_id=membership.pk,
        by=membership.member.user,
        now=now,
        incident_kind="accident",
        incident_date=now.date() - datetime.timedelta(days=1),
        diagnosis_date=now.date() - datetime.timedelta(days=1),
        diagnosis="fracture",
        hospital="Xinhua Hospital",
        amount_requested_fen=1_000_000,
    )


def hired(user, firm=None):
    firm = firm or InvestigationFirm.objects.get_or_create(name="Firm A")[0]
    Investigator.objects.create(user=user, firm=firm)
    return user


# --- the calendar ----------------------------------------------------------------------------
def test_the_calendar_is_mainland_chinas_with_its_moved_working_days():
    assert not clock.is_working_day(datetime.date(2026, 10, 1))  # National Day
    assert not clock.is_working_day(datetime.date(2026, 10, 7))  # a day off moved from 10 Oct
    assert clock.is_working_day(datetime.date(2026, 10, 10))  # Saturday, worked instead
    assert clock.is_working_day(datetime.date(2026, 9, 20))  # Sunday, worked instead
    assert not clock.is_working_day(datetime.date(2026, 12, 5))  # an ordinary Saturday
    assert clock.add_working_days(datetime.date(2026, 9, 29), 2) == datetime.date(2026, 10, 8)


def test_the_clock_across_national_day_with_ten_days_waiting_on_the_claimant(
    membership, investigator
):
    """2 days in each state, 10 days waiting on the claimant, across the October holiday."""
    ClockTarget.objects.create(
        plan=membership.plan, state=ClaimState.INVESTIGATING, days=10, working_days=True
    )
    claim = submit(membership, at(9, 29))
    # Submitted Tuesday 29 Sep: 2 working days are 30 Sep and 8 Oct (1-7 Oct are holidays).
    assert claim.due_at == datetime.datetime(2026, 10, 9, tzinfo=SH)
    assert clock.time_in_state(claim, now=at(10, 1)) == datetime.timedelta(days=2)

    to_investigating(claim, investigator=investigator, now=at(10, 1))
    claim.refresh_from_db()
    # 10 working days after 1 Oct: 8, 9, 10 (a Saturday worked), 12-16, 19, 20 Oct.
    assert claim.due_at == datetime.datetime(2026, 10, 21, tzinfo=SH)

    requests.claim_request_info(
        claim_id=claim.pk, documents=["invoice"], deadline=at(10, 20), by=investigator,
        now=at(10, 3),
    )  # fmt: skip
    claim.refresh_from_db()
    assert claim.paused_at == at(10, 3)
    assert not clock.is_overdue(claim, now=at(10, 25))  # paused: never late while waiting
    assert clock.time_in_state(claim, now=at(10, 13)) == datetime.timedelta(days=2)

    request = claim.info_requests.get()
    from claims.evidence import evidence_append

    evidence_append(
        claim_id=claim.pk, kind="invoice", upload=pdf(), by=membership.member.user,
        now=at(10, 13), request_id=request.pk,
    )  # fmt: skip
    claim.refresh_from_db()
    request.refresh_from_db()
    assert request.status == RequestStatus.ANSWERED  # every document asked for arrived
    assert claim.paused_at is None and claim.paused_seconds == 10 * 86400
    # The pause took the working days 8, 9, 10 and 12 Oct: the due day moves from 20 to 26 Oct.
    assert claim.due_at == datetime.datetime(2026, 10, 27, tzinfo=SH)
    assert clock.time_in_state(claim, now=at(10, 15)) == datetime.timedelta(days=4)
    assert not clock.is_overdue(claim, now=at(10, 26, 23))
    assert clock.is_overdue(claim, now=datetime.datetime(2026, 10, 27, tzinfo=SH))


def test_calendar_day_targets_move_by_the_time_paused(membership, investigator):
    claim = submit(membership, at(11, 2))
    to_investigating(claim, investigator=investigator, now=at(11, 4))
    claim.refresh_from_db()
    assert claim.due_at == at(12, 4)  # the default: findings within 30 days
    requests.claim_request_info(
        claim_id=claim.pk, documents=["invoice", "pathology_report"], deadline=at(11, 30),
        by=investigator, now=at(11, 6),
    )  # fmt: skip
    request = claim.info_requests.get()
    with pytest.raises(ServiceError) as error:
        requests.request_answer(
            claim_id=claim.pk, request_id=request.pk, by=membership.member.user, now=at(11, 8)
        )
    assert error.value.code == "no_answer"
    from claims.evidence import evidence_append

    evidence_append(
        claim_id=claim.pk, kind="invoice", upload=pdf(), by=membership.member.user,
        now=at(11, 16), request_id=request.pk,
    )  # fmt: skip
    request.refresh_from_db()
    assert request.status == RequestStatus.OPEN  # the pathology report is still missing
    requests.request_answer(
        claim_id=claim.pk, request_id=request.pk, by=membership.member.user, now=at(11, 16)
    )
    claim.refresh_from_db()
    assert claim.due_at == at(12, 14)  # 10 days paused, given back


# --- assignment ------------------------------------------------------------------------------
def test_a_new_claim_goes_to_the_active_investigator_with_fewest_open_claims_in_the_plan(
    plan, investigator, other_investigator, reviewer
):
    busy, free = hired(investigator), hired(other_investigator)
    ClaimFactory.create_batch(2, membership__plan=plan, investigator=busy)
    ClaimFactory(investigator=free)  # another plan's claim does not count
    inactive = hired(reviewer)
    Investigator.objects.filter(user=inactive).update(active=False)
    claim = submit(MembershipFactory(plan=plan), at(11, 2))
    assert claim.investigator == free
    trail = ClaimAssignment.objects.get(claim=claim)
    assert (trail.assigned_to, trail.by, trail.reason) == (free, None, None)
    # Even now: the lower id wins the tie, so the rule is reproducible.
    ClaimFactory(membership__plan=plan, investigator=free)
    claim = submit(MembershipFactory(plan=plan), at(11, 2))
    assert claim.investigator == min([busy, free], key=lambda u: u.pk)


def test_with_no_investigator_hired_a_claim_waits_unassigned(membership):
    claim = submit(membership, at(11, 2))
    assert claim.investigator is None and not ClaimAssignment.objects.exists()


def test_a_supervisor_reassigns_with_a_reason_and_an_investigator_cannot(
    supervisor, investigator, other_investigator
):
    hired(investigator), hired(other_investigator)
    claims = ClaimFactory.create_batch(3, investigator=investigator)
    with pytest.raises(PermissionDenied):
        desk.claims_reassign(
            claim_ids=[c.pk for c in claims], investigator_id=other_investigator.pk,
            code="workload", by=investigator, now=at(11, 2),
        )  # fmt: skip
    for code, target in [("nonsense", other_investigator.pk), ("workload", 10**9),
                         ("new_evidence", other_investigator.pk)]:  # fmt: skip
        with pytest.raises(ServiceError):
            desk.claims_reassign(
                claim_ids=[c.pk for c in claims], investigator_id=target, code=code,
                by=supervisor, now=at(11, 2),
            )  # fmt: skip
    services.claim_withdraw(claim_id=claims[2].pk, by=claims[2].membership.member.user,
                            now=at(11, 2))  # fmt: skip
    with pytest.raises(ServiceError) as error:  # all or nothing
        desk.claims_reassign(
            claim_ids=[c.pk for c in claims], investigator_id=other_investigator.pk,
            code="workload", by=supervisor, now=at(11, 2),
        )  # fmt: skip
    assert error.value.code == "bad_state"
    assert not ClaimAssignment.objects.exists()
    moved = desk.claims_reassign(
        claim_ids=[c.pk for c in claims[:2]], investigator_id=other_investigator.pk,
        code="overdue", note="late twice", by=supervisor, now=at(11, 3),
    )  # fmt: skip
    assert moved == 2
    assert set(Claim.objects.filter(investigator=other_investigator)) == set(claims[:2])
    row = ClaimAssignment.objects.filter(claim=claims[0]).get()
    assert (row.assigned_from, row.reason.code, row.note, row.by) == (
        investigator, "overdue", "late twice", supervisor,
    )  # fmt: skip


# --- the desks -------------------------------------------------------------------------------
def test_the_desks_in_the_admin(client, investigator, other_investigator, supervisor):
    now = at(11, 20)
    mine_late = ClaimFactory(investigator=investigator, due_at=at(11, 10), state_since=at(11, 1))
    mine_soon = ClaimFactory(investigator=investigator, due_at=at(11, 25), state_since=at(11, 1))
    theirs = ClaimFactory(investigator=other_investigator, due_at=at(11, 26))
    nobody = ClaimFactory()
    url = reverse("admin:claims_claim_changelist")
    client.force_login(investigator)
    with time_machine.travel(now, tick=False):
        page = client.get(url, {"desk": "mine"})
        assert [c.pk for c in page.context["cl"].result_list] == [mine_late.pk, mine_soon.pk]
        assert "desk-late" in page.content.decode()  # the late one is red
        page = client.get(url, {"desk": "unassigned"})
        assert [c.pk for c in page.context["cl"].result_list] == [nobody.pk]
        page = client.get(url, {"desk": "overdue"})
        assert [c.pk for c in page.context["cl"].result_list] == [mine_late.pk]
        assert client.get(reverse("admin:claims_claim_desk_load")).status_code == 403
        client.force_login(supervisor)
        load = client.get(reverse("admin:claims_claim_desk_load"))
    assert load.status_code == 200
    rows = {r["investigator__username"]: r for r in load.context["rows"]}
    assert (rows["inv1"]["open"], rows["inv1"]["overdue"]) == (2, 1)
    assert (rows["inv2"]["open"], rows["inv2"]["overdue"]) == (1, 0)
    assert theirs.pk


def test_the_reassign_action_in_the_admin(client, supervisor, investigator, other_investigator):
    hired(investigator), hired(other_investigator)
    claim = ClaimFactory(investigator=investigator)
    client.force_login(supervisor)
    url = reverse("admin:claims_claim_changelist")
    chosen = {"action": "reassign_action", "_selected_action": [claim.pk]}
    page = client.post(url, {**chosen, "index": 0})
    assert page.status_code == 200 and b'id="reassign-form"' in page.content
    page = client.post(url, {**chosen, "apply": "1", "investigator": investigator.pk})
    assert page.status_code == 200 and page.context["form"].errors["reason_code"]
    claim.refresh_from_db()
    assert claim.investigator == investigator  # no reason: nothing moved
    response = client.post(
        url,
        {**chosen, "apply": "1", "investigator": other_investigator.pk, "reason_code": "absence"},
        follow=True,
    )
    assert "1 claim(s) reassigned." in [str(m) for m in response.context["messages"]]
    claim.refresh_from_db()
    assert claim.investigator == other_investigator
    client.force_login(investigator)  # not a supervisor: the action is not offered
    page = client.get(url)
    assert "reassign_action" not in dict(page.context["action_form"].fields["action"].choices)


def test_supervisors_are_told_once_of_each_claim_gone_late(supervisor, investigator):
    supervisor.email = "sup@example.org"
    supervisor.save()
    late = ClaimFactory(investigator=investigator, due_at=at(11, 10))
    ClaimFactory(investigator=investigator, due_at=at(11, 10), paused_at=at(11, 5))  # waiting
    ClaimFactory(investigator=investigator, due_at=at(11, 30))  # not yet due
    assert desk.claims_flag_overdue(now=at(11, 20)) == 1
    assert len(mail.outbox) == 1 and f"#{late.pk}" in mail.outbox[0].body
    assert mail.outbox[0].to == ["sup@example.org"]
    assert desk.claims_flag_overdue(now=at(11, 21)) == 0
    assert len(mail.outbox) == 1


def test_each_firm_shows_finance_its_counts_sla_and_fees(client, finance, investigator):
    firm = InvestigationFirm.objects.create(name="Firm B", fee_per_case_fen=25_000)
    hired(investigator, firm)
    ClaimFactory(investigator=investigator, due_at=at(11, 1))
    ClaimFactory(investigator=investigator, state=ClaimState.REJECTED, decided_at=at(11, 5))
    ClaimFactory(investigator=investigator, state=ClaimState.PAID, decided_at=at(11, 6),
                 overdue_told_at=at(11, 2))  # fmt: skip
    # Decided before the 30 days: not in the figures, nor in the fees.
    ClaimFactory(investigator=investigator, state=ClaimState.PAID, decided_at=at(9, 1))
    with time_machine.travel(at(11, 20), tick=False):
        row = next(r for r in desk.firm_figures(now=at(11, 20)) if r["firm"] == firm)
        client.force_login(finance)
        page = client.get(reverse("admin:claims_investigationfirm_changelist"))
    assert (row["open"], row["late"], row["decided"], row["on_time"]) == (1, 1, 2, 1)
    assert row["fees_fen"] == 50_000
    assert page.status_code == 200
    figures = page.content.decode().split('id="firm-figures"')[1]
    assert "500.00" in figures and "1 (50%)" in figures


# --- requests for information ------------------------------------------------------------------
@pytest.fixture
def investigated(membership, investigator):
    claim = submit(membership, at(11, 2))
    to_investigating(claim, investigator=investigator, now=at(11, 3))
    return claim


def test_bad_requests_are_refused_and_write_nothing(investigated, investigator, other_investigator):
    cases = [
        ({"documents": ["invoice"], "deadline": at(11, 2)}, investigator, "bad_deadline"),
        (
            {"documents": ["invoice"], "deadline": at(11, 4) + datetime.timedelta(days=61)},
            investigator,
            "bad_deadline",
        ),
        ({"documents": ["x-ray"], "deadline": at(11, 20)}, investigator, "bad_documents"),
        ({"documents": [], "deadline": at(11, 20)}, investigator, "bad_documents"),
    ]
    for kwargs, user, code in cases:
        with pytest.raises(ServiceError) as error:
            requests.claim_request_info(claim_id=investigated.pk, by=user, now=at(11, 4), **kwargs)
        assert error.value.code == code
    with pytest.raises(PermissionDenied):  # not the assigned investigator
        requests.claim_request_info(
            claim_id=investigated.pk, documents=["invoice"], deadline=at(11, 20),
            by=other_investigator, now=at(11, 4),
        )  # fmt: skip
    assert not InfoRequest.objects.exists()
    investigated.refresh_from_db()
    assert investigated.paused_at is None


def test_the_member_sees_and_answers_a_request_through_the_api(investigated, investigator):
    request = requests.claim_request_info(
        claim_id=investigated.pk, documents=["discharge_summary"], deadline=at(11, 20),
        note="the full summary, every page", by=investigator, now=at(11, 4),
    )  # fmt: skip
    told = Notice.objects.get(event=f"request:{request.pk}:made")
    assert told.member_id == investigated.membership.member_id
    member = investigated.membership.member
    api = APIClient()
    api.force_authenticate(member.user)
    stranger = APIClient()
    stranger.force_authenticate(MembershipFactory(plan=investigated.plan).member.user)
    with time_machine.travel(at(11, 5), tick=False):
        body = api.get(f"/api/claims/{investigated.pk}/").json()
        assert body["requests"][0]["documents"] == ["discharge_summary"]
        assert body["requests"][0]["status"] == "open"
        assert stranger.get(f"/api/claims/{investigated.pk}/").status_code == 404
        answer = f"/api/claims/{investigated.pk}/requests/{request.pk}/answer/"
        assert stranger.post(answer).status_code == 404
        wrong_kind = api.post(
            f"/api/claims/{investigated.pk}/evidence/",
            {"kind": "invoice", "file": pdf(), "request": request.pk}, format="multipart",
        )  # fmt: skip
        assert wrong_kind.status_code == 400, wrong_kind.content
        uploaded = api.post(
            f"/api/claims/{investigated.pk}/evidence/",
            {"kind": "discharge_summary", "file": pdf(), "request": request.pk},
            format="multipart",
        )
        assert uploaded.status_code == 201, uploaded.content
        body = api.get(f"/api/claims/{investigated.pk}/").json()
    assert body["requests"][0]["status"] == "answered"
    assert body["requests"][0]["received"] == ["discharge_summary"]
    with time_machine.travel(at(11, 6), tick=False):
        closed = api.post(
            f"/api/claims/{investigated.pk}/evidence/",
            {"kind": "discharge_summary", "file": pdf(), "request": request.pk},
            format="multipart",
        )
    assert closed.status_code == 400 and "closed" in closed.content.decode()


def test_an_unanswered_request_reminds_once_then_closes_the_claim_which_can_be_reopened(
    investigated, investigator, reviewer
):
    request = requests.claim_request_info(
        claim_id=investigated.pk, documents=["invoice"], deadline=at(11, 20), by=investigator,
        now=at(11, 4),
    )  # fmt: skip
    assert requests.requests_remind(now=at(11, 10)) == 0  # not yet two days before
    assert requests.requests_remind(now=at(11, 18, 12)) == 1
    assert requests.requests_remind(now=at(11, 19)) == 0
    assert Notice.objects.filter(event=f"request:{request.pk}:reminder").count() == 1
    assert requests.requests_expire(now=at(11, 19)) == {"closed": 0, "failed": 0}
    assert requests.requests_expire(now=at(11, 20)) == {"closed": 1, "failed": 0}
    assert requests.requests_expire(now=at(11, 21)) == {"closed": 0, "failed": 0}
    investigated.refresh_from_db()
    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert investigated.state == ClaimState.REJECTED
    assert investigated.reason.code == "documents_not_supplied"
    notice = Notice.objects.get(event=f"claim:{investigated.pk}:rejected")
    assert notice.payload["reason_zh"] == "未在期限内提交所需材料。"

    with pytest.raises(ServiceError) as error:
        services.claim_reopen(claim_id=investigated.pk, by=reviewer, now=at(11, 22), code="x")
    assert error.value.code == "unknown_reason"
    with pytest.raises(PermissionDenied):
        services.claim_reopen(
            claim_id=investigated.pk, by=investigator, now=at(11, 22), code="documents_received"
        )
    services.claim_reopen(
        claim_id=investigated.pk, by=reviewer, now=at(11, 22), code="documents_received"
    )
    investigated.refresh_from_db()
    assert (investigated.state, investigated.reopened) == (ClaimState.INVESTIGATING, 1)
    assert investigated.due_at == at(12, 22)  # a fresh clock for the new round
    # Reached twice, told twice: the second round has its own event.
    assert (
        Notice.objects.filter(event__startswith=f"claim:{investigated.pk}:investigating").count()
        == 2
    )
    services.claim_reject(
        claim_id=investigated.pk, by=reviewer, now=at(11, 23), code="pre_existing", reason="x"
    )
    assert Notice.objects.filter(event__startswith=f"claim:{investigated.pk}:rejected").count() == 2


# --- reasons ---------------------------------------------------------------------------------
def test_every_refusal_carries_a_code_of_the_refusal_kind(investigated, reviewer):
    for code, error_code in [("", "reason_required"), ("nonsense", "unknown_reason"),
                             ("workload", "unknown_reason")]:  # fmt: skip
        with pytest.raises(ServiceError) as error:
            services.claim_reject(
                claim_id=investigated.pk, by=reviewer, now=at(11, 5), code=code, reason="x"
            )
        assert (error.value.code, error.value.field) == (error_code, "code")
    investigated.refresh_from_db()
    assert investigated.state == ClaimState.INVESTIGATING
    services.claim_reject(
        claim_id=investigated.pk, by=reviewer, now=at(11, 5), code="waiting_period",
        reason="diagnosed on day 40",
    )  # fmt: skip
    investigated.refresh_from_db()
    assert investigated.reason.code == "waiting_period" and investigated.due_at is None


def test_the_reject_button_takes_a_code_from_the_catalogue(client, investigated, reviewer):
    client.force_login(reviewer)
    url = reverse("admin:claims_claim_act", args=[investigated.pk, "reject"])
    page = client.post(url, {"reason": "forged"}, follow=True)
    assert any("reason" in str(m) for m in page.context["messages"])
    investigated.refresh_from_db()
    assert investigated.state == ClaimState.INVESTIGATING
    client.post(url, {"reason": "forged", "refusal_code": "misstatement"}, follow=True)
    investigated.refresh_from_db()
    assert investigated.state == ClaimState.REJECTED and investigated.reason.code == "misstatement"


def test_a_plan_without_targets_uses_the_defaults_and_a_plan_may_set_its_own():
    plan = PlanFactory()
    assert clock.target_for(plan.pk, ClaimState.SUBMITTED) == (2, True)
    ClockTarget.objects.create(plan=plan, state=ClaimState.SUBMITTED, days=5, working_days=False)
    assert clock.target_for(plan.pk, ClaimState.SUBMITTED) == (5, False)
    assert clock.target_for(plan.pk, ClaimState.PAID) is None


def test_the_member_search_finds_a_household_by_its_holders_name(client, reviewer):
    """Each part of the search reads its own index (the OR across the holder's join scanned
    ten million people: 33 s in bench_admin)."""
    from tests.factories import MemberFactory

    holder = MemberFactory(full_name="Zhang Wei")
    child = MemberFactory(full_name="Xiaomei", payer=holder, user=None, relationship="child",
                          birth_date=datetime.date(2015, 3, 1))  # fmt: skip
    stranger = MemberFactory(full_name="Li Na")
    client.force_login(reviewer)
    url = reverse("admin:members_member_changelist")
    found = {m.pk for m in client.get(url, {"q": "zhang"}).context["cl"].result_list}
    assert found == {holder.pk, child.pk}
    found = {m.pk for m in client.get(url, {"q": "li"}).context["cl"].result_list}
    assert found == {stranger.pk}


def test_the_desks_speak_chinese(client, investigator):
    client.force_login(investigator)
    page = client.get(reverse("admin:claims_claim_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert "我的工作" in text and "等待申请人" in text and "已逾期" in text
