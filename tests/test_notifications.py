"""Notices to members: one per event, written in the event's transaction (a rollback leaves
none), delivered at most once even when the delivery task runs twice, preferences respected."""

import datetime

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from billing.debits import collect_chunk, lapse_unpaid
from billing.models import Bill
from claims import notices as events
from claims import services
from claims.disputes import dispute_raise
from members.models import DisputeReview
from notifications import services as notices
from notifications import tasks
from notifications.gateways import LocalNotificationGateway
from notifications.models import Notice, NoticeRun, NotificationPreference
from tests.claim_steps import after_window, draw_jury, to_publicized
from tests.factories import ClaimFactory, MembershipFactory, PlanFactory
from tests.test_billing import approved_claim, members, period_for, run
from tests.test_collections import DecliningGateway

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2018, 12, 7, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def local_gateway(settings):
    settings.MUTUAL_NOTIFICATION_GATEWAY = "notifications.gateways.LocalNotificationGateway"
    LocalNotificationGateway.sent = []
    LocalNotificationGateway.fail_keys = set()
    return LocalNotificationGateway


def sent_keys():
    return [m.idempotency_key for m in LocalNotificationGateway.sent]


def deliver_task_twice(event):
    for _ in range(2):
        tasks.deliver_event.apply(args=[event]).get()


def test_each_claim_state_change_is_one_notice_delivered_once_with_the_rejection_reason(
    membership, investigator, reviewer
):
    claim = to_publicized(ClaimFactory(membership=membership), investigator=investigator, now=NOW)
    dispute_raise(
        claim_id=claim.pk,
        member_id=MembershipFactory(plan=membership.plan).member_id,
        reason="doubt",
        now=NOW,
    )
    services.claims_close_due_windows(now=after_window(claim))
    services.claim_reject(
        claim_id=claim.pk,
        by=reviewer,
        now=after_window(claim),
        code="misstatement",
        reason="Pre-existing condition.",
    )
    mine = Notice.objects.filter(member=membership.member).order_by("id")
    assert [n.event for n in mine] == [
        f"claim:{claim.pk}:investigating",
        f"claim:{claim.pk}:publicized",
        f"claim:{claim.pk}:disputed",
        f"claim:{claim.pk}:rejected",
    ]
    rejected = mine.last()
    assert rejected.payload["reason"] == "Pre-existing condition."
    for notice in mine:
        deliver_task_twice(notice.event)
    assert sorted(sent_keys()) == sorted(
        f"notice:{membership.member_id}:{n.event}" for n in mine
    )  # each once, though every task ran twice
    assert "Pre-existing condition." in LocalNotificationGateway.sent[-1].body
    assert set(
        Notice.objects.filter(member=membership.member).values_list("status", flat=True)
    ) == {"sent"}


def test_writing_an_event_twice_writes_one_notice(membership):
    for _ in range(2):
        notices.notify(
            member_ids=[membership.member_id],
            kind="lapse",
            event="lapse:1",
            payload={"plan": "p", "reason": "r"},
            now=NOW,
        )
    assert Notice.objects.filter(event="lapse:1").count() == 1


def test_a_rolled_back_transaction_writes_no_notice(membership, investigator):
    claim = ClaimFactory(membership=membership)
    with pytest.raises(RuntimeError), transaction.atomic():
        to_publicized(claim, investigator=investigator, now=NOW)
        assert Notice.objects.filter(member=membership.member).count() == 2
        raise RuntimeError("the request failed after the transitions")
    assert not Notice.objects.filter(member=membership.member).exists()


def test_preferences_are_respected_and_editable_through_the_api(membership, investigator):
    client = APIClient()
    client.force_authenticate(membership.member.user)
    url = "/api/me/notification-preferences/"
    assert client.get(url).json()["claim"] is True
    response = client.patch(url, {"claim": False}, format="json")
    assert response.status_code == 200 and response.json()["claim"] is False
    assert client.get(url).json() == {
        "claim": False, "jury": True, "digest": True, "bill": True, "debit_failed": True,
        "lapse": True, "cover": True,
    }  # fmt: skip
    to_publicized(ClaimFactory(membership=membership), investigator=investigator, now=NOW)
    assert not Notice.objects.filter(member=membership.member).exists()


def test_jurors_are_told_once_with_the_deadline(investigator):
    plan = PlanFactory(dispute_review=DisputeReview.JURY, jury_size=3, jury_quorum=3)
    pool = MembershipFactory.create_batch(8, plan=plan)
    claim = to_publicized(ClaimFactory(membership=pool[0]), investigator=investigator, now=NOW)
    dispute_raise(claim_id=claim.pk, member_id=pool[1].member_id, reason="doubt", now=NOW)
    services.claims_close_due_windows(now=after_window(claim))
    draw_jury(claim, now=after_window(claim))  # its own task, after the closer
    draw_jury(claim, now=after_window(claim))  # delivered twice: drawn and told once
    jurors = set(claim.jury.values_list("member_id", flat=True))
    told = Notice.objects.filter(kind="jury")
    assert set(told.values_list("member_id", flat=True)) == jurors and told.count() == 3
    assert told.first().payload["deadline"] == "2018-12-13 18:00"  # 3 days after the draw
    deliver_task_twice(f"jury:{claim.pk}")
    assert len(sent_keys()) == 3


@pytest.fixture
def posted(investigator):
    plan = PlanFactory(payment_grace_days=15)
    members(plan, 4)
    approved_claim(plan, investigator, amount_fen=10_000)
    return run(period_for(plan))


def test_a_posted_period_writes_one_bill_notice_per_charged_member_by_chunks(posted):
    run_ = NoticeRun.objects.get(event=f"bill:{posted.pk}")  # in the posting's transaction
    opted_out = Bill.objects.filter(period=posted).order_by("membership_id").first()
    NotificationPreference.objects.create(member_id=opted_out.membership.member_id, bill=False)
    for lo, hi in notices.run_chunks(run_id=run_.pk):
        for _ in range(2):  # a chunk task delivered twice
            tasks.notice_run_chunk.apply(args=[run_.pk, lo, hi]).get()
    charged = Bill.objects.filter(period=posted, charged_fen__gt=0).exclude(pk=opted_out.pk)
    bills = Notice.objects.filter(event=f"bill:{posted.pk}")
    assert bills.count() == charged.count() == 4
    assert len(sent_keys()) == 4 and set(bills.values_list("status", flat=True)) == {"sent"}
    one = charged.first()
    notice = bills.get(member_id=one.membership.member_id)
    assert notice.payload["charged_fen"] == one.charged_fen
    tasks.notice_run_finish.apply(args=[run_.pk])
    assert notices.run_chunks(run_id=run_.pk) == []  # finished: nothing to do again


def test_a_failed_debit_is_told_with_the_lapse_date_then_the_lapse(posted):
    bill = Bill.objects.filter(period=posted).order_by("membership_id").first()
    chunk = posted.chunks.get()
    day0 = posted.cutoff_at + datetime.timedelta(hours=1)
    gateway = DecliningGateway(declined={bill.membership_id})
    collect_chunk(chunk_id=chunk.pk, now=day0, gateway=gateway)
    failed = Notice.objects.get(kind="debit_failed")
    assert failed.member_id == bill.membership.member_id
    assert failed.payload["lapse_on"] == "2018-12-30"  # posted 15 Dec (Shanghai) + 15 days
    lapse_unpaid(period_id=posted.pk, now=posted.posted_at + datetime.timedelta(days=16))
    lapse = Notice.objects.get(kind="lapse")
    assert lapse.member_id == bill.membership.member_id and lapse.event == (
        f"lapse:{bill.membership_id}"
    )


def test_when_the_seal_lags_the_posting_the_notice_tells_the_lapse_date_collection_keeps(posted):
    """Issue 21, item 1: collection and the grace count from the seal (bills_told_at), but the
    failed-debit notice counted from the posting: a member was told they would lapse three
    days before they would. One rule now (billing.debits.lapse_due_at)."""
    from billing.debits import lapse_due_at
    from billing.models import ApportionmentPeriod
    from mutual.core.timezones import local_date

    told = posted.posted_at + datetime.timedelta(days=3)  # sealed three days late
    ApportionmentPeriod.objects.filter(pk=posted.pk).update(bills_told_at=told)
    posted.refresh_from_db()
    bill = Bill.objects.filter(period=posted).order_by("membership_id").first()
    gateway = DecliningGateway(declined={bill.membership_id})
    collect_chunk(chunk_id=posted.chunks.get().pk, now=told + datetime.timedelta(hours=1),
                  gateway=gateway)  # fmt: skip
    told_date = Notice.objects.get(kind="debit_failed").payload["lapse_on"]
    assert told_date == local_date(lapse_due_at(posted)).isoformat() == "2019-01-02"
    # And collection lapses on that date, not before.
    day_before = lapse_due_at(posted) - datetime.timedelta(hours=1)
    assert lapse_unpaid(period_id=posted.pk, now=day_before) == 0
    assert lapse_unpaid(period_id=posted.pk, now=lapse_due_at(posted)) == 1


def test_the_daily_digest_is_one_notice_per_active_member_per_plan_and_day(
    membership, investigator
):
    others = MembershipFactory.create_batch(3, plan=membership.plan)
    to_publicized(ClaimFactory(membership=membership), investigator=investigator, now=NOW)
    to_publicized(ClaimFactory(membership=others[0]), investigator=investigator, now=NOW)
    moment = NOW + datetime.timedelta(hours=5)
    for _ in range(2):
        assert events.digest_start(now=moment) == [f"digest:{membership.plan_id}:2018-12-07"]
    run_ = NoticeRun.objects.get()
    for lo, hi in notices.run_chunks(run_id=run_.pk):
        tasks.notice_run_chunk.apply(args=[run_.pk, lo, hi]).get()
    digests = Notice.objects.filter(kind="digest")
    assert digests.count() == 4 and digests.first().payload["cases"] == 2
    assert "2 new case(s)" in LocalNotificationGateway.sent[0].subject


def test_a_refused_notice_is_retried_then_failed_never_sent_twice(membership, local_gateway):
    notices.notify(
        member_ids=[membership.member_id], kind="lapse", event="lapse:9",
        payload={"plan": "p", "reason": "r"}, now=NOW,
    )  # fmt: skip
    local_gateway.fail_keys = {f"notice:{membership.member_id}:lapse:9"}
    for attempt in range(1, notices.MAX_ATTEMPTS + 1):
        result = notices.deliver(now=NOW, event="lapse:9")
        notice = Notice.objects.get(event="lapse:9")
        assert notice.attempts == attempt
    assert result == {"sent": 0, "retry": 0, "failed": 1, "skipped": 0}
    assert notice.status == "failed" and notice.last_error
    assert notices.deliver(now=NOW, event="lapse:9")["failed"] == 0  # not tried again


def test_my_notifications_newest_first_paginated_and_only_mine(membership):
    other = MembershipFactory(plan=membership.plan)
    for index in range(60):
        notices.notify(
            member_ids=[membership.member_id, other.member_id], kind="lapse",
            event=f"lapse:{index}", payload={"plan": "p", "reason": "r"}, now=NOW,
        )  # fmt: skip
    client = APIClient()
    client.force_authenticate(membership.member.user)
    page = client.get("/api/me/notifications/").json()
    assert page["count"] == 60 and len(page["results"]) == 50 and page["next"]
    events_ = [n["event"] for n in page["results"]]
    assert events_[0] == "lapse:59" and events_[-1] == "lapse:10"
    assert page["results"][0]["subject"] == "Your membership of p has lapsed"
    mine = Notice.objects.filter(member=membership.member).values_list("pk", flat=True)
    assert {n["id"] for n in page["results"]} <= set(mine)


def test_the_email_gateway_sends_through_djangos_backend_and_skips_no_address(
    membership, settings, mailoutbox
):
    settings.MUTUAL_NOTIFICATION_GATEWAY = "notifications.gateways.EmailNotificationGateway"
    nobody = MembershipFactory(plan=membership.plan)
    membership.member.user.email = "member@example.org"
    membership.member.user.save()
    nobody.member.user.email = ""
    nobody.member.user.save()
    notices.notify(
        member_ids=[membership.member_id, nobody.member_id], kind="lapse", event="lapse:3",
        payload={"plan": "p", "reason": "r"}, now=NOW,
    )  # fmt: skip
    assert tasks.deliver_event.apply(args=["lapse:3"]).get()["sent"] == 1
    assert [m.to for m in mailoutbox] == [["member@example.org"]]
    assert mailoutbox[0].extra_headers["X-Idempotency-Key"] == (
        f"notice:{membership.member_id}:lapse:3"
    )
    assert Notice.objects.get(member=nobody.member).status == "skipped"


def test_a_plan_wide_run_delivered_twice_fans_out_once(posted, monkeypatch):
    """Found in review: notice_run ignored its conditional UPDATE, so a redelivered task
    (acks_late) started a second set of chunk tasks."""
    fanned = []
    monkeypatch.setattr(
        tasks, "chord", lambda header: fanned.append(list(header)) or (lambda cb: None)
    )
    run_ = NoticeRun.objects.get(event=f"bill:{posted.pk}")
    assert tasks.notice_run.apply(args=[run_.pk]).get() > 0
    assert tasks.notice_run.apply(args=[run_.pk]).get() == 0
    assert len(fanned) == 1
