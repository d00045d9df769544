"""Celery entry points for notices, thin callers of notifications.services. Each takes
ids and is idempotent: writing ignores notices already written, delivery claims each notice
with a conditional UPDATE, so a task delivered twice sends nothing twice."""

from __future__ import annotations

import datetime

from celery import chord, shared_task
from django.db.models import Q
from django.utils import timezone

from mutual.core.timezones import parse_now as _moment  # a task's `now`: ISO 8601, or the clock
from notifications import services
from notifications.models import NoticeRun

RETRY_DELAYS = [60, 300, 1800, 7200]  # seconds, then the sweeper's rounds


def _deliver_or_retry(task, **selection) -> dict[str, int]:
    totals = services.deliver(now=timezone.now(), **selection)
    if totals["retry"]:
        retries = task.request.retries
        if retries < len(RETRY_DELAYS):
            raise task.retry(countdown=RETRY_DELAYS[retries])
    return totals


@shared_task(bind=True, acks_late=True, max_retries=len(RETRY_DELAYS))
def deliver_event(self, event: str) -> dict[str, int]:
    return _deliver_or_retry(self, event=event)


@shared_task(acks_late=True)
def notice_run(run_id: int) -> int:
    """Fan a plan-wide event out: one task per chunk of membership ids, then mark it done."""
    chunks = services.run_chunks(run_id=run_id)
    if not chunks:
        services.run_finish(run_id=run_id, now=timezone.now())
        return 0
    # Claimed once: a redelivered task finds the run started and fans nothing out again.
    started = NoticeRun.objects.filter(pk=run_id, started_at__isnull=True)
    if not started.update(started_at=timezone.now()):
        return 0
    chord(notice_run_chunk.s(run_id, lo, hi) for lo, hi in chunks)(notice_run_finish.si(run_id))
    return len(chunks)


@shared_task(bind=True, acks_late=True, max_retries=len(RETRY_DELAYS))
def notice_run_chunk(self, run_id: int, lo: int, hi: int) -> dict[str, int]:
    """Write one chunk's notices (one INSERT ... SELECT), then deliver the event's pending
    notices with the other chunk tasks (SKIP LOCKED shares the batches among them)."""
    services.run_write_chunk(run_id=run_id, lo=lo, hi=hi, now=timezone.now())
    event = NoticeRun.objects.values_list("event", flat=True).get(pk=run_id)
    return _deliver_or_retry(self, event=event)


@shared_task(acks_late=True)
def notice_run_finish(run_id: int) -> None:
    services.run_finish(run_id=run_id, now=timezone.now())


@shared_task(acks_late=True)
def sweep_notices(now: str | None = None) -> dict[str, int]:
    """Beat, every five minutes: restart runs unfinished after 15 minutes (a lost task or a
    killed worker), and deliver notices pending for more than 10 minutes."""
    moment = _moment(now)
    stale = Q(started_at__isnull=True) | Q(started_at__lt=moment - datetime.timedelta(hours=2))
    stale_runs = NoticeRun.objects.filter(
        stale,
        finished_at__isnull=True,
        created_at__lt=moment - datetime.timedelta(minutes=15),
    ).values_list("pk", flat=True)
    restarted = 0
    for run_id in stale_runs:
        # Still stale when reset: a run whose task started it meanwhile is left alone.
        if NoticeRun.objects.filter(stale, pk=run_id, finished_at__isnull=True).update(
            started_at=None
        ):
            notice_run.delay(run_id)
            restarted += 1
    totals = services.deliver(now=moment, older_than=moment - datetime.timedelta(minutes=10))
    return {"runs_restarted": restarted, **totals}
