"""A period's life, step by step: each step is what one Celery task does (billing/tasks.py
spreads them over the workers), and a step that raises marks its period failed, here and
nowhere else (`failures_recorded`). `period_run_inline` runs the same steps one after the other
in this process (tests, the demo, small plans)."""

from __future__ import annotations

import contextlib
import datetime
import logging

from django.db import InterfaceError, OperationalError

from billing import apportion, sealing, selectors, tree
from billing.models import FINISHED, ApportionmentPeriod, PeriodChunk, PeriodStatus

logger = logging.getLogger(__name__)


def period_record_failure(*, period_id: int, error: BaseException, now: datetime.datetime) -> None:
    """Mark an unfinished period failed, with the error: shown in the admin and on the
    dashboard, never re-run by beat until finance retries it. Its own transaction, since the
    run's own was rolled back."""
    logger.error("period %s failed: %r", period_id, error)
    ApportionmentPeriod.objects.filter(pk=period_id).exclude(status__in=FINISHED).update(
        status=PeriodStatus.FAILED,
        failed_at=now,
        failure=f"{type(error).__name__}: {error}"[:2000],
    )


@contextlib.contextmanager
def failures_recorded(*, period_id: int, now: datetime.datetime):
    """Record any error of a run step on its period, then let it propagate. Not a lost
    database connection (the server restarting, a network cut): the step is retried by its
    task (billing.tasks.RETRY_ON_OUTAGE) and the period stays running, not failed for finance
    to retry by hand (issue 24), nor written while the database is away."""
    try:
        yield
    except (OperationalError, InterfaceError):
        raise
    except Exception as error:
        period_record_failure(period_id=period_id, error=error, now=now)
        raise


def period_bill_chunk(*, chunk_id: int, now: datetime.datetime) -> bool:
    """Bill one chunk (a worker's share of a run); a failure marks its period failed."""
    period_id = PeriodChunk.objects.values_list("period_id", flat=True).get(pk=chunk_id)
    with failures_recorded(period_id=period_id, now=now):
        return apportion.chunk_apportion(chunk_id=chunk_id, now=now)


def period_chunks_to_bill(*, period_id: int, now: datetime.datetime) -> list[int] | None:
    """Prepare a run and return the chunks still to bill (see apportion)."""
    with failures_recorded(period_id=period_id, now=now):
        return apportion.period_pending_chunks(period_id=period_id)


def period_trees_to_build(*, period_id: int, now: datetime.datetime) -> list[int]:
    """Once the period is posted: the chunks whose Merkle subtree is still to build
    (billing/tree.py), for the workers; empty when there is nothing to build."""
    with failures_recorded(period_id=period_id, now=now):
        period = ApportionmentPeriod.objects.get(pk=period_id)
        if period.status not in FINISHED or period.merkle_root:
            return []
        return tree.chunks_without_tree(period_id=period_id)


def period_seal(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Sign the posted period's Merkle root (billing.sealing.period_sign)."""
    with failures_recorded(period_id=period_id, now=now):
        return sealing.period_sign(period_id=period_id, now=now)


def period_of_chunk(*, chunk_id: int) -> int:
    return PeriodChunk.objects.values_list("period_id", flat=True).get(pk=chunk_id)


def period_build_chunk_tree(*, chunk_id: int, now: datetime.datetime) -> bool:
    period_id = period_of_chunk(chunk_id=chunk_id)
    with failures_recorded(period_id=period_id, now=now):
        return tree.chunk_tree_build(chunk_id=chunk_id, now=now)


def period_build_tree_part(*, chunk_id: int, now: datetime.datetime) -> bool:
    """One chunk's part of the bills' Merkle tree; the part that finds every part built seals
    the period (two last parts at once: the period's lock seals it once). No chord: its
    callback would wait in the queue behind the payouts' notices."""
    built = period_build_chunk_tree(chunk_id=chunk_id, now=now)
    period_id = period_of_chunk(chunk_id=chunk_id)
    if not period_trees_to_build(period_id=period_id, now=now):
        period_seal_and_vacuum(period_id=period_id, now=now)
    return built


def period_seal_and_vacuum(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Seal, then VACUUM the bills (statistics for the proofs and the next period's reads)
    once: not on every resend nor for a second last part. Outside a transaction."""
    was_sealed = selectors.period_is_sealed(period_id=period_id)
    period = period_seal(period_id=period_id, now=now)
    if period.merkle_root and not was_sealed:
        sealing.period_vacuum(period_id=period_id)
    return period


def period_post(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Reconcile and post a period whose chunks are all billed."""
    with failures_recorded(period_id=period_id, now=now):
        apportion.period_index_bills(period_id=period_id)
        return apportion.period_finish(period_id=period_id, now=now)


def period_run_inline(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Every step of a run, here, in order: prepare, each chunk, post, the tree's parts and
    the seal (failures recorded as on the workers; the claims' payouts are not paid: call
    payouts.period_pay_claims, as beat's run would)."""
    for chunk_id in period_chunks_to_bill(period_id=period_id, now=now) or []:
        period_bill_chunk(chunk_id=chunk_id, now=now)
    period = period_post(period_id=period_id, now=now)
    if period.status not in FINISHED:
        return period
    for chunk_id in period_trees_to_build(period_id=period_id, now=now):
        period_build_chunk_tree(chunk_id=chunk_id, now=now)
    return period_seal_and_vacuum(period_id=period_id, now=now)
