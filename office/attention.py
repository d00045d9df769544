"""What needs a person, besides failed periods (mutual.dashboard.failed_periods): chunks of a
running period that have not moved for a while, notices not delivered, disputed claims
waiting on a reviewer longer than MUTUAL_REVIEW_WAIT_HOURS, disputed claims whose jury is
still not drawn, and posted periods still not sealed. Each is one small query on an index;
not cached, so a fix clears it at once."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.urls import reverse

from billing import selectors
from billing.models import ApportionmentPeriod, PeriodStatus
from claims.models import Claim, ClaimState, JuryDraw
from members.models import DisputeReview
from notifications.models import Notice, NoticeStatus

STUCK_AFTER = datetime.timedelta(minutes=15)
JURY_LATE_AFTER = datetime.timedelta(minutes=15)
UNDELIVERED_AFTER = datetime.timedelta(minutes=10)


def stuck_periods(*, now: datetime.datetime, limit: int = 10) -> list[dict]:
    """Running periods enqueued more than 15 minutes ago with chunks still to bill (beat
    resumes them; if they stay here, a worker is missing or failing)."""
    rows = (
        ApportionmentPeriod.objects.filter(
            status=PeriodStatus.RUNNING, enqueued_at__lt=now - STUCK_AFTER
        )
        .annotate(done=Count("chunks", filter=Q(chunks__done_at__isnull=False)))
        .select_related("plan")
        .order_by("enqueued_at")[:limit]
    )
    return [
        {
            "period": str(p),
            "chunks": f"{p.done}/{p.chunks_total}",
            "since": p.enqueued_at,
            "url": reverse("admin:billing_apportionmentperiod_change", args=[p.pk]),
        }
        for p in rows
        if p.done < p.chunks_total or not p.chunks_total
    ]


def unsealed_periods(*, now: datetime.datetime, limit: int = 10) -> list[dict]:
    """Periods posted over 15 minutes ago whose bills' Merkle root is still not signed: beat
    resends the seal, so one that stays has a failing seal (its error is in the workers' log
    and Failed tasks) or waits for an earlier period's. Until sealed, its bills are not told."""
    rows = selectors.periods_unsealed(now=now).select_related("plan")[:limit]
    return [
        {
            "period": str(p),
            "since": p.posted_at,
            "url": reverse("admin:billing_apportionmentperiod_change", args=[p.pk]),
        }
        for p in rows
    ]


def undelivered_notices(*, now: datetime.datetime) -> list[dict]:
    """Notices pending or sending for more than 10 minutes, and those that failed, by kind
    (the partial index on the undelivered keeps this small)."""
    rows = (
        Notice.objects.filter(
            status__in=[NoticeStatus.PENDING, NoticeStatus.SENDING, NoticeStatus.FAILED],
            created_at__lt=now - UNDELIVERED_AFTER,
        )
        .values("kind", "status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by("kind", "status")
    )
    return list(rows)


def claims_waiting_on_review(*, now: datetime.datetime, limit: int = 10) -> list[dict]:
    """Disputed claims whose publicity window closed (when they went to review) longer ago
    than MUTUAL_REVIEW_WAIT_HOURS."""
    waited = now - datetime.timedelta(hours=settings.MUTUAL_REVIEW_WAIT_HOURS)
    rows = (
        Claim.objects.filter(state=ClaimState.DISPUTED, publicity_ends_at__lt=waited)
        .only("pk", "publicity_ends_at", "hospital")
        .order_by("publicity_ends_at")[:limit]
    )
    return _claims_since_window_closed(rows)


def _claims_since_window_closed(rows) -> list[dict]:
    return [
        {
            "claim": f"#{c.pk}",
            "since": c.publicity_ends_at,
            "url": reverse("admin:claims_claim_change", args=[c.pk]),
        }
        for c in rows
    ]


def juries_not_drawn(*, now: datetime.datetime, limit: int = 10) -> list[dict]:
    """Disputed claims of jury plans with no jury for this round 15 minutes after they went
    to review (their window closed, or the claimant appealed). The draw is its own task and
    beat hands a lost one out again, so a claim that stays here means a missing worker or a
    draw that fails."""
    undrawn = JuryDraw.objects.filter(
        claim=OuterRef("pk"), round=OuterRef("reopened"), drawn_at__isnull=True
    )
    rows = (
        Claim.objects.filter(
            Exists(undrawn),
            state=ClaimState.DISPUTED,
            plan__dispute_review=DisputeReview.JURY,
            state_since__lt=now - JURY_LATE_AFTER,
        )
        .only("pk", "publicity_ends_at")
        .order_by("state_since")[:limit]
    )
    return _claims_since_window_closed(rows)


UNGATHERED_AFTER = datetime.timedelta(days=31)  # the longest period: one cutoff a month


def claims_no_period_gathered(*, now: datetime.datetime, limit: int = 10) -> list[dict]:
    """Approved claims that no period has gathered a period length after their approval: a
    claim that would never be billed nor paid (issue 24)."""
    rows = (
        Claim.objects.filter(
            state=ClaimState.APPROVED,
            period_case__isnull=True,
            decided_at__lt=now - UNGATHERED_AFTER,
        )
        .only("pk", "decided_at")
        .order_by("decided_at")[:limit]
    )
    return [
        {"claim": f"#{c.pk}", "since": c.decided_at,
         "url": reverse("admin:claims_claim_change", args=[c.pk])}
        for c in rows
    ]  # fmt: skip


def attention_for(user, *, now: datetime.datetime) -> dict:
    """Each list for the users who may act on it; empty otherwise."""
    return {
        "stuck": stuck_periods(now=now)
        if user.has_perm("billing.view_apportionmentperiod")
        else [],
        "unsealed": unsealed_periods(now=now)
        if user.has_perm("billing.view_apportionmentperiod")
        else [],
        "notices": undelivered_notices(now=now) if user.is_staff else [],
        "reviews": claims_waiting_on_review(now=now)
        if user.has_perm("claims.decide_claim")
        else [],
        "juries": juries_not_drawn(now=now) if user.has_perm("claims.decide_claim") else [],
        "ungathered": claims_no_period_gathered(now=now)
        if user.has_perm("billing.view_apportionmentperiod")
        else [],
    }
