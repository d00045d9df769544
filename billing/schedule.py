"""Which periods exist and which are due: twice a month per plan, in Shanghai calendar days.

Claiming a period for a run is a conditional UPDATE (healthchecks' pattern): of two beats at
once only one touches the row, and a run that died is claimed again once it is stale."""

from __future__ import annotations

import datetime
import zoneinfo

from django.db.models import Q

from billing.models import ApportionmentPeriod, PeriodStatus
from members.models import Plan

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
STALE_RUN = datetime.timedelta(minutes=15)


def half_month(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The half month holding `day`: the 1st to the 16th, or the 16th to the next 1st."""
    if day.day < 16:
        start, end = day.replace(day=1), day.replace(day=16)
    else:
        start = day.replace(day=16)
        end = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    midnight = datetime.time(0)
    return (
        datetime.datetime.combine(start, midnight, tzinfo=SHANGHAI),
        datetime.datetime.combine(end, midnight, tzinfo=SHANGHAI),
    )


def periods_ensure(*, now: datetime.datetime) -> int:
    """Create the current half-month period of every plan (idempotent). Returns how many new."""
    starts_at, cutoff_at = half_month(now.astimezone(SHANGHAI).date())
    created = 0
    for plan in Plan.objects.all():
        _, made = ApportionmentPeriod.objects.get_or_create(
            plan=plan, cutoff_at=cutoff_at, defaults={"starts_at": starts_at}
        )
        created += made
    return created


def periods_claim_due(*, now: datetime.datetime) -> list[int]:
    """Periods to hand to the workers now: past their cutoff and never enqueued, or running
    but last enqueued long ago (a crashed run, resumed). Each id is returned to one caller."""
    claimable = Q(status=PeriodStatus.OPEN, cutoff_at__lte=now, enqueued_at__isnull=True) | Q(
        status=PeriodStatus.RUNNING, enqueued_at__lt=now - STALE_RUN
    )
    claimed = []
    for period_id in ApportionmentPeriod.objects.filter(claimable).values_list("pk", flat=True):
        # Only the caller whose UPDATE matches still-claimable state gets the period.
        if ApportionmentPeriod.objects.filter(claimable, pk=period_id).update(enqueued_at=now):
            claimed.append(period_id)
    return claimed
