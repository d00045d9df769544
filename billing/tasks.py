"""Celery entry points. Each is idempotent: chunks mark themselves done in the transaction that
bills them, postings carry idempotency keys, finished periods are left alone."""

import datetime

from celery import chord, shared_task
from django.utils import timezone

from billing import apportion, payouts


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
    return payouts.period_pay_claims(period_id=period_id, now=_moment(now))
