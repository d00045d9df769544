"""Staff actions on periods (the admin's buttons call these) and the record of failed runs."""

from __future__ import annotations

import contextlib
import datetime
import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum

from billing import apportion, selectors, tree
from billing.models import FINISHED, ApportionmentPeriod, PeriodChunk, PeriodStatus, PostingLine
from mutual.core.errors import ServiceError
from mutual.core.tasks import task_send_on_commit

logger = logging.getLogger(__name__)


def _check_may_run(by) -> None:
    if not by.has_perm("billing.change_apportionmentperiod"):
        raise PermissionDenied(f"{by} may not run apportionment periods")


def _enqueue_run(period_id: int) -> None:
    task_send_on_commit("billing.tasks.run_period", period_id)


@transaction.atomic
def period_enqueue(*, period_id: int, by, now: datetime.datetime) -> ApportionmentPeriod:
    """Hand an open period whose cutoff has passed to the workers, once."""
    _check_may_run(by)
    period = ApportionmentPeriod.objects.select_for_update(of=("self",)).get(pk=period_id)
    if period.status != PeriodStatus.OPEN:
        raise ServiceError(f"the period is {period.status}, not open", code="not_open")
    if now < period.cutoff_at:
        raise ServiceError(
            f"the cutoff {period.cutoff_at:%Y-%m-%d %H:%M} has not passed: who pays is not known",
            code="before_cutoff",
        )
    if period.enqueued_at is not None:
        raise ServiceError("this period was already handed to the workers", code="enqueued")
    apportion.previous_period(period)  # refuses while an earlier period is unfinished
    period.enqueued_at = now
    period.save(update_fields=["enqueued_at"])
    _enqueue_run(period_id)
    return period


@transaction.atomic
def period_retry(*, period_id: int, by, now: datetime.datetime) -> ApportionmentPeriod:
    """Run a failed period again once its cause is fixed: chunks already billed stay billed."""
    _check_may_run(by)
    period = ApportionmentPeriod.objects.select_for_update(of=("self",)).get(pk=period_id)
    if period.status != PeriodStatus.FAILED:
        raise ServiceError(f"the period is {period.status}, not failed", code="not_failed")
    prepared = PeriodChunk.objects.filter(period=period).exists()
    period.status = PeriodStatus.RUNNING if prepared else PeriodStatus.OPEN
    period.enqueued_at = now
    logger.warning("period %s retried by %s after: %s", period.pk, by, period.failure)
    period.failed_at, period.failure = None, ""
    period.save(update_fields=["status", "enqueued_at", "failed_at", "failure"])
    _enqueue_run(period_id)
    return period


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
    """Record any error of a run step on its period, then let it propagate."""
    try:
        yield
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
    """Sign the posted period's Merkle root (see apportion.period_seal)."""
    with failures_recorded(period_id=period_id, now=now):
        return apportion.period_seal(period_id=period_id, now=now)


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
        apportion.period_vacuum(period_id=period_id)
    return period


def period_post(*, period_id: int, now: datetime.datetime) -> ApportionmentPeriod:
    """Reconcile and post a period whose chunks are all billed."""
    with failures_recorded(period_id=period_id, now=now):
        apportion.period_index_bills(period_id=period_id)
        return apportion.period_finish(period_id=period_id, now=now)


def period_reconciliation(period: ApportionmentPeriod) -> dict[str, object]:
    """What finance checks: every chunk done, shares = cases + fees, and what the chunks put
    into the clearing account is exactly what the cases took out."""
    chunks = period.chunks.aggregate(gross=Sum("gross_fen"), charged=Sum("charged_fen"))
    clearing = PostingLine.objects.filter(
        posting__idempotency_key__startswith=f"period:{period.pk}:", account__role="clearing"
    ).aggregate(debit=Sum("debit_fen"), credit=Sum("credit_fen"))
    shares = chunks["gross"] or 0
    cleared = (clearing["debit"] or 0) - (clearing["credit"] or 0)
    checks = {
        "all chunks done": period.chunks_total == period.chunks_done,
        "shares equal cases and fees": shares == period.total_fen,
        "charged + sponsor = total": (
            period.charged_fen + period.sponsor_fen == period.total_fen
            if period.status in FINISHED
            else None
        ),
        "clearing nets to zero": cleared == 0 if period.posted_at else None,
    }
    return {"checks": checks, "reconciled": all(v is not False for v in checks.values())}
