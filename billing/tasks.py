"""Celery entry points, thin callers of the billing services. Each is idempotent: chunks mark
themselves done in the transaction that bills them, postings carry idempotency keys, periods
are claimed with a conditional UPDATE, finished periods are left alone."""

import datetime

from celery import chord, shared_task
from django.db import transaction
from django.utils import timezone

from billing import apportion, collections, payouts, schedule
from billing.models import ApportionmentPeriod, PeriodStatus


def _moment(now: str | None) -> datetime.datetime:
    return datetime.datetime.fromisoformat(now) if now else timezone.now()


@shared_task(acks_late=True)
def run_period(period_id: int, now: str | None = None) -> int:
    """Prepare, then fan the chunks not yet done out to any number of workers."""
    ids = apportion.period_start(period_id=period_id)
    if not ids:
        finish_period.delay(None, period_id, now)
        return 0
    chord(apportion_chunk.s(chunk_id, now) for chunk_id in ids)(finish_period.s(period_id, now))
    return len(ids)


@shared_task(acks_late=True)
def apportion_chunk(chunk_id: int, now: str | None = None) -> bool:
    return apportion.chunk_apportion(chunk_id=chunk_id, now=_moment(now))


@shared_task(acks_late=True)
def finish_period(_results, period_id: int, now: str | None = None) -> int:
    apportion.period_finish(period_id=period_id, now=_moment(now))
    paid = payouts.period_pay_claims(period_id=period_id, now=_moment(now))
    apportion.period_vacuum(period_id=period_id)
    return paid


@shared_task(acks_late=True)
def run_due_periods(now: str | None = None) -> list[int]:
    """Beat, every five minutes: open this half month's periods, run those past their cutoff,
    resume stale runs, pay posted periods whose payout did not finish."""
    moment = _moment(now)
    schedule.periods_ensure(now=moment)
    with transaction.atomic():
        claimed = schedule.periods_claim_due(now=moment)
        for period_id in claimed:
            transaction.on_commit(lambda pid=period_id: run_period.delay(pid, now))
    for period_id in ApportionmentPeriod.objects.filter(status=PeriodStatus.POSTED).values_list(
        "pk", flat=True
    ):
        payouts.period_pay_claims(period_id=period_id, now=moment)
    return claimed


@shared_task(acks_late=True)
def collect_due(now: str | None = None) -> int:
    """Beat, hourly: debit due bills chunk by chunk (tasks), then lapse the unpaid past grace."""
    moment = _moment(now)
    periods = ApportionmentPeriod.objects.filter(
        status__in=[PeriodStatus.POSTED, PeriodStatus.PAID]
    ).order_by("-cutoff_at")[:24]
    enqueued = 0
    for period in periods:
        for chunk_id in period.chunks.values_list("pk", flat=True):
            collect_chunk.delay(chunk_id, now)
            enqueued += 1
        collections.lapse_unpaid(period_id=period.pk, now=moment)
    return enqueued


@shared_task(acks_late=True)
def collect_chunk(chunk_id: int, now: str | None = None) -> dict[str, int]:
    return collections.collect_chunk(chunk_id=chunk_id, now=_moment(now))
