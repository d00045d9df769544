"""Celery entry points, thin callers of the period's steps (billing/steps.py) and collections.
Each is idempotent: chunks mark themselves done in the transaction that bills them, postings
carry idempotency keys, periods are claimed with a conditional UPDATE, finished periods are
left alone. A step that raises marks its period failed (billing.steps.failures_recorded)."""

import logging

from celery import group, shared_task
from django.db import InterfaceError, OperationalError, transaction

from billing import debits, exports, payouts, schedule, selectors, steps
from billing.models import FINISHED
from mutual.core.timezones import parse_now as _moment  # a task's `now`: ISO 8601, or the clock

logger = logging.getLogger(__name__)

# A lost database connection (PostgreSQL restarting after a crash, a network cut) is not a
# failure of the period: the task is sent again, 2 s, 4 s, ... at most 30 s later, for two hours,
# so the run goes on within half a minute of the database's return (issue 24). Every task here
# is idempotent, so a retry after a commit whose answer was lost does nothing twice.
RETRY_ON_OUTAGE = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 30,
    "retry_jitter": False,
    "max_retries": 240,
}


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def run_period(period_id: int, now: str | None = None) -> int:
    """Prepare, then fan the chunks not yet done out to any number of workers; the chunk that
    finds them all billed posts the period (`apportion_chunk`)."""
    ids = steps.period_chunks_to_bill(period_id=period_id, now=_moment(now))
    if ids is None:
        return 0
    if not ids:
        finish_period.delay(None, period_id, now)
        return 0
    group(apportion_chunk.s(chunk_id, now) for chunk_id in ids).apply_async()
    return len(ids)


@shared_task(acks_late=True, ignore_result=True, **RETRY_ON_OUTAGE)
def apportion_chunk(chunk_id: int, now: str | None = None) -> bool:
    """Bill one chunk; the chunk that finds every chunk of its period billed posts it, here.
    No chord: its callback waited on every chunk's result in Redis, and a Redis outage between
    a chunk's commit and its result left a billed period unposted until beat's 15-minute rule
    (issue 24). Two last chunks at once both post: period_post is idempotent under the period's
    lock, and what it queues after is too."""
    billed = steps.period_bill_chunk(chunk_id=chunk_id, now=_moment(now))
    period_id = steps.period_of_chunk(chunk_id=chunk_id)
    if selectors.period_all_billed(period_id=period_id):
        finish_period(None, period_id, now)
    return billed


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def build_chunk_tree(chunk_id: int, now: str | None = None) -> bool:
    return steps.period_build_tree_part(chunk_id=chunk_id, now=_moment(now))


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def finish_period(_results, period_id: int, now: str | None = None) -> int:
    """Post; then queue the bills' Merkle tree (a task per chunk's part) and, behind it, the
    claims' payouts. The queue is first in, first out: the workers build the tree first (about
    6 s at ten million bills) rather than one worker paying 3,000 claims (25 s) while the
    other builds the tree alone. The money is posted already; a lost payout task is paid by
    beat (run_due_periods)."""
    period = steps.period_post(period_id=period_id, now=_moment(now))
    if period.status not in FINISHED:
        return 0
    parts = seal_period_tree(period_id, now)
    pay_period.delay(period_id, now)
    return parts


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def pay_period(period_id: int, now: str | None = None) -> int:
    return payouts.period_pay_claims(period_id=period_id, now=_moment(now))


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def seal_period_tree(period_id: int, now: str | None = None) -> int:
    trees = steps.period_trees_to_build(period_id=period_id, now=_moment(now))
    for chunk_id in trees:
        build_chunk_tree.delay(chunk_id, now)
    if not trees:
        seal_period.delay(period_id, now)
    return len(trees)


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def seal_period(period_id: int, now: str | None = None) -> bool:
    return bool(steps.period_seal_and_vacuum(period_id=period_id, now=_moment(now)).merkle_root)


@shared_task(acks_late=True)  # beat sends it again: no retries of its own
def run_due_periods(now: str | None = None) -> list[int]:
    """Beat, every five minutes: open the current periods, run those due, resume stale runs,
    pay posted periods whose payout did not finish. Failed periods wait for finance; they are
    logged as errors on every beat, never skipped silently."""
    moment = _moment(now)
    schedule.periods_ensure(now=moment)
    for period in selectors.periods_failed():
        logger.error("period %s (%s) failed and waits for a retry: %s", period.pk, period,
                     period.failure)  # fmt: skip
    with transaction.atomic():
        claimed = schedule.periods_claim_due(now=moment)
        for period_id in claimed:
            transaction.on_commit(lambda pid=period_id: run_period.delay(pid, now))
    # A run whose every chunk is billed but which nobody posted (its last chunk's task died
    # after its commit): posted now, not after the stale rule.
    for period_id in selectors.periods_billed_not_posted().values_list("pk", flat=True):
        finish_period.delay(None, period_id, now)
    for period_id in selectors.periods_awaiting_payout().values_list("pk", flat=True):
        payouts.period_pay_claims(period_id=period_id, now=moment)
    # A seal lost with its worker: the chunks' parts already built are kept.
    for period_id in selectors.periods_unsealed(now=moment).values_list("pk", flat=True):
        seal_period_tree.delay(period_id, now)
    return claimed


@shared_task(acks_late=True)  # beat sends it again: no retries of its own
def collect_due(now: str | None = None) -> int:
    """Beat, hourly: debit due bills chunk by chunk (tasks), then lapse the unpaid past grace."""
    moment = _moment(now)
    enqueued = 0
    for period in selectors.periods_to_collect():
        for chunk_id in period.chunks.values_list("pk", flat=True):
            collect_chunk.delay(chunk_id, now)
            enqueued += 1
        debits.lapse_unpaid(period_id=period.pk, now=moment)
    return enqueued


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def collect_chunk(chunk_id: int, now: str | None = None) -> dict[str, int]:
    return debits.collect_chunk(chunk_id=chunk_id, now=_moment(now))


@shared_task(acks_late=True, **RETRY_ON_OUTAGE)
def build_data_export(export_id: int, now: str | None = None) -> bool:
    """A member's copy of their data (billing/exports.py); a second run finds it built."""
    return exports.data_export_build(export_id=export_id, now=_moment(now))


@shared_task(acks_late=True)  # beat sends it again: no retries of its own
def expire_data_exports(now: str | None = None) -> int:
    return exports.data_exports_expire(now=_moment(now))
