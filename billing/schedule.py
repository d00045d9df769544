"""Which periods exist and which are due, by each plan's calendar (Shanghai days): a period
closes at midnight on one of the plan's cutoff days, and is billed and paid `payout_delay_days`
later.

Claiming a period for a run is a conditional UPDATE (healthchecks' pattern): of two beats at
once only one touches the row, and a run that died is claimed again once it is stale. A plan's
periods run in order (each carries the year to date to the next), so a period waits while an
earlier one is unfinished or failed."""

from __future__ import annotations

import datetime
import logging

from django.db.models import Exists, OuterRef, Q

from billing.models import FINISHED, ApportionmentPeriod, PeriodChunk, PeriodStatus
from claims.models import Claim, ClaimState
from members.models import Plan
from mutual.core.timezones import local_date, local_midnight

logger = logging.getLogger(__name__)
STALE_RUN = datetime.timedelta(minutes=15)


def _month_start(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def period_bounds(plan: Plan, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The period holding the local day `day`: from the last cutoff on or before it to the next
    cutoff after it, both at local midnight."""
    days = sorted(set(plan.cutoff_days))
    cutoffs = [_month_start(day, months).replace(day=d) for months in (-1, 0, 1) for d in days]
    start = max(c for c in cutoffs if c <= day)
    end = min(c for c in cutoffs if c > day)
    return local_midnight(start), local_midnight(end)


def _period_holding(plan: Plan, day: datetime.date) -> tuple[ApportionmentPeriod, bool]:
    starts_at, cutoff_at = period_bounds(plan, day)
    return ApportionmentPeriod.objects.get_or_create(
        plan=plan,
        cutoff_at=cutoff_at,
        defaults={
            "starts_at": starts_at,
            "runs_at": cutoff_at + datetime.timedelta(days=plan.payout_delay_days),
        },
    )


def period_for(plan: Plan, *, now: datetime.datetime) -> ApportionmentPeriod:
    """The plan's period holding `now`, created when missing (idempotent)."""
    return _period_holding(plan, local_date(now))[0]


def _earliest_ungathered(plan: Plan, *, now: datetime.datetime) -> datetime.datetime | None:
    return (
        Claim.objects.filter(plan=plan, state=ClaimState.APPROVED, period_case__isnull=True)
        .order_by("decided_at")
        .values_list("decided_at", flat=True)
        .first()
    )


def periods_ensure(*, now: datetime.datetime) -> int:
    """Create every plan's periods up to the one holding `now`, those missed included: after
    beat was down across a cutoff, the periods it never saw are created (and then billed in
    order), so no approved claim falls between two periods. Idempotent; returns how many are
    new."""
    created = 0
    for plan in Plan.objects.all():
        last = ApportionmentPeriod.objects.filter(plan=plan).order_by("-cutoff_at").first()
        if last is None:
            # A plan's first period starts from its earliest approved claim, so that a claim
            # approved before beat first saw the plan is billed on its own schedule (issue 24).
            first = _earliest_ungathered(plan, now=now)
            day = local_date(min(first, now) if first else now)
        else:
            day = local_date(last.cutoff_at if last.cutoff_at <= now else now)
        while True:  # cutoffs strictly increase, and the period holding `now` ends it
            period, new = _period_holding(plan, day)
            created += new
            if period.cutoff_at > now:
                break
            day = local_date(period.cutoff_at)
    return created


def periods_claim_due(*, now: datetime.datetime) -> list[int]:
    """Periods to hand to the workers now: due and never enqueued, or enqueued long ago and
    still open or running (a lost message or a crashed run, resumed). Each id is returned to
    one caller."""
    # A message lost on its way to the workers (an OPEN period enqueued long ago) is sent again,
    # like a run that died; a second delivery of a live run finds its work done and stops.
    stale = Q(enqueued_at__lt=now - STALE_RUN)
    # A run is alive while its chunks keep finishing (at 100M members it outlives 15 minutes).
    progressing = Exists(
        PeriodChunk.objects.filter(period=OuterRef("pk"), done_at__gte=now - STALE_RUN)
    )
    claimable = Q(status=PeriodStatus.OPEN, runs_at__lte=now) & (
        Q(enqueued_at__isnull=True) | stale
    ) | (Q(status=PeriodStatus.RUNNING) & stale & ~progressing)
    claimed = []
    for period in ApportionmentPeriod.objects.filter(claimable).order_by("cutoff_at"):
        earlier = ApportionmentPeriod.objects.filter(
            plan_id=period.plan_id, cutoff_at__lt=period.cutoff_at
        ).exclude(status__in=FINISHED)
        if earlier.exists():
            logger.warning("period %s waits for an earlier unfinished period", period.pk)
            continue
        # Only the caller whose UPDATE matches still-claimable state gets the period.
        if ApportionmentPeriod.objects.filter(claimable, pk=period.pk).update(enqueued_at=now):
            claimed.append(period.pk)
    return claimed
