"""What happened, turned into notices in the same transaction (a rollback takes the notice with
it). The services that cause each event call these functions explicitly, right after it, with
no signal in between: claim transitions (claims.services), a lapsed membership
(members.services.membership_lapse), sealing a posted period (billing.apportion.period_seal),
jury draws, failed debits and the daily digest."""

from __future__ import annotations

import datetime

from django.utils import timezone

from members.notifications.models import NoticeKind
from members.notifications.services import notify, run_start
from mutual.core.timezones import local_date


def notify_claim_moved(*, claim, now: datetime.datetime, reason: str = "") -> int:
    """The claimant is told each state change of their claim, once per state reached (the
    event is the idempotency key); a rejection carries its reason. Call it right after the
    transition, with the transition's `now` and `reason`."""
    state = str(claim.state)
    payload = {"claim_id": claim.pk, "state": state}
    if state == "rejected" and reason:
        payload["reason"] = reason
    return notify(
        member_ids=[claim.membership.member_id],
        kind=NoticeKind.CLAIM,
        event=f"claim:{claim.pk}:{state}",
        payload=payload,
        now=now,
    )


def notify_membership_lapsed(*, membership, reason: str, now: datetime.datetime) -> int:
    """The member is told their membership lapsed, and why (a withdrawal is not told)."""
    return notify(
        member_ids=[membership.member_id],
        kind=NoticeKind.LAPSE,
        event=f"lapse:{membership.pk}",
        payload={"plan": membership.plan.name, "reason": reason},
        now=now,
    )


def notify_cover_ended(
    *, membership, reason: str, now: datetime.datetime, moved_to: str = ""
) -> int:
    """The person is told their cover ended, and why, or that it moved to another plan (a
    dependant's notices go to their account holder). Once per membership."""
    member = membership.member
    payload = {"plan": membership.plan.name, "reason": reason}
    if member.payer_id is not None:
        payload["person"] = member.full_name
    if moved_to:
        payload["moved_to"] = moved_to
    return notify(
        member_ids=[member.pk],
        kind=NoticeKind.COVER,
        event=f"cover:{membership.pk}",
        payload=payload,
        now=now,
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


def notify_debits_failed(*, period, bills, now: datetime.datetime, lapse_on: datetime.date) -> int:
    """One notice per failed attempt (the attempt number is part of the event), with the date
    the membership lapses if the bill is still unpaid (billing.debits.lapse_due_at)."""
    from members.models import Membership

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
