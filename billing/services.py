"""Staff actions on periods (the admin's buttons call these): hand a period to the workers,
retry a failed one, and what finance checks. The workers' steps are billing/steps.py."""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum

from billing import apportion
from billing.errors import ErrorCode
from billing.models import FINISHED, ApportionmentPeriod, PeriodChunk, PeriodStatus, PostingLine
from mutual.core.errors import ServiceError
from mutual.core.tasks import task_send_on_commit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def _check_may_run(by: User | None) -> None:
    if by is None or not by.has_perm("billing.change_apportionmentperiod"):
        raise PermissionDenied(f"{by} may not run apportionment periods")


def _enqueue_run(period_id: int) -> None:
    task_send_on_commit("billing.tasks.run_period", period_id)


@transaction.atomic
def period_enqueue(
    *, period_id: int, by: User | None, now: datetime.datetime
) -> ApportionmentPeriod:
    """Hand an open period whose cutoff has passed to the workers, once."""
    _check_may_run(by)
    period = ApportionmentPeriod.objects.select_for_update(of=("self",)).get(pk=period_id)
    if period.status != PeriodStatus.OPEN:
        raise ServiceError(f"the period is {period.status}, not open", code=ErrorCode.NOT_OPEN)
    if now < period.cutoff_at:
        raise ServiceError(
            f"the cutoff {period.cutoff_at:%Y-%m-%d %H:%M} has not passed: who pays is not known",
            code=ErrorCode.BEFORE_CUTOFF,
        )
    if period.enqueued_at is not None:
        raise ServiceError("this period was already handed to the workers", code=ErrorCode.ENQUEUED)
    apportion.previous_period(period)  # refuses while an earlier period is unfinished
    period.enqueued_at, period.enqueued_by = now, by
    period.save(update_fields=["enqueued_at", "enqueued_by"])
    _enqueue_run(period_id)
    return period


@transaction.atomic
def period_retry(*, period_id: int, by: User | None, now: datetime.datetime) -> ApportionmentPeriod:
    """Run a failed period again once its cause is fixed: chunks already billed stay billed."""
    _check_may_run(by)
    period = ApportionmentPeriod.objects.select_for_update(of=("self",)).get(pk=period_id)
    if period.status != PeriodStatus.FAILED:
        raise ServiceError(f"the period is {period.status}, not failed", code=ErrorCode.NOT_FAILED)
    prepared = PeriodChunk.objects.filter(period=period).exists()
    period.status = PeriodStatus.RUNNING if prepared else PeriodStatus.OPEN
    period.enqueued_at = period.retried_at = now
    period.retried_by, period.retries = by, period.retries + 1
    logger.warning("period %s retried by user %s after: %s", period.pk, by.pk, period.failure)
    period.failed_at, period.failure = None, ""
    period.save(
        update_fields=[
            "status",
            "enqueued_at",
            "retried_at",
            "retried_by",
            "retries",
            "failed_at",
            "failure",
        ]
    )
    _enqueue_run(period_id)
    return period


def period_reconciliation(*, period: ApportionmentPeriod) -> dict[str, object]:
    """What finance checks: every chunk done, shares = cases + fees, and what the chunks put
    into the clearing account is exactly what the cases took out."""
    chunks = period.chunks.aggregate(gross=Sum("gross_fen"), charged=Sum("charged_fen"))
    clearing = PostingLine.objects.filter(
        posting__idempotency_key__startswith=f"period:{period.pk}:", account__role="clearing"
    ).aggregate(debit=Sum("debit_fen"), credit=Sum("credit_fen"))
    shares = chunks["gross"] or 0
    cleared = (clearing["debit"] or 0) - (clearing["credit"] or 0)
    # Before a run has billed every chunk there is nothing to check yet: "—", not a ✓ for an
    # open period's 0 of 0 chunks, nor a red ✗ for a run still going (issue 25).
    done = period.chunks_done  # a count: once
    billed = period.status not in (PeriodStatus.OPEN, PeriodStatus.RUNNING) or (
        period.status == PeriodStatus.RUNNING and done == period.chunks_total > 0
    )
    checks = {
        "all chunks done": period.chunks_total == done if billed else None,
        "shares equal cases and fees": shares == period.total_fen if billed else None,
        "charged + sponsor = total": (
            period.charged_fen + period.sponsor_fen == period.total_fen
            if period.status in FINISHED
            else None
        ),
        "clearing nets to zero": cleared == 0 if period.posted_at else None,
    }
    return {"checks": checks, "reconciled": all(v is not False for v in checks.values())}
