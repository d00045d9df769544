"""What happened, turned into notices in the same transaction. Claim and membership transitions
arrive through django-fsm's post_transition signal (sent inside the service's transaction, so a
rollback takes the notice with it); sealing a posted period (billing.apportion.period_seal), jury
draws, failed debits and the daily digest call these functions from their services."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django_fsm.signals import post_transition

from members.notifications.models import NoticeKind
from members.notifications.services import notify, run_start
from mutual.core.timezones import local_date


def _claim_transition(sender, instance, name, source, target, method_kwargs=None, **kwargs):
    if source == target:
        return
    method_kwargs = method_kwargs or {}
    payload = {"claim_id": instance.pk, "state": str(target)}
    if target == "rejected" and method_kwargs.get("reason"):
        payload["reason"] = method_kwargs["reason"]
    notify(
        member_ids=[instance.membership.member_id],
        kind=NoticeKind.CLAIM,
        event=f"claim:{instance.pk}:{target}",
        payload=payload,
        now=method_kwargs.get("now") or timezone.now(),
    )


def _membership_transition(sender, instance, name, source, target, method_kwargs=None, **kw):
    if target != "lapsed" or source == target:
        return
    method_kwargs = method_kwargs or {}
    notify(
        member_ids=[instance.member_id],
        kind=NoticeKind.LAPSE,
        event=f"lapse:{instance.pk}",
        payload={"plan": instance.plan.name, "reason": method_kwargs.get("description", "")},
        now=method_kwargs.get("now") or timezone.now(),
    )


def connect() -> None:
    post_transition.connect(
        _claim_transition, sender="claims.Claim", dispatch_uid="notices.claim_transition"
    )
    post_transition.connect(
        _membership_transition,
        sender="members.Membership",
        dispatch_uid="notices.membership_transition",
    )


def notify_jury_drawn(*, claim, member_ids: list[int], now: datetime.datetime) -> int:
    """Jurors are told which claim and by when to vote: the plan's publicity window again,
    counted from the draw (the jury has no deadline of its own)."""
    deadline = timezone.localtime(now + datetime.timedelta(days=claim.plan.publicity_days))
    return notify(
        member_ids=member_ids,
        kind=NoticeKind.JURY,
        event=f"jury:{claim.pk}",
        payload={"claim_id": claim.pk, "deadline": f"{deadline:%Y-%m-%d %H:%M}"},
        now=now,
    )


def notify_debits_failed(*, period, bills, now: datetime.datetime) -> int:
    """One notice per failed attempt (the attempt number is part of the event), with the date
    the membership lapses if the bill is still unpaid."""
    from members.models import Membership

    lapse_on = local_date(
        period.posted_at + datetime.timedelta(days=period.plan.payment_grace_days)
    )
    members = dict(
        Membership.objects.filter(pk__in=[b.membership_id for b in bills]).values_list(
            "pk", "member_id"
        )
    )
    written = 0
    for bill in bills:
        written += notify(
            member_ids=[members[bill.membership_id]],
            kind=NoticeKind.DEBIT_FAILED,
            event=f"debit:{bill.period_id}:{bill.membership_id}:{bill.debit_attempts}",
            payload={
                "period": str(period),
                "charged_fen": bill.charged_fen,
                "lapse_on": lapse_on.isoformat(),
            },
            now=now,
        )
    return written


def digest_start(*, now: datetime.datetime) -> list[str]:
    """Once a day: for each plan with cases publicized in the last day, one digest run (a
    notice to every active member of the plan). Idempotent per plan and local date."""
    from django.db import transaction

    from claims.models import Claim

    since = now - datetime.timedelta(days=1)
    by_plan: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for claim_id, plan_id, plan_name in (
        Claim.objects.filter(publicity_starts_at__gte=since, publicity_starts_at__lt=now)
        .order_by("publicity_starts_at", "pk")
        .values_list("pk", "plan_id", "plan__name")
    ):
        by_plan.setdefault(plan_id, []).append(claim_id)
        names[plan_id] = plan_name
    events = []
    day = local_date(now).isoformat()
    with transaction.atomic():
        for plan_id, claim_ids in by_plan.items():
            event = f"digest:{plan_id}:{day}"
            params = {
                "plan_id": plan_id,
                "plan": names[plan_id],
                "date": day,
                "cases": len(claim_ids),
                "claim_ids": claim_ids[:50],
            }
            run_start(kind=NoticeKind.DIGEST, event=event, params=params, now=now)
            events.append(event)
    return events


def notify_bills_posted(period, *, now: datetime.datetime) -> None:
    """A sealed period's bills, told to each member with a charge by chunked tasks after
    commit (a plan-wide run: the event is unique, so sealing twice tells once). `now` is the
    seal's: a run stamped with an older time would look lost to sweep_notices at once."""
    run_start(
        kind=NoticeKind.BILL,
        event=f"bill:{period.pk}",
        params={"period_id": period.pk, "period": str(period)},
        now=now,
    )
